"""The training loop: mini-batch gradient descent on softmax cross-entropy, with the hooks of a
training method (``models.methods``) and a per-epoch history as an ``xarray.Dataset``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from models import methods as _methods
from models.layers.dropout import Dropout
from models.optim import get_optimizer, get_schedule
from models.sequential import Sequential, check_labels, softmax_cross_entropy

if TYPE_CHECKING:  # pragma: no cover
    import xarray as xr

#: Learning rate used when ``lr=None``, per optimizer class name.
DEFAULT_LR = {"SGD": 0.05, "Adam": 1e-3}


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}={value} is out of range; expected {name} >= {minimum}")
    return int(value)


def train(model: Sequential, data, method="float", fmt=None, epochs: int = 1, seed: int = 0,
          batch_size: int = 64, optimizer="sgd", lr: float | None = None, schedule="constant",
          progress: bool = True, **method_options) -> "xr.Dataset":
    """Train ``model`` in place on ``data`` and return the per-epoch history.

    Each epoch shuffles the training split (a permutation drawn from ``seed``), runs mini-batches
    of ``batch_size`` (the last one smaller), minimizes the mean softmax cross-entropy
    (``models.sequential.softmax_cross_entropy``) with ``optimizer`` at the learning rate
    ``schedule(epoch, lr, epochs)``, and evaluates on the validation split with the same hooks.

    Parameters
    ----------
    model : a ``Sequential`` (parameters are updated in place).
    data : a ``models.datasets.Dataset`` (anything with ``x_train, y_train, x_val, y_val``).
    method : a registered method name (``models.methods.names()``) or a ``TrainingMethod``
        class or instance; ``fmt`` and ``**method_options`` go to its constructor.
    epochs, batch_size : passes over the training split, samples per step.
    seed : seeds the shuffling, the dropout masks and the method's generator (independent
        streams of ``numpy.random.SeedSequence(seed)``): equal seeds give identical weights.
    optimizer : "sgd" (momentum 0.9), "adam", or an ``models.optim.Optimizer`` instance.
    lr : base learning rate; None uses ``DEFAULT_LR`` (0.05 for SGD, 1e-3 for Adam).
    schedule : "constant", "step", "exponential", "cosine" or a ``models.optim.Schedule``.
    progress : show a tqdm bar per epoch.

    Returns
    -------
    xarray.Dataset with dimension ``epoch`` (1..epochs) and variables ``train_loss``,
    ``val_loss`` (nats), ``train_accuracy``, ``val_accuracy`` (fraction), ``lr``, ``seconds``
    (wall time of the epoch's training steps); attrs ``method``, ``seed``, ``fmt``,
    ``optimizer``, ``batch_size``, ``model``, ``dataset``, ``dataset_sha256``.  The training
    loss/accuracy are the running means over the epoch's mini-batches (training mode).
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a models.Sequential, got {type(model).__name__}")
    for attr in ("x_train", "y_train", "x_val", "y_val"):
        if not hasattr(data, attr):
            raise TypeError(f"data must be a models.datasets.Dataset (lacks {attr!r}), got "
                            f"{type(data).__name__}")
    epochs = _check_int("epochs", epochs, 1)
    batch_size = _check_int("batch_size", batch_size, 1)
    seed = _check_int("seed", seed, 0)
    x_train = model._check_x(data.x_train)
    y_train = check_labels(data.y_train, len(x_train), model.n_classes, name="y_train")
    if len(x_train) == 0:
        raise ValueError("data has an empty training split")
    has_val = len(data.x_val) > 0
    if has_val:
        x_val = model._check_x(data.x_val)
        y_val = check_labels(data.y_val, len(x_val), model.n_classes, name="y_val")

    if isinstance(method, _methods.TrainingMethod):
        if fmt is not None or method_options:
            raise ValueError("pass fmt and method options to the method's constructor when "
                             "method is an instance")
        hooks = method
    else:
        hooks = _methods.get(method)(fmt=fmt, **method_options)
    opt = get_optimizer(optimizer)
    if lr is None:
        lr = DEFAULT_LR.get(type(opt).__name__, 0.01)
    if not (isinstance(lr, (int, float, np.floating)) and lr > 0):
        raise ValueError(f"lr={lr!r} is out of range; expected lr > 0")
    sched = get_schedule(schedule)

    shuffle_ss, dropout_ss, method_ss = np.random.SeedSequence(seed).spawn(3)
    shuffle_rng = np.random.default_rng(shuffle_ss)
    dropouts = [layer for layer in model.layers if isinstance(layer, Dropout)]
    for layer, ss in zip(dropouts, dropout_ss.spawn(len(dropouts))):
        layer.reseed(np.random.default_rng(ss))
    hooks.setup(model, np.random.default_rng(method_ss))
    model.hooks = None  # training runs with `hooks` explicitly; finalize decides what stays

    trained = [layer for layer in model.layers if layer.params()]
    record = {k: np.zeros(epochs) for k in ("train_loss", "train_accuracy", "val_loss",
                                            "val_accuracy", "lr", "seconds")}
    n = len(x_train)
    n_batches = -(-n // batch_size)
    step = 0
    bar_factory = _progress_bar(progress)
    for epoch in range(epochs):
        rate = float(sched(epoch, lr, epochs))
        order = shuffle_rng.permutation(n)
        loss_sum = correct = 0.0
        t0 = time.perf_counter()
        with bar_factory(total=n_batches, desc=f"epoch {epoch + 1}/{epochs}") as bar:
            for b in range(n_batches):
                idx = order[b * batch_size:(b + 1) * batch_size]
                xb, yb = x_train[idx], y_train[idx]
                hooks.begin_step(step)
                logits = model.forward(xb, training=True, hooks=hooks)
                loss, grad = softmax_cross_entropy(logits, yb)
                if not np.isfinite(loss):
                    raise FloatingPointError(
                        f"training diverged at epoch {epoch + 1}, step {step}: loss={loss}; "
                        f"lower lr (now {rate})")
                model.backward(grad, hooks=hooks, input_grad=False)
                opt.step(((f"{layer.name}/{name}", param,
                           hooks.param_grad(layer, name, layer.grads()[name]))
                          for layer in trained for name, param in layer.params().items()),
                         rate)
                for layer in trained:
                    hooks.after_update(layer)
                hooks.end_step(step)
                step += 1
                loss_sum += loss * len(idx)
                correct += int(np.sum(logits.argmax(axis=1) == yb))
                bar.update(1)
                if b % 20 == 0 or b == n_batches - 1:
                    bar.set_postfix(loss=f"{loss_sum / min(n, (b + 1) * batch_size):.4f}",
                                    refresh=False)
        record["seconds"][epoch] = time.perf_counter() - t0
        record["lr"][epoch] = rate
        record["train_loss"][epoch] = loss_sum / n
        record["train_accuracy"][epoch] = correct / n
        if has_val:
            vloss, vacc = _evaluate(model, x_val, y_val, hooks)
        else:
            vloss = vacc = np.nan
        record["val_loss"][epoch] = vloss
        record["val_accuracy"][epoch] = vacc
    hooks.finalize(model)
    return _history(record, hooks, seed, fmt, opt, batch_size, model, data, sched, lr)


def _evaluate(model: Sequential, x, y, hooks, batch_size: int = 1024) -> tuple[float, float]:
    loss_sum = correct = 0.0
    for i in range(0, len(x), batch_size):
        logits = model.forward(x[i:i + batch_size], training=False, hooks=hooks)
        loss, _ = softmax_cross_entropy(logits, y[i:i + batch_size])
        loss_sum += loss * len(logits)
        correct += int(np.sum(logits.argmax(axis=1) == y[i:i + batch_size]))
    return loss_sum / len(x), correct / len(x)


def _progress_bar(progress: bool):
    if progress:
        from tqdm.auto import tqdm

        return lambda **kw: tqdm(leave=False, **kw)
    return _NullBar


class _NullBar:
    def __init__(self, **kw):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n):
        pass

    def set_postfix(self, **kw):
        pass


_UNITS = {"train_loss": ("nats", "training cross-entropy (running mean over the epoch)"),
          "val_loss": ("nats", "validation cross-entropy"),
          "train_accuracy": ("1", "training accuracy (running, training mode)"),
          "val_accuracy": ("1", "validation accuracy"),
          "lr": ("1", "learning rate"),
          "seconds": ("s", "wall time of the epoch's training steps")}


def _history(record, hooks, seed, fmt, opt, batch_size, model, data, sched, lr) -> "xr.Dataset":
    import xarray as xr  # here: xarray (and pandas) take seconds to import

    epochs = len(record["lr"])
    ds = xr.Dataset(
        {k: ("epoch", v, {"units": _UNITS[k][0], "long_name": _UNITS[k][1]})
         for k, v in record.items()},
        coords={"epoch": np.arange(1, epochs + 1)},
    )
    ds.attrs.update(method=hooks.name or type(hooks).__name__, seed=seed, fmt=repr(fmt),
                    optimizer=repr(opt), base_lr=float(lr), schedule=repr(sched),
                    batch_size=batch_size, model=model.name,
                    dataset=str(getattr(data, "name", "")),
                    dataset_sha256=str(getattr(data, "sha256", "")))
    return ds

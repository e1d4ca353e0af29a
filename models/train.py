"""The training loop: mini-batch gradient descent on softmax cross-entropy, with the hooks of a
training method (``models.methods``) and a per-epoch history as an ``xarray.Dataset``."""

from __future__ import annotations

import copy
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

    A method with ``warmup_epochs = N > 0`` (``TrainingMethod.warmup_epochs``; e.g.
    ``"dynamic_fixed"``'s option) gets a warm-up first: N epochs of the same loop, shuffled by
    their own stream, at the schedule's first-epoch rate (the authors of dynamic fixed point
    train their range-initialization epochs at the starting rate).  Then the parameters and
    buffers are restored bit for bit, the optimizer state is reset to what it was before the
    warm-up, the dropout streams are reseeded, ``method.end_warmup(model)`` is called and the
    ``epochs`` epochs run exactly as without a warm-up (same shuffles, rates, dropout masks and
    step numbers), with whatever the method learned in the warm-up.

    Returns
    -------
    xarray.Dataset with dimension ``epoch`` (1..epochs) and variables ``train_loss``,
    ``val_loss`` (nats), ``train_accuracy``, ``val_accuracy`` (fraction), ``lr``, ``seconds``
    (wall time of the epoch's training steps); attrs ``method``, ``seed``, ``fmt``,
    ``optimizer``, ``batch_size``, ``model``, ``dataset``, ``dataset_sha256``.  The training
    loss/accuracy are the running means over the epoch's mini-batches (training mode).  After a
    warm-up, attrs also hold ``warmup_epochs``, ``warmup_train_loss`` (nats, per warm-up
    epoch), ``warmup_val_accuracy`` (per warm-up epoch), ``warmup_seconds`` (s, in total) and
    the attrs ``end_warmup`` returned.
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

    # The warm-up's stream is a fourth child: the first three are those of spawn(3), so a run
    # without warm-up draws exactly what it drew before warm-ups existed.
    shuffle_ss, dropout_ss, method_ss, warmup_ss = np.random.SeedSequence(seed).spawn(4)
    dropouts = [layer for layer in model.layers if isinstance(layer, Dropout)]
    dropout_seeds = dropout_ss.spawn(len(dropouts))
    _reseed(dropouts, dropout_seeds)
    hooks.setup(model, np.random.default_rng(method_ss))
    model.hooks = None  # training runs with `hooks` explicitly; finalize decides what stays
    warmup_epochs = _check_int("warmup_epochs", getattr(hooks, "warmup_epochs", 0), 0)

    trained = [layer for layer in model.layers if layer.params()]
    loop = _Loop(model, hooks, opt, trained, x_train, y_train, batch_size,
                 _progress_bar(progress))
    warm = {}
    if warmup_epochs:
        warm = _warm_up(loop, warmup_epochs, float(sched(0, lr, epochs)),
                        np.random.default_rng(warmup_ss),
                        (x_val, y_val) if has_val else None)
        _reseed(dropouts, dropout_seeds)
        warm.update(hooks.end_warmup(model) or {})

    record = {k: np.zeros(epochs) for k in ("train_loss", "train_accuracy", "val_loss",
                                            "val_accuracy", "lr", "seconds")}
    shuffle_rng = np.random.default_rng(shuffle_ss)
    for epoch in range(epochs):
        rate = float(sched(epoch, lr, epochs))
        loss, accuracy, seconds = loop.epoch(shuffle_rng, rate, f"epoch {epoch + 1}",
                                               f"epoch {epoch + 1}/{epochs}")
        record["seconds"][epoch] = seconds
        record["lr"][epoch] = rate
        record["train_loss"][epoch] = loss
        record["train_accuracy"][epoch] = accuracy
        if has_val:
            vloss, vacc = _evaluate(model, x_val, y_val, hooks)
        else:
            vloss = vacc = np.nan
        record["val_loss"][epoch] = vloss
        record["val_accuracy"][epoch] = vacc
    hooks.finalize(model)
    history = _history(record, hooks, seed, fmt, opt, batch_size, model, data, sched, lr)
    history.attrs.update(warm)
    return history


def _reseed(dropouts, seeds) -> None:
    for layer, ss in zip(dropouts, seeds):
        layer.reseed(np.random.default_rng(ss))


class _Loop:
    """One pass over the training split: the steps of an epoch, shared by the warm-up and
    the training proper.  ``step`` is the global step index the hooks see."""

    def __init__(self, model, hooks, opt, trained, x, y, batch_size, bar_factory):
        self.model, self.hooks, self.opt, self.trained = model, hooks, opt, trained
        self.x, self.y, self.batch_size = x, y, batch_size
        self.bar_factory = bar_factory
        self.step = 0

    def epoch(self, shuffle_rng, rate: float, where: str, desc: str) -> tuple[float, float,
                                                                              float]:
        """Train one epoch at ``rate`` (``where`` names it in errors, ``desc`` on the bar);
        returns the running mean loss (nats), the running accuracy and the wall time (s) of
        its steps."""
        model, hooks, trained = self.model, self.hooks, self.trained
        n, batch_size = len(self.x), self.batch_size
        n_batches = -(-n // batch_size)
        order = shuffle_rng.permutation(n)
        loss_sum = correct = 0.0
        t0 = time.perf_counter()
        with self.bar_factory(total=n_batches, desc=desc) as bar:
            for b in range(n_batches):
                idx = order[b * batch_size:(b + 1) * batch_size]
                xb, yb = self.x[idx], self.y[idx]
                step = self.step
                hooks.begin_step(step)
                logits = model.forward(xb, training=True, hooks=hooks)
                loss, grad = softmax_cross_entropy(logits, yb)
                if not np.isfinite(loss):
                    raise FloatingPointError(
                        f"training diverged at {where}, step {step}: loss={loss}; lower lr "
                        f"(now {rate})")
                model.backward(grad, hooks=hooks, input_grad=False)
                self.opt.step(((f"{layer.name}/{name}", param,
                                hooks.param_grad(layer, name, layer.grads()[name]))
                               for layer in trained for name, param in layer.params().items()),
                              rate)
                for layer in trained:
                    hooks.after_update(layer)
                hooks.end_step(step)
                self.step += 1
                loss_sum += loss * len(idx)
                correct += int(np.sum(logits.argmax(axis=1) == yb))
                bar.update(1)
                if b % 20 == 0 or b == n_batches - 1:
                    bar.set_postfix(loss=f"{loss_sum / min(n, (b + 1) * batch_size):.4f}",
                                    refresh=False)
        return loss_sum / n, correct / n, time.perf_counter() - t0


def _warm_up(loop: _Loop, epochs: int, rate: float, shuffle_rng, val) -> dict:
    """Run ``epochs`` warm-up epochs, then put the parameters, buffers and optimizer state
    back as they were and restart the step count; returns the warm-up's history attrs."""
    model = loop.model
    kept = [(store, key, value.copy()) for layer in model.layers
            for store in (layer.params(), layer.buffers()) for key, value in store.items()]
    opt_state = copy.deepcopy(loop.opt.state)
    losses, accuracies, seconds = [], [], 0.0
    for epoch in range(epochs):
        loss, _, t = loop.epoch(shuffle_rng, rate, f"warm-up epoch {epoch + 1}",
                                f"warm-up {epoch + 1}/{epochs}")
        losses.append(loss)
        seconds += t
        accuracies.append(_evaluate(model, *val, loop.hooks)[1] if val is not None else np.nan)
    for store, key, value in kept:
        # in place: the optimizer and the method hold references to these arrays
        store[key][...] = value
    loop.opt.state = opt_state
    loop.step = 0
    return {"warmup_epochs": epochs, "warmup_train_loss": np.array(losses),
            "warmup_val_accuracy": np.array(accuracies), "warmup_seconds": seconds}


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

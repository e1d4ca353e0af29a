"""Optimizers (SGD with momentum / Nesterov / weight decay, Adam) and learning-rate schedules.

Optimizers update parameter arrays in place, keyed by the caller (``"layer/name"``), so that a
training method's references to ``layer.params()`` stay valid.  Schedules map an epoch index
(0-based) to a learning rate; the rate is constant within an epoch.
"""

from __future__ import annotations

import math

import numpy as np


def _check_float(name: str, value, lo: float, hi: float = math.inf, *, lo_open=False,
                 hi_open=False) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.floating,
                                                                      np.integer)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    v = float(value)
    ok = (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
    if not ok or math.isnan(v):
        lb = "<" if lo_open else "<="
        ub = "<" if hi_open else "<="
        raise ValueError(f"{name}={value} is out of range; expected {lo} {lb} {name} {ub} {hi}")
    return v


class Optimizer:
    """Base: ``step(updates, lr)`` with ``updates`` an iterable of ``(key, param, grad)``."""

    def __init__(self, weight_decay: float = 0.0):
        self.weight_decay = _check_float("weight_decay", weight_decay, 0.0)
        self.state: dict[str, dict[str, np.ndarray]] = {}

    def _decayed(self, key: str, param: np.ndarray, grad: np.ndarray) -> np.ndarray:
        # L2 decay on weights only (not biases or batch-norm scales), as Caffe's LeNet setups.
        if self.weight_decay and key.rsplit("/", 1)[-1] == "weight":
            return grad + self.weight_decay * param
        return grad

    def step(self, updates, lr: float) -> None:
        for key, param, grad in updates:
            if grad.shape != param.shape:
                raise ValueError(f"gradient of {key!r} has shape {grad.shape}; expected "
                                 f"{param.shape}")
            self._update(key, param, self._decayed(key, param, grad).astype(param.dtype,
                                                                              copy=False), lr)

    def _update(self, key, param, grad, lr):  # pragma: no cover - abstract
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with momentum (Sutskever et al. 2013 form, as PyTorch):

    ``v <- momentum * v + g``; plain: ``p <- p - lr * v``; Nesterov: ``p <- p - lr * (g +
    momentum * v)``; ``g`` includes ``weight_decay * p`` for weights.
    """

    def __init__(self, momentum: float = 0.9, nesterov: bool = False, weight_decay: float = 0.0):
        super().__init__(weight_decay)
        self.momentum = _check_float("momentum", momentum, 0.0, 1.0, hi_open=True)
        self.nesterov = bool(nesterov)
        if self.nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0")

    def _update(self, key, param, grad, lr):
        if self.momentum == 0.0:
            param -= param.dtype.type(lr) * grad
            return
        if key not in self.state:
            self.state[key] = {"v": np.zeros_like(param)}
        v = self.state[key]["v"]
        v *= param.dtype.type(self.momentum)
        v += grad
        if self.nesterov:
            param -= param.dtype.type(lr) * (grad + param.dtype.type(self.momentum) * v)
        else:
            param -= param.dtype.type(lr) * v

    def __repr__(self) -> str:
        return (f"SGD(momentum={self.momentum}, nesterov={self.nesterov}, "
                f"weight_decay={self.weight_decay})")


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015): ``m <- b1 m + (1-b1) g``, ``v <- b2 v + (1-b2) g**2``,
    ``p <- p - lr * m_hat / (sqrt(v_hat) + eps)`` with bias-corrected ``m_hat, v_hat``."""

    def __init__(self, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(weight_decay)
        self.beta1 = _check_float("beta1", beta1, 0.0, 1.0, hi_open=True)
        self.beta2 = _check_float("beta2", beta2, 0.0, 1.0, hi_open=True)
        self.eps = _check_float("eps", eps, 0.0, lo_open=True)

    def _update(self, key, param, grad, lr):
        if key not in self.state:
            self.state[key] = {"m": np.zeros_like(param), "v": np.zeros_like(param),
                               "t": np.zeros((), dtype=np.int64)}
        st = self.state[key]
        st["t"] += 1
        t = int(st["t"])
        b1, b2 = self.beta1, self.beta2
        m, v = st["m"], st["v"]
        m *= param.dtype.type(b1)
        m += param.dtype.type(1 - b1) * grad
        v *= param.dtype.type(b2)
        v += param.dtype.type(1 - b2) * grad * grad
        step_size = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        param -= param.dtype.type(step_size) * m / (np.sqrt(v) + param.dtype.type(self.eps))

    def __repr__(self) -> str:
        return (f"Adam(beta1={self.beta1}, beta2={self.beta2}, eps={self.eps}, "
                f"weight_decay={self.weight_decay})")


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def get_optimizer(optimizer) -> Optimizer:
    """An Optimizer instance from a name ("sgd", "adam") or an instance (returned as is)."""
    return _by_name_or_instance("optimizer", optimizer, OPTIMIZERS, Optimizer)


def _by_name_or_instance(param: str, value, registry: dict, base: type):
    """``value`` itself if it is a ``base`` instance, else a default instance of the class
    registered under the name ``value``; a ValueError naming ``param`` otherwise."""
    if isinstance(value, base):
        return value
    if isinstance(value, str) and value in registry:
        return registry[value]()
    raise ValueError(f"{param}={value!r} is unknown; expected one of "
                     f"{', '.join(registry)} or an instance of {base.__name__}")


# ---------------------------------------------------------------------- schedules
class Schedule:
    """Learning rate of epoch ``e`` (0-based): ``schedule(e, base_lr, epochs)``."""

    def __call__(self, epoch: int, base_lr: float, epochs: int) -> float:
        raise NotImplementedError


class Constant(Schedule):
    """``lr(e) = base_lr``."""

    def __call__(self, epoch, base_lr, epochs):
        return float(base_lr)

    def __repr__(self):
        return "Constant()"


class Step(Schedule):
    """``lr(e) = base_lr * gamma ** floor(e / step_size)``."""

    def __init__(self, step_size: int = 1, gamma: float = 0.1):
        if isinstance(step_size, bool) or not isinstance(step_size, (int, np.integer)):
            raise TypeError(f"step_size must be an int, got {type(step_size).__name__}")
        if step_size < 1:
            raise ValueError(f"step_size={step_size} is out of range; expected step_size >= 1")
        self.step_size = int(step_size)
        self.gamma = _check_float("gamma", gamma, 0.0, lo_open=True)

    def __call__(self, epoch, base_lr, epochs):
        return float(base_lr) * self.gamma ** (epoch // self.step_size)

    def __repr__(self):
        return f"Step(step_size={self.step_size}, gamma={self.gamma})"


class Exponential(Schedule):
    """``lr(e) = base_lr * gamma ** e``."""

    def __init__(self, gamma: float = 0.9):
        self.gamma = _check_float("gamma", gamma, 0.0, lo_open=True)

    def __call__(self, epoch, base_lr, epochs):
        return float(base_lr) * self.gamma ** epoch

    def __repr__(self):
        return f"Exponential(gamma={self.gamma})"


class Cosine(Schedule):
    """``lr(e) = min_lr + (base_lr - min_lr) * (1 + cos(pi e / epochs)) / 2`` (Loshchilov &
    Hutter 2017, no restarts; ``epochs`` is the length of the run)."""

    def __init__(self, min_lr: float = 0.0):
        self.min_lr = _check_float("min_lr", min_lr, 0.0)

    def __call__(self, epoch, base_lr, epochs):
        return self.min_lr + (float(base_lr) - self.min_lr) * (
            1 + math.cos(math.pi * epoch / max(epochs, 1))) / 2

    def __repr__(self):
        return f"Cosine(min_lr={self.min_lr})"


SCHEDULES = {"constant": Constant, "step": Step, "exponential": Exponential, "cosine": Cosine}


def get_schedule(schedule) -> Schedule:
    """A Schedule from a name ("constant", "step", "exponential", "cosine") or an instance."""
    return _by_name_or_instance("schedule", schedule, SCHEDULES, Schedule)

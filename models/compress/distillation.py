"""Knowledge distillation: train a small student on a large teacher's outputs.

``mode="hinton"`` (Hinton et al. 2015): with ``p^T = softmax(z / T)``,
``L = alpha * T^2 * KL(p^T_teacher || p^T_student) + (1 - alpha) * CE(softmax(z_student), y)``,
mean over the batch; ``dL/dz_s = [alpha * T (p^T_s - p^T_t) + (1 - alpha)(softmax(z_s) -
onehot(y))] / N`` (the ``T^2`` keeps the soft term's gradient scale independent of T).
``mode="logits"`` (Ba & Caruana 2014): regress the teacher's logits,
``L = sum_k (z_s - z_t)_k^2 / (2 N)`` (labels unused), ``dL/dz_s = (z_s - z_t) / N``.

Why logit regression needs its targets scaled: the regression gradient grows with the teacher's
logits, unbounded, while the cross-entropy's and Hinton's are bounded (by 1 and by T per
logit).  A LeNet-300-100 trained on MNIST has logits of standard deviation ~9 and up to ~50, so
at the learning rate that suits cross-entropy (SGD 0.01-0.05) the first steps are ~10x larger
than a label step and drive most hidden ReLUs of a small student to zero for good (measured:
77% of a 784-30-10 student's units dead after one epoch at lr 0.01; the run ends predicting one
class).  Two remedies: a ~10x smaller learning rate, or ``distill(..., logit_scale="std")``,
which regresses ``z_t / std(z_t)`` (the student's logits then match the teacher's up to one
positive factor, which changes no prediction, at the cross-entropy's gradient scale).  On MNIST
the smaller learning rate did better (docs/compression.md, "Distillation").
"""

from __future__ import annotations

import numpy as np

from models.compress._common import check_fraction, check_int, check_model
from models.compress.report import FLOAT_BITS, CompressionReport, LayerCompression

MODES = ("hinton", "logits")


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def distillation_loss(student_logits, teacher_logits, y, *, temperature: float = 4.0,
                      alpha: float = 0.9, mode: str = "hinton") -> tuple[float, np.ndarray]:
    """The distillation loss of a batch and its gradient w.r.t. ``student_logits`` (module
    docstring); computed in float64, the gradient returned in the dtype of the logits."""
    if mode not in MODES:
        raise ValueError(f"mode={mode!r} is not known; expected one of {MODES}")
    zs = np.asarray(student_logits, dtype=np.float64)
    zt = np.asarray(teacher_logits, dtype=np.float64)
    if zs.shape != zt.shape or zs.ndim != 2:
        raise ValueError(f"student_logits {zs.shape} and teacher_logits {zt.shape} must be "
                         "equal (N, classes) arrays")
    n = len(zs)
    if mode == "logits":
        diff = zs - zt
        return float((diff ** 2).sum() / (2 * n)), (diff / n).astype(student_logits.dtype)
    if not temperature > 0:
        raise ValueError(f"temperature={temperature} is out of range; expected > 0")
    alpha = check_fraction("alpha", alpha, hi_open=False)
    t = float(temperature)
    ps, pt = _softmax(zs / t), _softmax(zt / t)
    log_ps = zs / t - zs.max(axis=1, keepdims=True) / t
    log_ps -= np.log(np.exp(log_ps).sum(axis=1, keepdims=True))
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(pt > 0, pt * (np.log(pt) - log_ps), 0.0).sum() / n
    p = _softmax(zs)
    rows = np.arange(n)
    y = np.asarray(y, dtype=np.int64)
    ce = float(np.mean(-np.log(np.maximum(p[rows, y], np.finfo(np.float64).tiny))))
    hard = p.copy()
    hard[rows, y] -= 1
    grad = (alpha * t * (ps - pt) + (1 - alpha) * hard) / n
    return float(alpha * t * t * kl + (1 - alpha) * ce), grad.astype(student_logits.dtype)


def distill(student, teacher, data, *, temperature: float = 4.0, alpha: float = 0.9,
            mode: str = "hinton", epochs: int = 5, seed: int = 0, batch_size: int = 64,
            optimizer="sgd", lr: float | None = None, logit_scale: float | str = 1.0,
            progress: bool = False) -> tuple:
    """Train a copy of ``student`` on ``teacher``'s logits (``teacher=None``: on the labels
    alone, the baseline) and return ``(student, report)``.

    Each epoch shuffles the training split with ``seed`` and minimises
    :func:`distillation_loss` by mini-batch ``optimizer`` steps at ``lr`` (default 0.05 for
    SGD).  ``logit_scale`` (mode ``"logits"`` only): a positive factor applied to the teacher's
    logits before they are regressed, or ``"std"`` for ``1 / std`` of the teacher's logits on
    the training split (module docstring: why).  The report compares total weights (teacher ->
    student) and test accuracies; its ``extra["history"]`` holds the per-epoch mean training
    loss and validation accuracy.
    """
    from models.optim import get_optimizer
    from models.sequential import softmax_cross_entropy
    from models.train import DEFAULT_LR

    check_model(student)
    if teacher is not None:
        check_model(teacher)
        if teacher.n_classes != student.n_classes:
            raise ValueError(f"teacher has {teacher.n_classes} outputs, student "
                             f"{student.n_classes}; they must match")
    epochs = check_int("epochs", epochs)
    batch_size = check_int("batch_size", batch_size)
    if mode not in MODES:
        raise ValueError(f"mode={mode!r} is not known; expected one of {MODES}")
    distillation_loss(np.zeros((1, 2)), np.zeros((1, 2)), np.zeros(1, np.int64),
                      temperature=temperature, alpha=alpha, mode=mode)  # validate early
    if isinstance(logit_scale, str):
        if logit_scale != "std":
            raise ValueError(f"logit_scale={logit_scale!r} is not known; expected a positive "
                             "number or 'std'")
    elif isinstance(logit_scale, (bool, np.bool_)) or not isinstance(
            logit_scale, (int, float, np.integer, np.floating)):
        raise TypeError(f"logit_scale must be a number or 'std', not "
                        f"{type(logit_scale).__name__}")
    elif not (np.isfinite(logit_scale) and logit_scale > 0):
        raise ValueError(f"logit_scale={logit_scale} is out of range; expected a finite "
                         "number > 0")
    if mode != "logits" and logit_scale != 1.0:
        raise ValueError(f"logit_scale={logit_scale!r} applies to mode='logits' only; with "
                         f"mode={mode!r} leave it at 1.0 (the temperature sets how soft the "
                         "teacher's targets are)")
    model = student.copy()
    opt = get_optimizer(optimizer)
    lr = DEFAULT_LR.get(type(opt).__name__, 0.01) if lr is None else float(lr)
    x, y = model._check_x(data.x_train), np.asarray(data.y_train)
    soft = None if teacher is None else teacher.logits(x)
    if soft is not None and mode == "logits":
        scale = 1.0 / float(np.std(soft, dtype=np.float64)) if logit_scale == "std" else \
            float(logit_scale)
        soft = (soft * scale).astype(soft.dtype)
        logit_scale = scale
    trained = [layer for layer in model.layers if layer.params()]
    rng = np.random.default_rng(seed)
    history = {"loss": [], "val_accuracy": []}
    for _ in range(epochs):
        order = rng.permutation(len(x))
        total = 0.0
        for s in range(0, len(x), batch_size):
            idx = order[s:s + batch_size]
            logits = model.forward(x[idx], training=True)
            if soft is None:
                loss, grad = softmax_cross_entropy(logits, y[idx])
            else:
                loss, grad = distillation_loss(logits, soft[idx], y[idx],
                                               temperature=temperature, alpha=alpha, mode=mode)
            if not np.isfinite(loss):
                raise FloatingPointError(f"distillation diverged: loss={loss}; lower lr ({lr})")
            model.backward(grad, input_grad=False)
            opt.step(((f"{layer.name}/{k}", p, layer.grads()[k])
                      for layer in trained for k, p in layer.params().items()), lr)
            total += loss * len(idx)
        history["loss"].append(total / len(x))
        if len(data.x_val):
            history["val_accuracy"].append(model.evaluate(data.x_val, data.y_val))
    n_teacher = teacher.n_params if teacher is not None else model.n_params
    row = LayerCompression(layer="(model)", original_weights=n_teacher, weights=model.n_params,
                           nonzeros=model.n_params, entries=model.n_params,
                           stored_bits=model.n_params * FLOAT_BITS)
    before = teacher.evaluate(data.x_test, data.y_test) if teacher is not None else None
    report = CompressionReport(
        method="distillation" if teacher is not None else "labels only", layers=(row,),
        settings={"temperature": temperature, "alpha": alpha, "mode": mode, "epochs": epochs,
                  "seed": seed, "lr": lr, "logit_scale": logit_scale},
        accuracy_before=before, accuracy_after=model.evaluate(data.x_test, data.y_test),
        extra={"history": history})
    return model, report

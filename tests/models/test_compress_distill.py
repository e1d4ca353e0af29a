"""Knowledge distillation: the loss and its gradient, and a short run on digits."""

from __future__ import annotations

import numpy as np
import pytest

from models import datasets, train, zoo
from models.compress.distillation import distill, distillation_loss
from models.layers import Dense, Flatten, ReLU
from models.sequential import Sequential, softmax_cross_entropy


@pytest.mark.parametrize("mode, temperature, alpha", [("hinton", 4.0, 0.9), ("hinton", 1.0, 0.5),
                                                      ("hinton", 20.0, 1.0),
                                                      ("logits", 1.0, 0.0)])
def test_gradient_by_finite_differences(rng, mode, temperature, alpha):
    zs = rng.standard_normal((6, 5)) * 3
    zt = rng.standard_normal((6, 5)) * 3
    y = rng.integers(0, 5, 6)
    _, grad = distillation_loss(zs, zt, y, temperature=temperature, alpha=alpha, mode=mode)
    eps = 1e-6
    for idx in np.ndindex(zs.shape):
        zp, zm = zs.copy(), zs.copy()
        zp[idx] += eps
        zm[idx] -= eps
        num = (distillation_loss(zp, zt, y, temperature=temperature, alpha=alpha, mode=mode)[0]
               - distillation_loss(zm, zt, y, temperature=temperature, alpha=alpha,
                                   mode=mode)[0]) / (2 * eps)
        # the T^2 factor scales the loss, and the rounding of its differences, by T^2
        assert abs(num - grad[idx]) < 1e-8 * max(1.0, temperature ** 2)


def test_loss_special_cases(rng):
    """alpha=0 is the label cross-entropy; equal logits give zero soft loss; logits mode is
    the squared error / 2N."""
    zs, zt = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    y = rng.integers(0, 3, 4)
    ce, g = softmax_cross_entropy(zs, y)
    loss, grad = distillation_loss(zs, zt, y, alpha=0.0)
    assert abs(loss - ce) < 1e-12
    np.testing.assert_allclose(grad, g, rtol=1e-12, atol=1e-15)
    assert abs(distillation_loss(zs, zs, y, alpha=1.0)[0]) < 1e-12
    assert distillation_loss(zs, zt, y, mode="logits")[0] == ((zs - zt) ** 2).sum() / 8


@pytest.mark.parametrize("kw, exc, match", [
    (dict(mode="kd"), ValueError, r"mode='kd' is not known; expected one of"),
    (dict(temperature=0), ValueError, r"temperature=0 is out of range; expected > 0"),
    (dict(alpha=1.5), ValueError, r"alpha=1.5 is out of range; expected 0 <= alpha <= 1"),
])
def test_bad_parameters(kw, exc, match):
    z = np.zeros((2, 3))
    with pytest.raises(exc, match=match):
        distillation_loss(z, z, np.zeros(2, np.int64), **kw)


@pytest.fixture(scope="module")
def digits500():
    d = datasets.load("digits")
    return datasets.Dataset(d.x_train[:500].copy(), d.y_train[:500].copy(), d.x_val.copy(),
                            d.y_val.copy(), d.x_test.copy(), d.y_test.copy(),
                            name="digits500", n_classes=10)


@pytest.fixture(scope="module")
def teacher(digits500):
    model = zoo.get("digits-mlp", seed=0)
    train(model, digits500, epochs=4, seed=0, progress=False)
    return model


def _student():
    return Sequential([Flatten(), Dense(64, 12, seed=1), ReLU(), Dense(12, 10, seed=2)],
                      (1, 8, 8))


def test_distill_on_digits(digits500, teacher):
    data, student = digits500, _student()
    before = student.params()["dense1/weight"].copy()
    accuracy = {}
    for mode in ("hinton", "logits"):
        model, report = distill(student, teacher, data, mode=mode, epochs=3,
                                lr=0.05 if mode == "hinton" else 0.01)
        accuracy[mode] = report.accuracy_after
        assert report.accuracy_after > 0.3   # chance is 0.1
        assert report.compression_ratio == report.bytes_before / report.bytes_after > 4
        assert len(report.extra["history"]["loss"]) == 3
    np.testing.assert_array_equal(student.params()["dense1/weight"], before)  # copy trained
    _, alone = distill(student, None, data, epochs=3)
    assert alone.method == "labels only" and alone.accuracy_after > 0.3
    # seeded, deterministic: at equal epochs the teacher's soft targets help this tiny student
    assert accuracy["hinton"] > alone.accuracy_after
    with pytest.raises(ValueError, match="teacher has 10 outputs, student 4"):
        distill(Sequential([Flatten(), Dense(64, 4)], (1, 8, 8)), teacher, data)


def test_logit_scale_is_a_scaled_teacher(digits500, teacher):
    """Regressing logits scaled by 1/2 (exact in binary) trains bit for bit as regressing a
    teacher whose last layer was halved; "std" uses 1 / std of the teacher's training logits."""
    half = teacher.copy()
    for key in ("weight", "bias"):
        half.layers[-1].params()[key] *= 0.5
    a, ra = distill(_student(), teacher, digits500, mode="logits", epochs=2, lr=0.01,
                    logit_scale=0.5)
    b, _ = distill(_student(), half, digits500, mode="logits", epochs=2, lr=0.01)
    for key, value in a.params().items():
        np.testing.assert_array_equal(value, b.params()[key])
    assert ra.settings["logit_scale"] == 0.5
    _, rs = distill(_student(), teacher, digits500, mode="logits", epochs=1, lr=0.01,
                    logit_scale="std")
    z = teacher.logits(digits500.x_train)
    assert rs.settings["logit_scale"] == 1.0 / float(np.std(z, dtype=np.float64))


@pytest.mark.parametrize("kw, exc, match", [
    (dict(mode="logits", logit_scale="max"), ValueError,
     r"logit_scale='max' is not known; expected a positive number or 'std'"),
    (dict(mode="logits", logit_scale=0.0), ValueError,
     r"logit_scale=0.0 is out of range; expected a finite number > 0"),
    (dict(mode="logits", logit_scale=True), TypeError, r"logit_scale must be a number or 'std'"),
    (dict(logit_scale="std"), ValueError,
     r"logit_scale='std' applies to mode='logits' only; with mode='hinton' leave it at 1.0"),
])
def test_bad_logit_scale(digits500, teacher, kw, exc, match):
    with pytest.raises(exc, match=match):
        distill(_student(), teacher, digits500, epochs=1, **kw)

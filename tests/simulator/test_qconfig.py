"""QConfig / LayerConfig: resolution, hashing, constructors and the checks simulate relies on."""

from __future__ import annotations

import numpy as np
import pytest

from precision import FixedPoint
from simulator import Accumulator, Graph, LayerConfig, QConfig, targets
from simulator.qconfig import operand

Q44 = FixedPoint(il=4, fl=4)
Q26 = FixedPoint(il=2, fl=6)


def mlp() -> Graph:
    g = Graph((4,))
    g.add("fc1", "dense", weight=np.ones((3, 4)), bias=np.zeros(3))
    g.add("relu1", "relu")
    g.add("fc2", "dense", weight=np.ones((2, 3)))
    return g


def test_resolve_fills_from_default():
    """A layer's None fields inherit the default; set fields win."""
    acc = Accumulator(24, "saturate")
    q = QConfig(default=LayerConfig(weights=Q44, bias=Q44, activations=Q44),
                layers={"fc2": LayerConfig(weights=Q26, accumulator=acc)})
    r = q.resolve("fc2")
    assert (r.weights, r.bias, r.activations, r.accumulator) == (Q26, Q44, Q44, acc)
    assert q.resolve("fc1") == q.default


def test_frozen_and_hashable():
    """Equal configs hash equal (usable as dict keys); fields cannot be reassigned."""
    a = QConfig.uniform(Q44)
    b = QConfig.uniform(FixedPoint(il=4, fl=4))
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    c = a.with_layer("fc1", weights=Q26)
    assert c != a and c.resolve("fc1").weights == Q26 and a.layers == {}
    with pytest.raises(AttributeError):
        a.input = Q26  # type: ignore[misc]
    d1 = QConfig(layers={"a": LayerConfig(weights=Q44), "b": LayerConfig(weights=Q26)})
    d2 = QConfig(layers={"b": LayerConfig(weights=Q26), "a": LayerConfig(weights=Q44)})
    assert d1 == d2 and hash(d1) == hash(d2)


def test_spec_strings_are_parsed():
    """Formats may be given by name or spec string (precision.get)."""
    c = LayerConfig(weights="ap_fixed<8,4,AP_RND,AP_SAT>")
    assert c.weights == FixedPoint(il=4, fl=4, rounding="nearest", overflow="saturate")


def test_uniform_and_float():
    q = QConfig.uniform(Q44, accumulator=Accumulator(20), activations=Q26)
    r = q.resolve("anything")
    assert (r.weights, r.bias, r.activations) == (Q44, Q44, Q26)
    assert r.accumulator == Accumulator(20)
    assert QConfig.float().is_float and not q.is_float


def test_for_target_uses_native_formats_and_accumulator():
    t = targets.get("cpu-int8")
    q = QConfig.for_target("cpu-int8")
    fmts = t.default_formats()
    assert q.default.weights == fmts["weights"]
    assert q.default.activations == fmts["activations"]
    assert q.default.accumulator == t.accumulator


def test_tensor_formats_follow_the_ops():
    """Pass-through ops keep their input's format; requantizing ops take their activations."""
    g = mlp()
    q = QConfig(default=LayerConfig(activations=Q44), input=Q26,
                layers={"fc2": LayerConfig(activations=Q26)})
    f = q.tensor_formats(g)
    assert f == {"input": Q26, "fc1": Q44, "relu1": Q44, "fc2": Q26}
    assert QConfig(default=LayerConfig(activations=Q44)).tensor_formats(g)["input"] == Q44


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(weights=3), TypeError, "weights must be a number format"),
    (dict(accumulator=32), TypeError, "accumulator must be an Accumulator"),
])
def test_layerconfig_type_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        LayerConfig(**kwargs)


def test_qconfig_type_errors():
    with pytest.raises(TypeError, match="default must be a LayerConfig"):
        QConfig(default=Q44)
    with pytest.raises(TypeError, match=r"layers\['fc1'\] must be a LayerConfig"):
        QConfig(layers={"fc1": Q44})


def test_check_refuses_unknown_layer():
    q = QConfig.uniform(Q44).with_layer("fc9", weights=Q26)
    with pytest.raises(ValueError, match=r"qconfig.layers names 'fc9', which is not a node of "
                                         r"the graph; nodes: fc1, relu1, fc2"):
        q.check(mlp())


def test_check_refuses_accumulator_narrower_than_a_product():
    q = QConfig.uniform(Q44, accumulator=Accumulator(15))
    with pytest.raises(ValueError, match=r"fc1: accumulator width=15 is narrower than one "
                                         r"product of 8-bit activations and 8-bit weights; "
                                         r"expected width >= 16"):
        q.check(mlp())
    QConfig.uniform(Q44, accumulator=Accumulator(16)).check(mlp())


def test_check_uses_the_target_accumulator_when_unset():
    """With no accumulator in the qconfig, the target's (32 bits on asic-45nm) is checked."""
    t = targets.get("asic-45nm")
    assert t.accumulator.width == 32 and t.supports(17, 17)
    with pytest.raises(ValueError, match=r"width=32 is narrower .* expected width >= 34"):
        QConfig.uniform(FixedPoint(il=9, fl=8)).check(mlp(), t)
    QConfig.uniform(FixedPoint(il=8, fl=8)).check(mlp(), t)


def test_check_refuses_formats_the_target_cannot_run():
    q = QConfig.uniform(FixedPoint(il=8, fl=24))  # 32-bit operands: no int or fp32 lane
    with pytest.raises(ValueError, match=r"fc1: target 'cpu-int8' cannot multiply"):
        q.check(mlp(), targets.get("cpu-int8"))
    QConfig.uniform(FixedPoint(il=8, fl=8)).check(mlp(), targets.get("cpu-int16"))


def test_operand_names():
    assert operand(Q44) == 8


def test_as_format_reads_objects_strings_and_refuses_the_rest():
    from simulator.qconfig import as_format

    assert as_format("weights", None) is None
    assert as_format("weights", "Q4.12") == FixedPoint(il=4, fl=12)
    assert as_format("weights", Q44) is Q44
    with pytest.raises(ValueError, match=r"fmt is required: pass a precision format"):
        as_format("fmt", None, required=True)
    with pytest.raises(TypeError, match=r"fmt must be a number format or a format spec string, "
                                         r"got int 3$"):
        as_format("fmt", 3, required=True)
    with pytest.raises(TypeError, match=r"weights must be .* or None, got float 0.5"):
        as_format("weights", 0.5)

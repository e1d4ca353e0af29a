"""Low-precision training methods: the registry, "qat", "fixed" (Gupta et al. 2015) and
"dynamic_fixed" (Courbariaux et al. 2014) on the 8x8 digits."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from threadpoolctl import threadpool_limits

from models import datasets, methods, train, zoo
from models.methods.dynamic_fixed import DynamicFixedPointTraining, OverflowScale
from models.methods.fixed import FixedPointTraining, check_exact_accumulation
from models.methods.qat import StepKeys, deterministic
from precision import FixedPoint, FloatingPoint

LOW_PRECISION = ("qat", "fixed", "dynamic_fixed", "binaryconnect", "bnn", "xnor", "ternary")


@pytest.fixture(autouse=True)
def one_blas_thread():
    """Both cores are busy under pytest -n 2: one BLAS thread per worker."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits")


def mlp(digits, seed=0):
    return zoo.get("digits-mlp", seed=seed, input_shape=digits.input_shape)


def weights(model):
    return {k: v.copy() for k, v in model.params().items()}


# ---------------------------------------------------------------------------- registry
def test_every_method_is_registered():
    """train(method=...) finds every method of the survey by name."""
    assert set(LOW_PRECISION) <= set(methods.names())
    for name in LOW_PRECISION:
        assert methods.get(name).name == name


def test_unknown_option_and_bad_formats_are_rejected():
    """Options are validated when the method is built, with messages naming the value."""
    with pytest.raises(TypeError, match="unexpected keyword argument .bogus."):
        methods.get("ternary")(bogus=1)
    with pytest.raises(ValueError, match="fmt is required"):
        methods.get("qat")()
    with pytest.raises(TypeError, match="needs a FixedPoint fmt"):
        methods.get("fixed")(fmt=FloatingPoint(5, 10))
    with pytest.raises(ValueError, match="inference_rounding='stochastic'"):
        FixedPointTraining(inference_rounding="stochastic")
    with pytest.raises(ValueError, match="ste='bogus'"):
        methods.get("qat")(fmt=FixedPoint(il=2, fl=6), ste="bogus")
    with pytest.raises(ValueError, match="wl_prop=40 is out of range"):
        DynamicFixedPointTraining(wl_prop=40)
    with pytest.raises(ValueError, match="takes no fmt"):
        methods.get("bnn")(fmt=FixedPoint(il=2, fl=6))


def test_deterministic_counterpart_of_stochastic_formats():
    """Inference rounds to nearest where training rounded stochastically."""
    f = FixedPoint(il=4, fl=12, rounding="stochastic")
    assert deterministic(f) == FixedPoint(il=4, fl=12, rounding="nearest")
    assert deterministic(FixedPoint(il=4, fl=4)) == FixedPoint(il=4, fl=4)
    assert deterministic(None) is None


def test_step_keys_are_distinct_and_reproducible():
    """Each (step, layer, role) gets its own key; the same generator seed gives the same keys."""
    a, b = StepKeys(np.random.default_rng(3)), StepKeys(np.random.default_rng(3))
    keys = set()
    for step in range(4):
        a.step = b.step = step
        for layer in range(3):
            for role in range(5):
                assert a(layer, role) == b(layer, role)
                keys.add(a(layer, role))
    assert len(keys) == 4 * 3 * 5


# ---------------------------------------------------------------------------- qat
@pytest.fixture(scope="module")
def qat_model(digits):
    m = mlp(digits)
    with threadpool_limits(1):
        h = train(m, digits, method="qat", fmt=FixedPoint(il=2, fl=4),
                  activations=FixedPoint(il=4, fl=4), epochs=3, seed=0, progress=False)
    return m, h


def test_qat_trains_and_deploys_quantized_weights(qat_model, digits):
    """6-bit weights, 8-bit activations: the digits MLP learns, deployed weights on the grid."""
    m, _ = qat_model
    acc = m.evaluate(digits.x_test, digits.y_test)
    assert 0.85 <= acc <= 1.0
    for layer in (m.layers[1], m.layers[3]):
        w = layer.params()["weight"].astype(np.float64)
        assert_array_equal(w * 16, np.round(w * 16))
        assert np.abs(w).max() <= 2 - 1 / 16


def test_qat_model_matches_the_simulator(qat_model, digits):
    """simulate(model.to_graph(), model.qconfig) gives the model's logits bit for bit."""
    import simulator

    m, _ = qat_model
    r = simulator.simulate(m.to_graph(), m.qconfig, digits.x_test, collect=False)
    assert_array_equal(r.outputs, m.logits(digits.x_test).astype(np.float64))
    assert_array_equal(r.predictions, m.predict(digits.x_test))


def test_qat_clipped_ste_zeroes_gradients_outside_the_range():
    """ste='clipped' passes the gradient only where the latent weight is representable."""
    from models.layers import Dense

    layer = Dense(3, 2, seed=0)
    layer.params()["weight"][...] = [[0.5, 3.0, -2.0], [-2.5, 1.95, 0.0]]
    method = methods.get("qat")(fmt=FixedPoint(il=2, fl=4), ste="clipped")
    g = method.param_grad(layer, "weight", np.ones((2, 3), np.float32))
    assert_array_equal(g, [[1, 0, 1], [0, 0, 1]])


# ---------------------------------------------------------------------------- fixed
GUPTA_DIGITS = FixedPoint(il=4, fl=10, rounding="stochastic")


@pytest.fixture(scope="module")
def fixed_run(digits):
    with threadpool_limits(1):
        runs = []
        for _ in range(2):
            m = mlp(digits)
            h = train(m, digits, method="fixed", fmt=GUPTA_DIGITS, epochs=3, seed=5,
                      progress=False)
            runs.append((m, h))
    return runs


def test_fixed_point_training_learns(fixed_run, digits):
    """Gupta's scheme with 14-bit stochastic fixed point trains the digits MLP."""
    m, h = fixed_run[0]
    assert 0.85 <= m.evaluate(digits.x_test, digits.y_test) <= 1.0
    assert h.train_loss.values[-1] < h.train_loss.values[0]


def test_fixed_point_training_is_deterministic(fixed_run):
    """Stochastic rounding is keyed by the train seed: two runs give identical weights."""
    (a, ha), (b, hb) = fixed_run
    for key, value in a.params().items():
        assert_array_equal(value, b.params()[key])
    assert_array_equal(ha.train_loss.values, hb.train_loss.values)


def test_fixed_point_parameters_are_codes_of_the_format(fixed_run):
    """Every trained weight and bias is code * 2**-fl with the code inside the 14-bit range."""
    m, _ = fixed_run[0]
    for value in m.params().values():
        codes = value.astype(np.float64) * 2.0**GUPTA_DIGITS.fl
        assert_array_equal(codes, np.round(codes))
        assert codes.min() >= GUPTA_DIGITS.min_code and codes.max() <= GUPTA_DIGITS.max_code


def test_fixed_point_model_matches_the_simulator(fixed_run, digits):
    """The inference pass (nearest rounding, exact logits) is reproduced code for code by
    simulate()."""
    import simulator

    m, _ = fixed_run[0]
    r = simulator.simulate(m.to_graph(), m.qconfig, digits.x_test, collect=False)
    assert_array_equal(r.outputs, m.logits(digits.x_test).astype(np.float64))
    assert_array_equal(r.predictions, m.predict(digits.x_test))


def test_stochastic_rounding_learns_where_nearest_stalls(digits):
    """The Gupta effect: with FL = 5 round-to-nearest loses every small update (and error), so
    the network does not learn; stochastic rounding keeps them in expectation and learns."""
    acc = {}
    for rounding in ("nearest", "stochastic"):
        m = mlp(digits)
        train(m, digits, method="fixed", fmt=FixedPoint(il=4, fl=5, rounding=rounding),
              epochs=3, seed=0, progress=False)
        acc[rounding] = m.evaluate(digits.x_test, digits.y_test)
    assert acc["nearest"] <= 0.2
    assert acc["stochastic"] >= 0.7


def test_exact_accumulation_bound_is_enforced(digits):
    """K products of wl-bit codes must stay below 2**53 product steps."""
    check_exact_accumulation(FixedPoint(il=4, fl=12), 2**21, "ok")  # 2**21 * 2**30 < 2**53
    with pytest.raises(ValueError, match="would round"):
        check_exact_accumulation(FixedPoint(il=4, fl=12), 2**23, "layer 'dense1'")
    m = zoo.get("digits-mlp", seed=0, input_shape=(1, 8, 8))
    with pytest.raises(ValueError, match="layer 'dense1'.*would round"):
        train(m, digits, method="fixed", fmt=FixedPoint(il=12, fl=14), progress=False)


def test_fixed_refuses_words_wider_than_float64_products():
    with pytest.raises(ValueError, match="wl=30; expected wl <= 26"):
        FixedPointTraining(fmt=FixedPoint(il=10, fl=20))


# ---------------------------------------------------------------------------- dynamic
def test_overflow_scale_rule_hand_built():
    """The paper's rule: too many overflows -> fl - 1; room for one more bit -> fl + 1."""
    s = OverflowScale(wl=4, max_overflow_rate=0.1)  # max code 7
    s.observe(np.array([0.5, 1.0, 1.5, 2.0] * 5))   # initial fl: 7 * 2**-fl >= 2 -> fl = 1
    assert s.fl == 1 and s.max_value == 3.5
    s.update()  # no overflow at fl=1; at fl=2 (max 1.75) 5/20 > 10% overflow -> stay
    assert s.fl == 1
    s.observe(np.array([0.1] * 20))
    s.update()  # at fl=2 nothing overflows -> fl = 2
    assert s.fl == 2
    s.observe(np.array([0.1] * 8 + [10.0] * 2))
    s.update()  # 2/10 > 10% overflow -> fl = 1
    assert s.fl == 1
    assert s.history == [1, 1, 2, 1]


@settings(max_examples=60)
@given(st.lists(st.floats(-1e4, 1e4, allow_nan=False, width=32), min_size=1, max_size=50),
       st.integers(2, 16), st.sampled_from([0.0, 0.05, 0.2]))
def test_initial_fl_is_the_largest_that_respects_the_overflow_rate(values, wl, rate):
    """Brute force over fl (exact Fractions): the chosen fl meets the rate, fl + 1 does not."""
    x = np.array(values, dtype=np.float64)
    s = OverflowScale(wl=wl, max_overflow_rate=rate)
    fl = s.initial_fl(x)

    def overflow(f):
        top = Fraction(2 ** (wl - 1) - 1) * Fraction(2) ** -f
        return sum(abs(Fraction(v)) > top for v in x.tolist())

    if np.all(x == 0):
        assert fl == wl - 1
        return
    assert overflow(fl) <= rate * len(x)
    if fl < 40:
        assert overflow(fl + 1) > rate * len(x)


def test_dynamic_fixed_trains_with_10_bit_propagations(digits):
    """10-bit propagations, 12-bit updates: learns; deployed weights are 10-bit codes on
    their layer's scale; the simulator reproduces the logits; the scales moved."""
    import simulator

    m = mlp(digits)
    method = DynamicFixedPointTraining(update_every=320)
    train(m, digits, method=method, epochs=3, seed=0, progress=False)
    assert 0.85 <= m.evaluate(digits.x_test, digits.y_test) <= 1.0
    fl = method.scales()
    for i, layer in ((1, m.layers[1]), (3, m.layers[3])):
        f = int(fl.sel(kind="weights", layer=i))
        codes = layer.params()["weight"].astype(np.float64) * 2.0**f
        assert_array_equal(codes, np.round(codes))
        assert np.abs(codes).max() <= 2**9
    assert any(len(g.history) > 1 for g in method.groups.values())
    r = simulator.simulate(m.to_graph(), m.qconfig, digits.x_test, collect=False)
    assert_array_equal(r.outputs, m.logits(digits.x_test).astype(np.float64))


def test_exact_float64_sum_of_fixed_point_products(rng):
    """The premise of "fixed": float64 sums of products of 16-bit codes equal Python ints."""
    a = rng.integers(-2**15, 2**15, size=(4, 1000))
    b = rng.integers(-2**15, 2**15, size=(1000, 3))
    exact = [[sum(int(a[i, k]) * int(b[k, j]) for k in range(1000)) for j in range(3)]
             for i in range(4)]
    got = (np.ldexp(a.astype(np.float64), -12) @ np.ldexp(b.astype(np.float64), -12))
    assert_array_equal(np.ldexp(got, 24).astype(np.int64), np.array(exact, dtype=np.int64))
    assert math.log2(1000) + 30 < 53


# -- the input hook: CNNs whose first layer has parameters --------------------------------------
@pytest.fixture(scope="module")
def fixed_cnn(digits):
    m = zoo.get("digits-cnn", seed=0)
    train(m, digits, method="fixed", fmt=FixedPoint(il=4, fl=6, rounding="stochastic"),
          epochs=1, seed=0, progress=False)
    return m


def test_fixed_cnn_input_hook_matches_the_simulator(fixed_cnn, digits):
    """digits-cnn starts with a conv layer: the ``input`` hook rounds the network input as the
    qconfig does, so the logits equal simulate() bit for bit for inputs off the 2**-6 grid."""
    import simulator

    m = fixed_cnn
    x = digits.x_test[:300] * np.float32(0.7) + np.float32(0.003)
    assert not np.array_equal(x * 64, np.round(x * 64))  # off the grid: the hook has work
    assert m.qconfig.input == m.hooks.infer_fmt
    r = simulator.simulate(m.to_graph(), m.qconfig, x, collect=False)
    assert_array_equal(r.outputs, m.logits(x).astype(np.float64))
    # without the input rounding the model would compute something else
    raw = m.hooks.infer_fmt.quantize(x.astype(np.float64)).to_float()
    assert not np.array_equal(raw, x)
    assert_array_equal(m.hooks.input(x, False), raw)


def test_input_hook_is_the_identity_by_default_and_for_mlps(digits):
    """The base hook passes the input through; an MLP (flatten first) keeps quantizing at the
    flatten output, so its raw input is left alone."""
    from models.methods.base import FloatTraining

    x = digits.x_test[:4]
    assert FloatTraining().input(x, True) is x
    meth = FixedPointTraining(fmt=FixedPoint(il=4, fl=2))
    meth.setup(mlp(digits), np.random.default_rng(0))
    assert meth.input(x, True) is x


# ---------------------------------------------------------------------------- fused rounding
# models.methods.fixed.ValueRounder must equal FixedPoint.quantize(x).codes * 2**-fl bit for bit
# (the sign of zero included): it is how fixed-point training rounds every tensor.
from models.methods.fixed import ValueRounder, mix64, step_key

ROUNDINGS = ("nearest", "nearest_even", "nearest_away", "nearest_zero", "nearest_down", "floor",
             "toward_zero", "stochastic")
OVERFLOWS = ("saturate", "saturate_zero", "saturate_symmetric", "wrap")


def reference_values(fmt, x, seed):
    q = fmt.quantize(x, seed=seed if fmt.is_stochastic else None)
    return np.multiply(q.codes, np.float64(q.scale), dtype=np.float64)


def assert_same_bits(actual, expected):
    assert actual.dtype == np.float64 and actual.shape == expected.shape
    assert_array_equal(actual.view(np.uint64), expected.view(np.uint64))


def edge_grid(fmt) -> tuple[np.ndarray, np.ndarray]:
    """(values in the kernels' fast range, all values): ties at +-1/2 step, zero of both
    signs, the extreme codes, one step past them, the region -1 < y < 0 where y + 1 rounds;
    then also infinities, subnormal and huge values (the exact path)."""
    step = 2.0 ** -fmt.fl
    lo, hi = fmt.min_code, fmt.max_code
    codes = np.array([0, 1, 2, 3, -1, -2, -3, lo, lo + 1, hi, hi - 1, lo - 1, hi + 1,
                      lo - 7, hi + 7, 2 * hi, -2 * hi], dtype=np.float64)
    base = np.concatenate([codes, codes + 0.5, codes - 0.5, codes + 0.25, codes - 0.75,
                           codes + 0.5 - 2.0**-40, codes + 0.5 + 2.0**-40])
    tiny = np.array([-0.3 + 2.0**-54, -2.0**-60, 2.0**-60, -1 + 2.0**-53, -0.5 + 2.0**-54,
                     -1.0, -0.0, 0.0, 5e-324, -5e-324, 2.0**-1022, 2.0**60, -2.0**60,
                     np.inf, -np.inf])
    fast = np.concatenate([base, tiny[:7]]) * step  # an even count: reshaped to 2-d
    return fast, np.concatenate([fast, tiny * step, tiny])


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("overflow", OVERFLOWS)
@pytest.mark.parametrize("signed", [True, False])
def test_fused_rounding_equals_quantize_on_edge_grids(rounding, overflow, signed):
    """Every mode, on hand-built edges, in both kernels (new array and in place) and for
    float32 input: the values of FixedPoint.quantize, bit for bit."""
    for il, fl in ((4, 8), (3, 0), (-2, 10), (10, -3), (1, 1)):
        fmt = FixedPoint(il=il, fl=fl, signed=signed, rounding=rounding, overflow=overflow)
        rounder = ValueRounder(fmt)
        assert rounder.fused
        fast, x = edge_grid(fmt)
        for seed in (0, 12345):
            expected = reference_values(fmt, x, seed)
            assert_same_bits(rounder.values(x, seed), expected)
            p = x.copy()
            rounder.round_inplace(p, seed)
            assert_same_bits(p, expected)
            p = fast.reshape(-1, 2).copy()  # 2-d, and no element for the exact path
            rounder.round_inplace(p, seed)
            assert_same_bits(p, reference_values(fmt, fast.reshape(-1, 2), seed))
            assert_same_bits(rounder.values(fast, seed), reference_values(fmt, fast, seed))
        x32 = x.astype(np.float32)
        assert_same_bits(rounder.values(x32, 7), reference_values(fmt, x32, 7))


@pytest.mark.parametrize("fmt", [FixedPoint(il=4, fl=4, overflow="wrap", saturation_bits=2),
                                 FixedPoint(il=4, fl=4, overflow="wrap_sign_magnitude"),
                                 FixedPoint(il=40, fl=20, rounding="stochastic")])
def test_formats_outside_the_fused_kernels_use_quantize(fmt):
    """Bit-surgery overflow and words beyond 52 bits go through FixedPoint.quantize."""
    rounder = ValueRounder(fmt)
    assert not rounder.fused
    x = np.linspace(-40, 40, 997)
    assert_same_bits(rounder.values(x, 3), reference_values(fmt, x, 3))
    p = x.copy()
    rounder.round_inplace(p, 3)
    assert_same_bits(p, reference_values(fmt, x, 3))


def test_fused_rounding_raises_on_nan_as_quantize_does():
    """NaN is refused with quantize's message, by both entry points."""
    rounder = ValueRounder(FixedPoint(il=4, fl=8, rounding="stochastic"))
    x = np.array([0.5, np.nan, 1.0])
    with pytest.raises(ValueError, match="x contains 1 NaN value.*flat index 1"):
        rounder.values(x, 0)
    with pytest.raises(ValueError, match="x contains 1 NaN value.*flat index 1"):
        rounder.round_inplace(x.copy(), 0)


@settings(max_examples=60, deadline=None)
@given(il=st.integers(-4, 12), fl=st.integers(-4, 14), signed=st.booleans(),
       rounding=st.sampled_from(ROUNDINGS), overflow=st.sampled_from(OVERFLOWS),
       seed=st.integers(0, 2**64 - 1),
       x=st.lists(st.floats(allow_nan=False, width=64), min_size=1, max_size=40),
       spread=st.floats(2.0**-20, 2.0**20))
def test_fused_rounding_equals_quantize_on_random_cases(il, fl, signed, rounding, overflow,
                                                         seed, x, spread):
    """Random formats, seeds and values (any float, and values scaled near the range)."""
    if not 1 <= il + fl <= 26:
        return
    fmt = FixedPoint(il=il, fl=fl, signed=signed, rounding=rounding, overflow=overflow)
    rounder = ValueRounder(fmt)
    for arr in (np.array(x), np.tanh(np.array(x)) * spread):
        expected = reference_values(fmt, arr, seed)
        assert_same_bits(rounder.values(arr, seed), expected)
        p = arr.copy()
        rounder.round_inplace(p, seed)
        assert_same_bits(p, expected)


def test_step_key_and_mix64_equal_the_jitted_originals():
    """The Python-int key chain equals StepKeys and precision.stochastic.mix64."""
    from precision.stochastic import mix64 as jitted_mix64

    rng = np.random.default_rng(8)
    keys = StepKeys(rng)
    for _ in range(50):
        z = int(rng.integers(0, 2**63)) * 2 + int(rng.integers(0, 2))
        assert mix64(z) == int(jitted_mix64(np.uint64(z)))
        keys.step = int(rng.integers(0, 10**6))
        layer, role = int(rng.integers(-1, 40)), int(rng.integers(0, 100))
        assert step_key(keys.base, keys.step, layer, role) == keys(layer, role)

"""simulate(): every op and whole networks against the Python-int reference, targets, stats,
stochastic rounding, the weight cache and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from precision import Binary, FixedPoint
from simulator import (Accumulator, Graph, LayerConfig, QConfig, accuracy, simulate,
                       simulate_float, targets)
from tests.simulator.naive_network import network_ref

ROUNDINGS = ("nearest", "nearest_even", "floor", "toward_zero", "nearest_away", "nearest_zero",
             "nearest_down")
OVERFLOWS = ("saturate", "wrap", "saturate_zero", "saturate_symmetric")


def check_against_reference(g, q, x, target="cpu-int8"):
    """Every node's codes and every layer's accumulator overflow count equal the reference."""
    t = targets.get(target)
    ref, events = network_ref(g, q, x, t.accumulator)
    res = simulate(g, q, x, target=target)
    assert_array_equal(res.codes.codes.astype(object), ref[g.output.name].codes)
    assert res.codes.format.fl == ref[g.output.name].fl
    assert_array_equal(res.outputs, res.codes.to_float())
    for name, ev in events.items():
        assert int(res.stats["acc_overflow"].sel(layer=name)) == ev, name
    return res, ref


def mlp(rng, k=6, h=5, o=3, scale=1.0) -> Graph:
    g = Graph((k,))
    g.add("fc1", "dense", weight=rng.normal(size=(h, k)) * scale, bias=rng.normal(size=h))
    g.add("relu1", "relu")
    g.add("fc2", "dense", weight=rng.normal(size=(o, h)) * scale, bias=rng.normal(size=o))
    return g


def residual_cnn(rng) -> Graph:
    g = Graph((2, 6, 6))
    g.add("conv1", "conv2d", weight=rng.normal(size=(3, 2, 3, 3)) * 0.5,
          bias=rng.normal(size=3) * 0.2, padding=1)
    g.add("bn1", "batchnorm", gamma=rng.uniform(0.5, 1.5, 3), beta=rng.normal(size=3) * 0.1,
          mean=rng.normal(size=3) * 0.1, var=rng.uniform(0.5, 1.5, 3))
    g.add("relu1", "relu")
    g.add("conv2", "conv2d", weight=rng.normal(size=(3, 3, 3, 3)) * 0.3, padding=1)
    g.add("sum", "add", inputs=("conv2", "relu1"))
    g.add("pool", "maxpool2d", kernel=2)
    g.add("flat", "flatten")
    g.add("fc", "dense", weight=rng.normal(size=(4, 27)) * 0.3, bias=rng.normal(size=4) * 0.1)
    return g.fold_batchnorm()


# -- every op against the reference ----------------------------------------------------------
@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("overflow", OVERFLOWS)
def test_mlp_every_mode(rng, rounding, overflow):
    """Dense + fused relu + dense: codes equal the Python-int reference in every mode."""
    g = mlp(rng, scale=2.0)
    fmt = FixedPoint(il=3, fl=3, rounding=rounding, overflow=overflow)
    x = rng.normal(size=(4, 6)) * 2
    check_against_reference(g, QConfig.uniform(fmt), x)


@pytest.mark.parametrize("acc", [Accumulator(12, "wrap"), Accumulator(12, "saturate"),
                                 Accumulator(12, "saturate", saturate_each_step=True)])
def test_narrow_accumulators_overflow_like_the_reference(rng, acc):
    """A 12-bit accumulator overflows; contents and event counts equal the reference."""
    g = Graph((8,))
    g.add("fc1", "dense", weight=rng.uniform(-8, 8, (4, 8)), bias=rng.normal(size=4))
    g.add("relu1", "relu")
    g.add("fc2", "dense", weight=rng.uniform(4, 8, (3, 4)))  # 4 products >= 2**9 each
    q = QConfig.uniform(FixedPoint(il=4, fl=2), accumulator=acc)
    x = rng.uniform(-8, 8, size=(5, 8))
    res, _ = check_against_reference(g, q, x)
    assert int(res.stats["acc_overflow"].sum()) > 0


@pytest.mark.parametrize("conv", [
    dict(stride=1, padding=0), dict(stride=2, padding=1), dict(stride=(1, 2), padding=(2, 1)),
    dict(dilation=2, padding=1), dict(groups=2, padding=1),
])
def test_conv2d_variants(rng, conv):
    g = Graph((2, 7, 6))
    groups = conv.get("groups", 1)
    g.add("c", "conv2d", weight=rng.normal(size=(4, 2 // groups, 3, 3)),
          bias=rng.normal(size=4), **conv)
    q = QConfig.uniform(FixedPoint(il=5, fl=3))
    check_against_reference(g, q, rng.normal(size=(2, 2, 7, 6)))


@pytest.mark.parametrize("op, pool", [
    ("maxpool2d", dict(kernel=2)), ("maxpool2d", dict(kernel=3, stride=2, padding=1)),
    ("avgpool2d", dict(kernel=2)), ("avgpool2d", dict(kernel=3, stride=1)),
    ("avgpool2d", dict(kernel=3, stride=2, padding=1)), ("avgpool2d", dict(kernel=(1, 3))),
])
@pytest.mark.parametrize("rounding", ["nearest", "nearest_even", "floor", "toward_zero"])
def test_pools_on_codes(rng, op, pool, rounding):
    """Max pool moves codes; average pool rounds the exact mean once (also for k = 3, 9)."""
    g = Graph((2, 7, 7))
    g.add("p", op, **pool)
    fin = FixedPoint(il=4, fl=3, rounding=rounding)
    q = QConfig(default=LayerConfig(activations=FixedPoint(il=4, fl=4, rounding=rounding)),
                input=fin)
    check_against_reference(g, q, rng.normal(size=(2, 2, 7, 7)) * 3)


def test_add_aligns_steps_and_hardtanh_clamps(rng):
    """add aligns fl 2 and fl 5 exactly; hardtanh clamps codes to ceil/floor of its bounds."""
    g = Graph((5,))
    g.add("fc", "dense", weight=rng.normal(size=(5, 5)))
    g.add("sum", "add", inputs=("fc", "input"))
    g.add("ht", "hardtanh", min_val=-1.3, max_val=0.7)
    q = QConfig(default=LayerConfig(weights=FixedPoint(il=3, fl=5),
                                    activations=FixedPoint(il=4, fl=2)),
                input=FixedPoint(il=3, fl=5),
                layers={"sum": LayerConfig(activations=FixedPoint(il=3, fl=4))})
    check_against_reference(g, q, rng.normal(size=(6, 5)) * 2)


@pytest.mark.parametrize("bias_fl", [1, 9, None])
def test_bias_coarser_finer_or_unformatted(rng, bias_fl):
    """Biases coarser than the accumulator grid shift onto it; finer ones are rounded onto it;
    a bias with no format is rounded to the grid directly."""
    g = mlp(rng)
    bias = None if bias_fl is None else FixedPoint(il=6, fl=bias_fl)
    q = QConfig(default=LayerConfig(weights=FixedPoint(il=3, fl=3), bias=bias,
                                    activations=FixedPoint(il=4, fl=2)))
    check_against_reference(g, q, rng.normal(size=(3, 6)))


def test_residual_cnn_with_folded_batchnorm(rng):
    """The whole CNN (conv, folded bn, relu, conv, residual add, pool, dense) equals the
    reference node for node."""
    g = residual_cnn(rng)
    assert "bn1" not in g
    q = QConfig.uniform(FixedPoint(il=4, fl=4)).with_layer(
        "sum", activations=FixedPoint(il=5, fl=3))
    x = rng.normal(size=(2, 2, 6, 6))
    res, ref = check_against_reference(g, q, x)
    assert np.isfinite(res.stats["sqnr_db"].sel(layer="fc")) and res.stats.sizes["layer"] == 7


@given(seed=st.integers(0, 2**32 - 1), il=st.integers(2, 6), fl=st.integers(-1, 6),
       rounding=st.sampled_from(ROUNDINGS), overflow=st.sampled_from(OVERFLOWS),
       width=st.integers(10, 40))
def test_random_mlps(seed, il, fl, rounding, overflow, width):
    """Random weights, formats and accumulators: always equal to the reference."""
    rng = np.random.default_rng(seed)
    g = mlp(rng, k=4, h=3, o=2, scale=float(rng.uniform(0.1, 4)))
    fmt = FixedPoint(il=il, fl=fl, rounding=rounding, overflow=overflow)
    acc = Accumulator(max(width, 2 * fmt.wl), "wrap" if seed % 2 else "saturate")
    check_against_reference(g, QConfig.uniform(fmt, accumulator=acc),
                            rng.normal(size=(2, 4)) * 3)


def test_unfolded_batchnorm_and_sign(rng):
    """A batch norm after a pool runs as a per-channel scale and shift on codes; sign gives
    Binary codes, +1 for x >= 0."""
    g = Graph((2, 4, 4))
    g.add("pool", "maxpool2d", kernel=2)
    g.add("bn", "batchnorm", gamma=np.array([1.5, -0.5]), beta=np.array([0.25, -0.125]),
          mean=np.array([0.5, 0.0]), var=np.array([1.0, 4.0]), eps=0.0)
    g.add("sg", "sign")
    q = QConfig(default=LayerConfig(weights=FixedPoint(il=2, fl=6), bias=FixedPoint(il=2, fl=6),
                                    activations=FixedPoint(il=4, fl=4)),
                input=FixedPoint(il=4, fl=4))
    x = rng.normal(size=(3, 2, 4, 4))
    res = simulate(g, q, x, collect=True)
    xq = FixedPoint(il=4, fl=4).quantize(x).to_float()
    pooled = simulate_float(Graph.from_npz_dict(_first(g, 1).to_npz_dict()), xq)
    s = np.array([1.5, -0.25]).reshape(1, 2, 1, 1)  # gamma / sqrt(var), exact in Q2.6
    t = np.array([-0.5, -0.125]).reshape(1, 2, 1, 1)  # beta - mean * s
    expected = FixedPoint(il=4, fl=4).quantize(pooled * s + t).to_float()
    assert_array_equal(res.outputs, np.where(expected >= 0, 1.0, -1.0))
    assert isinstance(res.codes.format, Binary)


def _first(g, k):
    h = Graph(g.input_shape)
    for n in g.nodes[:k]:
        h.add(n.name, n.op, inputs=n.inputs, **n.params)
    return h


def test_binary_weights_and_activations(rng):
    """Binary weights on fixed inputs (sign select) and on sign outputs (XNOR-popcount) give
    the integer dot products of the +-1 codes."""
    g = Graph((16,))
    w1, w2 = rng.normal(size=(8, 16)), rng.normal(size=(4, 8))
    g.add("fc1", "dense", weight=w1)
    g.add("sg", "sign")
    g.add("fc2", "dense", weight=w2)
    fmt = FixedPoint(il=8, fl=3)
    q = QConfig(default=LayerConfig(weights=Binary(), activations=fmt), input=fmt)
    x = rng.normal(size=(5, 16))
    res = simulate(g, q, x)
    xc = fmt.quantize(x).codes.astype(np.int64)
    h1 = xc @ np.where(w1 >= 0, 1, -1).T  # exact, fl 3
    a1 = np.where(fmt.requantize(h1, 3).codes >= 0, 1, -1)
    h2 = a1 @ np.where(w2 >= 0, 1, -1).T
    assert_array_equal(res.codes.codes, fmt.requantize(h2, 0).codes)


def test_minifloat_network_is_exact_on_small_integers(rng):
    """fp16 weights/activations (fp32 accumulation by default, on an int32 target): with small
    integer weights and inputs every value is exact, so the outputs equal the float run."""
    g = Graph((6,))
    g.add("fc1", "dense", weight=rng.integers(-4, 5, (5, 6)), bias=rng.integers(-4, 5, 5))
    g.add("relu1", "relu")
    g.add("fc2", "dense", weight=rng.integers(-4, 5, (3, 5)))
    x = rng.integers(-4, 5, (7, 6)).astype(np.float64)
    res = simulate(g, QConfig.uniform("fp16"), x, target="asic-45nm")
    assert_array_equal(res.outputs, simulate_float(g, x))
    assert res.codes.codes.dtype == np.uint16
    assert np.all(np.isinf(res.stats["sqnr_db"].values))


def test_dynamic_fixed_point_runs_on_values(rng):
    """Per-tensor dynamic fixed point goes through ops; 8 bits keep the CNN above 25 dB."""
    from precision import DynamicFixedPoint

    g = residual_cnn(rng)
    res = simulate(g, QConfig.uniform(DynamicFixedPoint(8)), rng.normal(size=(4, 2, 6, 6)))
    assert float(res.stats["sqnr_db"].sel(layer="fc")) > 25


# -- targets ---------------------------------------------------------------------------------
def test_same_arithmetic_same_outputs(rng):
    """cpu-int8 and cpu-int16 both accumulate in 32-bit wrap: identical outputs and stats."""
    g = mlp(rng)
    q = QConfig.uniform(FixedPoint(il=4, fl=4))
    x = rng.normal(size=(7, 6))
    a, b = simulate(g, q, x, target="cpu-int8"), simulate(g, q, x, target="cpu-int16")
    assert targets.get("cpu-int8").accumulator == targets.get("cpu-int16").accumulator
    assert_array_equal(a.codes.codes, b.codes.codes)
    assert_array_equal(a.stats["acc_overflow"], b.stats["acc_overflow"])


def test_accumulator_width_shows_in_outputs_and_stats(rng):
    """16-bit codes near full scale overflow cpu-int16's 32-bit wrap accumulator but not the
    DSP48E2's 48 bits: outputs differ and acc_overflow says why."""
    g = Graph((8,))
    g.add("fc", "dense", weight=np.full((2, 8), 30000.0))
    q = QConfig.uniform(FixedPoint(il=16, fl=0), activations=FixedPoint(il=40, fl=0),
                        input=FixedPoint(il=16, fl=0))
    x = np.full((3, 8), 30000.0)
    cpu = simulate(g, q, x, target="cpu-int16")
    fpga = simulate(g, q, x, target="fpga-dsp48e2")
    exact = 8 * 30000 * 30000
    assert_array_equal(fpga.outputs, np.full((3, 2), float(exact)))
    wrapped = (exact + 2**31) % 2**32 - 2**31
    assert_array_equal(cpu.outputs, np.full((3, 2), float(wrapped)))
    assert int(cpu.stats["acc_overflow"].sum()) == 6
    assert int(fpga.stats["acc_overflow"].sum()) == 0


# -- float, stats, stochastic, cache ---------------------------------------------------------
def test_float_qconfig_equals_simulate_float(rng):
    g = residual_cnn(rng)
    x = rng.normal(size=(3, 2, 6, 6))
    res = simulate(g, QConfig.float(), x)
    assert_array_equal(res.outputs, simulate_float(g, x))
    assert res.codes is None
    assert np.all(np.isinf(res.stats["sqnr_db"].values))


def test_stats_contents(rng):
    """hist counts every output code; saturation and out_overflow see a saturated layer;
    SQNR is infinite where the fixed-point values are exact."""
    g = Graph((4,))
    g.add("fc", "dense", weight=np.eye(4) * 0.5)
    g.add("big", "dense", weight=np.full((4, 4), 2.0))
    q = QConfig.uniform(FixedPoint(il=3, fl=2))
    x = np.array([[1.5, 1.0, 1.0, 1.5]] * 3)  # exact in Q3.2, and so is x / 2
    res = simulate(g, q, x)
    s = res.stats
    assert np.isinf(float(s["sqnr_db"].sel(layer="fc")))
    assert_array_equal(s["hist"].sum("code_bin").values, [12, 12])
    assert float(s["saturation_rate"].sel(layer="big")) == 1.0  # 2 * sum(x / 2) = 5 > 3.75
    assert int(s["out_overflow"].sel(layer="big")) == 12
    assert s["sqnr_db"].attrs["units"] == "dB" and list(s["layer"].values) == ["fc", "big"]


def test_stochastic_rounding_is_seeded(rng):
    g = mlp(rng)
    fmt = FixedPoint(il=4, fl=2, rounding="stochastic")
    q = QConfig.uniform(fmt)
    x = rng.normal(size=(50, 6))
    a, b = simulate(g, q, x, seed=1), simulate(g, q, x, seed=1)
    assert_array_equal(a.codes.codes, b.codes.codes)
    c = simulate(g, q, x, seed=2)
    assert not np.array_equal(a.codes.codes, c.codes.codes)
    d = simulate(g, q, x, seed=1, collect=False)
    assert_array_equal(a.codes.codes, d.codes.codes)
    with pytest.raises(ValueError, match="needs seed="):
        simulate(g, q, x)


def test_collect_false_gives_the_same_codes(rng):
    g = residual_cnn(rng)
    q = QConfig.uniform(FixedPoint(il=4, fl=4))
    x = rng.normal(size=(4, 2, 6, 6))
    a, b = simulate(g, q, x), simulate(g, q, x, collect=False)
    assert_array_equal(a.codes.codes, b.codes.codes)
    assert b.stats is None and a.stats is not None


def test_weight_cache_is_reused_and_invalidated(rng):
    g = mlp(rng)
    q = QConfig.uniform(FixedPoint(il=4, fl=4))
    x = rng.normal(size=(3, 6))
    first = simulate(g, q, x)
    cached = dict(g._qcache)
    assert cached
    second = simulate(g, q, x)
    assert all(g._qcache[k] is v for k, v in cached.items())
    assert_array_equal(first.outputs, second.outputs)
    assert_array_equal(first.stats["sqnr_db"], second.stats["sqnr_db"])  # cached float run
    other = simulate(g, q, x[::-1].copy())  # other input: its own reference run
    assert_array_equal(other.stats["sqnr_db"], simulate(g.fold_batchnorm(), q,
                                                        x[::-1].copy()).stats["sqnr_db"])
    g.add("relu2", "relu")
    assert not g._qcache


def test_float_reference_survives_the_lru_bound_while_in_use(rng, monkeypatch):
    """The LRU bound evicts quantized parameters, never the cached float run (which has its
    own byte limit): a sweep over many formats keeps reusing it."""
    from simulator import executor

    monkeypatch.setattr(executor, "QCACHE_SIZE", 3)
    g = mlp(rng)
    x = rng.normal(size=(3, 6))
    simulate(g, QConfig.uniform(FixedPoint(il=4, fl=4)), x)
    for fl in range(1, 8):  # 4 parameters per format: more than the bound each time
        simulate(g, QConfig.uniform(FixedPoint(il=4, fl=fl)), x)
        assert executor._REF_KEY in g._qcache
    assert len(g._qcache) <= 3  # the reference and the two newest parameters


def test_threads_sharing_a_graph_give_the_serial_results(rng, monkeypatch):
    """A sweep's thread workers share one graph and its parameter cache; with a tiny cache
    bound, entries are evicted while other threads look them up."""
    from concurrent.futures import ThreadPoolExecutor

    from simulator import executor

    monkeypatch.setattr(executor, "QCACHE_SIZE", 2)
    g = mlp(rng)
    x = rng.normal(size=(8, 6))
    configs = [QConfig.uniform(FixedPoint(il=4, fl=fl)) for fl in range(1, 9)] * 6
    serial = [simulate(g, q, x, collect=False).outputs for q in configs]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda q: simulate(g, q, x, collect=False).outputs, configs))
    for a, b in zip(serial, threaded):
        assert_array_equal(a, b)


def test_facts_of_an_immutable_input_are_computed_once(rng, monkeypatch):
    """The fingerprint and the finiteness scan of a read-only input with no writeable base
    are remembered while it lives; a writeable input, or a read-only view of a writeable
    array, is hashed on every call (it may have changed)."""
    from simulator import executor

    calls = []
    real = executor._blake2b_key
    monkeypatch.setattr(executor, "_blake2b_key", lambda a: calls.append(1) or real(a))
    g = mlp(rng)
    q = QConfig.uniform(FixedPoint(il=4, fl=4))
    frozen = rng.normal(size=(5, 6))
    frozen.flags.writeable = False
    first = simulate(g, q, frozen)
    second = simulate(g, q, frozen)
    assert len(calls) == 1
    assert_array_equal(first.stats["sqnr_db"], second.stats["sqnr_db"])
    base = rng.normal(size=(5, 6))
    view = base[:]
    view.flags.writeable = False
    simulate(g, q, view)
    base[0, 0] += 1.0  # changes what the read-only view shows
    changed = simulate(g, q, view)
    assert len(calls) == 3
    assert_array_equal(changed.stats["sqnr_db"],
                       simulate(g, q, np.array(view)).stats["sqnr_db"])
    bad = np.full((2, 6), np.nan)
    bad.flags.writeable = False
    for _ in range(2):
        with pytest.raises(ValueError, match="x holds NaN or infinite values"):
            simulate(g, q, bad)
    key = (id(frozen), "fingerprint")
    assert key in executor._INPUT_FACTS
    del frozen, first, second
    import gc

    gc.collect()
    assert key not in executor._INPUT_FACTS


def test_chunked_batches_equal_one_by_one(rng, monkeypatch):
    """The chunk size does not change deterministic results."""
    import simulator.executor as ex

    g = residual_cnn(rng)
    q = QConfig.uniform(FixedPoint(il=4, fl=4))
    x = rng.normal(size=(5, 2, 6, 6))
    whole = simulate(g, q, x)
    monkeypatch.setattr(ex, "CHUNK_ELEMENTS", 1)
    parts = simulate(g, q, x)
    assert_array_equal(whole.codes.codes, parts.codes.codes)
    assert_array_equal(whole.stats["hist"], parts.stats["hist"])
    assert_array_equal(whole.stats["out_overflow"], parts.stats["out_overflow"])
    np.testing.assert_allclose(whole.stats["sqnr_db"], parts.stats["sqnr_db"], rtol=1e-9)


def test_predictions_and_accuracy(rng):
    g = mlp(rng)
    x = rng.normal(size=(20, 6))
    res = simulate(g, QConfig.uniform(FixedPoint(il=6, fl=8)), x)
    assert_array_equal(res.predictions, np.argmax(res.outputs, axis=1))
    y = np.argmax(simulate_float(g, x), axis=1)
    assert accuracy(res, y) == float(np.mean(res.predictions == y)) >= 0.8
    with pytest.raises(ValueError, match=r"y has shape \(3,\); expected \(20,\)"):
        accuracy(res, y[:3])


# -- bad input -------------------------------------------------------------------------------
def test_bad_input(rng):
    g = mlp(rng)
    q = QConfig.uniform(FixedPoint(il=4, fl=4))
    with pytest.raises(ValueError, match=r"x has shape \(3, 5\); expected \(N,\) \+ input_shape "
                                         r"= \(N, 6\)"):
        simulate(g, q, np.zeros((3, 5)))
    with pytest.raises(ValueError, match="x holds NaN"):
        simulate(g, q, np.full((1, 6), np.nan))
    with pytest.raises(TypeError, match="qconfig must be a simulator.QConfig"):
        simulate(g, {"fc1": 8}, np.zeros((1, 6)))
    with pytest.raises(ValueError, match="qconfig.layers names 'fc7'"):
        simulate(g, q.with_layer("fc7", weights=FixedPoint(il=2, fl=2)), np.zeros((1, 6)))
    with pytest.raises(ValueError, match="accumulator width=8 is narrower than one product"):
        simulate(g, QConfig.uniform(FixedPoint(il=4, fl=4), accumulator=Accumulator(8)),
                 np.zeros((1, 6)))
    with pytest.raises(ValueError, match="is not a known target|known"):
        simulate(g, q, np.zeros((1, 6)), target="gpu-h100")
    with pytest.raises(ValueError, match="seed=-1 must be None or an int"):
        simulate(g, q, np.zeros((1, 6)), seed=-1)


# -- golden vectors --------------------------------------------------------------------------
def test_golden_networks():
    """Whole-network outputs, codes and statistics equal tests/golden/networks.npz bit for bit
    (regenerate with tests/golden/make_networks.py only for an intended change)."""
    from tests.golden import make_networks as mk

    with np.load(mk.PATH, allow_pickle=False) as gold:
        names = {k.split("/")[0] for k in gold.files}
        seen = set()
        for name, g, q, target, seed in mk.cases():
            seen.add(name)
            for key, value in mk.outputs(g, q, target, seed).items():
                expected = gold[f"{name}/{key}"]
                assert value.dtype == expected.dtype, (name, key)
                assert_array_equal(value, expected, err_msg=f"{name}/{key}")
        assert seen == names


def test_warmup_compiles_and_leaves_results_unchanged(rng):
    """The executor's warmup() runs its hot paths once; results before and after are equal."""
    from simulator.executor import warmup

    g = mlp(rng)
    q = QConfig.uniform(FixedPoint(il=4, fl=4))
    x = rng.normal(size=(3, 6))
    before = simulate(g, q, x).outputs
    assert warmup() is None
    assert_array_equal(simulate(g, q, x).outputs, before)


@pytest.mark.slow
def test_package_warmup_compiles_ops_too():
    """simulator.warmup() = ops.warmup() (every kernel path) + the executor's warmup."""
    import simulator

    assert simulator.warmup() is None

"""estimate_cost: hand-computed examples from the cited tables, storage schemes, FPGA allocation,
and shared checks over every registered target.

Energies are sums of products of cited float constants: compared with ``pytest.approx`` at a
relative 1e-12.  Counts (MACs, bytes, cycles, DSP/LUT/BRAM) are exact integers.
"""

from __future__ import annotations

import math
import numpy as np
import pytest

from precision import Binary, DynamicFixedPoint, FixedPoint, Ternary
from precision.codebook import Codebook
from simulator import Graph, LayerConfig, QConfig, targets
from simulator.cost import Cost, estimate_cost
from simulator.targets._allocation import budget

INT8 = FixedPoint(il=1, fl=7)
INT4 = FixedPoint(il=1, fl=3)
INT32 = FixedPoint(il=16, fl=16)


def approx(x):
    return pytest.approx(x, rel=1e-12, abs=0)


def q8(**layers) -> QConfig:
    return QConfig(default=LayerConfig(weights=INT8, activations=INT8), input=INT8,
                   layers=layers)


def dense(rng, n_in=784, n_out=300, bias=False, **params) -> Graph:
    g = Graph((n_in,))
    g.add("fc1", "dense", weight=rng.normal(size=(n_out, n_in)),
          **({"bias": rng.normal(size=n_out)} if bias else {}), **params)
    return g


def mlp(rng) -> Graph:
    g = Graph((64,))
    g.add("fc1", "dense", weight=rng.normal(size=(32, 64)), bias=rng.normal(size=32))
    g.add("relu1", "relu")
    g.add("fc2", "dense", weight=rng.normal(size=(10, 32)), bias=rng.normal(size=10))
    return g


# -- hand-computed examples --------------------------------------------------------------------
def test_dense_784x300_int8_on_asic_45nm(rng):
    """784*300 int8 MACs at 0.2 pJ (8x8 mult) + 0.1 pJ (32-bit add), Horowitz 2014;
    235,200 weight bytes read once from the 1 MB SRAM (12.5 pJ/B); 784 + 300 activation bytes
    at the 8 KB SRAM (1.25 pJ/B); 256 MACs per cycle at 1 GHz."""
    c = estimate_cost(dense(rng), q8(), "asic-45nm")
    rec = c["fc1"]
    assert rec.macs == 784 * 300 == 235_200
    assert rec.compute_energy_pj == approx(784 * 300 * (0.2 + 0.1))
    assert rec.weight_bytes == 235_200 and c.weight_level == "sram_1mb"
    assert c.activation_level == "sram_8kb" and rec.activation_bytes == 300
    assert rec.memory_energy_pj == approx(235_200 * 12.5 + (784 + 300) * 1.25)
    assert rec.energy_pj == approx(784 * 300 * 0.3 + 235_200 * 12.5 + 1084 * 1.25)
    assert rec.cycles == math.ceil(235_200 / 256) == 919 and rec.latency_s == 919 / 1e9
    assert rec.bound == "compute"  # SRAM feeds the array without stalls (assumption)
    assert (rec.weights, rec.activations, rec.lane, rec.storage) == ("int8", "int8", "int32",
                                                                      "dense")
    assert c.total.energy_pj == rec.energy_pj and c.total.fits


def test_layer_accumulator_sets_the_add_width_on_custom_datapaths(rng):
    """A 16-bit layer accumulator: 0.2 + 0.05 pJ per MAC on asic-45nm."""
    from simulator.accumulator import Accumulator

    qc = QConfig(default=LayerConfig(weights=INT8, activations=INT8,
                                     accumulator=Accumulator(16)), input=INT8)
    rec = estimate_cost(dense(rng), qc, "asic-45nm")["fc1"]
    assert rec.compute_energy_pj == approx(784 * 300 * (0.2 + 0.05))


def test_dense_784x300_int8_on_cpu_int8(rng):
    """VPDPBUSD: 128 MACs/cycle at 2.5 GHz = 1838 cycles, but the 235,200 weight bytes stream
    from L2 at 64 B/cycle = 3675 cycles: memory-bound.  0.3 pJ + 70 pJ / 64 lanes per MAC;
    weights in the 1 MB L2 (12.5 pJ/B), activations in registers (0.25 pJ/B)."""
    c = estimate_cost(dense(rng), q8(), "cpu-int8")
    rec = c["fc1"]
    assert math.ceil(235_200 / 128) == 1838 < rec.cycles == 235_200 // 64 == 3675
    assert rec.bound == "memory" and rec.latency_s == 3675 / 2.5e9
    assert rec.compute_energy_pj == approx(235_200 * (0.2 + 0.1 + 70 / 64))
    assert (c.weight_level, c.activation_level) == ("l2", "register")
    assert rec.memory_energy_pj == approx(235_200 * 12.5 + 1084 * 0.25)


def test_fp32_lenet_streams_weights_from_dram(rng):
    """LeNet-300-100 in fp32 (1,065,200 weight bytes) overflows the 1 MB L2: its weights come
    from DRAM at a core's fair share, 140.8 GB/s / 20 cores (Intel ARK), 162.5 pJ/B."""
    g = Graph((784,))
    g.add("fc1", "dense", weight=rng.normal(size=(300, 784)))
    g.add("r1", "relu")
    g.add("fc2", "dense", weight=rng.normal(size=(100, 300)))
    g.add("r2", "relu")
    g.add("fc3", "dense", weight=rng.normal(size=(10, 100)))
    c = estimate_cost(g, QConfig.float(), "cpu-fp32")
    assert c.total.weight_bytes == 4 * 266_200 and c.weight_level == "dram"
    assert c.activation_level == "l1"  # (784 + 300) * 4 bytes > the 2 KB of zmm registers
    fc1 = c["fc1"]
    dram_bw, l1_bw = 6 * 2933e6 * 8 / 20, 128 * 2.5e9
    streamed = 940_800 * 2.5e9 / dram_bw + (784 + 300) * 4 * 2.5e9 / l1_bw
    assert fc1.cycles == math.ceil(streamed) > math.ceil(235_200 / 32) and fc1.bound == "memory"
    assert fc1.memory_energy_pj == approx(940_800 * 162.5 + (784 + 300) * 4 * 2.5)


def test_bias_costs_one_accumulator_add_per_output(rng):
    """Bias: 300 adds at the 32-bit accumulator (0.1 pJ); with no bias format it is stored on
    the accumulator's grid (32 bits), with one at that format's width, in fp32 for floats."""
    c = estimate_cost(dense(rng, bias=True), q8(), "asic-45nm")["fc1"]
    assert c.compute_energy_pj == approx(235_200 * 0.3 + 300 * 0.1)
    assert c.weight_bytes == 235_200 + 300 * 4
    q16 = QConfig(default=LayerConfig(weights=INT8, activations=INT8,
                                      bias=FixedPoint(il=6, fl=10)), input=INT8)
    assert estimate_cost(dense(rng, bias=True), q16, "asic-45nm")["fc1"].weight_bytes == \
        235_200 + 300 * 2
    fp = estimate_cost(dense(rng, 10, 3, bias=True), QConfig.float(), "cpu-fp32")["fc1"]
    assert fp.weight_bytes == (30 + 3) * 4


def test_float_network_on_cpu_fp32(rng):
    """Unquantized tensors are fp32: 4 bytes a weight, 3.7 + 0.9 + 70/16 pJ a MAC, 32/cycle."""
    c = estimate_cost(dense(rng, 100, 10), QConfig.float(), "cpu-fp32")["fc1"]
    assert c.weight_bytes == 4000 and c.lane == "fp32" and c.cycles == math.ceil(1000 / 32)
    assert c.compute_energy_pj == approx(1000 * (3.7 + 0.9 + 70 / 16))


def test_fpga_dense_at_a_given_reuse_factor(rng):
    """R = 784: 300 MAC units = 150 DSP48E2 (2 int8 MACs each), 784 cycles, weights 2400 bits
    wide x 784 deep = 67 BRAM36 in 1Kx36 (UG573).  Energy: 14 x (0.2 + 48-bit add 0.15)."""
    c = estimate_cost(dense(rng), q8(), "fpga-dsp48e2", reuse_factor=784)
    rec = c["fc1"]
    assert (rec.dsp, rec.lut, rec.bram, rec.cycles) == (150, 0, 67, 784)
    assert c.reuse_factor == 784 and rec.fits and c.total.fits
    assert rec.latency_s == 784 / 300e6
    assert rec.compute_energy_pj == approx(235_200 * 14 * (0.2 + 0.1 * 48 / 32))
    assert rec.memory_energy_pj == approx((235_200 + 1084) * 1.25)


def test_fpga_auto_reuse_is_the_smallest_that_fits(rng):
    """'auto' gives an R whose design fits 80 % of the XCZU7EV while R - 1 does not."""
    g = mlp(rng)
    c = estimate_cost(g, q8(), "fpga-dsp48e2")
    tgt = targets.get("fpga-dsp48e2")
    limit = budget(tgt.fpga)
    assert limit == (math.floor(1728 * 0.8), math.floor(230_400 * 0.8), math.floor(312 * 0.8))
    r = c.reuse_factor
    assert c.total.fits and c.total.dsp <= limit[0]
    if r > 1:
        worse = estimate_cost(g, q8(), "fpga-dsp48e2", reuse_factor=r - 1)
        assert not (worse.total.dsp <= limit[0] and worse.total.lut <= limit[1]
                    and worse.total.bram <= limit[2])


def test_fpga_pipeline_latency_over_a_batch(rng):
    """Per-layer cycles scale with the batch; the network latency is a filled pipeline."""
    g = mlp(rng)
    one = estimate_cost(g, q8(), "fpga-dsp48e2", reuse_factor=16)
    three = estimate_cost(g, q8(), "fpga-dsp48e2", reuse_factor=16, batch=3)
    per = [one[n].cycles for n in ("fc1", "fc2")]
    assert per == [math.ceil(2048 / math.ceil(2048 / 16)), math.ceil(320 / math.ceil(320 / 16))]
    assert [three[n].cycles for n in ("fc1", "fc2")] == [3 * p for p in per]
    assert one.total.cycles == sum(per)
    assert three.total.cycles == sum(per) + 2 * max(per)


def test_fpga_network_too_big_does_not_fit(rng):
    """2.25 MB of int8 weights cannot live in 1.4 MB of BRAM at any reuse factor."""
    g = Graph((1500,))
    g.add("fc1", "dense", weight=np.ones((1500, 1500)))
    c = estimate_cost(g, q8(), "fpga-dsp48e2")
    assert c.reuse_factor == 1500 * 1500  # the largest R: one MAC unit per layer
    assert not c.total.fits and not c["fc1"].fits
    assert c["fc1"].bram > 312


def test_fpga_lut_binary_layer(rng):
    """fpga-lut, binary x binary: 1 LUT per MAC unit (XNOR + popcount share)."""
    qc = QConfig(default=LayerConfig(weights=Binary(), activations=Binary()), input=Binary())
    c = estimate_cost(dense(rng, 256, 64), qc, "fpga-lut", reuse_factor=64)
    rec = c["fc1"]
    units = 256 * 64 // 64
    # 256 units x 1 LUT; weights: 256 bits wide x 64 deep -> LUTRAM, 256 LUTs.
    assert (rec.dsp, rec.lut, rec.bram, rec.cycles) == (0, units + 256, 0, 64)
    assert rec.weight_bytes == 256 * 64 // 8


# -- storage schemes ---------------------------------------------------------------------------
def naive_sparse_entries(flat_mask, index_bits):
    """Relative indices with filler zeros (Han et al. 2016): a gap above 2**b needs fillers."""
    span, prev, entries = 2 ** index_bits, -1, 0
    for p, keep in enumerate(flat_mask):
        if keep:
            while p - prev > span:
                prev += span
                entries += 1
            prev = p
            entries += 1
    return entries


def test_pruned_layer_is_stored_sparse(rng):
    """90 % zeros: (value 8 bits + 5-bit relative index) per entry, fillers included."""
    w = rng.normal(size=(300, 784))
    w[rng.random(w.shape) < 0.9] = 0.0
    g = Graph((784,))
    g.add("fc1", "dense", weight=w)
    rec = estimate_cost(g, q8(), "asic-45nm")["fc1"]
    entries = naive_sparse_entries((w != 0).ravel().tolist(), 5)
    assert rec.storage == "sparse"
    assert rec.weight_bytes == math.ceil(entries * (8 + 5) / 8)
    assert rec.macs == 235_200  # zeros are still multiplied: sparsity saves storage only


def test_binary_weights_have_no_zero_code_so_no_sparse_storage(rng):
    """A pruned layer binarized: zeros become +1, so it is stored dense at 1 bit a weight."""
    w = rng.normal(size=(300, 784))
    w[rng.random(w.shape) < 0.9] = 0.0
    g = Graph((784,))
    g.add("fc1", "dense", weight=w)
    qc = QConfig(default=LayerConfig(weights=Binary(), activations=INT8), input=INT8)
    rec = estimate_cost(g, qc, "asic-45nm")["fc1"]
    assert rec.storage == "dense" and rec.weight_bytes == 235_200 // 8


def test_mildly_pruned_layer_stays_dense(rng):
    """10 % zeros: 13 bits per kept weight is worse than 8 per weight, so dense wins."""
    w = rng.normal(size=(30, 40))
    w[rng.random(w.shape) < 0.1] = 0.0
    g = Graph((40,))
    g.add("fc1", "dense", weight=w)
    rec = estimate_cost(g, q8(), "asic-45nm")["fc1"]
    assert rec.storage == "dense" and rec.weight_bytes == 1200


def test_shared_weights_store_indices_plus_codebook(rng):
    """k = 4 centroids: 2-bit indices per weight + 4 centroids at the 8-bit weight width."""
    w = rng.normal(size=(300, 784))
    cb = Codebook(centroids=(-1.5, -0.5, 0.5, 1.5)).quantize(w)
    g = dense(rng, codebook=cb)
    rec = estimate_cost(g, q8(), "cpu-int8")["fc1"]
    assert rec.storage == "codebook"
    assert rec.weight_bytes == math.ceil((235_200 * 2 + 4 * 8) / 8)


def test_hashed_layer_stores_its_real_weights(rng):
    """HashedNets: the virtual 784x300 matrix is priced by its 5,000 real weights."""
    rec = estimate_cost(dense(rng, real_weights=5000), q8(), "asic-45nm")["fc1"]
    assert rec.storage == "hashed" and rec.weight_bytes == 5000 and rec.macs == 235_200


@pytest.mark.parametrize("group, scales", [
    ("tensor", 1), (("axis", 0), 300), (("axis", 1), 784), (("block", 16), 300 * 49),
    (("block", 100), 300 * 8),
])
def test_dynamic_fixed_point_stores_one_exponent_per_group(rng, group, scales):
    """Dynamic fixed point: 8-bit codes plus one 8-bit shared exponent per group."""
    qc = QConfig(default=LayerConfig(weights=DynamicFixedPoint(8, group), activations=INT8),
                 input=INT8)
    rec = estimate_cost(dense(rng), qc, "asic-45nm")["fc1"]
    assert rec.weight_bytes == 235_200 + scales


@pytest.mark.parametrize("fmt, extra_bits", [
    (Binary(scale="tensor"), 32), (Binary(scale="channel"), 300 * 32),
    (Ternary(), 0), (Ternary(scale="channel"), 300 * 32),
])
def test_binary_and_ternary_storage_with_scales(rng, fmt, extra_bits):
    """1 bit (binary) or 2 bits (ternary) a weight, plus one fp32 alpha per tensor/channel."""
    qc = QConfig(default=LayerConfig(weights=fmt, activations=INT8), input=INT8)
    rec = estimate_cost(dense(rng), qc, "asic-45nm")["fc1"]
    assert rec.weight_bytes == math.ceil((235_200 * fmt.bits + extra_bits) / 8)
    assert rec.weights == f"int{fmt.bits}"


def test_ternary_network_on_cpu_binary_uses_two_bit_planes(rng):
    """Ternary x ternary: the int2 lane, 32 MACs per cycle (two POPCNTs per 64-bit word)."""
    qc = QConfig(default=LayerConfig(weights=Ternary(), activations=Ternary()), input=Ternary())
    rec = estimate_cost(dense(rng, 256, 64), qc, "cpu-binary")["fc1"]
    assert rec.lane == "int2" and rec.bound == "compute"
    assert rec.cycles == 256 * 64 // 32 == 512


def test_binary_weights_on_cpu_binary(rng):
    """Binary x binary runs on XNOR-popcount lanes (64 MACs/cycle), 1 bit per weight."""
    qc = QConfig(default=LayerConfig(weights=Binary(), activations=Binary()), input=Binary())
    rec = estimate_cost(dense(rng), qc, "cpu-binary")["fc1"]
    assert rec.lane == "int1" and rec.cycles == math.ceil(235_200 / 64)
    assert rec.weight_bytes == 235_200 // 8 and rec.activation_bytes == math.ceil(300 / 8)
    t = targets.get("cpu-binary")
    assert rec.compute_energy_pj == approx(235_200 * t.mac_energy_pj(1, 1))


def test_conv_fuses_relu_and_pool_into_its_output(rng):
    """conv -> relu -> maxpool -> flatten -> dense: the conv layer writes the pooled tensor."""
    g = Graph((1, 8, 8))
    g.add("conv1", "conv2d", weight=rng.normal(size=(4, 1, 3, 3)))
    g.add("relu1", "relu")
    g.add("pool1", "maxpool2d", kernel=2)
    g.add("flat", "flatten")
    g.add("fc1", "dense", weight=rng.normal(size=(10, 36)))
    c = estimate_cost(g, q8(), "asic-45nm")
    assert c["conv1"].macs == g.macs()["conv1"] == 4 * 6 * 6 * 9
    assert c["conv1"].activation_bytes == 4 * 3 * 3  # pooled 4x3x3, 8 bits each
    assert c["fc1"].activation_bytes == 10
    assert c.peak_activation_bytes == 64 + 36


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(batch=0), ValueError, r"batch=0 is out of range; expected batch >= 1"),
    (dict(batch=2.0), TypeError, r"batch must be an int, got float"),
    (dict(reuse_factor=0), ValueError, r"reuse_factor=0 is out of range"),
    (dict(reuse_factor="fast"), TypeError, r"reuse_factor must be an int or 'auto'"),
    (dict(target="tpu"), ValueError, r"target='tpu' is not a known target"),
])
def test_bad_arguments(rng, kwargs, exc, match):
    args = {"target": "asic-45nm", **kwargs}
    with pytest.raises(exc, match=match):
        estimate_cost(dense(rng, 8, 4), q8(), **args)


def test_unsupported_operands_name_the_layer(rng):
    qc = QConfig(default=LayerConfig(weights=INT32, activations=INT32), input=INT32)
    with pytest.raises(ValueError, match=r"fc1: target 'cpu-int8' has no lane for int32 "
                                         r"weights x int32 activations; native: int8, int16"):
        estimate_cost(dense(rng, 8, 4), qc, "cpu-int8")


def test_qconfig_type_is_checked(rng):
    with pytest.raises(TypeError, match="qconfig must be a QConfig or None, got dict"):
        estimate_cost(dense(rng, 8, 4), {}, "cpu-int8")


# -- shared checks over every target -----------------------------------------------------------
@pytest.fixture(params=targets.names())
def target_name(request):
    return request.param


def test_shared_cost_is_consistent(rng, target_name):
    """Energy = compute + memory; totals are sums (cycles: sum, or pipeline for FPGAs);
    latency = cycles / clock; doubling the batch doubles compute energy."""
    g = mlp(rng)
    tgt = targets.get(target_name)
    qc = q8() if tgt.supports(8, 8) else QConfig.float()
    one = estimate_cost(g, qc, target_name)
    two = estimate_cost(g, qc, target_name, batch=2, reuse_factor=one.reuse_factor or "auto")
    assert isinstance(one, Cost) and [r.layer for r in one.layers] == ["fc1", "fc2"]
    for r in one.layers:
        assert r.energy_pj == approx(r.compute_energy_pj + r.memory_energy_pj) and r.energy_pj > 0
        assert r.cycles > 0 and r.latency_s == r.cycles / tgt.clock_hz
        assert r.macs == g.macs()[r.layer]
    for name in ("macs", "energy_pj", "weight_bytes", "activation_bytes", "dsp", "lut", "bram"):
        assert getattr(one.total, name) == approx(sum(getattr(r, name) for r in one.layers))
    assert two.total.compute_energy_pj == approx(2 * one.total.compute_energy_pj)
    assert two.total.macs == 2 * one.total.macs
    if tgt.kind == "fpga":
        assert one.total.dsp + one.total.lut > 0 and one.reuse_factor >= 1
    else:
        assert one.total.cycles == sum(r.cycles for r in one.layers) and one.reuse_factor is None


def test_shared_to_dataset(rng, target_name):
    """to_dataset: dim 'layer', a variable per figure with units, totals as scalars."""
    tgt = targets.get(target_name)
    qc = q8() if tgt.supports(8, 8) else QConfig.float()
    c = estimate_cost(mlp(rng), qc, target_name)
    ds = c.to_dataset()
    assert list(ds["layer"].values) == ["fc1", "fc2"]
    assert ds["energy_pj"].attrs["units"] == "pJ" and ds["latency_s"].attrs["units"] == "s"
    np.testing.assert_array_equal(ds["macs"].values, [r.macs for r in c.layers])
    assert float(ds["total_energy_pj"]) == c.total.energy_pj
    assert ds.attrs["target"] == target_name and ds.attrs["batch"] == 1


# -- golden vectors ----------------------------------------------------------------------------
def test_golden():
    """Every built-in target prices the golden network exactly as tests/golden/cost.npz says
    (regenerate with ``python -m tests.golden.make_cost`` only for an intended change)."""
    from tests.golden.make_cost import PATH, compute

    expected = np.load(PATH)
    got = compute()
    assert sorted(got) == sorted(expected.files)
    for key in expected.files:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


# -- properties --------------------------------------------------------------------------------
from hypothesis import given, settings, strategies as st  # noqa: E402

#: Each example builds a graph and prices it: a third of the profile's examples (50 by default,
#: 1666 with HYPOTHESIS_PROFILE=slow).
_PRICED = settings(max_examples=max(10, settings().max_examples // 3))


@_PRICED
@given(n_in=st.integers(1, 64), n_out=st.integers(1, 64), wl=st.integers(2, 16),
       al=st.integers(2, 16), batch=st.integers(1, 4))
def test_property_dense_on_asic(n_in, n_out, wl, al, batch):
    """Dense layer on asic-45nm: compute = batch*macs*mac_energy(wl, al); weight bytes =
    ceil(n*wl/8) (dense storage: no zeros); activation bytes = ceil(batch*n_out*al/8)."""
    g = Graph((n_in,))
    g.add("fc1", "dense", weight=np.full((n_out, n_in), 0.5))
    w, a = FixedPoint(il=1, fl=wl - 1), FixedPoint(il=1, fl=al - 1)
    qc = QConfig(default=LayerConfig(weights=w, activations=a), input=a)
    rec = estimate_cost(g, qc, "asic-45nm", batch=batch)["fc1"]
    t = targets.get("asic-45nm")
    assert rec.macs == batch * n_in * n_out
    assert rec.compute_energy_pj == approx(rec.macs * t.mac_energy_pj(wl, al))
    assert rec.weight_bytes == math.ceil(n_in * n_out * wl / 8)
    assert rec.activation_bytes == math.ceil(batch * n_out * al / 8)
    assert rec.cycles == math.ceil(rec.macs / 256)


@_PRICED
@given(n_in=st.integers(1, 300), n_out=st.integers(1, 300), reuse=st.integers(1, 5000),
       bits=st.sampled_from([1, 2, 4, 8, 12]))
def test_property_fpga_allocation(n_in, n_out, reuse, bits):
    """units = ceil(n/R); every MAC is done: cycles*units >= macs > (cycles-1)*units; DSP and
    LUT are the per-unit figures times the units, rounded up (plus LUTRAM)."""
    g = Graph((n_in,))
    g.add("fc1", "dense", weight=np.full((n_out, n_in), 0.5))
    f = FixedPoint(il=1, fl=bits - 1)
    qc = QConfig(default=LayerConfig(weights=f, activations=f), input=f)
    tgt = targets.get("fpga-dsp48e2")
    rec = estimate_cost(g, qc, tgt, reuse_factor=reuse)["fc1"]
    n = n_in * n_out
    units = math.ceil(n / reuse)
    assert rec.cycles * units >= n > (rec.cycles - 1) * units
    dsp_u, lut_u = tgt.fpga.mac_unit(targets.as_operand(bits), targets.as_operand(bits),
                                     tgt.arithmetic.multiplier)
    bram, lutram = tgt.fpga.weight_memory(n, bits, units)
    assert rec.dsp == math.ceil(units * dsp_u)
    assert rec.lut == math.ceil(units * lut_u) + lutram and rec.bram == bram


# -- sign-select MACs: binary/ternary weights x float activations (BinaryConnect) ---------------
def bc(weights, activations=None) -> QConfig:
    return QConfig(default=LayerConfig(weights=weights, activations=activations), input=None)


@pytest.mark.parametrize("weights", [Binary(), Ternary()])
def test_binaryconnect_dense_on_asic_45nm_is_one_fp32_add_per_mac(rng, weights):
    """784*300 sign-select MACs: no multiply, one fp32 add at 0.9 pJ (Horowitz 2014); the fp32
    lane's 256 units: ceil(235,200 / 256) = 919 cycles."""
    rec = estimate_cost(dense(rng), bc(weights), "asic-45nm")["fc1"]
    assert (rec.weights, rec.activations, rec.lane) == (as_label(weights), "fp32", "fp32")
    assert rec.compute_energy_pj == approx(235_200 * 0.9)
    assert rec.cycles == 919


def as_label(fmt) -> str:
    return "int1" if fmt.family == "binary" else "int2"


def test_binaryconnect_with_fp16_activations_adds_in_fp16_on_asic(rng):
    """fp16 activations on a datapath sized to its operands: 0.4 pJ per fp16 add."""
    from precision import FloatingPoint

    fp16 = FloatingPoint(5, 10)
    qc = QConfig(default=LayerConfig(weights=Binary(), activations=fp16), input=fp16)
    rec = estimate_cost(dense(rng), qc, "asic-45nm")["fc1"]
    assert rec.activations == "fp16" and rec.compute_energy_pj == approx(235_200 * 0.4)


def test_binaryconnect_dense_on_cpu_fp32(rng):
    """On the fp32 FMA lanes: 0.9 pJ fp32 add + 70 pJ / 16 lanes per MAC, 32 MACs per cycle
    (2 x 16-lane instructions): 7350 compute cycles; the bias one more fp32 add per output."""
    rec = estimate_cost(dense(rng, bias=True), bc(Binary()), "cpu-fp32")["fc1"]
    per_mac = 0.9 + 70 / 16
    assert rec.compute_energy_pj == approx(235_200 * per_mac + 300 * 0.9)
    assert rec.cycles >= 235_200 // 32 == 7350


def test_int4_weights_times_float_activations_stay_refused(rng):
    """Only <= 2-bit weights are sign selects; int4 x fp32 has no lane."""
    with pytest.raises(ValueError, match="mix an integer and a float operand"):
        estimate_cost(dense(rng, 8, 4), bc(INT4), "asic-45nm")

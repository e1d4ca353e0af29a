"""Targets: cited constants, the scaling rules, the registry, TOML files and shared checks.

Energies are float products of cited constants, so they are compared with ``pytest.approx`` at
a relative 1e-12 (a changed constant or rule moves them by far more); counts are exact.
"""

from __future__ import annotations

import math
import pickle
import textwrap
from dataclasses import replace

import pytest

from simulator import targets
from simulator.accumulator import Accumulator
from simulator.targets import Arithmetic, Energy, MemoryLevel, Target, TargetFileError
from simulator.targets._operands import as_operand, float_operand, holds

EXACT = dict(rel=1e-12, abs=0)


def approx(x):
    return pytest.approx(x, **EXACT)


# -- shared checks, every registered target ------------------------------------------------------
@pytest.fixture(params=targets.names())
def target(request) -> Target:
    return targets.get(request.param)


def test_shared_summary_has_key_figures(target):
    """summary() names the target and gives finite clock, throughput and int8/fp32 MAC energy."""
    s = target.summary()
    assert s["name"] == target.name and s["kind"] in ("cpu", "fpga", "asic")
    assert s["clock_mhz"] == target.clock_hz / 1e6 > 0
    assert s["peak_macs_per_cycle"] >= 1
    assert s["mac_pj_int8"] > 0
    assert math.isnan(s["mac_pj_fp32"]) == (not target.supports("fp32", "fp32"))
    assert s["peak_gmacs"] == s["peak_macs_per_cycle"] * target.clock_hz / 1e9
    if target.kind == "fpga":
        assert s["dsp"] == target.device.dsp and s["lut"] == target.device.lut


def test_fpga_peak_is_the_whole_device():
    """int8 on DSP48E2: 2 MACs x floor(0.8 x 1728) DSPs; binary on LUTs: 0.8 x 230400."""
    assert DSP.summary()["peak_macs_per_cycle"] == math.floor(1728 * 0.8 * 2)
    assert LUT.summary()["peak_macs_per_cycle"] == math.floor(230_400 * 0.8)


def test_shared_toml_round_trip(target, tmp_path):
    """to_toml then load_toml gives an equal target."""
    path = tmp_path / "t.toml"
    path.write_text(targets.to_toml(target))
    assert targets.load_toml(path) == target


def test_shared_pickle_and_hash(target):
    """Targets survive pickling (Dask ships them) and hash by value."""
    again = pickle.loads(pickle.dumps(target))
    assert again == target and hash(again) == hash(target)


def test_shared_defaults_are_supported(target):
    """The default operand types run natively, and the accumulator is an Accumulator."""
    ar = target.arithmetic
    assert target.supports(ar.default_weights, ar.default_activations)
    if ar.accumulator_float is None:
        assert target.accumulator == Accumulator(ar.accumulator_width, ar.accumulator_overflow)
    else:
        from precision import FloatingPoint

        op = as_operand(ar.accumulator_float)
        assert target.accumulator == Accumulator(floating=FloatingPoint(op.exp_bits,
                                                                        op.man_bits))


def test_shared_mac_energy_monotone_in_width(target):
    """Within one lane a wider integer MAC never costs less; lane-priced targets (CPUs) charge
    every width of a lane the same."""
    widths = [b for b in (1, 2, 3, 4, 6, 8, 12, 16) if target.supports(b, b)]
    assert len(widths) >= 2
    by_lane: dict[str, list[float]] = {}
    for b in widths:
        by_lane.setdefault(target.lane(b, b).label, []).append(target.mac_energy_pj(b, b))
    for energies in by_lane.values():
        assert energies == sorted(energies)
        if target.arithmetic.energy_at == "lane":
            assert len(set(energies)) == 1


def test_shared_memory_levels(target):
    """level_for picks the nearest level that holds the data; the last level is unbounded."""
    first, last = target.memory[0], target.memory[-1]
    assert target.level_for(1) == first
    assert target.level_for(10**15) == last and last.capacity_bytes is None
    for m in target.memory:
        assert target.memory_energy_pj_per_byte(m.name) == m.pj_per_byte > 0
    pjs = [m.pj_per_byte for m in target.memory]
    assert pjs == sorted(pjs)


def test_shared_every_constant_has_a_source(target):
    """Targets, energy tables and memory levels all carry a non-empty source."""
    assert target.source and target.energy.source
    assert all(m.source for m in target.memory)


# -- asic-45nm: Horowitz 2014 and the scaling rule ---------------------------------------------
ASIC = targets.get("asic-45nm")


def test_asic_reproduces_horowitz_table():
    """The cited points come back exactly (Horowitz ISSCC 2014, Fig. 1.1.9)."""
    assert ASIC.mult_energy_pj(8, 8) == 0.2 and ASIC.mult_energy_pj(32, 32) == 3.1
    assert [ASIC.add_energy_pj(b) for b in (8, 16, 32)] == [0.03, 0.05, 0.1]
    assert ASIC.mult_energy_pj("fp16", "fp16") == 1.1 and ASIC.mult_energy_pj("fp32", "fp32") == 3.7
    assert ASIC.add_energy_pj("fp16") == 0.4 and ASIC.add_energy_pj("fp32") == 0.9
    per_byte = {m.name: m.pj_per_byte for m in ASIC.memory}
    assert per_byte == {"register": 0.25, "sram_8kb": 1.25, "sram_32kb": 2.5, "sram_1mb": 12.5,
                        "dram": 162.5}


def test_asic_scaling_rule():
    """Multiplier ~ a*b piecewise through (64, 0.2), (1024, 3.1); adder ~ bits."""
    assert ASIC.mult_energy_pj(16, 16) == approx(0.2 + (256 - 64) / (1024 - 64) * 2.9)
    assert ASIC.mult_energy_pj(4, 4) == approx(0.2 * 16 / 64)
    assert ASIC.mult_energy_pj(8, 4) == ASIC.mult_energy_pj(4, 8) == approx(0.2 * 32 / 64)
    assert ASIC.mult_energy_pj(1, 1) == approx(0.2 / 64)
    assert ASIC.mult_energy_pj(64, 64) == approx(3.1 * 4096 / 1024)
    assert ASIC.add_energy_pj(1) == approx(0.03 / 8)
    assert ASIC.add_energy_pj(24) == approx(0.05 + 8 / 16 * 0.05)
    assert ASIC.add_energy_pj(64) == approx(0.1 * 2)


def test_asic_bf16_from_the_float_line():
    """bf16 (8-bit significand) on the line through fp16 (11) and fp32 (24)."""
    mult = 1.1 + (64 - 121) * (3.7 - 1.1) / (576 - 121)
    add = 0.4 + (8 - 11) * (0.9 - 0.4) / (24 - 11)
    assert ASIC.mult_energy_pj("bf16", "bf16") == approx(mult)
    assert ASIC.add_energy_pj("bf16") == approx(add)
    assert 0 < ASIC.mac_energy_pj("bf16", "bf16") < ASIC.mac_energy_pj("fp16", "fp16")


def test_asic_mac_is_mult_plus_accumulator_add():
    """int8 MAC = 0.2 (8x8 mult) + 0.1 (32-bit accumulator add); acc_bits overrides."""
    assert ASIC.mac_energy_pj(8, 8) == approx(0.2 + 0.1)
    assert ASIC.mac_energy_pj(8, 8, acc_bits=16) == approx(0.2 + 0.05)
    assert ASIC.mac_energy_pj("fp32", "fp32") == approx(3.7 + 0.9)
    assert ASIC.mac_energy_pj("fp16", "fp16", acc_bits="fp32") == approx(1.1 + 0.9)


# -- CPUs --------------------------------------------------------------------------------------
def test_cpu_int8_lanes_and_energy():
    """VPDPBUSD: 64 MACs x 2 ports; energy at the lane width plus 70 pJ / 64 lanes."""
    t = targets.get("cpu-int8")
    assert t.simd_lanes(8) == 64 and t.macs_per_cycle(8, 8) == 128
    assert t.macs_per_cycle(4, 8) == 128  # int4 runs sign-extended in int8 lanes
    assert t.macs_per_cycle(12, 8) == 64  # int16 lanes (VPDPWSSD)
    assert t.mac_energy_pj(8, 8) == approx(0.2 + 0.1 + 70 / 64)
    assert t.mac_energy_pj(4, 4) == t.mac_energy_pj(8, 8)
    assert t.supports(25, 25) and not t.supports(26, 26)  # <= 25-bit ints are exact in fp32
    assert t.lane(24, 8).label == "fp32" and t.supports("fp32", "fp32")


def test_cpu_binary_popcount_lanes():
    """XNOR+POPCNT: 64 MACs per word, 1 POPCNT per cycle, 3 instructions per word."""
    t = targets.get("cpu-binary")
    assert t.macs_per_cycle(1, 1) == 64 and t.macs_per_cycle(2, 2) == 32
    assert t.mac_energy_pj(1, 1) == approx(0.2 / 64 + 0.1 + 3 * 70 / 64)
    assert t.lane(1, 8).label == "int8"  # a binary-weight layer with int8 inputs uses VNNI
    # Without VPOPCNTQ, scalar XNOR-popcount does 64 MACs per 3 instructions against VNNI's
    # 64 per 1: per MAC it costs more energy than int8 (the saving is in the bytes moved).
    assert t.mac_energy_pj(1, 1) > t.mac_energy_pj(8, 8)


def test_cpu_fp32_takes_small_integers_exactly():
    """Integers of <= 25 bits are exact in fp32 lanes; wider are not supported."""
    t = targets.get("cpu-fp32")
    assert t.supports(8, 8) and t.supports(25, 25) and not t.supports(26, 8)
    assert t.mac_energy_pj(8, 8) == approx(3.7 + 0.9 + 70 / 16)
    assert t.supports("fp16", "bf16")  # both held by fp32 lanes


# -- FPGAs -------------------------------------------------------------------------------------
DSP = targets.get("fpga-dsp48e2")
LUT = targets.get("fpga-lut")


@pytest.mark.parametrize("a, b, dsp, lut", [
    (8, 8, 0.5, 0), (5, 3, 0.5, 0), (16, 16, 1, 0), (27, 18, 1, 0), (18, 27, 1, 0),
    (27, 27, 2, 0),            # ceil(27/26) * ceil(27/17) = 2 * 2 = 4 or the other way: 2*2; min
    (32, 32, 4, 0), (1, 1, 0, 1), (2, 2, 0, 2), (1, 2, 0, 2),
])
def test_dsp48e2_mac_unit(a, b, dsp, lut):
    """DSPs per MAC: 2 int8 per DSP (WP486), one 27x18 tile, tiles beyond; 1-2 bit in LUTs."""
    if (a, b) == (27, 27):
        dsp = min(math.ceil(27 / 26) * math.ceil(27 / 17), math.ceil(27 / 26) * math.ceil(27 / 17))
    got = DSP.fpga.mac_unit(as_operand(a), as_operand(b), DSP.arithmetic.multiplier)
    assert got == (dsp, lut)


@pytest.mark.parametrize("a, b, lut", [(1, 1, 1), (2, 2, 2), (4, 4, 16 + 8), (3, 8, 24 + 11),
                                       (8, 8, 64 + 16)])
def test_lut_mac_unit(a, b, lut):
    """LUT target: binary 1 LUT, ternary 2, a x b multiplier a*b + adder a+b."""
    assert LUT.fpga.mac_unit(as_operand(a), as_operand(b), None) == (0.0, lut)


def test_fpga_float_resources_and_refusal():
    """fp32 MACs use the listed DSP/LUT estimate; the LUT target refuses floats."""
    assert DSP.fpga.mac_unit(as_operand("fp32"), as_operand("fp16"), (27, 18)) == (2.0, 400.0)
    assert not LUT.supports("fp32", "fp32")
    with pytest.raises(ValueError, match="lists no resources for fp32"):
        LUT.fpga.mac_unit(as_operand("fp32"), as_operand("fp32"), None)


@pytest.mark.parametrize("n, bits, ports, expected", [
    (1000, 8, 10, (2, 0)),        # 80 wide x 100 deep: two 512x72 tiles
    (784 * 300, 8, 300, (67, 0)),  # 2400 wide x 784 deep: 67 tiles of 1024x36
    (640, 8, 10, (0, 80)),        # 64 deep: LUTRAM, one LUT per bit of width
    (10, 1, 10, (0, 10)),         # fully parallel: depth 1
    (0, 8, 1, (0, 0)),
])
def test_weight_memory(n, bits, ports, expected):
    """BRAM36 aspect ratios (UG573) and LUTRAM (64 deep) for weight memories."""
    assert DSP.fpga.weight_memory(n, bits, ports) == expected


def test_device_budget_is_the_cited_part():
    """XCZU7EV (DS891): 1728 DSP, 230400 LUT, 312 BRAM36."""
    dev = DSP.device
    assert (dev.name, dev.dsp, dev.lut, dev.bram) == ("xczu7ev", 1728, 230_400, 312)
    assert DSP.memory_level("bram").capacity_bytes == 312 * 36 * 1024 // 8
    assert ASIC.device is None


# -- operands ----------------------------------------------------------------------------------
def test_operand_parsing_and_holding():
    """Bits, labels, aliases; lanes hold narrower ints and smaller floats."""
    assert as_operand(8) == as_operand("int8") == as_operand("uint8")
    assert as_operand("binary").bits == 1 and as_operand("ternary").bits == 2
    assert as_operand("bf16") == float_operand(8, 7) and as_operand("bf16").label == "bf16"
    assert float_operand(3, 4).label == "e3m4"
    assert holds(as_operand(8), as_operand(4)) and not holds(as_operand(8), as_operand(9))
    assert holds(as_operand("fp32"), as_operand("bf16"))
    assert not holds(as_operand("fp16"), as_operand("bf16"))  # bf16 exponent is wider
    assert not holds(as_operand(32), as_operand("fp16"))


@pytest.mark.parametrize("value, exc, match", [
    (0, ValueError, r"a_bits=0 is out of range; expected 1 <= a_bits <= 64"),
    (65, ValueError, r"a_bits=65 is out of range"),
    ("fp64", ValueError, r"a_bits='fp64' is not a known operand type; known: fp32"),
    (8.0, TypeError, r"a_bits must be a bit width \(int\) or a format name"),
    (True, TypeError, r"a_bits must be a bit width"),
])
def test_bad_operands(value, exc, match):
    with pytest.raises(exc, match=match):
        ASIC.mac_energy_pj(value, 8)


def test_mixed_int_float_mac_is_refused():
    with pytest.raises(ValueError, match="mix an integer and a float operand"):
        ASIC.mac_energy_pj(8, "fp16")


def test_missing_lane_names_the_native_ones():
    with pytest.raises(ValueError, match=r"no lane for int32 x int32 MACs; native: int8, "
                                         r"int16, fp32"):
        targets.get("cpu-int8").lane(32, 32)


# -- registry ----------------------------------------------------------------------------------
def test_builtins_are_registered():
    assert {"asic-45nm", "cpu-fp32", "cpu-int8", "cpu-int16", "cpu-binary", "fpga-dsp48e2",
            "fpga-lut"} <= set(targets.names())
    assert targets.get(ASIC) is ASIC


def test_unknown_target_lists_known():
    with pytest.raises(ValueError, match=r"target='tpu' is not a known target; known: asic-45nm"):
        targets.get("tpu")
    with pytest.raises(TypeError, match="target must be a target name"):
        targets.get(3)


def test_register_refuses_silent_replacement():
    """Built-ins are never replaced; user targets only with overwrite=True."""
    with pytest.raises(ValueError, match="built in and cannot be replaced"):
        targets.register(replace(ASIC, clock_hz=2e9))
    mine = replace(ASIC, name="test-asic-registry")
    try:
        assert targets.register(mine) is mine and targets.get("test-asic-registry") is mine
        targets.register(mine)  # the same target again is fine
        with pytest.raises(ValueError, match="already registered with different figures"):
            targets.register(replace(mine, clock_hz=2e9))
        faster = targets.register(replace(mine, clock_hz=2e9), overwrite=True)
        assert targets.get("test-asic-registry").clock_hz == 2e9 == faster.clock_hz
    finally:
        targets.unregister("test-asic-registry")
    assert "test-asic-registry" not in targets.names()


# -- construction errors -----------------------------------------------------------------------
def _levels():
    return (MemoryLevel("sram", 1.0, 1024), MemoryLevel("dram", 100.0))


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(clock_hz=-1.0), ValueError, r"clock_hz=-1.0 is a negative value"),
    (dict(clock_hz=0), ValueError, r"clock_hz=0.0 is out of range; expected clock_hz > 0"),
    (dict(kind="gpu"), ValueError, r"kind='gpu' is not allowed; expected one of 'cpu'"),
    (dict(memory=(MemoryLevel("sram", 1.0, 1024),)), ValueError,
     r"the last memory level \('sram'\) must be unbounded"),
    (dict(memory=(MemoryLevel("a", 1.0, 4096), MemoryLevel("b", 1.0, 1024),
                  MemoryLevel("dram", 9.0))), ValueError, r"from the nearest \(smallest\)"),
    (dict(kind="fpga"), ValueError, r"an \[fpga\] section is required for FPGA targets"),
    (dict(name=" x"), ValueError, r"must be a non-empty name"),
])
def test_target_validation(kwargs, exc, match):
    base = dict(name="t", kind="asic", clock_hz=1e9, arithmetic=Arithmetic(lanes={"int8": 1}),
                energy=Energy(int_mult_pj={8: 0.2}, int_add_pj={8: 0.03}), memory=_levels())
    with pytest.raises(exc, match=match):
        Target(**{**base, **kwargs})


def test_energy_and_arithmetic_validation():
    with pytest.raises(ValueError, match=r"energy.int_mult_pj\[8\]=-0.2 is a negative energy"):
        Energy(int_mult_pj={8: -0.2}, int_add_pj={8: 0.03})
    with pytest.raises(ValueError, match=r"energy.int_add_pj is empty"):
        Energy(int_mult_pj={8: 0.2}, int_add_pj={})
    with pytest.raises(ValueError, match=r"arithmetic.units names 'int16', which is not in"):
        Arithmetic(lanes={"int8": 4}, units={"int16": 2})
    with pytest.raises(ValueError, match=r"arithmetic.lanes\['int8'\]=0 is out of range"):
        Arithmetic(lanes={"int8": 0})
    with pytest.raises(TypeError, match="target tables are read-only"):
        ASIC.energy.int_mult_pj[8] = 0.0


# -- TOML files --------------------------------------------------------------------------------
GOOD = """
name = "test-mcu"
kind = "cpu"
clock_hz = 80e6
description = "a Cortex-M4-like MCU: SMLAD does two 16-bit MACs"
source = "test fixture"

[arithmetic]
lanes = { int16 = 2, fp32 = 1 }
accumulator_width = 32
accumulator_overflow = "saturate"
default_weights = "int16"
default_activations = "int16"
energy_at = "lane"

[energy]
int_mult_pj = { 8 = 0.2, 32 = 3.1 }
int_add_pj = { 8 = 0.03, 32 = 0.1 }
instruction_pj = 70.0
source = "Horowitz 2014"

[[memory]]
name = "sram"
capacity_bytes = 65536
pj_per_byte = 2.5

[[memory]]
name = "flash"
pj_per_byte = 40.0
"""


def _write(tmp_path, text):
    path = tmp_path / "target.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_toml_user_target(tmp_path):
    """A user file loads, prices with its own figures, and registers by path."""
    t = targets.load_toml(_write(tmp_path, GOOD))
    assert t.name == "test-mcu" and t.clock_hz == 80e6
    assert t.macs_per_cycle(16, 16) == 2
    assert t.mac_energy_pj(8, 8) == approx(ASIC.mult_energy_pj(16, 16) + 0.1 + 70 / 2)
    assert t.accumulator == Accumulator(32, "saturate")
    assert t.level_for(70_000).name == "flash"
    try:
        assert targets.register(_write(tmp_path, GOOD)) == t and "test-mcu" in targets.names()
    finally:
        targets.unregister("test-mcu")


def test_toml_fpga_with_its_own_device(tmp_path):
    """A [device] table adds a part; the [fpga] section uses it."""
    text = GOOD.replace('kind = "cpu"', 'kind = "fpga"').replace('name = "test-mcu"',
                                                                  'name = "test-fpga"')
    text += '\n[fpga]\ndevice = "test-part"\n\n[device]\nname = "test-part"\ndsp = 80\n' \
            'lut = 17600\nff = 35200\nbram = 60\n'
    try:
        t = targets.load_toml(_write(tmp_path, text))
        assert t.device.dsp == 80 and t.device.bram == 60
        again = targets.to_toml(t, include_device=True)
        assert "[device]" in again and 'name = "test-part"' in again
    finally:
        targets.unregister_device("test-part")
    assert "test-part" not in targets.device_names()


BAD_CASES = [
    ("unknown top-level field", "colour = 'red'\n" + GOOD,
     r"unknown field 'colour' in .*target.toml; known: "),
    ("unknown field in a section", GOOD.replace("[arithmetic]", "[arithmetic]\nwarp = 4"),
     r"unknown field 'warp' in .*\[arithmetic\]"),
    ("wrong type", GOOD.replace("clock_hz = 80e6", 'clock_hz = "fast"'),
     r"wrong type: clock_hz must be a number, got str 'fast'"),
    ("negative energy", GOOD.replace("8 = 0.2,", "8 = -0.2,"),
     r"\[energy\]: bad value: energy.int_mult_pj\['8'\]=-0.2 is a negative energy"),
    ("negative memory energy", GOOD.replace("pj_per_byte = 2.5", "pj_per_byte = -2.5"),
     r"\[\[memory\]\] #1: bad value: memory\['sram'\].pj_per_byte=-2.5 is a negative energy"),
    ("missing required field", GOOD.replace('name = "test-mcu"\n', ""),
     r"missing required field 'name' in .*target.toml"),
    ("missing section field", GOOD.replace("lanes = { int16 = 2, fp32 = 1 }\n", ""),
     r"missing required field 'lanes' in .*\[arithmetic\]"),
    ("missing memory", GOOD.split("[[memory]]")[0],
     r"missing required field 'memory' in .*target.toml"),
    ("memory not an array", "memory = 3\n" + GOOD.split("[[memory]]")[0],
     r"memory must be a non-empty array of tables"),
    ("bad lane name", GOOD.replace("int16 = 2", "int99 = 2"),
     r"arithmetic.lanes key 'int99'=99 is out of range"),
    ("unknown option", GOOD.replace('"saturate"', '"clamp"'),
     r"arithmetic.accumulator_overflow='clamp' is not allowed"),
    ("unknown device", GOOD + '\n[fpga]\ndevice = "xc7z999"\n',
     r"\[fpga\]: bad value: device='xc7z999' is not a known FPGA part; known: xczu3eg"),
    ("not TOML", "name = ", r"not valid TOML"),
]


@pytest.mark.parametrize("why, text, match", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_toml_is_rejected_with_field_and_reason(tmp_path, why, text, match):
    with pytest.raises(TargetFileError, match=match):
        targets.load_toml(_write(tmp_path, text))


# -- properties --------------------------------------------------------------------------------
from hypothesis import given, strategies as st  # noqa: E402

BITS = st.integers(1, 64)


@given(a=BITS, b=BITS)
def test_property_multiplier_energy_symmetric_and_monotone(a, b):
    """mult(a, b) = mult(b, a) > 0 and grows with either width (the a*b rule)."""
    m = ASIC.mult_energy_pj(a, b)
    assert m == ASIC.mult_energy_pj(b, a) > 0
    if a < 64:
        assert ASIC.mult_energy_pj(a + 1, b) > m


@given(bits=st.integers(1, 63))
def test_property_adder_energy_monotone(bits):
    assert 0 < ASIC.add_energy_pj(bits) < ASIC.add_energy_pj(bits + 1)


@given(name=st.sampled_from(targets.BUILTIN_NAMES), a=BITS, b=BITS)
def test_property_lane_is_the_narrowest_that_holds(name, a, b):
    """The chosen lane holds both operands and no narrower lane of the target does."""
    t = targets.get(name)
    oa, ob = as_operand(a), as_operand(b)
    holding = [as_operand(lbl) for lbl in t.native_widths
               if holds(as_operand(lbl), oa) and holds(as_operand(lbl), ob)]
    assert t.supports(a, b) == bool(holding)
    if holding:
        assert t.lane(a, b).bits == min(h.bits for h in holding)


def test_shared_default_formats_run_natively(target):
    """default_formats() gives precision formats the target supports, and its accumulator."""
    fmts = target.default_formats()
    assert target.supports(fmts["weights"], fmts["activations"])
    assert fmts["accumulator"] == target.accumulator


@pytest.mark.parametrize("w", [1, 2, "binary", "ternary"])
def test_sign_select_mac_is_one_float_add(w):
    """Binary/ternary x float: no multiply, one add in the float format (Horowitz: fp32 0.9 pJ,
    fp16 0.4 pJ); on a CPU the float accumulator adds plus 70 pJ / 16 fp32 lanes."""
    assert ASIC.mult_energy_pj(w, "fp32") == 0.0 == ASIC.mult_energy_pj("fp16", w)
    assert ASIC.mac_energy_pj(w, "fp32") == 0.9 and ASIC.mac_energy_pj("fp16", w) == 0.4
    cpu = targets.get("cpu-fp32")
    assert cpu.supports(w, "fp32") and cpu.lane(w, "fp32").label == "fp32"
    assert cpu.mac_energy_pj(w, "fp32") == pytest.approx(0.9 + 70 / 16, rel=1e-12, abs=0)

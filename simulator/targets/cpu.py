"""CPU targets: one core of an Intel Xeon Gold 6248 (Cascade Lake, AVX-512 with VNNI, two
512-bit FMA ports), used four ways: fp32 FMAs, int8 and int16 VNNI dot products into 32-bit
wrapping accumulators, and XNOR + popcount on 64-bit words for binary layers.

Throughput: MACs per cycle = lanes per instruction × instructions per cycle, from the
instruction tables (uops.info measurements for Cascade Lake; Intel 64 and IA-32 Architectures
Optimization Reference Manual for the port counts).  Cycles are the larger of the compute
cycles and the time to stream the layer's bytes at the cache/DRAM bandwidths (a roofline).
Energy: the 45 nm Horowitz 2014 scale (asic.py) for the arithmetic at the *lane* width plus a
per-instruction overhead of 70 pJ shared by the lanes (Horowitz 2014) -- a modelling assumption
that puts the CPU on the same scale as the other targets, not a measurement of a 14 nm Xeon.
"""

from __future__ import annotations

from simulator.targets.asic import (
    DRAM_PJ_PER_BYTE, HOROWITZ, INSTRUCTION_PJ_45NM, REGISTER_PJ_PER_BYTE, SRAM_1MB_PJ_PER_BYTE,
    SRAM_32KB_PJ_PER_BYTE, horowitz_energy,
)
from simulator.targets.base import Arithmetic, MemoryLevel, Target

CPU_NAME = "Intel Xeon Gold 6248 (Cascade Lake), one core"
#: Intel ARK, Xeon Gold 6248: 2.50 GHz base frequency (AVX-512 licence clocks are lower; not
#: modelled).
CLOCK_HZ = 2.5e9
#: 512-bit registers: VPDPBUSD multiplies 64 u8×s8 pairs and adds each group of 4 into one of
#: 16 int32 lanes (Intel SDM, VPDPBUSD); VPDPWSSD 32 s16×s16 pairs into 16 int32 lanes;
#: VFMADD231PS 16 fp32 FMAs.
INT8_LANES, INT16_LANES, FP32_LANES = 64, 32, 16
#: Throughput 2 per cycle (ports 0 and 5) for VPDPBUSD/VPDPWSSD/VFMADD231PS zmm on Cascade Lake
#: Xeon Gold 6xxx with two FMA units (uops.info; Intel Optimization Manual, "Intel AVX-512").
SIMD_PER_CYCLE = 2
#: POPCNT r64: 64 binary MACs per word, throughput 1 per cycle (port 1 only; uops.info,
#: Skylake-X/Cascade Lake).  XOR + POPCNT + ADD = 3 instructions per word.
POPCNT_LANES, POPCNT_PER_CYCLE, POPCNT_INSTRUCTIONS = 64, 1, 3
#: Ternary × ternary on two bit planes: 2 POPCNTs per 64 MACs (POPCNT-bound: 32 MACs per cycle)
#: and 6 instructions (AND, XOR, AND, 2 POPCNT, SUB) per 64, i.e. 3 per 32.
TERNARY_LANES, TERNARY_INSTRUCTIONS = 32, 3
#: 32 zmm registers of 64 bytes (Intel SDM, AVX-512 state).
ZMM_BYTES = 32 * 64
#: Cache sizes per core (Intel ARK, Xeon Gold 6248: 32 KB L1D, 1 MB L2 per core).
L1D_BYTES, L2_BYTES = 32 * 1024, 1024 * 1024
#: Peak cache bandwidths of a Skylake-SP/Cascade Lake core: L1D two 64-byte loads per cycle,
#: L2 64 bytes per cycle (Intel 64 and IA-32 Architectures Optimization Reference Manual,
#: Skylake Server microarchitecture, cache hierarchy table).
L1D_BYTES_PER_CYCLE, L2_BYTES_PER_CYCLE = 128, 64
#: DRAM: six DDR4-2933 channels of 8 bytes (Intel ARK, Xeon Gold 6248) = 140.8 GB/s per socket,
#: shared by 20 cores; one core is given its fair share (modelling assumption).
DRAM_BYTES_PER_S = 6 * 2933e6 * 8 / 20

_CPU_MEMORY = (
    MemoryLevel("register", REGISTER_PJ_PER_BYTE, ZMM_BYTES,
                source="Han et al. 2015, Fig. 1 (45 nm); capacity: 32 zmm registers"),
    MemoryLevel("l1", SRAM_32KB_PJ_PER_BYTE, L1D_BYTES, L1D_BYTES_PER_CYCLE * CLOCK_HZ,
                HOROWITZ + ", 32 KB cache; bandwidth: Intel Optimization Manual"),
    MemoryLevel("l2", SRAM_1MB_PJ_PER_BYTE, L2_BYTES, L2_BYTES_PER_CYCLE * CLOCK_HZ,
                HOROWITZ + ", 1 MB cache; bandwidth: Intel Optimization Manual"),
    MemoryLevel("dram", DRAM_PJ_PER_BYTE, None, DRAM_BYTES_PER_S,
                HOROWITZ + ", low end of 1.3-2.6 nJ; bandwidth: ARK, fair share of 20 cores"),
)
_CPU_ENERGY = horowitz_energy(
    instruction_pj=INSTRUCTION_PJ_45NM,
    source=HOROWITZ + "; CPU on the 45 nm scale is a modelling assumption")
_SOURCE = ("uops.info instruction tables (Cascade Lake); Intel SDM; Intel ARK Xeon Gold 6248; "
           + HOROWITZ)


def _cpu(name: str, lanes: dict, units: dict, instructions: dict, weights: str,
         activations: str, description: str, accumulator_float: str | None = None) -> Target:
    return Target(
        name=name, kind="cpu", clock_hz=CLOCK_HZ,
        arithmetic=Arithmetic(lanes=lanes, units=units, instructions=instructions,
                              accumulator_width=32, accumulator_overflow="wrap",
                              accumulator_float=accumulator_float, default_weights=weights,
                              default_activations=activations, energy_at="lane"),
        energy=_CPU_ENERGY, memory=_CPU_MEMORY,
        description=f"{CPU_NAME}: {description}", source=_SOURCE)


CPU_FP32 = _cpu("cpu-fp32", {"fp32": FP32_LANES}, {"fp32": SIMD_PER_CYCLE}, {},
                "fp32", "fp32", "AVX-512 fp32 FMA, fp32 accumulation",
                accumulator_float="fp32")
CPU_INT8 = _cpu("cpu-int8",
                {"int8": INT8_LANES, "int16": INT16_LANES, "fp32": FP32_LANES},
                {"int8": SIMD_PER_CYCLE, "int16": SIMD_PER_CYCLE, "fp32": SIMD_PER_CYCLE}, {},
                "int8", "uint8",
                "VPDPBUSD u8×s8 dot products into int32 (wrap); int16 via VPDPWSSD")
CPU_INT16 = _cpu("cpu-int16", {"int16": INT16_LANES, "fp32": FP32_LANES},
                 {"int16": SIMD_PER_CYCLE, "fp32": SIMD_PER_CYCLE}, {},
                 "int16", "int16", "VPDPWSSD s16×s16 dot products into int32 (wrap)")
CPU_BINARY = _cpu("cpu-binary",
                  {"int1": POPCNT_LANES, "int2": TERNARY_LANES, "int8": INT8_LANES,
                   "fp32": FP32_LANES},
                  {"int1": POPCNT_PER_CYCLE, "int2": POPCNT_PER_CYCLE, "int8": SIMD_PER_CYCLE,
                   "fp32": SIMD_PER_CYCLE},
                  {"int1": POPCNT_INSTRUCTIONS, "int2": TERNARY_INSTRUCTIONS},
                  "binary", "binary",
                  "XNOR + POPCNT on 64-bit words (binary), two bit planes (ternary); int8 "
                  "VNNI for the first and last layers")

BUILTINS = (CPU_FP32, CPU_INT8, CPU_INT16, CPU_BINARY)

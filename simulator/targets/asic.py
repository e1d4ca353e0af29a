"""``asic-45nm``: the reference ASIC of Horowitz, "Computing's energy problem (and what we can do
about it)", ISSCC 2014 (45 nm, 0.9 V), the table most compression papers price their savings
with (Han et al. 2015/2016 reuse it).

Energies are Horowitz's per-operation figures (Fig. 1.1.9 of the paper: "rough energy costs for
various operations in 45nm 0.9V"); widths between and beyond them follow the scaling rule of
:class:`~simulator.targets.base.Energy` (a modelling assumption).  The datapath is custom, so a
MAC is priced at the operands' own widths.  Throughput is a stated assumption: a 16×16 array of
MAC units at 1 GHz fed from SRAM without stalls, DRAM at 12.8 GB/s (cycles and latency only).
"""

from __future__ import annotations

from simulator.targets.base import Arithmetic, Energy, MemoryLevel, Target

HOROWITZ = "Horowitz, ISSCC 2014, Fig. 1.1.9 (45 nm, 0.9 V)"

#: Horowitz 2014, Fig. 1.1.9, integer multiply by operand width (w×w), pJ.
HOROWITZ_INT_MULT_PJ = {8: 0.2, 32: 3.1}
#: Horowitz 2014, Fig. 1.1.9, integer add by width, pJ.
HOROWITZ_INT_ADD_PJ = {8: 0.03, 16: 0.05, 32: 0.1}
#: Horowitz 2014, Fig. 1.1.9, float multiply, pJ.
HOROWITZ_FLOAT_MULT_PJ = {"fp16": 1.1, "fp32": 3.7}
#: Horowitz 2014, Fig. 1.1.9, float add, pJ.
HOROWITZ_FLOAT_ADD_PJ = {"fp16": 0.4, "fp32": 0.9}
#: Horowitz 2014, Fig. 1.1.9: one 64-bit cache access is 10 pJ (8 KB), 20 pJ (32 KB), 100 pJ
#: (1 MB); per byte: /8.
SRAM_8KB_PJ_PER_BYTE = 10.0 / 8
SRAM_32KB_PJ_PER_BYTE = 20.0 / 8
SRAM_1MB_PJ_PER_BYTE = 100.0 / 8
#: Horowitz 2014, Fig. 1.1.9: one 64-bit DRAM access costs 1.3-2.6 nJ; we take the low end,
#: 1300 pJ / 8 bytes (Han et al. 2015's 640 pJ per 32-bit word is the same figure).
DRAM_PJ_PER_BYTE = 1300.0 / 8
#: Han et al., "Learning both weights and connections", NIPS 2015, Fig. 1 (a 45 nm table after
#: Horowitz): a 32-bit register-file access costs 1 pJ, i.e. 0.25 pJ per byte.
REGISTER_PJ_PER_BYTE = 1.0 / 4
#: Modelling assumption: a register file of 32 words of 32 bits.
REGISTER_BYTES = 128
#: Modelling assumption: the ASIC's DRAM is one LPDDR4-3200 x32 channel, 3200 MT/s × 4 bytes
#: = 12.8 GB/s (JEDEC JESD209-4 data rate); its SRAMs are sized to feed the MAC array.
DRAM_BYTES_PER_S_LPDDR4 = 3200e6 * 4
#: Horowitz 2014, same figure: the instruction overhead of a simple 45 nm in-order core is about
#: 70 pJ per instruction (fetch, decode, register file, control), against 0.1 pJ for the add.
INSTRUCTION_PJ_45NM = 70.0


def horowitz_energy(*, instruction_pj: float = 0.0, fabric_factor: float = 1.0,
                    source: str = HOROWITZ) -> Energy:
    """The Horowitz 2014 operation energies, optionally with an instruction overhead or a fabric
    factor (the other built-in targets price their arithmetic on this 45 nm scale)."""
    return Energy(int_mult_pj=HOROWITZ_INT_MULT_PJ, int_add_pj=HOROWITZ_INT_ADD_PJ,
                  float_mult_pj=HOROWITZ_FLOAT_MULT_PJ, float_add_pj=HOROWITZ_FLOAT_ADD_PJ,
                  instruction_pj=instruction_pj, fabric_factor=fabric_factor, source=source)


ASIC_45NM = Target(
    name="asic-45nm",
    kind="asic",
    clock_hz=1.0e9,  # modelling assumption: 1 GHz (sets latency only)
    arithmetic=Arithmetic(
        # Modelling assumption: 256 MAC units (16×16), each one MAC per cycle of any integer up
        # to 32 bits or float up to fp32, sized to its operands (energy at operand widths).
        lanes={"int32": 1, "fp32": 1},
        units={"int32": 256, "fp32": 256},
        # Modelling assumption: 32-bit wrapping integer accumulators, as in int8 inference
        # engines (e.g. Jouppi et al., ISCA 2017, TPU: 32-bit accumulators).
        accumulator_width=32,
        accumulator_overflow="wrap",
        default_weights="int8",
        default_activations="int8",
        energy_at="operand",
    ),
    energy=horowitz_energy(),
    memory=(
        MemoryLevel("register", REGISTER_PJ_PER_BYTE, REGISTER_BYTES,
                    source="Han et al. 2015, Fig. 1; capacity: assumption"),
        MemoryLevel("sram_8kb", SRAM_8KB_PJ_PER_BYTE, 8 * 1024, source=HOROWITZ),
        MemoryLevel("sram_32kb", SRAM_32KB_PJ_PER_BYTE, 32 * 1024, source=HOROWITZ),
        MemoryLevel("sram_1mb", SRAM_1MB_PJ_PER_BYTE, 1024 * 1024, source=HOROWITZ),
        MemoryLevel("dram", DRAM_PJ_PER_BYTE, None, DRAM_BYTES_PER_S_LPDDR4,
                    HOROWITZ + ", low end of 1.3-2.6 nJ; bandwidth: assumption (LPDDR4-3200 x32)"),
    ),
    description="45 nm reference ASIC: Horowitz 2014 energies, 256 MACs/cycle at 1 GHz",
    source=HOROWITZ,
)

BUILTINS = (ASIC_45NM,)

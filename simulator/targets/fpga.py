"""FPGA targets on a Zynq UltraScale+ XCZU7EV (the ZCU104 board's part): ``fpga-dsp48e2``
(integer MACs on DSP48E2 slices, binary/2-bit MACs in LUTs) and ``fpga-lut`` (every MAC in LUTs:
FINN-style binary, ternary and few-bit layers).

Parallelism model (``estimate_cost``): every layer is its own engine in a dataflow pipeline
(FINN, Umuroglu et al. 2017; hls4ml, Duarte et al. 2018); a reuse factor R gives a layer
``ceil(weights / R)`` MAC units, each doing one MAC per clock, and its weights live on chip in
BRAM/LUTRAM.  Energies: the 45 nm Horowitz scale (asic.py) times the FPGA/ASIC dynamic-power gap
of Kuon & Rose (a modelling assumption).
"""

from __future__ import annotations

from simulator.targets._fabric import FpgaFabric
from simulator.targets.asic import DRAM_PJ_PER_BYTE, HOROWITZ, SRAM_8KB_PJ_PER_BYTE, \
    horowitz_energy
from simulator.targets.base import Arithmetic, MemoryLevel, Target
from simulator.targets.devices import get_device

DEVICE = "xczu7ev"
#: Modelling assumption: a 300 MHz design clock, typical of HLS designs closing timing on
#: UltraScale+ (the DSP48E2 itself is specified to 775 MHz in the -2 speed grade, Xilinx DS925
#: -- quoted, not re-checked here).
CLOCK_HZ = 300e6
#: DSP48E2: 27×18 two's-complement multiplier and 48-bit accumulator (Xilinx UG579,
#: "DSP48E2 slice", Ch. 1-2).
DSP48E2_MULTIPLIER = (27, 18)
DSP48E2_ACCUMULATOR_BITS = 48
#: Two int8 multiplies that share one operand fit one DSP48E2 (Xilinx WP486, "Deep Learning
#: with INT8 Optimization on Xilinx Devices"; up to 9×9 signed with a correction term).
DSP_PACK_BITS, DSP_PACK_MACS = 8, 2
#: Kuon & Rose, "Measuring the gap between FPGAs and ASICs", IEEE TCAD 26(2), 2007, abstract:
#: dynamic power ~14× a standard-cell ASIC for LUT logic, smaller with hard blocks (no single
#: figure).  We apply 14× to both (an upper bound for DSP-slice arithmetic: assumption).
FPGA_POWER_GAP = 14.0
#: Modelling assumptions (estimates, docs/targets.md): an a×b-bit LUT multiplier costs a·b
#: LUT6 plus a+b for its adder-tree node (one LUT per bit of a carry-chain adder, UG574); a
#: binary MAC costs 1 LUT (XNOR folded into a popcount compressor tree of ~1 LUT per input bit).
LUT_PER_MULT_BIT2, LUT_PER_ADDER_BIT, LUT_PER_BINARY_MAC = 1.0, 1.0, 1.0
#: Estimates, not verified against the Xilinx Floating-Point Operator guide (PG060): an fp32
#: MAC ~ 2 DSP + 400 LUT, an fp16 MAC ~ 1 DSP + 200 LUT.
FLOAT_MAC_DSP = {"fp32": 2.0, "fp16": 1.0}
FLOAT_MAC_LUT = {"fp32": 400.0, "fp16": 200.0}
#: Modelling assumption: a design may use 80 % of each resource and still route.
UTILIZATION = 0.8
#: Modelling assumption: a BRAM36 read costs what Horowitz's 8 KB SRAM costs per byte (45 nm
#: scale, like every energy here); off-chip DDR4 as Horowitz's DRAM.
BRAM_PJ_PER_BYTE = SRAM_8KB_PJ_PER_BYTE

_SOURCE = "Xilinx UG579, WP486, UG573, DS891; Kuon & Rose 2007; " + HOROWITZ


def _memory(device: str) -> tuple[MemoryLevel, ...]:
    return (
        MemoryLevel("bram", BRAM_PJ_PER_BYTE, get_device(device).bram_bytes,
                    source="assumption: Horowitz 8 KB SRAM per byte; capacity: DS891 BRAM tiles"),
        MemoryLevel("dram", DRAM_PJ_PER_BYTE, None, source=HOROWITZ + ", low end of 1.3-2.6 nJ"),
    )


FPGA_DSP48E2 = Target(
    name="fpga-dsp48e2", kind="fpga", clock_hz=CLOCK_HZ,
    arithmetic=Arithmetic(
        # MACs per DSP: 2 for <= 8-bit operands (WP486), 1 up to the 27×18 tile, tiles beyond.
        lanes={"int8": DSP_PACK_MACS, "int18": 1, "int32": 1, "fp32": 1},
        accumulator_width=DSP48E2_ACCUMULATOR_BITS, accumulator_overflow="wrap",
        multiplier=DSP48E2_MULTIPLIER, default_weights="int8", default_activations="int8",
        energy_at="operand"),
    energy=horowitz_energy(fabric_factor=FPGA_POWER_GAP,
                           source=HOROWITZ + " × Kuon & Rose 2007 (14×, assumption)"),
    memory=_memory(DEVICE),
    fpga=FpgaFabric(device=DEVICE, dsp_min_bits=3, dsp_pack_bits=DSP_PACK_BITS,
                    dsp_pack_macs=DSP_PACK_MACS, lut_per_binary_mac=LUT_PER_BINARY_MAC,
                    lut_per_mult_bit2=LUT_PER_MULT_BIT2, lut_per_adder_bit=LUT_PER_ADDER_BIT,
                    float_mac_dsp=FLOAT_MAC_DSP, float_mac_lut=FLOAT_MAC_LUT,
                    utilization=UTILIZATION),
    description="Zynq UltraScale+ XCZU7EV, DSP48E2 MACs (2 int8 per DSP), 300 MHz",
    source=_SOURCE,
)

FPGA_LUT = Target(
    name="fpga-lut", kind="fpga", clock_hz=CLOCK_HZ,
    arithmetic=Arithmetic(
        # Every integer MAC up to 16 bits in LUTs (the model is meant for <= 4-bit, binary and
        # ternary layers; wider ones are allowed and priced by the a·b rule).
        lanes={"int16": 1},
        # Modelling assumption: a 16-bit popcount/accumulator register (FINN sizes it to
        # log2 of the fan-in; 16 bits covers fan-ins up to 32767).
        accumulator_width=16, accumulator_overflow="wrap",
        default_weights="binary", default_activations="binary", energy_at="operand"),
    energy=horowitz_energy(fabric_factor=FPGA_POWER_GAP,
                           source=HOROWITZ + " × Kuon & Rose 2007 (14×)"),
    memory=_memory(DEVICE),
    fpga=FpgaFabric(device=DEVICE, use_dsp=False, lut_per_binary_mac=LUT_PER_BINARY_MAC,
                    lut_per_mult_bit2=LUT_PER_MULT_BIT2, lut_per_adder_bit=LUT_PER_ADDER_BIT,
                    utilization=UTILIZATION),
    description="Zynq UltraScale+ XCZU7EV, LUT-only MACs (XNOR-popcount, few-bit), 300 MHz",
    source=_SOURCE,
)

BUILTINS = (FPGA_DSP48E2, FPGA_LUT)

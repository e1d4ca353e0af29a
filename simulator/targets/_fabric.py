"""FPGA fabric model: DSP and LUT cost of one MAC unit, and BRAM/LUTRAM for weight memories.

A *MAC unit* does one multiply-accumulate per clock.  With ``use_dsp``, integer MACs with an operand
of at least ``dsp_min_bits`` bits go to DSP slices: ``1 / dsp_pack_macs`` DSP when both operands
have at most ``dsp_pack_bits`` bits (two int8 multiplies sharing one operand in one DSP48E2, Xilinx
WP486), one DSP when they fit the hard multiplier tile, else a grid of tiles.  Narrower MACs go to
LUTs: ``lut_per_binary_mac`` for 1-bit (XNOR plus its share of the popcount tree), twice that for
2-bit/ternary (two bit planes), ``lut_per_mult_bit2 * a * b + lut_per_adder_bit * (a + b)``
otherwise (an array multiplier and its adder-tree node).  Float MACs use the listed
``float_mac_dsp``/``float_mac_lut``.  All figures: docs/targets.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from simulator.targets._checks import (
    FrozenMap, check_float, check_int, check_map, check_str, float_key,
)
from simulator.targets._operands import Operand, float_operand
from simulator.targets.devices import BRAM36_BITS, Device, get_device

#: RAMB36E2 port aspect ratios (depth, width) in simple dual-port mode (Xilinx UG573, "Block RAM
#: Resources"; the 72-bit width is simple dual-port only).
BRAM36_SHAPES: tuple[tuple[int, int], ...] = (
    (32768, 1), (16384, 2), (8192, 4), (4096, 9), (2048, 18), (1024, 36), (512, 72),
)


def _resource(name: str, value: Any) -> float:
    return check_float(name, value, what="resource count")


@dataclass(frozen=True)
class FpgaFabric:
    """Resources per MAC unit and the device budget of an FPGA target (see module docstring)."""

    device: str
    use_dsp: bool = True
    dsp_min_bits: int = 3
    dsp_pack_bits: int = 8
    dsp_pack_macs: int = 2
    lut_per_binary_mac: float = 1.0
    lut_per_mult_bit2: float = 1.0
    lut_per_adder_bit: float = 1.0
    float_mac_dsp: FrozenMap = field(default_factory=FrozenMap)
    float_mac_lut: FrozenMap = field(default_factory=FrozenMap)
    utilization: float = 0.8
    lutram_depth: int = 64

    def __post_init__(self):
        s = object.__setattr__
        check_str("fpga.device", self.device)
        get_device(self.device)  # unknown parts fail here, with the known list
        if not isinstance(self.use_dsp, bool):
            raise TypeError(f"fpga.use_dsp must be a bool, got {type(self.use_dsp).__name__}")
        check_int("fpga.dsp_min_bits", self.dsp_min_bits, 1, 64)
        check_int("fpga.dsp_pack_bits", self.dsp_pack_bits, 1, 64)
        check_int("fpga.dsp_pack_macs", self.dsp_pack_macs, 1)
        for name in ("lut_per_binary_mac", "lut_per_mult_bit2", "lut_per_adder_bit"):
            s(self, name, check_float(f"fpga.{name}", getattr(self, name),
                                      what="resource count"))
        s(self, "float_mac_dsp", check_map("fpga.float_mac_dsp", self.float_mac_dsp,
                                           float_key, _resource))
        s(self, "float_mac_lut", check_map("fpga.float_mac_lut", self.float_mac_lut,
                                           float_key, _resource))
        u = check_float("fpga.utilization", self.utilization, positive=True)
        if u > 1:
            raise ValueError(f"fpga.utilization={u} is out of range; expected 0 < "
                             "fpga.utilization <= 1")
        s(self, "utilization", u)
        check_int("fpga.lutram_depth", self.lutram_depth, 1)

    @property
    def budget(self) -> Device:
        """The device's full resources (the design may use ``utilization`` of each)."""
        return get_device(self.device)

    def mac_unit(self, a: Operand, b: Operand, multiplier: tuple[int, int] | None
                 ) -> tuple[float, float]:
        """(DSP, LUT) of one MAC unit for an a×b MAC (a, b operand types)."""
        if a.is_float or b.is_float:
            op = float_operand(max(a.exp_bits, b.exp_bits), max(a.man_bits, b.man_bits))
            if op.label not in self.float_mac_dsp and op.label not in self.float_mac_lut:
                known = sorted(set(self.float_mac_dsp) | set(self.float_mac_lut))
                raise ValueError(f"this FPGA target lists no resources for {op.label} MACs; "
                                 f"known: {', '.join(known) or 'none'}")
            return self.float_mac_dsp.get(op.label, 0.0), self.float_mac_lut.get(op.label, 0.0)
        wa, wb = a.bits, b.bits
        if self.use_dsp and max(wa, wb) >= self.dsp_min_bits and multiplier is not None:
            if max(wa, wb) <= self.dsp_pack_bits:
                return 1.0 / self.dsp_pack_macs, 0.0
            p, q = multiplier
            if (wa <= p and wb <= q) or (wa <= q and wb <= p):
                return 1.0, 0.0
            # Wider products are tiled; the lower tiles take unsigned slices (one bit fewer).
            tiles = min(math.ceil(wa / (p - 1)) * math.ceil(wb / (q - 1)),
                        math.ceil(wb / (p - 1)) * math.ceil(wa / (q - 1)))
            return float(tiles), 0.0
        if max(wa, wb) <= 1:
            return 0.0, self.lut_per_binary_mac
        if max(wa, wb) <= 2:
            return 0.0, 2 * self.lut_per_binary_mac
        return 0.0, self.lut_per_mult_bit2 * wa * wb + self.lut_per_adder_bit * (wa + wb)

    def weight_memory(self, n_words: int, word_bits: int, ports: int) -> tuple[int, int]:
        """(BRAM36 tiles, LUTs) to store ``n_words`` words of ``word_bits`` read ``ports`` at a
        time: a memory ``ports * word_bits`` wide and ``ceil(n_words / ports)`` deep.  Depths up
        to ``lutram_depth`` go to LUTRAM (one LUT per bit of width per 64 words, UG574), deeper
        ones to the best RAMB36 aspect ratio (UG573)."""
        if n_words <= 0 or word_bits <= 0:
            return 0, 0
        ports = max(1, min(ports, n_words))
        depth = math.ceil(n_words / ports)
        width = ports * word_bits
        if depth <= self.lutram_depth:
            return 0, width * math.ceil(depth / self.lutram_depth)
        tiles = min(math.ceil(width / w) * math.ceil(depth / d) for d, w in BRAM36_SHAPES)
        return tiles, 0


__all__ = ["BRAM36_BITS", "BRAM36_SHAPES", "FpgaFabric"]

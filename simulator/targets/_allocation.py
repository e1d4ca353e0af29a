"""FPGA allocation: how many MAC units each layer gets for a reuse factor, and whether it fits.

The model (hls4ml's reuse factor, Duarte et al., JINST 13 P07027, 2018; FINN's per-layer
engines, Umuroglu et al. 2017): every dense/conv layer is its own engine in a dataflow pipeline.
With reuse factor R a layer with ``n`` weights gets ``ceil(n / R)`` MAC units, each doing one
MAC per clock, so one sample takes ``ceil(macs / units)`` cycles in that layer.  Its weights live
on chip, ``units`` words wide (each unit reads its weight every clock).  R is common to all
layers; ``"auto"`` picks the smallest R whose whole design fits ``utilization`` of the device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulator.targets._fabric import FpgaFabric
from simulator.targets._operands import Operand


@dataclass(frozen=True)
class LayerDemand:
    """What one layer asks of the fabric: its weight count, MACs per sample, operand types and
    the stored weight memory (``n_words`` words of ``word_bits``)."""

    n_weights: int
    macs: int
    a: Operand
    b: Operand
    n_words: int
    word_bits: int


@dataclass(frozen=True)
class LayerAllocation:
    units: int
    cycles: int      # per sample
    dsp: int
    lut: int
    bram: int


def allocate_layer(d: LayerDemand, fabric: FpgaFabric, multiplier, reuse: int) -> LayerAllocation:
    """The allocation of one layer at reuse factor ``reuse``."""
    units = max(1, math.ceil(d.n_weights / reuse))
    dsp_u, lut_u = fabric.mac_unit(d.a, d.b, multiplier)
    bram, lutram = fabric.weight_memory(d.n_words, d.word_bits, units)
    cycles = math.ceil(d.macs / units) if d.macs else 0
    return LayerAllocation(units=units, cycles=cycles, dsp=math.ceil(units * dsp_u),
                           lut=math.ceil(units * lut_u) + lutram, bram=bram)


def budget(fabric: FpgaFabric) -> tuple[int, int, int]:
    """(DSP, LUT, BRAM) a design may use: ``utilization`` of the device, rounded down."""
    dev = fabric.budget
    u = fabric.utilization
    return math.floor(dev.dsp * u), math.floor(dev.lut * u), math.floor(dev.bram * u)


def fits(allocs: list[LayerAllocation], limit: tuple[int, int, int]) -> bool:
    """True when the summed DSP, LUT and BRAM stay within ``limit``."""
    return (sum(a.dsp for a in allocs) <= limit[0] and sum(a.lut for a in allocs) <= limit[1]
            and sum(a.bram for a in allocs) <= limit[2])


def allocate(demands: list[LayerDemand], fabric: FpgaFabric, multiplier,
             reuse: int | str = "auto") -> tuple[int, list[LayerAllocation]]:
    """(reuse factor, per-layer allocations).  ``"auto"``: the smallest R in
    ``[1, max weights]`` that fits, by bisection (resources fall as R grows); the largest R when
    nothing fits (each layer then has one unit, and the caller reports ``fits=False``)."""
    limit = budget(fabric)
    r_max = max([d.n_weights for d in demands] + [1])
    if reuse != "auto":
        return reuse, [allocate_layer(d, fabric, multiplier, reuse) for d in demands]

    def run(r: int) -> list[LayerAllocation]:
        return [allocate_layer(d, fabric, multiplier, r) for d in demands]

    if not fits(run(r_max), limit):
        return r_max, run(r_max)
    lo, hi = 1, r_max  # fits(hi) holds
    while lo < hi:
        mid = (lo + hi) // 2
        if fits(run(mid), limit):
            hi = mid
        else:
            lo = mid + 1
    return hi, run(hi)

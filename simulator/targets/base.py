"""``Target``: a simulated device, its arithmetic and what each operation and byte costs.

A target is a frozen dataclass in four parts:

* :class:`Arithmetic` (``_arithmetic.py``): which operand types the datapath multiplies natively (its *lanes*, e.g.
  ``int8`` with 64 MACs per instruction), how many instructions it issues per cycle, the hard
  multiplier tile (27×18 for a DSP48E2), the accumulator, and the default operand formats.
* :class:`Energy` (``_energy.py``): picojoules per multiply and add by operand width (reference points from a
  cited table plus a stated scaling rule between and beyond them), and per-instruction overhead.
* a tuple of :class:`MemoryLevel` s (``_memory.py``) from the nearest to the farthest, each with a capacity and
  picojoules per byte moved.
* for FPGAs, an :class:`~simulator.targets._fabric.FpgaFabric`: resources per MAC and the device
  budget.

All energies are picojoules (pJ), clocks hertz, capacities bytes.  This module holds
:class:`Target` itself: the checks of the whole, the lane and throughput queries, the energy
of each operation and the summary; TOML files are read and written by ``_toml.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from simulator.targets._arithmetic import (
    SIGN_SELECT_BITS, Arithmetic, operand_pair, sign_select_operand, wider_float,
)
from simulator.targets._checks import check_float, check_str
from simulator.targets._energy import Energy
from simulator.targets._fabric import FpgaFabric
from simulator.targets._memory import MemoryLevel
from simulator.targets._operands import Operand, as_operand

# Arithmetic, Energy, MemoryLevel and the sign-select rule are imported from here by the built-in
# target modules and simulator.targets.
__all__ = ["KINDS", "SIGN_SELECT_BITS", "Arithmetic", "Energy", "MemoryLevel", "Target",
           "sign_select_operand"]

KINDS = ("cpu", "fpga", "asic")


@dataclass(frozen=True)
class Target:
    """A simulated device.  See the module docstring and docs/targets.md (every constant with
    its source).  Compare and hash by value; find built-ins with ``simulator.targets.get``."""

    name: str
    kind: str
    clock_hz: float
    arithmetic: Arithmetic
    energy: Energy
    memory: tuple[MemoryLevel, ...]
    fpga: FpgaFabric | None = None
    description: str = ""
    source: str = ""

    def __post_init__(self):
        check_str("name", self.name)
        if not self.name or self.name != self.name.strip():
            raise ValueError(f"name={self.name!r} must be a non-empty name without surrounding "
                             "spaces")
        check_str("kind", self.kind, KINDS)
        object.__setattr__(self, "clock_hz", check_float("clock_hz", self.clock_hz,
                                                         positive=True))
        for name, cls in (("arithmetic", Arithmetic), ("energy", Energy)):
            if not isinstance(getattr(self, name), cls):
                raise TypeError(f"{name} must be a {cls.__name__}, got "
                                f"{type(getattr(self, name)).__name__}")
        mem = tuple(self.memory) if isinstance(self.memory, (tuple, list)) else None
        if not mem or not all(isinstance(m, MemoryLevel) for m in mem):
            raise TypeError("memory must be a non-empty sequence of MemoryLevel")
        names = [m.name for m in mem]
        if len(set(names)) != len(names):
            raise ValueError(f"memory level names must be unique, got {names}")
        caps = [m.capacity_bytes for m in mem]
        if caps[-1] is not None:
            raise ValueError(f"the last memory level ({names[-1]!r}) must be unbounded "
                             "(no capacity_bytes): it is where data that fits nowhere else lives")
        if any(c is None for c in caps[:-1]) or caps[:-1] != sorted(caps[:-1]):
            raise ValueError("memory levels must go from the nearest (smallest) to the farthest;"
                             f" got capacities {caps}")
        object.__setattr__(self, "memory", mem)
        if (self.kind == "fpga") != (self.fpga is not None):
            raise ValueError(f"kind={self.kind!r}: an [fpga] section is required for FPGA "
                             "targets and refused for others")
        if self.fpga is not None and not isinstance(self.fpga, FpgaFabric):
            raise TypeError(f"fpga must be an FpgaFabric, got {type(self.fpga).__name__}")
        check_str("description", self.description)
        check_str("source", self.source)

    # -- arithmetic ----------------------------------------------------------------------------
    @property
    def native_widths(self) -> tuple[str, ...]:
        """Labels of the operand types the datapath multiplies natively (``"int8"``, ``"fp32"``)."""
        return tuple(self.arithmetic.lanes)

    def lane(self, a_bits: Any, b_bits: Any) -> Operand:
        """The lane an a×b MAC runs on; ValueError when the target has none."""
        oa, ob = operand_pair(a_bits, b_bits)
        lane = self.arithmetic.lane_for(oa, ob)
        if lane is None:
            raise ValueError(
                f"target {self.name!r} has no lane for {oa.label} x {ob.label} MACs; native: "
                f"{', '.join(self.native_widths)} (check target.supports() before pricing)")
        return lane

    def supports(self, weight_bits: Any, act_bits: Any = None) -> bool:
        """True when some native lane holds both operands (see ``lane``).

        Operands are bit widths, names (``"fp16"``) or ``precision`` formats; with one argument
        the question is whether that operand type multiplies with itself natively.
        """
        oa, ob = operand_pair(weight_bits, weight_bits if act_bits is None else act_bits)
        return self.arithmetic.lane_for(oa, ob) is not None

    def simd_lanes(self, bits: Any) -> int:
        """MACs per instruction (per DSP / PE) for operands of type ``bits`` on both sides."""
        return self.arithmetic.lanes[self.lane(bits, bits).label]

    def macs_per_cycle(self, a_bits: Any, b_bits: Any) -> float:
        """Peak MACs per cycle: lanes x units.  For FPGA targets the figure is per DSP (the
        number of MAC units comes from the allocation, see ``estimate_cost``)."""
        label = self.lane(a_bits, b_bits).label
        ar = self.arithmetic
        return float(ar.lanes[label] * ar.units.get(label, 1))

    @property
    def accumulator(self):
        """The target's accumulator as a :class:`simulator.accumulator.Accumulator`."""
        from simulator.accumulator import Accumulator

        ar = self.arithmetic
        if ar.accumulator_float is not None:
            from precision import FloatingPoint

            op = as_operand(ar.accumulator_float)
            return Accumulator(floating=FloatingPoint(op.exp_bits, op.man_bits))
        return Accumulator(width=ar.accumulator_width, overflow=ar.accumulator_overflow)

    def default_formats(self) -> dict:
        """Default formats for a QConfig that defaults from this target
        (``QConfig.for_target``): ``{"weights", "activations"}`` as ``precision`` formats (via
        ``precision.get`` of the spec strings) and ``"accumulator"`` (``self.accumulator``)."""
        import precision

        ar = self.arithmetic
        return {"weights": precision.get(ar.default_weights),
                "activations": precision.get(ar.default_activations),
                "accumulator": self.accumulator}

    @property
    def device(self):
        """The FPGA device budget (:class:`~simulator.targets.devices.Device`); None otherwise."""
        return None if self.fpga is None else self.fpga.budget

    # -- energy --------------------------------------------------------------------------------
    def _priced(self, a: Operand, b: Operand) -> tuple[Operand, Operand]:
        if self.arithmetic.energy_at == "lane":
            lane = self.arithmetic.lane_for(a, b)
            if lane is not None:
                return lane, lane
        return a, b

    def mult_energy_pj(self, a_bits: Any, b_bits: Any) -> float:
        """Energy of one multiply (pJ), at the operand widths or the lane width (``energy_at``)."""
        oa, ob = operand_pair(a_bits, b_bits)
        if sign_select_operand(oa, ob) is not None:
            # Modelling assumption: selecting or negating by a sign bit (a mux / an XOR on the
            # float's sign) costs nothing next to the add; Horowitz 2014 lists no such energy.
            return 0.0
        a, b = self._priced(oa, ob)
        if a.is_float:
            return self.energy.float_mult(wider_float(a, b))
        return self.energy.int_mult(a.bits, b.bits)

    def add_energy_pj(self, bits: Any) -> float:
        """Energy of one add of ``bits``-wide integers or of a float format (pJ)."""
        op = as_operand(bits, "bits")
        return self.energy.float_add(op) if op.is_float else self.energy.int_add(op.bits)

    def mac_energy_pj(self, a_bits: Any, b_bits: Any, acc_bits: Any = None) -> float:
        """Energy of one multiply-accumulate (pJ).

        ``= mult(a, b) + add(acc) + instruction overhead``: one multiply at the operand (or lane)
        widths, one add at the accumulator's width (``acc_bits``: int bits or a float format;
        default the target's accumulator: a MAC priced as float adds in the target's float
        accumulator format, else in the operands' (or float lane's) format), plus ``instruction_pj *
        instructions / lanes`` on targets that issue instructions.  One add per MAC at full
        accumulator width is an upper bound for adder trees and packed dot-product instructions
        (stated assumption).

        A binary/ternary operand times a float one (BinaryConnect: ±1 weights, real
        activations) is a *sign-select* MAC (``sign_select_operand``): no multiply (0 pJ,
        assumption), one float add in the target's float accumulator or, without one, in the
        float operand's format (Horowitz 2014: 0.9 pJ fp32, 0.4 pJ fp16 at 45 nm).
        """
        return (self.mult_energy_pj(a_bits, b_bits)
                + self.accumulate_energy_pj(a_bits, b_bits, acc_bits)
                + self.instruction_energy_pj(a_bits, b_bits))

    def accumulate_energy_pj(self, a_bits: Any, b_bits: Any, acc_bits: Any = None) -> float:
        """The add term of ``mac_energy_pj``: one add at the accumulator's width or format."""
        a, b = operand_pair(a_bits, b_bits)
        ar = self.arithmetic
        if acc_bits is not None:
            return self.add_energy_pj(as_operand(acc_bits, "acc_bits"))
        pa, pb = self._priced(a, b)
        selected = sign_select_operand(pa, pb)
        if selected is not None:
            # Sign-select MAC: one add in the float accumulator, else in the activations' format.
            acc = as_operand(ar.accumulator_float) if ar.accumulator_float else selected
            return self.add_energy_pj(acc)
        if not pa.is_float:
            return self.add_energy_pj(ar.accumulator_width)
        acc = as_operand(ar.accumulator_float) if ar.accumulator_float else wider_float(pa, pb)
        return self.add_energy_pj(acc)

    def instruction_energy_pj(self, a_bits: Any, b_bits: Any) -> float:
        """Instruction overhead per MAC: ``instruction_pj * instructions / lanes`` of the lane
        (0 on targets that issue no instructions)."""
        if not self.energy.instruction_pj:
            return 0.0
        ar, label = self.arithmetic, self.lane(a_bits, b_bits).label
        return self.energy.instruction_pj * ar.instructions.get(label, 1) / ar.lanes[label]

    def memory_level(self, level: str) -> MemoryLevel:
        """The memory level called ``level``."""
        for m in self.memory:
            if m.name == level:
                return m
        raise ValueError(f"level={level!r} is not a memory level of {self.name!r}; known: "
                         f"{', '.join(m.name for m in self.memory)}")

    def memory_energy_pj_per_byte(self, level: str) -> float:
        """Energy of moving one byte to or from memory ``level`` (pJ/byte)."""
        return self.memory_level(level).pj_per_byte

    def level_for(self, nbytes: float) -> MemoryLevel:
        """The nearest memory level whose capacity holds ``nbytes`` (the last one otherwise)."""
        for m in self.memory:
            if m.capacity_bytes is None or nbytes <= m.capacity_bytes:
                return m
        raise AssertionError("unreachable: the last level is unbounded")

    # -- reporting -----------------------------------------------------------------------------
    def summary(self) -> dict:
        """Key figures for ``lowbit targets``: kind, clock, native lanes, MAC energies, peak
        throughput at the default operand types (for FPGAs: MAC units of those operands that
        fit the usable DSPs/LUTs), memory, and the FPGA device budget."""
        ar = self.arithmetic
        out: dict[str, Any] = {"name": self.name, "kind": self.kind,
                               "clock_mhz": self.clock_hz / 1e6,
                               "native": ", ".join(self.native_widths),
                               "accumulator": (ar.accumulator_float or
                                               f"int{ar.accumulator_width} "
                                               f"{ar.accumulator_overflow}")}
        for a, b in ((8, 8), ("fp32", "fp32"), (1, 1)):
            key = f"mac_pj_{as_operand(a).label}"
            out[key] = self.mac_energy_pj(a, b) if self.supports(a, b) else math.nan
        w, x = ar.default_weights, ar.default_activations
        try:
            peak = self.macs_per_cycle(w, x)
        except (TypeError, ValueError):
            peak = math.nan
        if self.fpga is not None and not math.isnan(peak):
            # The whole device: as many MAC units of the default operands as its usable DSPs
            # and LUTs allow.
            dsp_u, lut_u = self.fpga.mac_unit(as_operand(w), as_operand(x), ar.multiplier)
            dev, u = self.fpga.budget, self.fpga.utilization
            peak = math.floor(min(dev.dsp * u / dsp_u if dsp_u else math.inf,
                                  dev.lut * u / lut_u if lut_u else math.inf))
        out["peak_macs_per_cycle"] = peak
        out["peak_gmacs"] = peak * self.clock_hz / 1e9
        out["memory"] = ", ".join(m.name for m in self.memory)
        if self.fpga is not None:
            dev = self.fpga.budget
            out.update(device=dev.name, dsp=dev.dsp, lut=dev.lut, bram=dev.bram)
        out["description"] = self.description
        return out

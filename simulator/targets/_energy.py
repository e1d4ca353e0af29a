"""``Energy``: picojoules per arithmetic operation, from cited reference points and a stated
scaling rule for the widths between and beyond them (docs/targets.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simulator.targets._checks import (
    FrozenMap, bits_key, check_float, check_map, check_str, float_key,
)
from simulator.targets._operands import Operand, as_operand


def _energy(name: str, value: Any) -> float:
    return check_float(name, value, what="energy")


def _piecewise(x: float, xs: list[float], ys: list[float]) -> float:
    """Piecewise-linear through (xs, ys) (sorted), proportional to x outside the points."""
    if x <= xs[0]:
        return ys[0] * x / xs[0]
    if x >= xs[-1]:
        return ys[-1] * x / xs[-1]
    for x0, x1, y0, y1 in zip(xs, xs[1:], ys, ys[1:]):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    raise AssertionError("unreachable")


def _fit_line(x: float, points: list[tuple[float, float]]) -> float:
    """Least-squares line ``y = e0 + c x`` through ``points``, evaluated at ``x``; proportional
    (``y = c x``) when there is one point or the line would go negative at ``x``."""
    if len(points) >= 2:
        n = len(points)
        mx = sum(p[0] for p in points) / n
        my = sum(p[1] for p in points) / n
        sxx = sum((p[0] - mx) ** 2 for p in points)
        if sxx > 0:
            c = sum((p[0] - mx) * (p[1] - my) for p in points) / sxx
            y = my + c * (x - mx)
            if y > 0:
                return y
    nearest = min(points, key=lambda p: abs(p[0] - x))
    return nearest[1] * x / nearest[0]


@dataclass(frozen=True)
class Energy:
    """Energy per operation, from reference points and a stated scaling rule (modelling
    assumption, docs/targets.md):

    * integer multiply of a×b bits: piecewise-linear in ``a*b`` through the ``int_mult_pj``
      points (keyed by the width w of a w×w multiplier, at ``a*b = w*w``), proportional to
      ``a*b`` outside them (an array multiplier has a·b partial-product cells);
    * integer add of n bits: piecewise-linear in n through ``int_add_pj``, proportional outside
      (a ripple/prefix adder has n bit cells);
    * float multiply/add: the table value for a listed format, otherwise a least-squares line in
      ``(m+1)**2`` (multiply) or ``m+1`` (add) through the listed formats, m = stored mantissa
      bits (the significand datapath dominates).

    ``instruction_pj`` is the overhead of issuing one instruction (fetch, decode, register
    file), shared by the lanes of a SIMD instruction.  ``fabric_factor`` scales arithmetic
    energies (an FPGA's programmable fabric against a standard-cell ASIC).
    """

    int_mult_pj: FrozenMap
    int_add_pj: FrozenMap
    float_mult_pj: FrozenMap = field(default_factory=FrozenMap)
    float_add_pj: FrozenMap = field(default_factory=FrozenMap)
    instruction_pj: float = 0.0
    fabric_factor: float = 1.0
    source: str = ""

    def __post_init__(self):
        s = object.__setattr__
        s(self, "int_mult_pj", check_map("energy.int_mult_pj", self.int_mult_pj, bits_key,
                                         _energy, nonempty=True))
        s(self, "int_add_pj", check_map("energy.int_add_pj", self.int_add_pj, bits_key, _energy,
                                        nonempty=True))
        s(self, "float_mult_pj", check_map("energy.float_mult_pj", self.float_mult_pj,
                                           float_key, _energy))
        s(self, "float_add_pj", check_map("energy.float_add_pj", self.float_add_pj, float_key,
                                          _energy))
        s(self, "instruction_pj", check_float("energy.instruction_pj", self.instruction_pj,
                                              what="energy"))
        s(self, "fabric_factor", check_float("energy.fabric_factor", self.fabric_factor,
                                             positive=True))
        check_str("energy.source", self.source)
        for name in ("int_mult_pj", "int_add_pj"):
            if any(v == 0 for v in getattr(self, name).values()):
                raise ValueError(f"energy.{name} holds a zero energy; the scaling rule needs "
                                 "positive reference points")

    def int_mult(self, a_bits: int, b_bits: int) -> float:
        pts = sorted(self.int_mult_pj.items())
        return self.fabric_factor * _piecewise(a_bits * b_bits, [w * w for w, _ in pts],
                                               [e for _, e in pts])

    def int_add(self, bits: int) -> float:
        pts = sorted(self.int_add_pj.items())
        return self.fabric_factor * _piecewise(bits, [w for w, _ in pts], [e for _, e in pts])

    def _float(self, table: FrozenMap, op: Operand, power: int, what: str) -> float:
        if op.label in table:
            return self.fabric_factor * table[op.label]
        if not table:
            raise ValueError(f"this target lists no float {what} energies; cannot price "
                             f"{op.label}")
        pts = [((as_operand(k).man_bits + 1) ** power, e) for k, e in table.items()]
        return self.fabric_factor * _fit_line((op.man_bits + 1) ** power, pts)

    def float_mult(self, op: Operand) -> float:
        return self._float(self.float_mult_pj, op, 2, "multiply")

    def float_add(self, op: Operand) -> float:
        return self._float(self.float_add_pj, op, 1, "add")

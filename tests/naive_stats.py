"""Exact references for simulator.stats: Python ints and Fractions, no numpy arithmetic."""

from __future__ import annotations

from fractions import Fraction


def code_pass_ref(codes, fl: int, ref, lo: int, hi: int, width: int, nbins: int):
    """``(saturated, hist, errors)`` of a flat chunk of codes: how many codes equal ``lo`` or
    ``hi``; counts of ``(code - lo) // width`` in ``nbins`` bins (others dropped); the exact
    errors ``code * 2**-fl - ref`` as Fractions."""
    saturated = sum(1 for c in codes if int(c) in (lo, hi))
    hist = [0] * nbins
    errors = []
    for c, r in zip(codes, ref):
        b = (int(c) - lo) // width
        if 0 <= b < nbins:
            hist[b] += 1
        errors.append(Fraction(int(c)) * Fraction(2) ** -fl - Fraction(float(r)))
    return saturated, hist, errors


def sqnr_parts(values, reference) -> tuple[Fraction, Fraction]:
    """``(sum f**2, sum (f - q)**2)`` exactly, for flat float values ``q`` and reference ``f``."""
    signal = sum((Fraction(float(f)) ** 2 for f in reference), Fraction(0))
    noise = sum(((Fraction(float(f)) - Fraction(float(q))) ** 2
                 for q, f in zip(values, reference)), Fraction(0))
    return signal, noise

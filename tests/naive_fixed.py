"""Exact references for fixed (Python ints / fractions.Fraction). Re-exported by tests/naive.py."""

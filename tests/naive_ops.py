"""Exact references for ops (Python ints / fractions.Fraction). Re-exported by tests/naive.py."""

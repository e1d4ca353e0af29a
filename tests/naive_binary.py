"""Exact references for binary (Python ints / fractions.Fraction). Re-exported by tests/naive.py."""

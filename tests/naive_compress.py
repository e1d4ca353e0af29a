"""Exact references for compress (Python ints / fractions.Fraction). Re-exported by tests/naive.py."""

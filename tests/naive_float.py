"""Exact references for float (Python ints / fractions.Fraction). Re-exported by tests/naive.py."""

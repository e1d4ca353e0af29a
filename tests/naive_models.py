"""Exact references for models (Python ints / fractions.Fraction). Re-exported by tests/naive.py."""

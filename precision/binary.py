"""Placeholder: being written (see docs/architecture.md)."""

from precision.base import NumberFormat


class Binary(NumberFormat):
    def __init__(self, *a, **k):
        raise NotImplementedError("Binary is not written yet")


class Ternary(NumberFormat):
    def __init__(self, *a, **k):
        raise NotImplementedError("Ternary is not written yet")

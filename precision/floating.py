"""Placeholder: being written (see docs/architecture.md)."""

from precision.base import NumberFormat


class FloatingPoint(NumberFormat):
    def __init__(self, *a, **k):
        raise NotImplementedError("FloatingPoint is not written yet")

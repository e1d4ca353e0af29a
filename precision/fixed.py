"""Placeholder: being written (see docs/architecture.md)."""

from precision.base import NumberFormat


class FixedPoint(NumberFormat):
    def __init__(self, *a, **k):
        raise NotImplementedError("FixedPoint is not written yet")

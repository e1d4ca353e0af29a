"""Placeholder: being written (see docs/architecture.md)."""

from precision.base import NumberFormat


class DynamicFixedPoint(NumberFormat):
    def __init__(self, *a, **k):
        raise NotImplementedError("DynamicFixedPoint is not written yet")


class ScaleTracker(NumberFormat):
    def __init__(self, *a, **k):
        raise NotImplementedError("ScaleTracker is not written yet")

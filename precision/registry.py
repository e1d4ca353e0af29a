"""Placeholder: being written (see docs/architecture.md)."""


def get(spec):
    raise NotImplementedError("precision.get is not written yet")


def names():
    raise NotImplementedError("precision.names is not written yet")

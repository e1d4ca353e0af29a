"""``MemoryLevel``: one level of a target's memory hierarchy (capacity, energy per byte,
bandwidth)."""

from __future__ import annotations

from dataclasses import dataclass

from simulator.targets._checks import check_float, check_int, check_str


@dataclass(frozen=True)
class MemoryLevel:
    """A level of the memory hierarchy: ``capacity_bytes`` (None: unbounded, e.g. DRAM), the
    energy ``pj_per_byte`` of reading or writing one byte there (one figure for both: the
    cited tables give one access energy), and the ``bandwidth_bytes_per_s`` one core or engine
    gets from it (None: never the bottleneck)."""

    name: str
    pj_per_byte: float
    capacity_bytes: int | None = None
    bandwidth_bytes_per_s: float | None = None
    source: str = ""

    def __post_init__(self):
        check_str("memory.name", self.name)
        object.__setattr__(self, "pj_per_byte", check_float(
            f"memory[{self.name!r}].pj_per_byte", self.pj_per_byte, what="energy"))
        if self.capacity_bytes is not None:
            check_int(f"memory[{self.name!r}].capacity_bytes", self.capacity_bytes, 1)
        if self.bandwidth_bytes_per_s is not None:
            object.__setattr__(self, "bandwidth_bytes_per_s", check_float(
                f"memory[{self.name!r}].bandwidth_bytes_per_s", self.bandwidth_bytes_per_s,
                positive=True))
        check_str("memory.source", self.source)

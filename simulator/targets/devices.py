"""FPGA device budgets: the DSP slices, LUTs, flip-flops and block RAMs of named parts.

A budget is what an FPGA target may spend; ``estimate_cost`` checks a design against it.  Every
figure cites its data sheet.  ``register_device`` adds a part (e.g. from a TOML target file).
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.targets._checks import check_int, check_str

#: Bits in one block RAM tile (RAMB36E2: 36 Kb; Xilinx UG573, "Block RAM Resources").
BRAM36_BITS = 36 * 1024


@dataclass(frozen=True)
class Device:
    """One FPGA part: ``dsp`` slices, CLB ``lut`` s, ``ff`` flip-flops, ``bram`` 36 Kb tiles,
    ``uram`` 288 Kb UltraRAM tiles (not used by the cost model), and the ``source`` of the
    figures."""

    name: str
    dsp: int
    lut: int
    ff: int
    bram: int
    uram: int = 0
    source: str = ""

    def __post_init__(self):
        check_str("device.name", self.name)
        for field_name in ("dsp", "lut", "ff", "bram", "uram"):
            check_int(f"device.{field_name}", getattr(self, field_name), 0)
        check_str("device.source", self.source)

    @property
    def bram_bytes(self) -> int:
        """Block RAM capacity in bytes (36 Kb per tile)."""
        return self.bram * BRAM36_BITS // 8


_DS891 = ("Xilinx DS891 (Zynq UltraScale+ MPSoC Data Sheet: Overview), Table 1; figures "
          "quoted from the data sheet, not re-checked against the PDF in this repository")

_DEVICES: dict[str, Device] = {
    # Zynq UltraScale+ MPSoC parts.  DS891 Table 1: CLB LUTs, CLB flip-flops, block RAM tiles
    # (36 Kb each), UltraRAM tiles, DSP slices (DSP48E2).
    "xczu3eg": Device("xczu3eg", dsp=360, lut=70_560, ff=141_120, bram=216, uram=0,
                      source=_DS891),
    "xczu7ev": Device("xczu7ev", dsp=1_728, lut=230_400, ff=460_800, bram=312, uram=96,
                      source=_DS891),
    "xczu9eg": Device("xczu9eg", dsp=2_520, lut=274_080, ff=548_160, bram=912, uram=0,
                      source=_DS891),
}


#: Parts shipped with lowbit (never removed).
BUILTIN_DEVICES: tuple[str, ...] = tuple(_DEVICES)


def get_device(name: str) -> Device:
    """The :class:`Device` registered under ``name`` (case-insensitive)."""
    check_str("device", name)
    try:
        return _DEVICES[name.lower()]
    except KeyError:
        raise ValueError(f"device={name!r} is not a known FPGA part; known: "
                         f"{', '.join(sorted(_DEVICES))} (add one with register_device)") from None


def device_names() -> list[str]:
    """Names of the registered parts, sorted."""
    return sorted(_DEVICES)


def register_device(device: Device, *, overwrite: bool = False) -> Device:
    """Add ``device`` to the registry (refuses to replace an existing part unless told)."""
    if not isinstance(device, Device):
        raise TypeError(f"device must be a Device, got {type(device).__name__}")
    key = device.name.lower()
    if key in _DEVICES and not overwrite and _DEVICES[key] != device:
        raise ValueError(f"device {device.name!r} is already registered with different figures;"
                         " pass overwrite=True to replace it")
    _DEVICES[key] = device
    return device


def unregister_device(name: str) -> None:
    """Remove a user-registered part (built-in parts stay)."""
    if name.lower() in BUILTIN_DEVICES:
        raise ValueError(f"device {name!r} is built in and cannot be removed")
    _DEVICES.pop(name.lower(), None)

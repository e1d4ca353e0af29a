"""Targets as TOML files: ``load_toml`` (strict: unknown fields, wrong types, negative energies and
missing fields are refused with the field and the reason) and ``to_toml`` (the round trip).

Layout (every section mirrors the dataclass of the same name; docs/targets.md has an example)::

    name = "my-mcu"            kind = "cpu"            clock_hz = 1.0e8
    [arithmetic]  lanes = { int8 = 4 }  units = { int8 = 1 }  accumulator_width = 32 ...
    [energy]      int_mult_pj = { 8 = 0.2, 32 = 3.1 }  int_add_pj = { 8 = 0.03 } ...
    [[memory]]    name = "sram"  capacity_bytes = 65536  pj_per_byte = 2.5
    [[memory]]    name = "dram"  pj_per_byte = 162.5          # the last level is unbounded
    [fpga]        device = "xczu7ev" ...                       # FPGA targets only
    [device]      name = "my-part"  dsp = 90  lut = 17600 ...  # optional: a new FPGA part
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from simulator.targets._fabric import FpgaFabric
from simulator.targets.base import Arithmetic, Energy, MemoryLevel, Target
from simulator.targets.devices import Device, get_device, register_device

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    tomllib = None


class TargetFileError(ValueError):
    """A target file that cannot be loaded: the message names the file, the field and why."""


_SECTIONS = {"arithmetic": Arithmetic, "energy": Energy, "fpga": FpgaFabric, "device": Device}
_TOP_TABLES = ("arithmetic", "energy", "memory", "fpga", "device")


def _fields(cls) -> tuple[set[str], set[str]]:
    fields = dataclasses.fields(cls)
    known = {f.name for f in fields}
    required = {f.name for f in fields if f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING}
    return known, required


def _check_keys(where: str, data: Any, cls, skip: tuple[str, ...] = ()) -> None:
    if not isinstance(data, dict):
        raise TargetFileError(f"{where} must be a table, got {type(data).__name__}")
    known, required = _fields(cls)
    known -= set(skip)
    for key in data:
        if key not in known and key not in skip:
            raise TargetFileError(f"unknown field {key!r} in {where}; known: "
                                  f"{', '.join(sorted(known | set(skip)))}")
    missing = sorted((required - set(skip)) - set(data))
    if missing:
        raise TargetFileError(f"missing required field {missing[0]!r} in {where}")


def _build(where: str, cls, data: dict):
    try:
        return cls(**data)
    except (TypeError, ValueError) as exc:
        kind = "wrong type" if isinstance(exc, TypeError) else "bad value"
        raise TargetFileError(f"{where}: {kind}: {exc}") from None


def target_from_dict(data: dict, where: str = "target") -> Target:
    """Build a :class:`Target` from the parsed TOML structure (strict, see module docstring)."""
    _check_keys(where, data, Target, skip=("device",))
    data = dict(data)
    if "device" in data:
        dev = data.pop("device")
        _check_keys(f"{where} [device]", dev, Device)
        device = _build(f"{where} [device]", Device, dev)
        try:
            register_device(device)
        except ValueError as exc:
            raise TargetFileError(f"{where} [device]: {exc}") from None
    for name in ("arithmetic", "energy", "fpga"):
        if name in data:
            _check_keys(f"{where} [{name}]", data[name], _SECTIONS[name])
            section = dict(data[name])
            if name == "arithmetic" and "multiplier" in section:
                m = section["multiplier"]
                section["multiplier"] = tuple(m) if isinstance(m, list) else m
            data[name] = _build(f"{where} [{name}]", _SECTIONS[name], section)
    memory = data.get("memory")
    if not isinstance(memory, list) or not memory:
        raise TargetFileError(f"{where}: wrong type: memory must be a non-empty array of tables "
                              "([[memory]])")
    levels = []
    for i, level in enumerate(memory):
        _check_keys(f"{where} [[memory]] #{i + 1}", level, MemoryLevel)
        levels.append(_build(f"{where} [[memory]] #{i + 1}", MemoryLevel, level))
    data["memory"] = tuple(levels)
    return _build(where, Target, data)


def load_toml(path: str | os.PathLike) -> Target:
    """Read a target from a TOML file (see the module docstring for the layout)."""
    if tomllib is None:  # pragma: no cover
        raise RuntimeError("reading TOML needs Python >= 3.11 (tomllib)")
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise TargetFileError(f"{path}: not valid TOML: {exc}") from None
    return target_from_dict(data, where=path)


# -- writing ------------------------------------------------------------------------------------
def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _section(obj) -> list[str]:
    lines = []
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if v is None:
            continue  # TOML has no null: an absent field takes the default (None)
        lines.append(f"{f.name} = {_value(dict(v) if isinstance(v, dict) else v)}")
    return lines


def to_toml(target: Target, *, include_device: bool = False) -> str:
    """The TOML text of ``target``; ``load_toml`` of it gives an equal target.
    ``include_device`` also writes the FPGA part's budget as a ``[device]`` table."""
    lines = [f"{k} = {_value(getattr(target, k))}"
             for k in ("name", "kind", "clock_hz", "description", "source")]
    lines += ["", "[arithmetic]", *_section(target.arithmetic)]
    lines += ["", "[energy]", *_section(target.energy)]
    for level in target.memory:
        lines += ["", "[[memory]]", *_section(level)]
    if target.fpga is not None:
        lines += ["", "[fpga]", *_section(target.fpga)]
        if include_device:
            lines += ["", "[device]", *_section(get_device(target.fpga.device))]
    return "\n".join(lines) + "\n"

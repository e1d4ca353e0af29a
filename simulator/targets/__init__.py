"""Simulated targets (CPU, FPGA, ASIC reference) and the registry that finds them by name.

>>> from simulator import targets
>>> round(targets.get("asic-45nm").mac_energy_pj(8, 8), 12)  # 0.2 pJ mult + 0.1 pJ 32-bit add
0.3
>>> "fpga-dsp48e2" in targets.names()
True

Every constant cites its source next to it (docs/targets.md collects them).  User targets come
from TOML files (``load_toml``) and join the registry with ``register``.
"""

from __future__ import annotations

import os

from simulator.targets._fabric import FpgaFabric
from simulator.targets._operands import Operand, as_operand
from simulator.targets._toml import TargetFileError, load_toml, target_from_dict, to_toml
from simulator.targets.asic import BUILTINS as _ASIC
from simulator.targets.base import Arithmetic, Energy, MemoryLevel, Target
from simulator.targets.cpu import BUILTINS as _CPU
from simulator.targets.devices import (
    Device, device_names, get_device, register_device, unregister_device,
)
from simulator.targets.fpga import BUILTINS as _FPGA

_REGISTRY: dict[str, Target] = {t.name: t for t in (*_ASIC, *_CPU, *_FPGA)}
#: Names of the targets shipped with lowbit.
BUILTIN_NAMES: tuple[str, ...] = tuple(_REGISTRY)


def get(target: str | Target) -> Target:
    """The target called ``target`` (a :class:`Target` is returned as is)."""
    if isinstance(target, Target):
        return target
    if not isinstance(target, str):
        raise TypeError(f"target must be a target name (str) or a Target, got "
                        f"{type(target).__name__}")
    try:
        return _REGISTRY[target]
    except KeyError:
        raise ValueError(f"target={target!r} is not a known target; known: "
                         f"{', '.join(names())} (add one with targets.register or "
                         "targets.load_toml)") from None


def names() -> list[str]:
    """Names of all registered targets: the built-ins first, then user targets."""
    return list(_REGISTRY)


def register(target: Target | str | os.PathLike, *, overwrite: bool = False) -> Target:
    """Add a :class:`Target` (or the target in a TOML file at that path) to the registry.

    Refuses to replace a registered target with a different one unless ``overwrite=True``; the
    built-ins can never be replaced.
    """
    if not isinstance(target, Target):
        if isinstance(target, (str, os.PathLike)):
            target = load_toml(target)
        else:
            raise TypeError(f"target must be a Target or a TOML path, got {type(target).__name__}")
    existing = _REGISTRY.get(target.name)
    if existing is not None and existing != target:
        if target.name in BUILTIN_NAMES:
            raise ValueError(f"target {target.name!r} is built in and cannot be replaced; "
                             "give yours another name")
        if not overwrite:
            raise ValueError(f"target {target.name!r} is already registered with different "
                             "figures; pass overwrite=True to replace it")
    _REGISTRY[target.name] = target
    return target


def unregister(name: str) -> None:
    """Remove a user target (built-ins stay)."""
    if name in BUILTIN_NAMES:
        raise ValueError(f"target {name!r} is built in and cannot be removed")
    _REGISTRY.pop(name, None)


__all__ = [
    "Arithmetic", "BUILTIN_NAMES", "Device", "Energy", "FpgaFabric", "MemoryLevel", "Operand",
    "Target", "TargetFileError", "as_operand", "device_names", "get", "get_device", "load_toml",
    "names", "register", "register_device", "target_from_dict", "to_toml", "unregister",
    "unregister_device",
]

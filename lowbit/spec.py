"""Sweep specifications: parsing, validation and a canonical text form.

A spec is a TOML file or the same structure as a dict::

    model = "digits-cnn"      # a zoo name (trained first per [train], cached) or a trained .npz
    dataset = "digits"        # or "mnist" (dataset_path = directory of the IDX files, optional)
    samples = 300             # evaluation subset: the first `samples` images of the test split
    seed = 0                  # seed of stochastic rounding when there is no `seed` axis
    calibration = 256         # training images used by fl = "auto" (simulator.calibrate)
    [train]                   # passed to models.train for zoo models
    epochs = 3
    seed = 0
    [compress]                # settings of the compression axes (lowbit/compression.py)
    retrain_epochs = 0        # masked retraining after pruning (needs a sparsity axis)
    seed = 0                  # k-means initialisation, hashing and retraining seed
    [axes]                    # every key is a dimension of the result, in this order
    family = ["fixed"]
    wl = [4, 8]
    fl = "auto"
    rounding = ["nearest", "stochastic"]
    target = ["cpu-int8"]

Everything is checked by ``load_spec``, before any training or simulation runs; errors name the
key.  The vocabulary (keys, axes, ranges) is in lowbit/_spec_schema.py, the checks of the axes in
lowbit/_spec_axes.py; this module re-exports the public names.
Axes that a family does not use (``fl`` for ``family="float"``, say) are ignored by that family:
the figures then repeat along that axis.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from lowbit._spec_axes import validate_axes
from lowbit._spec_schema import (
    AXES, COMPRESS_KEYS, COMPRESSION_AXES, DATASETS, FAMILIES, MAX_POINTS, TOP_LEVEL_KEYS,
    TRAIN_KEYS, SpecError, check_int, check_str, check_table,
)

__all__ = ["AXES", "COMPRESSION_AXES", "COMPRESS_KEYS", "DATASETS", "FAMILIES", "MAX_POINTS",
           "Spec", "SpecError", "TOP_LEVEL_KEYS", "TRAIN_KEYS", "load_spec"]


@dataclass(frozen=True)
class Spec:
    """A validated sweep spec. ``axes`` is an ordered tuple of ``(name, values)``."""

    model: str
    dataset: str
    samples: int
    axes: tuple[tuple[str, tuple], ...]
    seed: int | None = None
    calibration: int = 256
    dataset_path: str | None = None
    title: str = ""
    train: tuple[tuple[str, Any], ...] = field(default_factory=tuple)
    compress: tuple[tuple[str, Any], ...] = field(default_factory=tuple)

    @property
    def dims(self) -> tuple[str, ...]:
        """The result's dimensions (the axis names, in spec order)."""
        return tuple(name for name, _ in self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(values) for _, values in self.axes)

    @property
    def n_points(self) -> int:
        return math.prod(self.shape)

    def axis(self, name: str, default=None):
        for key, values in self.axes:
            if key == name:
                return values
        return default

    @property
    def train_kwargs(self) -> dict:
        return dict(self.train)

    @property
    def compress_kwargs(self) -> dict:
        """The [compress] table with its defaults (retrain_epochs=0, seed=0)."""
        return {"retrain_epochs": 0, "seed": 0, **dict(self.compress)}

    @property
    def model_is_file(self) -> bool:
        return self.model.endswith(".npz")

    def to_dict(self) -> dict:
        """The spec as plain data (what ``load_spec`` accepts)."""
        out: dict[str, Any] = {"model": self.model, "dataset": self.dataset,
                               "samples": self.samples, "calibration": self.calibration}
        if self.title:
            out["title"] = self.title
        if self.dataset_path is not None:
            out["dataset_path"] = self.dataset_path
        if self.seed is not None:
            out["seed"] = self.seed
        if self.train:
            out["train"] = dict(self.train)
        if self.compress:
            out["compress"] = dict(self.compress)
        out["axes"] = {name: list(values) for name, values in self.axes}
        return out

    def to_toml(self) -> str:
        """Canonical TOML text: equal specs give equal text whatever the input's formatting."""
        data = self.to_dict()
        lines = [f"{key} = {_toml_value(value)}" for key, value in data.items()
                 if not isinstance(value, dict)]
        for table in ("train", "compress", "axes"):
            if table in data:
                lines.append(f"\n[{table}]")
                lines += [f"{key} = {_toml_value(value)}" for key, value in data[table].items()]
        return "\n".join(lines) + "\n"

    def fingerprint(self, extra: str = "") -> str:
        """SHA-256 of the canonical text (plus ``extra``, e.g. the model file's hash)."""
        return hashlib.sha256((self.to_toml() + extra).encode()).hexdigest()


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as TOML")


def load_spec(spec, *, check_files: bool = True) -> Spec:
    """Parse and validate a spec given as a ``Spec``, a dict, a TOML path or TOML text.

    ``check_files=False`` skips the check that a model .npz named by the spec exists (a store
    read on another machine keeps its own copy of the model). Raises ``SpecError`` (a ``ValueError``) naming the offending key, ``TypeError`` for a spec
    of the wrong type, ``FileNotFoundError`` for a missing spec or model file.
    """
    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, Path) or (isinstance(spec, str) and "\n" not in spec
                                  and (spec.endswith(".toml") or Path(spec).is_file())):
        path = Path(spec)
        if not path.is_file():
            raise FileNotFoundError(f"spec file {str(path)!r} does not exist")
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise SpecError(f"spec file {str(path)!r} is not valid TOML: {exc}") from None
        base = path.parent
    elif isinstance(spec, str):
        try:
            data = tomllib.loads(spec)
        except tomllib.TOMLDecodeError as exc:
            raise SpecError(f"spec text is not valid TOML: {exc}") from None
        base = Path.cwd()
    elif isinstance(spec, Mapping):
        data, base = spec, Path.cwd()
    else:
        raise TypeError(f"spec must be a dict, a TOML path or TOML text, got "
                        f"{type(spec).__name__}")
    return _validate(dict(data), base, check_files)


def _validate(data: dict, base: Path, check_files: bool = True) -> Spec:
    data = check_table("spec", data, TOP_LEVEL_KEYS, key_kind="spec key")
    for key in ("model", "dataset", "samples", "axes"):
        if key not in data:
            raise SpecError(f"spec key {key!r} is missing (required: model, dataset, samples, "
                            f"[axes])")
    model = check_str("model", data["model"])
    if model.endswith(".npz"):
        path = Path(model) if Path(model).is_absolute() else base / model
        if check_files and not path.is_file():
            raise SpecError(f"model={model!r}: no such model file ({path})")
        model = str(path.resolve()) if check_files else model
    else:
        from models import zoo
        if model not in zoo.names():
            raise SpecError(f"model={model!r} is neither a zoo name nor an .npz file; zoo: "
                            f"{', '.join(zoo.names())}")
    dataset = check_str("dataset", data["dataset"])
    if dataset not in DATASETS:
        raise SpecError(f"dataset={dataset!r} is not known; expected one of "
                        f"{', '.join(DATASETS)}")
    dataset_path = data.get("dataset_path")
    if dataset_path is not None:
        dataset_path = str((base / check_str("dataset_path", dataset_path)).resolve())
    samples = check_int("samples", data["samples"], 1)
    calibration = check_int("calibration", data.get("calibration", 256), 1)
    seed = data.get("seed")
    if seed is not None:
        seed = check_int("seed", seed, 0, 2**63 - 1)
    title = check_str("title", data.get("title", ""))
    train = _validate_train(data.get("train", {}))
    axes = validate_axes(data["axes"], seed)
    compress = _validate_compress(data.get("compress", {}), dict(axes))
    return Spec(model=model, dataset=dataset, samples=samples, axes=axes, seed=seed,
                calibration=calibration, dataset_path=dataset_path, title=title, train=train,
                compress=compress)


def _validate_compress(compress, axes: dict) -> tuple:
    out = check_table("compress", compress, COMPRESS_KEYS)
    if "retrain_epochs" in out:
        check_int("compress.retrain_epochs", out["retrain_epochs"], 0)
        if out["retrain_epochs"] and "sparsity" not in axes:
            raise SpecError(f"compress.retrain_epochs={out['retrain_epochs']} retrains pruned "
                            f"models, but there is no 'sparsity' axis")
    if "seed" in out:
        check_int("compress.seed", out["seed"], 0)
    if out and not any(k in axes for k in COMPRESSION_AXES):
        raise SpecError("[compress] is given but no compression axis is swept (sparsity, "
                        "clusters, hash_compression)")
    return tuple(out.items())


def _validate_train(train) -> tuple:
    out = check_table("train", train, TRAIN_KEYS)
    if "epochs" in out:
        check_int("train.epochs", out["epochs"], 0)
    if "seed" in out:
        check_int("train.seed", out["seed"], 0)
    if "batch_size" in out:
        check_int("train.batch_size", out["batch_size"], 1)
    if "method" in out:
        check_str("train.method", out["method"])
    for key in ("optimizer", "schedule"):
        if key in out:
            check_str(f"train.{key}", out[key])
    if "lr" in out and (isinstance(out["lr"], bool) or not isinstance(out["lr"], (int, float))
                        or not out["lr"] > 0):
        raise SpecError(f"train.lr={out['lr']!r} must be a positive number")
    return tuple(out.items())

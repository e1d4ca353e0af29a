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

Everything is checked here, before any training or simulation runs; errors name the key.
Axes that a family does not use (``fl`` for ``family="float"``, say) are ignored by that family:
the figures then repeat along that axis.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from precision.modes import canonical_overflow, canonical_rounding

#: Families of number formats the sweep knows how to configure (see lowbit/point.py).
FAMILIES = ("fixed", "dynamic_fixed", "float", "binary", "ternary")
DATASETS = ("digits", "mnist")
TOP_LEVEL_KEYS = ("model", "dataset", "dataset_path", "samples", "seed", "calibration", "title",
                  "train", "compress", "axes")
TRAIN_KEYS = ("epochs", "seed", "method", "batch_size", "lr", "optimizer", "schedule")
#: Keys of the [compress] table (settings of the compression axes; lowbit/compression.py).
COMPRESS_KEYS = ("retrain_epochs", "seed")
#: The axes that transform the trained model (one compressed model per distinct setting).
COMPRESSION_AXES = ("sparsity", "clusters", "hash_compression")
#: Axis name -> one-line meaning (also the CLI's help text for specs).
AXES = {
    "family": "number-format family: " + ", ".join(FAMILIES),
    "format": "precision spec strings used for every layer (e.g. 'ap_fixed<8,3>', 'fp8_e4m3fn')",
    "wl": "word length in bits (1..64)",
    "fl": "fraction bits: a list of integers, or \"auto\" (chosen per layer by calibrate)",
    "il": "integer bits including the sign (fl = wl - il); exclusive with fl",
    "exp_bits": "exponent bits of family \"float\" (man_bits = wl - 1 - exp_bits)",
    "rounding": "rounding mode (lowbit name or HLS alias)",
    "overflow": "overflow mode (lowbit name or HLS alias)",
    "accumulator": "accumulator width in bits (default: the target's accumulator)",
    "target": "simulated target (simulator.targets.names())",
    "first_wl": "fixed-point word length kept by the first layer, fl calibrated (0: as the "
                "others)",
    "last_wl": "fixed-point word length kept by the last layer, fl calibrated (0: as the "
               "others)",
    "sparsity": "fraction of each layer's weights pruned by magnitude, in [0, 1) (Han et al. "
                "2015; [compress] retrain_epochs = N retrains with the masks)",
    "clusters": "k-means weight-sharing codebook entries per layer (>= 2; Han et al. 2016)",
    "hash_compression": "HashedNets real / virtual weights of the dense layers, in (0, 1] "
                        "(Chen et al. 2015; the hashed model is trained with [train])",
    "seed": "seed of stochastic rounding (one dimension entry per seed)",
}
MAX_POINTS = 1_000_000
#: Keys whose coordinates are integers (all others are strings).
_INT_AXES = ("wl", "il", "exp_bits", "accumulator", "first_wl", "last_wl", "clusters", "seed")


class SpecError(ValueError):
    """A sweep spec that cannot run; the message names the offending key."""


def _unknown(kind: str, key: str, known) -> SpecError:
    near = difflib.get_close_matches(key, list(known), n=1)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    return SpecError(f"unknown {kind} {key!r}{hint} (known: {', '.join(known)})")


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


def _int(key: str, value, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{key}={value!r} must be an integer")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        rng = f"{lo} <= {key}" + (f" <= {hi}" if hi is not None else "")
        raise SpecError(f"{key}={value} is out of range; expected {rng}")
    return value


def _str(key: str, value) -> str:
    if not isinstance(value, str):
        raise SpecError(f"{key}={value!r} must be a string")
    return value


def _validate(data: dict, base: Path, check_files: bool = True) -> Spec:
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise _unknown("spec key", key, TOP_LEVEL_KEYS)
    for key in ("model", "dataset", "samples", "axes"):
        if key not in data:
            raise SpecError(f"spec key {key!r} is missing (required: model, dataset, samples, "
                            f"[axes])")
    model = _str("model", data["model"])
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
    dataset = _str("dataset", data["dataset"])
    if dataset not in DATASETS:
        raise SpecError(f"dataset={dataset!r} is not known; expected one of "
                        f"{', '.join(DATASETS)}")
    dataset_path = data.get("dataset_path")
    if dataset_path is not None:
        dataset_path = str((base / _str("dataset_path", dataset_path)).resolve())
    samples = _int("samples", data["samples"], 1)
    calibration = _int("calibration", data.get("calibration", 256), 1)
    seed = data.get("seed")
    if seed is not None:
        seed = _int("seed", seed, 0, 2**63 - 1)
    title = _str("title", data.get("title", ""))
    train = _validate_train(data.get("train", {}))
    axes = _validate_axes(data["axes"], seed)
    compress = _validate_compress(data.get("compress", {}), dict(axes))
    return Spec(model=model, dataset=dataset, samples=samples, axes=axes, seed=seed,
                calibration=calibration, dataset_path=dataset_path, title=title, train=train,
                compress=compress)


def _validate_compress(compress, axes: dict) -> tuple:
    if not isinstance(compress, Mapping):
        raise SpecError(f"[compress] must be a table, got {compress!r}")
    for key in compress:
        if key not in COMPRESS_KEYS:
            raise _unknown("[compress] key", key, COMPRESS_KEYS)
    out = dict(compress)
    if "retrain_epochs" in out:
        _int("compress.retrain_epochs", out["retrain_epochs"], 0)
        if out["retrain_epochs"] and "sparsity" not in axes:
            raise SpecError(f"compress.retrain_epochs={out['retrain_epochs']} retrains pruned "
                            f"models, but there is no 'sparsity' axis")
    if "seed" in out:
        _int("compress.seed", out["seed"], 0)
    if out and not any(k in axes for k in COMPRESSION_AXES):
        raise SpecError("[compress] is given but no compression axis is swept (sparsity, "
                        "clusters, hash_compression)")
    return tuple(out.items())


def _validate_train(train) -> tuple:
    if not isinstance(train, Mapping):
        raise SpecError(f"[train] must be a table, got {train!r}")
    for key in train:
        if key not in TRAIN_KEYS:
            raise _unknown("[train] key", key, TRAIN_KEYS)
    out = dict(train)
    if "epochs" in out:
        _int("train.epochs", out["epochs"], 0)
    if "seed" in out:
        _int("train.seed", out["seed"], 0)
    if "batch_size" in out:
        _int("train.batch_size", out["batch_size"], 1)
    if "method" in out:
        _str("train.method", out["method"])
    for key in ("optimizer", "schedule"):
        if key in out:
            _str(f"train.{key}", out[key])
    if "lr" in out and (isinstance(out["lr"], bool) or not isinstance(out["lr"], (int, float))
                        or not out["lr"] > 0):
        raise SpecError(f"train.lr={out['lr']!r} must be a positive number")
    return tuple(out.items())


def _as_list(key: str, value) -> list:
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not values:
        raise SpecError(f"axis {key!r} is empty; give at least one value")
    return values


def _validate_axes(axes, seed) -> tuple:
    if not isinstance(axes, Mapping):
        raise SpecError(f"[axes] must be a table, got {axes!r}")
    if not axes:
        raise SpecError("[axes] is empty; give at least one axis (e.g. wl = [4, 8])")
    out: dict[str, tuple] = {}
    for key, raw in axes.items():
        if key not in AXES:
            raise _unknown("axis", key, AXES)
        values = _as_list(key, raw)
        if key in _INT_AXES:
            lo, hi = {"wl": (1, 64), "first_wl": (0, 64), "last_wl": (0, 64),
                      "accumulator": (1, 64), "exp_bits": (1, 11), "clusters": (2, 2**16),
                      "seed": (0, 2**63 - 1), "il": (-64, 128)}[key]
            values = [_int(key, v, lo, hi) for v in values]
        elif key == "fl":
            if values == ["auto"]:
                pass
            elif any(v == "auto" for v in values):
                raise SpecError("fl mixes \"auto\" with integers; give fl = \"auto\" or a list "
                                "of integers")
            else:
                values = [_int("fl", v, -64, 128) for v in values]
        elif key == "sparsity":
            for v in values:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
                    raise SpecError(f"sparsity={v!r} is out of range; expected 0 <= sparsity "
                                    f"< 1")
            values = [float(v) for v in values]
        elif key == "hash_compression":
            for v in values:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1:
                    raise SpecError(f"hash_compression={v!r} is out of range; expected 0 < "
                                    f"hash_compression <= 1")
            values = [float(v) for v in values]
        elif key == "rounding":
            values = [_mode(canonical_rounding, key, v) for v in values]
        elif key == "overflow":
            values = [_mode(canonical_overflow, key, v) for v in values]
        elif key == "family":
            for v in values:
                if v not in FAMILIES:
                    raise SpecError(f"family={v!r} is not known; expected one of "
                                    f"{', '.join(FAMILIES)}")
        elif key == "target":
            from simulator import targets
            known = targets.names()
            for v in values:
                if v not in known:
                    raise SpecError(f"target={v!r} is not a known target; known: "
                                    f"{', '.join(known)}")
        elif key == "format":
            import precision
            for v in values:
                try:
                    precision.get(_str("format", v))
                except (ValueError, TypeError) as exc:
                    raise SpecError(f"format={v!r} is not a format precision.get knows: "
                                    f"{exc}") from None
        if len(set(values)) != len(values):
            raise SpecError(f"axis {key!r} repeats a value: {values!r}")
        out[key] = tuple(values)
    _check_combinations(out, seed)
    n = math.prod(len(v) for v in out.values())
    if n > MAX_POINTS:
        raise SpecError(f"the axes span {n} points; at most {MAX_POINTS} are allowed")
    return tuple(out.items())


def _mode(canonical, key, value) -> str:
    try:
        return canonical(value)
    except (ValueError, TypeError) as exc:
        raise SpecError(str(exc)) from None


def _check_combinations(axes: dict, seed) -> None:
    if "fl" in axes and "il" in axes:
        raise SpecError("axes 'fl' and 'il' are exclusive (fl = wl - il): give one of them")
    if "format" in axes:
        clash = [k for k in ("family", "wl", "fl", "il", "exp_bits", "rounding", "overflow")
                 if k in axes]
        if clash:
            raise SpecError(f"axis 'format' fixes the whole format; it cannot be combined with "
                            f"{', '.join(repr(k) for k in clash)}")
    families = axes.get("family", ("fixed",) if "format" not in axes else ())
    if "float" in families and "exp_bits" not in axes:
        raise SpecError("family 'float' needs an 'exp_bits' axis (man_bits = wl - 1 - exp_bits)")
    if "exp_bits" in axes and "float" not in families:
        raise SpecError("axis 'exp_bits' is only used by family 'float', which is not swept")
    needs_wl = [f for f in families if f in ("fixed", "dynamic_fixed", "float")]
    if needs_wl and "wl" not in axes:
        raise SpecError(f"family {needs_wl[0]!r} needs a 'wl' axis (word length in bits)")
    if "fl" in axes and axes["fl"] != ("auto",) and "wl" in axes:
        pass  # any (wl, fl) pair is a valid fixed-point format (fl may exceed wl)
    stochastic = "stochastic" in axes.get("rounding", ())
    if "format" in axes:
        import precision
        stochastic = stochastic or any(precision.get(v).is_stochastic for v in axes["format"])
    if stochastic and "seed" not in axes and seed is None:
        raise SpecError("rounding 'stochastic' needs a seed: add a 'seed' axis (e.g. seed = "
                        "[0, 1, 2]) or a top-level seed = 0")
    if "hash_compression" in axes:
        clash = [k for k in ("sparsity", "clusters") if k in axes]
        if clash:
            # a hashed layer has no individual weights to prune or cluster
            raise SpecError(f"axis 'hash_compression' cannot be combined with "
                            f"{', '.join(repr(k) for k in clash)}: HashedNets layers are not "
                            f"pruned or weight-shared; sweep them in separate specs")
    present = [k for k in COMPRESSION_AXES if k in axes]
    if present and importlib.util.find_spec("models.compress") is None:
        raise SpecError(f"axis {present[0]!r} needs models.compress, which this installation "
                        f"does not have")

"""The vocabulary of sweep specs and the checks of single values (``lowbit.spec`` re-exports it).

What keys a spec may have, which axes exist and what they mean, the ranges of the integer axes,
and the error every check raises.  The checks here look at one value or one table at a time;
``lowbit/_spec_axes.py`` checks the axes together and ``lowbit/spec.py`` the whole spec.
"""

from __future__ import annotations

import difflib
from typing import Any, Mapping

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
#: Axes whose coordinates are integers (all others are strings or floats): name -> (lo, hi),
#: both inclusive.
INT_AXIS_RANGES = {"wl": (1, 64), "il": (-64, 128), "exp_bits": (1, 11),
                   "accumulator": (1, 64), "first_wl": (0, 64), "last_wl": (0, 64),
                   "clusters": (2, 2**16), "seed": (0, 2**63 - 1)}
#: Range of the integers of the fl axis (which may instead be "auto").
FL_RANGE = (-64, 128)


class SpecError(ValueError):
    """A sweep spec that cannot run; the message names the offending key."""

    # Users meet it as lowbit.spec.SpecError (re-exported there); say so in tracebacks.
    __module__ = "lowbit.spec"


def unknown_key(kind: str, key: str, known) -> SpecError:
    """The error for a key not in ``known``, with the nearest known key as a hint."""
    near = difflib.get_close_matches(key, list(known), n=1)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    return SpecError(f"unknown {kind} {key!r}{hint} (known: {', '.join(known)})")


def check_table(name: str, table: Any, known, key_kind: str | None = None) -> dict:
    """``table`` as a dict, after checking that it is a table (``[name]``) of known keys.

    ``key_kind`` names a key in the error (default ``"[name] key"``).
    """
    if not isinstance(table, Mapping):
        raise SpecError(f"[{name}] must be a table, got {table!r}")
    for key in table:
        if key not in known:
            raise unknown_key(key_kind or f"[{name}] key", key, known)
    return dict(table)


def check_int(key: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    """``value`` if it is an int (not a bool) with ``lo <= value <= hi`` (either bound optional)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{key}={value!r} must be an integer")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        rng = f"{lo} <= {key}" + (f" <= {hi}" if hi is not None else "")
        raise SpecError(f"{key}={value} is out of range; expected {rng}")
    return value


def check_str(key: str, value: Any) -> str:
    """``value`` if it is a string."""
    if not isinstance(value, str):
        raise SpecError(f"{key}={value!r} must be a string")
    return value

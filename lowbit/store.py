"""The sweep store: a zarr directory that holds a sweep's results as they finish.

Layout (zarr format 3; the explorer reads it through :func:`open_store`)::

    OUT.zarr/
      zarr.json                 root group; once the sweep is complete the result Dataset is
      accuracy/ loss/ ...       written here by xarray (``xr.open_zarr(OUT.zarr)`` reads it)
      _lowbit/                  group; attrs: store_version, fingerprint, spec_toml, dims,
                                coords, layers, scalar_vars, layer_vars, provenance, complete
        model_npz    uint8 (nbytes,)          the trained model's .npz file, byte for byte
        x_eval       float32 (samples, ...)   the evaluation subset of the test split
        y_eval       int64 (samples,)
        x_calib      float32 (n, ...)         the calibration images of fl = "auto"
        points/
          scalars    float64 (N, S)     chunks (1, S)     NaN until the point ran
          layered    float64 (N, V, L)  chunks (1, V, L)  per-layer figures (e.g. sqnr_db)
          error      uint8 (N, 1024)    chunks (1, 1024)  UTF-8 message, zero padded; empty = OK
          done       uint8 (N,)         chunks (1,)       1 once the point's other chunks exist

``N`` is the number of grid points, numbered in C order over the spec's axes (the first axis
varies slowest). Every point has its own chunk in every points array, so a point is written as
soon as it finishes and a killed sweep loses at most the points in flight; ``done`` is written
last, so a point whose ``done`` chunk is missing or unreadable is simply run again.
"""

from __future__ import annotations

import os
import shutil
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import xarray as xr
import zarr

STORE_VERSION = 1
ERROR_BYTES = 1024
META = "_lowbit"


class StoreMismatchError(ValueError):
    """The store was written by a different spec."""


@contextmanager
def _quiet():
    # zarr 3 warns that fixed-width strings and consolidated metadata are not in the v3 spec yet;
    # the store is read back by this same module, so the warnings tell the user nothing.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have a Zarr V3 specification.*")
        warnings.filterwarnings("ignore", message=".*Consolidated metadata.*")
        yield


class SweepStore:
    """A sweep store open for writing points (see the module docstring for the layout)."""

    def __init__(self, path: str | Path, group: zarr.Group):
        self.path = Path(path)
        self._meta = group
        self._points = group["points"]
        self.attrs = dict(group.attrs)
        #: True when this object created the store: no point chunk has been written before
        self.fresh = False

    @classmethod
    def open_existing(cls, path, fingerprint: str) -> "SweepStore | None":
        """The store at ``path`` if it exists (checked against ``fingerprint``), else None."""
        path = Path(path)
        if not path.exists():
            return None
        meta = _open_meta(path)
        _check_fingerprint(path, meta, fingerprint)
        return cls(path, meta)

    @classmethod
    def open_or_create(cls, path, *, fingerprint: str, spec_toml: str, dims, coords: dict,
                       layers, scalar_vars, layer_vars) -> "SweepStore":
        """Open ``path`` for the spec with this fingerprint, creating it when absent.

        Raises ``StoreMismatchError`` when ``path`` holds a sweep of a different spec, and
        ``ValueError`` when ``path`` exists and is not a lowbit store.
        """
        path = Path(path)
        existing = cls.open_existing(path, fingerprint)
        if existing is not None:
            return existing
        shape = tuple(len(coords[d]) for d in dims)
        n = int(np.prod(shape, dtype=np.int64))
        # Built beside the target and renamed into place, so a sweep killed while creating it
        # leaves no half-made store (arrays without attributes) that a resume would refuse.
        building = path.with_name(f"{path.name}.creating-{os.getpid()}")
        if building.exists():
            shutil.rmtree(building)
        root = zarr.open_group(str(building), mode="w-")
        meta = root.create_group(META)
        points = meta.create_group("points")
        points.create_array("scalars", shape=(n, len(scalar_vars)), chunks=(1, len(scalar_vars)),
                            dtype="float64", fill_value=np.nan)
        points.create_array("layered", shape=(n, len(layer_vars), len(layers)),
                            chunks=(1, len(layer_vars), max(len(layers), 1)),
                            dtype="float64", fill_value=np.nan)
        points.create_array("error", shape=(n, ERROR_BYTES), chunks=(1, ERROR_BYTES),
                            dtype="uint8", fill_value=0)
        points.create_array("done", shape=(n,), chunks=(1,), dtype="uint8", fill_value=0)
        meta.attrs.update({
            "store_version": STORE_VERSION, "fingerprint": fingerprint, "spec_toml": spec_toml,
            "dims": list(dims), "coords": {d: list(coords[d]) for d in dims},
            "layers": list(layers), "scalar_vars": list(scalar_vars),
            "layer_vars": list(layer_vars), "complete": False,
        })
        os.rename(building, path)
        store = cls(path, _open_meta(path))
        store.fresh = True
        return store

    # -- inputs kept for the explorer ------------------------------------------------------
    def has_inputs(self) -> bool:
        return "model_npz" in self._meta and "x_eval" in self._meta

    def save_inputs(self, model_npz: bytes, x_eval, y_eval, x_calib, provenance: dict) -> None:
        """Keep the model file, the evaluation subset and the calibration images."""
        for name, arr in (("x_eval", x_eval), ("y_eval", y_eval), ("x_calib", x_calib)):
            arr = np.ascontiguousarray(arr)
            self._meta.create_array(name, shape=arr.shape, dtype=arr.dtype,
                                    chunks=arr.shape or None, overwrite=True)[...] = arr
        self._meta.attrs["provenance"] = provenance
        # the model goes last: has_inputs() is true only once everything is there
        blob = np.frombuffer(model_npz, dtype=np.uint8)
        self._meta.create_array("model_npz", shape=blob.shape, dtype="uint8",
                                chunks=blob.shape, overwrite=True)[...] = blob
        self.attrs = dict(self._meta.attrs)

    def model_npz(self) -> bytes:
        return np.asarray(self._meta["model_npz"][...]).tobytes()

    def inputs(self):
        """``(x_eval, y_eval, x_calib)`` as stored."""
        return tuple(np.asarray(self._meta[name][...]) for name in ("x_eval", "y_eval",
                                                                     "x_calib"))

    # -- points ----------------------------------------------------------------------------
    def done_mask(self) -> np.ndarray:
        """Boolean ``(N,)``: True where the point finished (written completely)."""
        done = self._points["done"]
        try:
            return np.asarray(done[...]) == 1
        except Exception:  # a chunk cut short by a kill: read point by point
            out = np.zeros(done.shape, dtype=bool)
            for i in range(done.shape[0]):
                try:
                    out[i] = done[i] == 1
                except Exception:
                    out[i] = False
            return out

    def write_point(self, index: int, scalars, layered, error: str) -> None:
        """Write one finished point; ``done`` is set last."""
        self._points["scalars"][index] = np.asarray(scalars, dtype=np.float64)
        self._points["layered"][index] = np.asarray(layered, dtype=np.float64)
        # an unwritten error chunk reads as "" (fill value 0); in a store this object created
        # no earlier run can have left a stale error there, so a clean point skips one of its
        # four chunk writes (a quarter of the engine's per-point store cost)
        if error or not self.fresh:
            self._points["error"][index] = _encode_error(error)
        self._points["done"][index] = 1

    def read_points(self):
        """``(scalars, layered, errors, done)`` for all N points."""
        done = self.done_mask()
        scalars = np.asarray(self._points["scalars"][...])
        layered = np.asarray(self._points["layered"][...])
        raw = np.asarray(self._points["error"][...])
        errors = np.array([row.tobytes().rstrip(b"\0").decode("utf-8", "replace")
                           for row in raw], dtype=object)
        return scalars, layered, errors, done

    def mark_complete(self, ds: xr.Dataset) -> None:
        """Write the assembled result Dataset at the store's root and flag it complete."""
        with _quiet():
            ds.to_zarr(str(self.path), mode="a", consolidated=False)
        self._meta.attrs["complete"] = True


def _check_fingerprint(path: Path, meta, fingerprint: str) -> None:
    found = meta.attrs.get("fingerprint")
    if found != fingerprint:
        raise StoreMismatchError(
            f"store {str(path)!r} holds a sweep of a different spec (fingerprint "
            f"{str(found)[:12]}, this spec {fingerprint[:12]}); give another output path or "
            f"delete the store to start over")


def _encode_error(error: str) -> np.ndarray:
    raw = error.encode("utf-8")
    if len(raw) > ERROR_BYTES:
        raw = raw[:ERROR_BYTES - 3].decode("utf-8", "ignore").encode("utf-8") + b"..."
    out = np.zeros(ERROR_BYTES, dtype=np.uint8)
    out[:len(raw)] = np.frombuffer(raw, dtype=np.uint8)
    return out


def _open_meta(path: Path) -> zarr.Group:
    try:
        root = zarr.open_group(str(path), mode="r+")
        meta = root[META]
    except Exception:
        raise ValueError(f"{str(path)!r} exists and is not a lowbit sweep store (no "
                         f"{META}/ group); give another output path") from None
    if meta.attrs.get("store_version") != STORE_VERSION:
        raise ValueError(f"store {str(path)!r} has store_version="
                         f"{meta.attrs.get('store_version')!r}; this lowbit reads version "
                         f"{STORE_VERSION}")
    return meta


def assemble(attrs: dict, scalars, layered, errors, done, *, units: dict, long_names: dict,
             provenance: dict) -> xr.Dataset:
    """Build the result Dataset from the points table.

    One dimension per axis (coordinates as in the spec, strings for modes), plus ``layer`` for
    per-layer figures. Points that have not run (``done`` false) get NaN and the error
    ``"pending"``.
    """
    dims = tuple(attrs["dims"])
    coords = {d: _coord(attrs["coords"][d]) for d in dims}
    shape = tuple(len(coords[d]) for d in dims)
    layers = np.array(attrs["layers"], dtype=str)
    data_vars = {}
    for k, name in enumerate(attrs["scalar_vars"]):
        data_vars[name] = (dims, scalars[:, k].reshape(shape),
                           {"units": units[name], "long_name": long_names[name]})
    for k, name in enumerate(attrs["layer_vars"]):
        data_vars[name] = (dims + ("layer",), layered[:, k, :].reshape(shape + (len(layers),)),
                           {"units": units[name], "long_name": long_names[name]})
    errs = np.where(done, errors, "pending").astype(str)
    data_vars["error"] = (dims, errs.reshape(shape),
                          {"units": "", "long_name": "error raised by the point (empty if OK)"})
    ds = xr.Dataset(data_vars, coords={**coords, "layer": layers}, attrs=provenance)
    return ds


def _coord(values):
    if all(isinstance(v, str) for v in values):
        return np.array(values, dtype=str)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return np.array(values, dtype=np.int64)
    return np.array(values, dtype=np.float64)


def open_store(path):
    """Open a sweep store for reading: ``(Dataset, model, x_eval, y_eval, spec)``.

    The Dataset is assembled from the points finished so far (a store still being written, or
    a killed sweep's, is readable: unfinished points are NaN with error ``"pending"``).
    ``model`` is a ``models.Sequential`` loaded from the stored .npz bytes and ``spec`` a
    validated :class:`lowbit.spec.Spec`.
    """
    from lowbit.inputs import load_model
    from lowbit.point import FIGURES
    from lowbit.spec import load_spec

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"store {str(path)!r} does not exist")
    meta = _open_meta(path)
    store = SweepStore(path, meta)
    if not store.has_inputs():
        raise ValueError(f"store {str(path)!r} has no model yet: the sweep that created it "
                         f"stopped before training finished; run it again")
    ds = assemble(store.attrs, *store.read_points(),
                  units={k: v[0] for k, v in FIGURES.items()},
                  long_names={k: v[1] for k, v in FIGURES.items()},
                  provenance=store.attrs["provenance"])
    x_eval, y_eval, _ = store.inputs()
    spec = load_spec(store.attrs["spec_toml"], check_files=False)
    return ds, load_model(store.model_npz()), x_eval, y_eval, spec


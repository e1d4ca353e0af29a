"""A sweep's inputs, prepared once: the trained model, the evaluation subset and provenance.

A zoo model is trained per the spec's ``[train]`` table and cached in ``$LOWBIT_CACHE/models``
(default ``~/.cache/lowbit/models``) under a key made of everything that determines its weights:
model name, data set name and hash, training parameters and lowbit's version. A resumed sweep
takes the model and the data from its store, so it continues with exactly what it started with.
"""

from __future__ import annotations

import hashlib
import io
import os
import platform
from importlib import metadata
from pathlib import Path

import numpy as np

from lowbit.point import Workload
from lowbit.spec import COMPRESSION_AXES, Spec, SpecError
from lowbit.store import SweepStore

_PACKAGES = ("numpy", "numba", "scipy", "xarray", "dask", "distributed", "zarr", "bokeh")


def cache_dir() -> Path:
    """Where trained zoo models are cached (``$LOWBIT_CACHE`` or ``~/.cache/lowbit``)."""
    return Path(os.environ.get("LOWBIT_CACHE", Path.home() / ".cache" / "lowbit"))


def fingerprint(spec: Spec) -> str:
    """The spec's fingerprint; a model given as a file adds the hash of its contents."""
    extra = ""
    if spec.model_is_file:
        extra = hashlib.sha256(Path(spec.model).read_bytes()).hexdigest()
    return spec.fingerprint(extra)


def prepare(spec: Spec, store=None, *, progress=True):
    """``(Workload, model .npz bytes, provenance attrs, fingerprint)`` for ``spec``.

    An existing store of this spec provides the model and the data; one of another spec is
    refused here, before any training.
    """
    fp = fingerprint(spec)
    existing = SweepStore.open_existing(store, fp) if store is not None else None
    data = None
    if existing is not None and existing.has_inputs():
        blob = existing.model_npz()
        x_eval, y_eval, x_calib = existing.inputs()
        provenance = dict(existing.attrs["provenance"])
    else:
        data = _load_dataset(spec)
        if spec.samples > len(data.x_test):
            raise SpecError(f"samples={spec.samples} exceeds the {len(data.x_test)} test images "
                            f"of dataset {spec.dataset!r}")
        if spec.calibration > len(data.x_train):
            raise SpecError(f"calibration={spec.calibration} exceeds the {len(data.x_train)} "
                            f"training images of dataset {spec.dataset!r}")
        blob = model_bytes(spec, data, progress=progress)
        x_eval, y_eval = data.x_test[:spec.samples], data.y_test[:spec.samples]
        x_calib = data.x_train[:spec.calibration]
        provenance = _provenance(spec, data, blob, fp)
        provenance["float_accuracy"] = float(load_model(blob).evaluate(x_eval, y_eval))
    model = load_model(blob)
    graph = model.to_graph()
    layers = tuple(node.name for node in graph.layers())
    graphs = {}
    if any(spec.axis(key) is not None for key in COMPRESSION_AXES):
        from lowbit.compression import compressed_graphs

        # once per distinct setting, here rather than per point on the workers
        data = data if data is not None else _load_dataset(spec)
        graphs = compressed_graphs(spec, blob, data, progress=progress)
    work = Workload(graph=graph, x_eval=_frozen(x_eval), y_eval=_frozen(y_eval),
                    x_calib=_frozen(x_calib), layers=layers, seed=spec.seed, graphs=graphs)
    return work, blob, provenance, fp


def _frozen(a) -> np.ndarray:
    """A read-only contiguous copy: the simulator remembers the fingerprint and finiteness of
    an input nothing can change, so the points of a sweep do not hash it again."""
    out = np.array(a, copy=True, order="C")
    out.flags.writeable = False
    return out


def _load_dataset(spec: Spec):
    from models import datasets

    if spec.dataset_path is not None:
        return datasets.load(spec.dataset, path=spec.dataset_path)
    return datasets.load(spec.dataset)


def model_bytes(spec: Spec, data, *, progress=True) -> bytes:
    """The trained model's .npz bytes: the spec's file, or the zoo model trained (cached)."""
    if spec.model_is_file:
        return Path(spec.model).read_bytes()
    from lowbit import __version__

    key = hashlib.sha256(repr((spec.model, data.name, data.sha256, sorted(spec.train),
                               __version__)).encode()).hexdigest()[:20]
    path = cache_dir() / "models" / f"{spec.model}-{key}.npz"
    if path.is_file():
        return path.read_bytes()
    from models import train, zoo

    kwargs = spec.train_kwargs
    model = zoo.get(spec.model, seed=kwargs.get("seed", 0), input_shape=data.input_shape)
    train(model, data, progress=progress, **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)  # written beside it and renamed: never seen half-written
    return path.read_bytes()


def load_model(blob: bytes):
    """A ``models.Sequential`` from the bytes of its .npz file."""
    from models import Sequential

    return Sequential.from_bytes(blob)


def arrays_sha256(blob: bytes) -> str:
    """Hash of an .npz's arrays (names, dtypes, shapes, bytes), not of its zip container,
    whose timestamps change from one save to the next."""
    h = hashlib.sha256()
    with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
        for name in sorted(npz.files):
            arr = npz[name]
            h.update(f"{name}|{arr.dtype.str}|{arr.shape}|".encode())
            h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def _provenance(spec: Spec, data, blob: bytes, fp: str) -> dict:
    from lowbit import __version__

    versions = {"lowbit": __version__, "python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    out = {f"version_{k}": v for k, v in versions.items()}
    out.update({
        "title": spec.title, "spec_toml": spec.to_toml(), "spec_fingerprint": fp,
        "dataset": data.name, "dataset_sha256": data.sha256,
        "model": Path(spec.model).name if spec.model_is_file else spec.model,
        "model_sha256": arrays_sha256(blob), "samples": spec.samples,
        "calibration_samples": spec.calibration,
        "seed": -1 if spec.seed is None else spec.seed,
    })
    return out

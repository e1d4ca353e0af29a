"""The ``.npz`` file of a ``Sequential`` model: architecture as JSON, parameters and buffers
as arrays, and the training method's record; read back without pickle, every key and shape
checked.  ``Sequential.save`` / ``Sequential.load`` are the public entry points."""

from __future__ import annotations

import json
import os

import numpy as np

from models._atomic_file import replacing
from models.layers import LAYER_KINDS

#: Identifies lowbit model files; bumped when the layout changes.
FILE_FORMAT = "lowbit.Sequential"
#: 2 adds the optional ``"training_method"`` entry; version 1 files still load.
FILE_VERSION = 2
READABLE_VERSIONS = (1, 2)


def architecture(model) -> dict:
    """The JSON-able description ``read_model`` rebuilds the layers from."""
    return {"format": FILE_FORMAT, "version": FILE_VERSION, "name": model.name,
            "input_shape": list(model.input_shape),
            "layers": [{"kind": layer.kind, "name": layer.name, "config": layer.config()}
                       for layer in model.layers]}


def write_model(model, path) -> None:
    """Write ``model`` to ``path`` (a path or a writable binary file object); layout in
    ``Sequential.save``."""
    arrays = {"architecture": np.array(json.dumps(architecture(model)))}
    record = model.method_record()
    if record is not None:
        arrays["training_method"] = np.array(json.dumps(record))
    for layer in model.layers:
        for key, value in layer.params().items():
            arrays[f"params/{layer.name}/{key}"] = value
        for key, value in layer.buffers().items():
            arrays[f"buffers/{layer.name}/{key}"] = value
    if hasattr(path, "write"):
        np.savez(path, **arrays)
        return
    # Written to a file of its own beside the target and renamed into place: a run killed while
    # saving leaves the previous file intact, and a reader (another sweep sharing the model
    # cache) never sees a half-written one.
    with replacing(path) as f:
        np.savez(f, **arrays)


def read_model(cls, path):
    """The model of class ``cls`` stored at ``path`` by ``write_model``."""
    source = path if hasattr(path, "read") else os.fspath(path)
    with np.load(source, allow_pickle=False) as f:
        if "architecture" not in f.files:
            raise ValueError(f"{path} is not a lowbit model file: no 'architecture' entry")
        arch = json.loads(str(f["architecture"]))
        if arch.get("format") != FILE_FORMAT or arch.get("version") not in READABLE_VERSIONS:
            raise ValueError(f"{path}: unsupported model file format "
                             f"{arch.get('format')!r} version {arch.get('version')!r}; "
                             f"expected {FILE_FORMAT!r} version "
                             f"{' or '.join(map(str, READABLE_VERSIONS))}")
        record = None
        if "training_method" in f.files:
            record = json.loads(str(f["training_method"]))
        layers = []
        for spec in arch["layers"]:
            kind = spec["kind"]
            if kind not in LAYER_KINDS:
                raise ValueError(f"{path}: unknown layer kind {kind!r}; known kinds: "
                                 f"{', '.join(sorted(LAYER_KINDS))}")
            layer = LAYER_KINDS[kind](**spec["config"])
            layer.name = spec["name"]
            for prefix, store in (("params", layer.params()), ("buffers", layer.buffers())):
                for key in list(store):
                    entry = f"{prefix}/{layer.name}/{key}"
                    if entry not in f.files:
                        raise ValueError(f"{path}: missing array {entry!r}")
                    value = f[entry]
                    if value.shape != store[key].shape or value.dtype.kind != "f":
                        raise ValueError(f"{path}: {entry!r} has shape {value.shape} and "
                                         f"dtype {value.dtype}; expected float "
                                         f"{store[key].shape}")
                    store[key] = value
            layers.append(layer)
        expected = {f"{p}/{lay.name}/{k}" for lay in layers
                    for p, s in (("params", lay.params()), ("buffers", lay.buffers()))
                    for k in s} | {"architecture", "training_method"}
        extra = set(f.files) - expected
        if extra:
            raise ValueError(f"{path}: unexpected arrays {sorted(extra)}")
    model = cls(layers, tuple(arch["input_shape"]), name=arch["name"])
    if record is not None:
        from models.methods.base import restore_method

        restore_method(model, record, path)
    return model

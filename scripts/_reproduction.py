"""What the reproduction scripts share: options, the MNIST subset, one training run, the result
``xarray.Dataset`` and its markdown table.

Each run records the test error of the model as deployed after training (``model.evaluate``),
its last validation error, the training time and the per-epoch history.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import xarray as xr

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "docs" / "reproductions"


def parser(description: str, epochs: int, subset: int | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--epochs", type=int, default=epochs, help="passes over the training set")
    p.add_argument("--train-subset", type=int, default=subset,
                   help="train on the first N training images (default: %(default)s; "
                        "0 = all 55 000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=None, help="MNIST directory (default: $LOWBIT_DATA)")
    p.add_argument("--out", default=None, help="result file (.nc); default docs/reproductions/")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    return p


def load_mnist(path, train_subset):
    """MNIST from its IDX files, the training split cut to its first ``train_subset`` images."""
    from models import datasets
    from models.datasets import Dataset

    data = datasets.load("mnist", path=path)
    if not train_subset:
        return data
    n = int(train_subset)
    return Dataset(data.x_train[:n].copy(), data.y_train[:n].copy(), data.x_val.copy(),
                   data.y_val.copy(), data.x_test.copy(), data.y_test.copy(),
                   name=f"mnist[:{n}]", n_classes=data.n_classes)


def run(model, data, *, label: str, **train_kwargs) -> dict:
    """Train ``model`` and return its figures (test error in %, seconds, history)."""
    from models import train

    t0 = time.perf_counter()
    history = train(model, data, progress=False, **train_kwargs)
    seconds = time.perf_counter() - t0
    test_error = 100.0 * (1.0 - model.evaluate(data.x_test, data.y_test))
    val_error = 100.0 * (1.0 - float(history.val_accuracy.values[-1]))
    print(f"{label:<40s} test error {test_error:6.2f}%  val error {val_error:6.2f}%  "
          f"({seconds:.0f} s)", flush=True)
    return {"test_error": test_error, "val_error": val_error, "seconds": seconds,
            "history": history, "model": model}


def to_dataset(runs: dict, dims: tuple[str, ...], coords: dict, attrs: dict) -> xr.Dataset:
    """One variable per figure over the run dimensions; history as ``val_error_curve``."""
    shape = tuple(len(coords[d]) for d in dims)
    test = np.full(shape, np.nan)
    val = np.full(shape, np.nan)
    secs = np.full(shape, np.nan)
    epochs = max(len(r["history"].epoch) for r in runs.values())
    curve = np.full(shape + (epochs,), np.nan)
    for key, r in runs.items():
        idx = tuple(list(coords[d]).index(k) for d, k in zip(dims, key))
        test[idx], val[idx], secs[idx] = r["test_error"], r["val_error"], r["seconds"]
        v = 100.0 * (1.0 - r["history"].val_accuracy.values)
        curve[idx + (slice(0, len(v)),)] = v
    ds = xr.Dataset(
        {"test_error": (dims, test, {"units": "%", "long_name": "test error after training"}),
         "val_error": (dims, val, {"units": "%", "long_name": "validation error, last epoch"}),
         "seconds": (dims, secs, {"units": "s", "long_name": "wall time of the run"}),
         "val_error_curve": (dims + ("epoch",), curve,
                             {"units": "%", "long_name": "validation error per epoch"})},
        coords={**{d: list(coords[d]) for d in dims}, "epoch": np.arange(1, epochs + 1)})
    import models
    import numba

    ds.attrs.update(attrs, numpy=np.__version__, numba=numba.__version__,
                    xarray=xr.__version__, python=platform.python_version(),
                    machine=platform.machine(), lowbit_models=getattr(models, "__file__", ""))
    return ds


def save(ds: xr.Dataset, out, default_name: str) -> Path:
    path = Path(out) if out else RESULTS / default_name
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.to_netcdf(path, engine="scipy")
    print(f"wrote {path}")
    return path


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def limit_threads(n: int):
    from threadpoolctl import threadpool_limits

    return threadpool_limits(n)

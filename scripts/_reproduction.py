"""What the reproduction scripts share: options, the MNIST subset, one training run, the result
file written cell by cell, and its markdown table.

Each run (a "cell": one variant of one paper) records the test error of the model as deployed
after training (``model.evaluate``), its last validation error, its wall time and its validation
error per epoch.  :class:`Results` rewrites the result file after every finished cell, so that a
run stopped halfway keeps what it finished, and ``--resume`` skips the cells a file already holds
for the same budget.

What a user saved is never lost: every write goes to a file of its own beside the result and is
renamed over it (:func:`replacing`), so a run killed at any moment leaves the last complete file;
a run over an existing file without ``--resume`` refuses instead of starting afresh over it;
``--resume`` refuses a file of another budget (naming each key that differs) and keeps the
file's cells outside this run's coordinates.
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import xarray as xr

from models._atomic_file import replacing

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "docs" / "reproductions"

#: attrs that define a budget: a resumed file must agree on all of them present in both
BUDGET_KEYS = ("epochs", "train_subset", "lr", "schedule", "batch_size", "seed", "optimizer",
               "hidden", "model", "update_every_examples", "dataset_sha256", "wl",
               "max_overflow_rate")

#: how a budget key missing from one side shows in a refusal
ABSENT = "(absent)"


def budget_clash(before: Mapping, now: Mapping, keys: Iterable[str]) -> dict:
    """``{key: (value before, value now)}`` for the ``keys`` whose values differ, compared as
    text (netCDF gives numbers back as numpy scalars); a key present on one side only differs,
    its missing side shown as :data:`ABSENT`.  Keys on neither side are not compared."""
    clash = {}
    for k in keys:
        if k not in before and k not in now:
            continue
        old, new = before.get(k, ABSENT), now.get(k, ABSENT)
        if str(old) != str(new):
            clash[k] = (old, new)
    return clash


def describe_clash(clash: Mapping) -> str:
    """``"epochs = 2 in the file, 3 now; lr = ..."``: one clause per key of ``budget_clash``."""
    return "; ".join(f"{k} = {old} in the file, {new} now" for k, (old, new) in clash.items())


def parser(description: str, epochs: int, subset: int | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--epochs", type=int, default=epochs, help="passes over the training set")
    p.add_argument("--train-subset", type=int, default=subset,
                   help="train on the first N training images (default: %(default)s; "
                        "0 = all 55 000)")
    p.add_argument("--schedule", default="constant",
                   choices=("constant", "step", "exponential", "cosine"),
                   help="learning-rate schedule over the epochs (models.optim; default: "
                        "%(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=None, help="MNIST directory (default: $LOWBIT_DATA)")
    p.add_argument("--out", default=None, help="result file (.nc); default docs/reproductions/")
    p.add_argument("--resume", action="store_true",
                   help="keep the cells the result file already holds for the same budget and "
                        "run only the missing ones (without it, an existing file is refused)")
    p.add_argument("--progress", action="store_true", help="a tqdm bar per epoch (stderr)")
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
    if not 0 < n <= len(data.x_train):
        raise ValueError(f"train_subset={n} is out of range; expected 0 (all) or "
                         f"1 <= train_subset <= {len(data.x_train)}")
    return Dataset(data.x_train[:n].copy(), data.y_train[:n].copy(), data.x_val.copy(),
                   data.y_val.copy(), data.x_test.copy(), data.y_test.copy(),
                   name=f"mnist[:{n}]", n_classes=data.n_classes)


def run(model, data, *, label: str, progress: bool = False, **train_kwargs) -> dict:
    """Train ``model`` and return its figures: test and last validation error (%), wall time
    (s), validation error per epoch (%), and the model itself."""
    from models import train

    print(f"{time.strftime('%H:%M:%S')} start {label}", flush=True)
    t0 = time.perf_counter()
    history = train(model, data, progress=progress, **train_kwargs)
    seconds = time.perf_counter() - t0
    test_error = 100.0 * (1.0 - model.evaluate(data.x_test, data.y_test))
    curve = 100.0 * (1.0 - history.val_accuracy.values)
    print(f"{time.strftime('%H:%M:%S')} {label:<32s} test error {test_error:6.2f}%  "
          f"val error per epoch {np.array2string(curve, precision=2)}  ({seconds:.0f} s)",
          flush=True)
    return {"test_error": test_error, "val_error": float(curve[-1]), "seconds": seconds,
            "val_curve": curve, "model": model}


class Results:
    """The result ``xarray.Dataset`` of one script, filled cell by cell and written to ``path``
    after every cell (netCDF3 via scipy: ``xarray.open_dataset(path, engine="scipy")``).

    Variables over ``dims``: ``test_error`` (%), ``val_error`` (%, last epoch), ``seconds``,
    ``val_error_curve`` (%, per epoch); unfinished cells are NaN.  ``attrs`` hold the budget.

    An existing file is refused (``FileExistsError``) unless ``resume``; then it must have the
    same dims and agree on every ``budget_keys`` entry either side has (``ValueError``
    naming each key and both values; a script adds its own keys to :data:`BUDGET_KEYS`), and its finished cells and attrs are kept bit for bit,
    those outside this run's ``coords`` included (their coordinates are appended).
    """

    FIGURES = ("test_error", "val_error", "seconds")

    def __init__(self, path: Path, dims: tuple[str, ...], coords: dict, attrs: dict,
                 epochs: int, resume: bool = False, budget_keys: Iterable[str] = BUDGET_KEYS):
        self.path = Path(path)
        self.budget_keys = tuple(budget_keys)
        self.dims = tuple(dims)
        self.coords = {d: list(coords[d]) for d in self.dims}
        self.attrs = dict(attrs)
        self.epochs = int(epochs)
        old = None
        if self.path.exists():
            if not resume:
                raise FileExistsError(
                    f"{self.path} already holds results; pass --resume to keep them and run "
                    f"only the missing cells, or pass another --out (or delete the file) to "
                    f"start afresh")
            old = self._read_checked()
            for d in self.dims:  # the file's cells outside this run's coordinates are kept
                self.coords[d] += [v for v in old[d].values.tolist() if v not in self.coords[d]]
        shape = tuple(len(self.coords[d]) for d in self.dims)
        self.values = {k: np.full(shape, np.nan) for k in self.FIGURES}
        self.curve = np.full(shape + (self.epochs,), np.nan)
        if old is not None:
            self._keep(old)

    def _read_checked(self) -> xr.Dataset:
        """The file at ``path``, refused unless it has this run's dimensions and budget."""
        with xr.open_dataset(self.path, engine="scipy") as old:
            old = old.load()
        dims = tuple(d for d in old.test_error.dims)
        if set(dims) != set(self.dims):
            raise ValueError(f"--resume: {self.path} holds results over {dims}, this run's are "
                             f"over {self.dims}; pass another --out")
        clash = budget_clash(old.attrs, self.attrs, self.budget_keys)
        if clash:
            raise ValueError(f"--resume: {self.path} was written with another budget: "
                             f"{describe_clash(clash)}; pass another --out to start a new file")
        return old

    def _keep(self, old: xr.Dataset) -> None:
        """Copy the finished cells and the attrs-only results (baselines) of ``old``."""
        for k, v in old.attrs.items():
            self.attrs.setdefault(k, v)
        figures = {k: old[k].transpose(*self.dims).values for k in self.FIGURES}
        curve = old.val_error_curve.transpose(*self.dims, "epoch").values
        n = min(curve.shape[-1], self.epochs)
        old_coords = [old[d].values.tolist() for d in self.dims]
        for old_idx in np.ndindex(*figures["test_error"].shape):
            if not math.isfinite(figures["test_error"][old_idx]):
                continue
            idx = self._index(tuple(c[i] for c, i in zip(old_coords, old_idx)))
            for k in self.FIGURES:
                self.values[k][idx] = figures[k][old_idx]
            self.curve[idx + (slice(0, n),)] = curve[old_idx + (slice(0, n),)]

    def _index(self, key) -> tuple[int, ...]:
        return tuple(self.coords[d].index(k) for d, k in zip(self.dims, key))

    def done(self, key) -> bool:
        return math.isfinite(self.values["test_error"][self._index(key)])

    def get(self, key) -> dict:
        idx = self._index(key)
        return {k: float(self.values[k][idx]) for k in self.FIGURES}

    def add(self, key, result: dict) -> None:
        """Store a finished cell and rewrite the file."""
        idx = self._index(key)
        for k in self.FIGURES:
            self.values[k][idx] = result[k]
        self.curve[idx] = np.nan
        self.curve[idx + (slice(0, len(result["val_curve"])),)] = result["val_curve"]
        self.save()

    def dataset(self) -> xr.Dataset:
        import numba

        import models

        dims = self.dims
        ds = xr.Dataset(
            {"test_error": (dims, self.values["test_error"],
                            {"units": "%", "long_name": "test error after training"}),
             "val_error": (dims, self.values["val_error"],
                           {"units": "%", "long_name": "validation error, last epoch"}),
             "seconds": (dims, self.values["seconds"],
                         {"units": "s", "long_name": "wall time of the run"}),
             "val_error_curve": (dims + ("epoch",), self.curve,
                                 {"units": "%", "long_name": "validation error per epoch"})},
            coords={**self.coords, "epoch": np.arange(1, self.curve.shape[-1] + 1)})
        ds.attrs.update(self.attrs, numpy=np.__version__, numba=numba.__version__,
                        xarray=xr.__version__, python=platform.python_version(),
                        machine=platform.machine(),
                        lowbit_models=getattr(models, "__file__", ""))
        return ds

    def save(self) -> Path:
        """Write every finished cell to ``path`` (atomically, :func:`replacing`)."""
        content = self.dataset().to_netcdf(engine="scipy")
        with replacing(self.path) as f:
            f.write(content)
        print(f"{time.strftime('%H:%M:%S')} wrote {self.path}", flush=True)
        return self.path


def result_path(out, default_name: str) -> Path:
    return Path(out) if out else RESULTS / default_name


def budget_attrs(args, data, **extra) -> dict:
    """The attrs every result file carries: the budget and the data hash."""
    return {"epochs": args.epochs, "train_subset": args.train_subset or 0,
            "schedule": args.schedule, "seed": args.seed, "dataset_sha256": data.sha256,
            **extra}


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def limit_threads(n: int):
    from threadpoolctl import threadpool_limits

    return threadpool_limits(n)

"""Data shared by every session of one server: the sweep store, loaded once, read only.

Sessions never write here; each keeps its own widgets and sources (see ``main.py``).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

log = logging.getLogger(__name__)

#: Scalar figures a trade-off axis may show, in menu order (those the store holds are offered).
Y_FIGURES = ("accuracy", "loss", "sqnr_db")
X_FIGURES = ("energy_pj", "latency_s", "latency_cycles", "model_bytes", "dsp", "lut")
#: y figures where smaller is better (the Pareto front's direction)
SMALLER_IS_BETTER = frozenset({"loss"})

# Heavy work (simulations) runs here, off the document lock, one job at a time for all
# sessions: each simulation's kernels already use every core, and Numba's fallback threading
# layer (workqueue) must not be entered from two threads at once.
EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lowbit-explorer")


class StoreError(Exception):
    """The store given to the explorer is missing, corrupt or not a lowbit sweep store."""


@dataclass
class StoreData:
    """A sweep store as the explorer shows it.

    ``table`` is the Dataset flattened to one row per grid point (dimension ``row``): one
    string column per swept axis, the scalar figures, ``sqnr_db`` of the output layer, and
    ``error``.  ``axes`` are the swept dimensions in store order.
    """

    path: Path
    ds: xr.Dataset
    table: xr.Dataset
    axes: tuple[str, ...]
    model: object
    graph: object
    layers: tuple[str, ...]
    x_eval: np.ndarray
    y_eval: np.ndarray
    spec: object
    #: set once the kernels are compiled; app_hooks clears it while ``warmup`` runs
    warm: threading.Event = field(default_factory=threading.Event, repr=False)

    def __post_init__(self):
        self.warm.set()

    def workload(self):
        """A ``lowbit.point.Workload`` over the stored model and evaluation subset."""
        from lowbit.point import Workload

        return Workload(graph=self.graph, x_eval=self.x_eval, y_eval=self.y_eval,
                        x_calib=self.x_eval, layers=self.layers, seed=0)


_LOADED: dict[Path, StoreData] = {}
_LOCK = threading.Lock()


def load(path) -> StoreData:
    """The store at ``path``, read once per process; ``StoreError`` with a readable message."""
    path = Path(path).resolve()
    with _LOCK:
        if path not in _LOADED:
            _LOADED[path] = _read(path)
        return _LOADED[path]


def _read(path: Path) -> StoreData:
    from lowbit.store import open_store

    try:
        ds, model, x_eval, y_eval, spec = open_store(path)
        graph = model.to_graph()
    except FileNotFoundError as exc:
        raise StoreError(str(exc)) from None
    except Exception as exc:  # corrupt zarr, foreign directory, unreadable model: say which
        raise StoreError(f"cannot open {str(path)!r} as a lowbit sweep store: {exc}") from None
    axes = tuple(d for d in ds["accuracy"].dims)
    layers = tuple(str(v) for v in ds["layer"].values)
    return StoreData(path=path, ds=ds, table=flatten(ds, axes), axes=axes, model=model,
                     graph=graph, layers=layers, x_eval=x_eval, y_eval=y_eval, spec=spec)


def flatten(ds: xr.Dataset, axes) -> xr.Dataset:
    """One row per grid point: axes become string columns, per-layer SQNR its output layer's."""
    scalars = [v for v in ds.data_vars if "layer" not in ds[v].dims]
    flat = ds[scalars]
    if "sqnr_db" in ds:
        flat = flat.assign(sqnr_db=ds["sqnr_db"].isel(layer=-1, drop=True))
        flat["sqnr_db"].attrs = {**ds["sqnr_db"].attrs,
                                 "long_name": "SQNR of the output layer (" +
                                 str(ds["layer"].values[-1]) + ")"}
    flat = flat.drop_vars("layer", errors="ignore")
    if axes:
        flat = flat.stack(row=list(axes)).reset_index("row")
    else:
        flat = flat.expand_dims("row")
    flat = flat.assign_coords(row=np.arange(flat.sizes["row"]))
    return flat


def warmup(data: StoreData) -> None:
    """Compile every kernel a session will call, so its first update is fast.

    ``lowbit.warmup()`` compiles the packages' hot kernels; one-image simulations of the
    store's own model (with and without statistics) compile the paths specific to its layers.
    """
    import lowbit
    import precision
    from simulator import QConfig, simulate

    try:
        lowbit.warmup()
        qc = QConfig.uniform(precision.FixedPoint(il=4, fl=4))
        for collect in (False, True):
            simulate(data.graph, qc, data.x_eval[:2], target="cpu-int8", collect=collect)
    finally:
        data.warm.set()

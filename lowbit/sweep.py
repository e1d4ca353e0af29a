"""The sweep engine: a grid of configurations -> Dask -> a zarr store -> an xarray Dataset.

``sweep(spec, store="out.zarr")`` validates the spec, prepares the model and the data once
(:mod:`lowbit.inputs`), scatters them once to every worker, runs the grid's missing points in
balanced chunks through :func:`lowbit.point.evaluate` (the very function a local call runs), writes
each finished point to the store as its chunk completes and assembles the Dataset at the end.
Killed at any moment and restarted with the same spec and store, it runs only what is missing.
"""

from __future__ import annotations

import logging
import math
import os
from contextlib import ExitStack

import numpy as np
import xarray as xr

from lowbit.point import FIGURES, LAYER_VARS, SCALAR_VARS, Workload, evaluate
from lowbit.spec import Spec, load_spec
from lowbit.store import SweepStore, assemble

#: Points per Dask task at most: small enough that a killed sweep loses little.
MAX_CHUNK = 8


def sweep(spec, store=None, *, scheduler=None, workers=None, progress=True,
          processes=False) -> xr.Dataset:
    """Run a sweep and return its result Dataset (one dimension per axis of the spec).

    Parameters
    ----------
    spec : dict, TOML path, TOML text or :class:`lowbit.spec.Spec`
        Validated completely before anything runs (``lowbit.spec.SpecError`` names the key).
    store : path or None
        zarr directory the points are written to as they finish (layout in
        :mod:`lowbit.store`). An existing store of the same spec is resumed; one of another
        spec is refused. ``None`` keeps the results in memory only.
    scheduler : str or None
        Address of a ``dask.distributed`` scheduler (``"tcp://host:8786"``). ``None`` starts a
        ``LocalCluster`` of ``workers`` worker threads in this process (processes when
        ``processes=True``). Threads are the default: the kernels release the GIL and threads
        share this process's compiled kernels, where each worker process compiles its own
        (on 2 cores, 24 digits-CNN points: 82 s with threads, 168 s with processes).
    workers : int or None
        Workers of the local cluster (default 2); ``0`` runs every point in this process
        without Dask.
    progress : bool
        Show a tqdm bar (points done, rate, time left) on stderr.
    """
    from lowbit.inputs import prepare

    spec = load_spec(spec)
    _check_workers(workers, scheduler)
    work, model_npz, provenance, fingerprint = prepare(spec, store, progress=progress)
    return run(spec, work, store, evaluate=evaluate, fingerprint=fingerprint,
               model_npz=model_npz, provenance=provenance, scheduler=scheduler,
               workers=workers, progress=progress, processes=processes)


def _check_workers(workers, scheduler) -> None:
    if workers is not None:
        if isinstance(workers, bool) or not isinstance(workers, int):
            raise TypeError(f"workers must be an int, got {type(workers).__name__}")
        if workers < 0:
            raise ValueError(f"workers={workers} is out of range; expected workers >= 0")
        if scheduler is not None:
            raise ValueError("give either scheduler= (an existing cluster) or workers= (a "
                             "local one), not both")
    if scheduler is not None and not isinstance(scheduler, str):
        raise TypeError(f"scheduler must be an address string, got {type(scheduler).__name__}")


def grid_point(spec: Spec, index: int) -> dict:
    """The point ``{axis: value}`` with flat index ``index`` (C order over the axes)."""
    pos = np.unravel_index(index, spec.shape)
    return {name: values[int(i)] for (name, values), i in zip(spec.axes, pos)}


def run(spec: Spec, work, store, *, evaluate=evaluate, fingerprint: str, model_npz: bytes,
        provenance: dict, scheduler=None, workers=None, progress=True,
        processes=False) -> xr.Dataset:
    """The engine proper: run ``evaluate(work, point)`` on every missing point of the grid.

    ``evaluate`` must be importable by the workers (a module-level function); it returns
    ``(scalars, layered)`` dicts keyed by ``lowbit.point.SCALAR_VARS`` / ``LAYER_VARS``.
    """
    spec = load_spec(spec)
    _check_workers(workers, scheduler)
    coords = {name: list(values) for name, values in spec.axes}
    layers = list(work.layers)
    if store is None:
        target = _MemoryStore(spec.n_points, len(SCALAR_VARS), len(LAYER_VARS), len(layers))
    else:
        target = SweepStore.open_or_create(
            store, fingerprint=fingerprint, spec_toml=spec.to_toml(), dims=spec.dims,
            coords=coords, layers=layers, scalar_vars=SCALAR_VARS, layer_vars=LAYER_VARS)
    if not target.has_inputs():
        target.save_inputs(model_npz, work.x_eval, work.y_eval, work.x_calib, provenance)
    todo = np.flatnonzero(~target.done_mask())
    if todo.size:
        _execute(spec, work, target, todo, evaluate, scheduler, workers, progress, processes)
    attrs = {"dims": list(spec.dims), "coords": coords, "layers": layers,
             "scalar_vars": list(SCALAR_VARS), "layer_vars": list(LAYER_VARS)}
    ds = assemble(attrs, *target.read_points(),
                  units={k: v[0] for k, v in FIGURES.items()},
                  long_names={k: v[1] for k, v in FIGURES.items()}, provenance=provenance)
    if store is not None and not target.attrs.get("complete"):
        target.mark_complete(ds)
    return ds


def _chunks(todo: np.ndarray, n_workers: int) -> list[np.ndarray]:
    """Balanced chunks: sizes differ by at most one and each strides across the grid, so that
    no chunk collects only the expensive corner of it."""
    size = max(1, min(MAX_CHUNK, math.ceil(todo.size / (4 * max(n_workers, 1)))))
    n_chunks = math.ceil(todo.size / size)
    return [todo[k::n_chunks] for k in range(n_chunks)]


def run_chunk(work, spec: Spec, indices, evaluate, numba_threads=None) -> list[tuple]:
    """Evaluate the points ``indices``: ``[(index, scalars, layered, error), ...]``.

    A point that raises is returned with NaN figures and the exception as its error.
    """
    if numba_threads:
        import numba
        numba.set_num_threads(min(numba_threads, numba.config.NUMBA_NUM_THREADS))
    out = []
    for index in indices:
        scalars = np.full(len(SCALAR_VARS), np.nan)
        layered = np.full((len(LAYER_VARS), len(work.layers)), np.nan)
        try:
            got_scalars, got_layered = evaluate(work, grid_point(spec, int(index)))
            scalars[:] = [got_scalars[k] for k in SCALAR_VARS]
            for k, name in enumerate(LAYER_VARS):
                layered[k] = got_layered[name]
            error = ""
        except Exception as exc:  # recorded in the `error` variable; the sweep goes on
            scalars[:] = np.nan
            layered[:] = np.nan
            error = f"{type(exc).__name__}: {exc}"
        out.append((int(index), scalars, layered, error))
    return out


def _execute(spec, work, target, todo, evaluate, scheduler, workers, progress, processes):
    from tqdm.auto import tqdm

    bar = tqdm(total=spec.n_points, initial=spec.n_points - todo.size, unit="pt",
               desc="sweep", disable=not progress, smoothing=0.1)
    with bar, ExitStack() as stack:
        if scheduler is None and workers == 0:
            for chunk in _chunks(todo, 1):
                for result in run_chunk(work, spec, chunk, evaluate):
                    target.write_point(*result)
                    bar.update(1)
            return
        client, n_workers, threads = _client(stack, scheduler, workers, processes)
        from distributed import as_completed

        shared = client.scatter(work, broadcast=True, hash=False)
        futures = [client.submit(run_chunk, shared, spec, chunk, evaluate, threads, pure=False)
                   for chunk in _chunks(todo, n_workers)]
        for future in as_completed(futures):
            for result in future.result():
                target.write_point(*result)
                bar.update(1)
            future.release()


def _client(stack: ExitStack, scheduler, workers, processes):
    """``(client, number of workers, numba threads per task or None)``."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        client = stack.enter_context(Client(scheduler, timeout="30s"))
        n_workers = max(1, len(client.scheduler_info().get("workers", {})))
        return client, n_workers, None
    n_workers = 2 if workers is None else workers
    cluster = stack.enter_context(LocalCluster(
        n_workers=n_workers, threads_per_worker=1, processes=processes,
        dashboard_address=None, silence_logs=logging.ERROR))
    client = stack.enter_context(Client(cluster))
    # one numba thread per worker process shares the cores without oversubscribing them;
    # worker threads in one process must not launch parallel kernels concurrently at all
    threads = max(1, (os.cpu_count() or 1) // n_workers) if processes else 1
    return client, n_workers, threads


class _MemoryStore:
    """The points table of a sweep run without a store (``store=None``)."""

    def __init__(self, n, n_scalars, n_layer_vars, n_layers):
        self.scalars = np.full((n, n_scalars), np.nan)
        self.layered = np.full((n, n_layer_vars, n_layers), np.nan)
        self.errors = np.full(n, "", dtype=object)
        self.done = np.zeros(n, dtype=bool)
        self.attrs = {}

    def has_inputs(self):
        return True

    def done_mask(self):
        return self.done.copy()

    def write_point(self, index, scalars, layered, error):
        self.scalars[index], self.layered[index] = scalars, layered
        self.errors[index], self.done[index] = error, True

    def read_points(self):
        return self.scalars, self.layered, self.errors, self.done


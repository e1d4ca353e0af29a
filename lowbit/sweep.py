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
import warnings
from contextlib import ExitStack

import numpy as np
import xarray as xr

from lowbit.point import FIGURES, LAYER_VARS, SCALAR_VARS, Workload, evaluate
from lowbit.spec import Spec, load_spec
from lowbit.store import SweepStore, assemble

#: Points per Dask task at most: small enough that a killed sweep loses little.
MAX_CHUNK = 8
#: Tasks per worker at least, when the grid allows: the scheduler hands the next task to
#: whichever worker is free, so the last one to finish idles for at most one small task.
TASKS_PER_WORKER = 16
#: BLAS threads every point runs with, whatever runs it: one worker is one core's worth of
#: compute (two threaded BLAS calls from two worker threads would queue for OpenBLAS's single
#: thread pool).  The figures do not depend on it: codes are exact and the SQNR sums are
#: ``simulator.stats.sum_of_squares``, whose order does not depend on BLAS's threads.
POINT_BLAS_THREADS = 1
#: Dask settings of the engine's local clusters. By default an in-process cluster's event loop
#: samples every busy worker thread's stack each 10 ms (the dashboard's profiler; we run no
#: dashboard), checks its own latency each 20 ms and steals work and polls memory each 100 ms:
#: about 30 ms of GIL-holding CPU per LeNet-300-100 point, 5% of a core even when idle, taken
#: from the cores the workers compute on. Tasks wait in the scheduler's queue and go to the
#: first free worker, so stealing has nothing to balance.
QUIET_CLUSTER = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.scheduler.work-stealing": False,
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
}


def sweep(spec, store=None, *, scheduler=None, workers=None, progress=True,
          processes=False, threads_per_worker=None) -> xr.Dataset:
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
    threads_per_worker : int or None
        Numba threads each worker runs its points with. Default: for a local cluster the
        machine's cores divided among the workers (at least 1), so that the workers together
        use every core once; with ``scheduler=`` the workers' own setting; with ``workers=0``
        Numba's. BLAS always runs with :data:`POINT_BLAS_THREADS` thread per point.
    """
    from lowbit.inputs import prepare

    spec = load_spec(spec)
    _check_workers(workers, scheduler, threads_per_worker)
    work, model_npz, provenance, fingerprint = prepare(spec, store, progress=progress)
    return run(spec, work, store, evaluate=evaluate, fingerprint=fingerprint,
               model_npz=model_npz, provenance=provenance, scheduler=scheduler,
               workers=workers, progress=progress, processes=processes,
               threads_per_worker=threads_per_worker)


def _check_workers(workers, scheduler, threads_per_worker=None) -> None:
    _check_count("threads_per_worker", threads_per_worker, 1)
    _check_count("workers", workers, 0)
    if workers is not None and scheduler is not None:
        raise ValueError("give either scheduler= (an existing cluster) or workers= (a "
                         "local one), not both")
    if scheduler is not None and not isinstance(scheduler, str):
        raise TypeError(f"scheduler must be an address string, got {type(scheduler).__name__}")


def _check_count(name: str, value, minimum: int) -> None:
    """None, or an int >= ``minimum``: TypeError / ValueError naming ``name`` otherwise."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}={value} is out of range; expected {name} >= {minimum}")


def grid_point(spec: Spec, index: int) -> dict:
    """The point ``{axis: value}`` with flat index ``index`` (C order over the axes)."""
    pos = np.unravel_index(index, spec.shape)
    return {name: values[int(i)] for (name, values), i in zip(spec.axes, pos)}


def run(spec: Spec, work, store, *, evaluate=evaluate, fingerprint: str, model_npz: bytes,
        provenance: dict, scheduler=None, workers=None, progress=True,
        processes=False, threads_per_worker=None) -> xr.Dataset:
    """The engine proper: run ``evaluate(work, point)`` on every missing point of the grid.

    ``evaluate`` must be importable by the workers (a module-level function); it returns
    ``(scalars, layered)`` dicts keyed by ``lowbit.point.SCALAR_VARS`` / ``LAYER_VARS``.
    """
    spec = load_spec(spec)
    _check_workers(workers, scheduler, threads_per_worker)
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
        _execute(spec, work, target, todo, evaluate, scheduler, workers, progress, processes,
                 threads_per_worker)
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
    no chunk collects only the expensive corner of it. At least :data:`TASKS_PER_WORKER` per
    worker when there are enough points: with few large chunks the sweep ends with one worker
    busy and the others idle (20 points in 7 chunks of 3: 11 points on one of 2 workers)."""
    per_task = todo.size / (TASKS_PER_WORKER * max(n_workers, 1))
    size = max(1, min(MAX_CHUNK, math.ceil(per_task)))
    n_chunks = math.ceil(todo.size / size)
    return [todo[k::n_chunks] for k in range(n_chunks)]


def run_chunk(work, spec: Spec, indices, evaluate, numba_threads=None) -> list[tuple]:
    """Evaluate the points ``indices``: ``[(index, scalars, layered, error), ...]``.

    A point that raises is returned with NaN figures and the exception as its error.
    ``numba_threads`` sets this thread's Numba thread count (``numba.set_num_threads`` is per
    calling thread). BLAS is pinned to :data:`POINT_BLAS_THREADS` in this process (a
    worker process of its own; the local engine pins it around the whole sweep already).
    """
    import numba

    caller_threads = numba.get_num_threads()
    if numba_threads:
        numba.set_num_threads(min(numba_threads, numba.config.NUMBA_NUM_THREADS))
    _pin_blas()
    try:
        return _run_points(work, spec, indices, evaluate)
    finally:  # in process (workers=0) this is the caller's own thread
        numba.set_num_threads(caller_threads)


def _run_points(work, spec, indices, evaluate) -> list[tuple]:
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


def _blas_threads() -> list[int]:
    """Thread counts of the BLAS libraries loaded in this process."""
    from threadpoolctl import threadpool_info

    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def _pin_blas() -> None:
    """Set this process's BLAS to :data:`POINT_BLAS_THREADS` threads if it is not already
    (a worker process that inherited no ``OPENBLAS_NUM_THREADS``, e.g. ``--no-nanny``)."""
    if any(n != POINT_BLAS_THREADS for n in _blas_threads()):
        from threadpoolctl import threadpool_limits

        threadpool_limits(POINT_BLAS_THREADS, user_api="blas")


def _execute(spec, work, target, todo, evaluate, scheduler, workers, progress, processes,
             threads_per_worker):
    from threadpoolctl import threadpool_limits
    from tqdm.auto import tqdm

    bar = tqdm(total=spec.n_points, initial=spec.n_points - todo.size, unit="pt",
               desc="sweep", disable=not progress, smoothing=0.1)
    with bar, ExitStack() as stack:
        # points run in this process (workers=0, worker threads) see this limit; it is
        # restored when the sweep ends
        stack.enter_context(threadpool_limits(POINT_BLAS_THREADS, user_api="blas"))
        if scheduler is None and workers == 0:
            for chunk in _chunks(todo, 1):
                for result in run_chunk(work, spec, chunk, evaluate, threads_per_worker):
                    target.write_point(*result)
                    bar.update(1)
            return
        client, n_workers, threads = _client(stack, scheduler, workers, processes,
                                             threads_per_worker)
        from distributed import as_completed

        shared = client.scatter(work, broadcast=True, hash=False)
        futures = [client.submit(run_chunk, shared, spec, chunk, evaluate, threads, pure=False)
                   for chunk in _chunks(todo, n_workers)]
        for future in as_completed(futures):
            for result in future.result():
                target.write_point(*result)
                bar.update(1)
            future.release()


def _client(stack: ExitStack, scheduler, workers, processes, threads_per_worker=None):
    """``(client, number of workers, numba threads per task or None)``."""
    from distributed import Client

    if scheduler is not None:
        client = stack.enter_context(Client(scheduler, timeout="30s"))
        n_workers = max(1, len(client.scheduler_info().get("workers", {})))
        return client, n_workers, threads_per_worker
    n_workers = 2 if workers is None else workers
    # the workers together use each core once: Numba threads = cores // workers (set per task
    # by run_chunk: numba.set_num_threads is per calling thread) and one BLAS thread per point.
    # Not through the nanny's env=: it is applied after the worker process has imported numpy
    # (too late for OpenBLAS) and can leave Numba's config reload disagreeing with its
    # launched pool ("Cannot set NUMBA_NUM_THREADS to a different value").
    threads = threads_per_worker or max(1, (os.cpu_count() or 1) // n_workers)
    cluster = stack.enter_context(local_cluster(n_workers, _worker_processes(processes,
                                                                             n_workers)))
    client = stack.enter_context(Client(cluster))
    return client, n_workers, threads


def _worker_processes(processes: bool, n_workers: int) -> bool:
    """Whether the local workers must be processes: asked for, or thread workers would run
    Numba's parallel kernels concurrently on its ``workqueue`` layer (the one left when neither
    TBB nor OpenMP is installed), which aborts the whole process when two threads do."""
    if processes or n_workers < 2 or numba_threading_layer() != "workqueue":
        return processes
    warnings.warn("Numba's threading layer is 'workqueue', which two worker threads cannot "
                  "share; running the local workers as processes (install tbb or an OpenMP "
                  "runtime to keep them threads)", RuntimeWarning, stacklevel=4)
    return True


def numba_threading_layer() -> str:
    """The threading layer Numba's parallel kernels use in this process (chosen on first use:
    ``tbb``, ``omp`` or ``workqueue``)."""
    import numba
    from numba.np.ufunc import parallel

    parallel._launch_threads()  # makes Numba choose, as its first parallel kernel would
    return numba.threading_layer()


def local_cluster(n_workers: int, processes: bool = False):
    """The engine's ``LocalCluster``: ``n_workers`` single-threaded workers (threads of this
    process, or processes), no dashboard, with the :data:`QUIET_CLUSTER` settings."""
    import dask
    from distributed import LocalCluster

    # dashboard_address=None still binds the default :8787 (with a warning when it is taken);
    # ":0" takes a free port for distributed's HTTP endpoints
    with dask.config.set(QUIET_CLUSTER):  # read when the scheduler and workers start
        return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=processes,
                            dashboard_address=":0", silence_logs=logging.ERROR)


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


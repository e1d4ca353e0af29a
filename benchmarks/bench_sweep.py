"""Sweep engine speed: PTQ points per second with 1 and 2 workers, and the engine's overhead.

LeNet-300-100 on the 10,000 MNIST test images (``$LOWBIT_DATA``; the digits CNN on its 368
test images otherwise), fixed point calibrated per layer, 16 points (wl 4/8/12/16 x 2 roundings
x 2 targets). Weights are the untrained zoo initialization: speed does not depend on what the
weights learned. Everything is measured in this process or its workers, as ratios.

"One worker" is one core's worth of compute: every point runs with 1 Numba thread and 1 BLAS
thread (``threads_per_worker=1``; the engine pins BLAS to one thread per point anyway). On 2
cores that is the only definition under which two workers can be twice one.

* ``engine / direct``: the same points through ``lowbit.sweep.run`` (zarr store + bookkeeping)
  in process (``workers=0``), against calling ``lowbit.point.evaluate`` in a loop here.
  Goal: overhead < 10% of the simulation time.
* ``machine``: two threads each running a 1-thread BLAS matmul, against one: what the machine
  gives a second thread right now (1.0 when the other core is busy with someone else's work).
* ``2 workers / 1 worker`` (warm): points per second of a 2-worker over a 1-worker local
  cluster whose kernels are already compiled, cluster start-up excluded, scatter and store
  included; thread workers (the default) and/or process workers warmed up by a first pass
  over the grid in every worker (compilation; cost reported). Repeated ``--reps`` times
  alternately; median and range. Goal: >= 1.7. The once-per-sweep work (creating the store,
  saving the model and images into it, assembling the Dataset) is timed apart.
* ``CPU per point`` and ``cores busy`` (process CPU time, worker processes included): on a
  shared machine the wall-clock ratio mostly measures how much of the second core the others
  left; ``2 / (CPU per point of 2 workers / of 1)`` is the ratio on two free cores, if nothing
  but a core is ever waited for.
* ``--cold``: a 2-worker sweep in a fresh interpreter, start-up and compilation included, for
  threads and processes (what a newcomer's first ``lowbit sweep`` costs).

    flock /tmp/lowbit-bench.lock python benchmarks/bench_sweep.py [--quick] [--reps N]
        [--workers threads|processes|both] [--cold]
    (--quick: 8 points, 2 repetitions)
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _data import mnist_dir  # noqa: E402
from lowbit.inputs import prepare  # noqa: E402
from lowbit.point import evaluate  # noqa: E402
from lowbit.spec import load_spec  # noqa: E402
from lowbit.sweep import grid_point, run  # noqa: E402

sweep_module = sys.modules["lowbit.sweep"]  # `lowbit.sweep` the attribute is the function


def make_spec(tmp: Path, quick: bool, verbose: bool = True) -> dict:
    from models import zoo

    data_dir = mnist_dir()
    mnist = data_dir is not None and (data_dir / "t10k-images-idx3-ubyte.gz").exists()
    name, dataset, samples = ("lenet-300-100", "mnist", 10000) if mnist else \
        ("digits-cnn", "digits", 368)
    shape = (1, 28, 28) if mnist else (1, 8, 8)
    model = zoo.get(name, seed=0, input_shape=shape)
    path = tmp / f"{name}.npz"
    model.save(path)
    if verbose:
        print(f"model {name} (untrained weights) on {samples} {dataset} test images")
    return {"model": str(path), "dataset": dataset, "samples": samples, "seed": 0,
            "calibration": 256,
            "axes": {"wl": [4, 8, 12, 16],
                     "rounding": ["nearest", "floor"],
                     "target": ["cpu-int8"] if quick else ["cpu-int8", "fpga-dsp48e2"]}}


def _warm(work, points):
    """Compile every kernel the sweep uses: one pass over the grid (word lengths give the code
    dtypes, targets the accumulator paths), with 1 Numba thread and 1 BLAS thread."""
    import numba
    from threadpoolctl import threadpool_limits

    numba.set_num_threads(1)
    with threadpool_limits(1, user_api="blas"):
        for point in points:
            evaluate(work, point)
    work.calibrations.clear()
    return os.getpid()


class _ExecuteTimer:
    """Times ``lowbit.sweep._execute``: submitting the points, running them on the workers
    (scatter included) and storing each one; not the once-per-sweep work around it (creating
    the store, saving the model and the evaluation images into it, assembling the Dataset)."""

    def __init__(self, cpu_of):
        self.seconds = self.cpu = 0.0
        self.cpu_of = cpu_of
        self.inner = sweep_module._execute

    def __call__(self, *args, **kwargs):
        c0 = self.cpu_of()
        t0 = time.perf_counter()
        try:
            return self.inner(*args, **kwargs)
        finally:
            self.seconds = time.perf_counter() - t0
            self.cpu = self.cpu_of() - c0


def process_cpu() -> float:
    """CPU seconds (user + system, all threads) this process has used."""
    t = os.times()
    return t.user + t.system


def timed_run(spec, work, blob, prov, fp, store, cpu_of=process_cpu,
              **kwargs) -> tuple[float, float, float]:
    """``(seconds running the points, CPU seconds they took, seconds of the whole run())``;
    ``cpu_of()`` counts the CPU seconds of every process the points run in."""
    work.calibrations.clear()  # every run pays for its calibrations, as the direct loop did
    timer = sweep_module._execute = _ExecuteTimer(cpu_of)
    try:
        t0 = time.perf_counter()
        run(spec, work, store, evaluate=evaluate, fingerprint=fp, model_npz=blob,
            provenance=prov, progress=False, **kwargs)
        total = time.perf_counter() - t0
    finally:
        sweep_module._execute = timer.inner
    return timer.seconds, timer.cpu, total


def machine_ratio(seconds: float = 1.5) -> float:
    """Throughput of two threads running 1-thread BLAS matmuls over one thread's."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    a = np.random.default_rng(0).random((600, 600))

    def work(k: int) -> float:
        counts = [0] * k
        stop = time.perf_counter() + seconds

        def loop(i):
            while time.perf_counter() < stop:
                a @ a
                counts[i] += 1
        threads = [threading.Thread(target=loop, args=(i,)) for i in range(k)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return sum(counts)

    with threadpool_limits(1, user_api="blas"):
        return work(2) / max(work(1), 1)


def cluster(n_workers: int, processes: bool):
    """The engine's own local cluster (``lowbit.sweep.local_cluster``), started here so that
    its start-up is timed apart; worker processes get OPENBLAS_NUM_THREADS=1 from dask's
    pre-spawn environment, and the engine sets one Numba thread per task."""
    from distributed import Client

    c = sweep_module.local_cluster(n_workers, processes)
    return c, Client(c)


def scaling(spec, work, blob, prov, fp, tmp: Path, processes: bool, reps: int) -> None:
    kind = "processes" if processes else "threads"
    n = spec.n_points
    points = [grid_point(spec, i) for i in range(n)]
    clusters, warmup = {}, {}
    try:
        for k in (1, 2):
            t0 = time.perf_counter()
            clusters[k] = cluster(k, processes)
            start = time.perf_counter() - t0
            t0 = time.perf_counter()
            if processes:  # each worker process compiles every kernel once
                clusters[k][1].run(_warm, work, points)
            warmup[k] = (start, time.perf_counter() - t0)
        for k in (1, 2):
            print(f"{kind}: {k}-worker cluster start {warmup[k][0]:.1f} s"
                  + (f", warm-up pass over the grid {warmup[k][1]:.1f} s per worker (once per "
                     f"worker process: compilation; amortized over a long sweep)"
                     if processes else ""))
        rates, cpus, fixed, ceilings = {1: [], 2: []}, {1: [], 2: []}, [], []
        for rep in range(reps):
            ceilings.append(machine_ratio(0.5))
            for k in (1, 2):
                client = clusters[k][1]
                cpu_of = (lambda c=client: process_cpu() + sum(c.run(process_cpu).values())) \
                    if processes else process_cpu
                t, cpu, total = timed_run(spec, work, blob, prov, fp,
                                          tmp / f"{kind}{k}-{rep}.zarr", cpu_of=cpu_of,
                                          scheduler=clusters[k][0].scheduler_address,
                                          threads_per_worker=1)
                rates[k].append(n / t)
                cpus[k].append(cpu / t)  # cores busy
                fixed.append(total - t)
        ratios = [b / a for a, b in zip(rates[1], rates[2])]
        for k in (1, 2):
            print(f"{kind}, {k} warm worker(s):  median {statistics.median(rates[k]):6.2f} "
                  f"points/s (range {min(rates[k]):.2f}-{max(rates[k]):.2f})")
        print(f"{kind}, 2 workers / 1 worker:  median {statistics.median(ratios):.2f}x "
              f"(range {min(ratios):.2f}-{max(ratios):.2f}, {reps} alternating runs; "
              f"goal >= 1.7)")
        shares = [r / c for r, c in zip(ratios, ceilings)]
        print(f"{kind}, the same over the machine's 2-thread BLAS ratio measured just before "
              f"each pair: median {statistics.median(shares):.2f} (range {min(shares):.2f}-"
              f"{max(shares):.2f}; machine {min(ceilings):.2f}-{max(ceilings):.2f}x)")
        per_point = {k: [c / r for c, r in zip(cpus[k], rates[k])] for k in (1, 2)}
        cost = [b / a for a, b in zip(per_point[1], per_point[2])]
        print(f"{kind}, CPU per point (all threads{' and worker processes' if processes else ''}"
              f"): 1 worker {statistics.median(per_point[1]) * 1e3:.0f} ms, 2 workers "
              f"{statistics.median(per_point[2]) * 1e3:.0f} ms (x{statistics.median(cost):.2f}: "
              f"two points at once share caches and memory bandwidth)")
        print(f"{kind}, cores busy: 1 worker median {statistics.median(cpus[1]):.2f}, 2 workers "
              f"{statistics.median(cpus[2]):.2f} of 2 (the rest of the wall time the workers "
              f"waited for a core: other processes on the machine, or the GIL)")
        free = [2 / c for c in cost]
        print(f"{kind}, 2 workers / 1 worker with the cores to themselves (2 / CPU-per-point "
              f"ratio): median {statistics.median(free):.2f}x (range {min(free):.2f}-"
              f"{max(free):.2f})")
        print(f"{kind}: once per sweep (store, inputs saved, Dataset assembled): median "
              f"{statistics.median(fixed):.2f} s, not in the rates above")
    finally:
        for c, client in clusters.values():
            client.close()
            c.close()


_COLD = """
import sys, tempfile, time
from pathlib import Path
sys.path.insert(0, {bench!r}); sys.path.insert(0, {repo!r})
t0 = time.perf_counter()
import lowbit
from bench_sweep import make_spec
tmp = Path(tempfile.mkdtemp())
ds = lowbit.sweep(make_spec(tmp, {quick}, verbose=False), workers=2, processes={processes},
                  progress=False)
print(time.perf_counter() - t0, ds["accuracy"].size)
"""


def cold(quick: bool) -> None:
    here = Path(__file__).resolve()
    for processes in (False, True):
        code = _COLD.format(bench=str(here.parent), repo=str(here.parents[1]), quick=quick,
                            processes=processes)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout.split()
        t, n = float(out[-2]), int(out[-1])
        kind = "processes" if processes else "threads"
        print(f"cold 2-worker {kind:9}: {n / t:6.2f} points/s ({t:.1f} s for {n} points, fresh "
              f"interpreter: imports, data, start-up, compilation included)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 points, 2 repetitions")
    parser.add_argument("--reps", type=int, default=None, help="alternating 1/2-worker runs")
    parser.add_argument("--workers", choices=("threads", "processes", "both"),
                        default="threads", help="kind of local workers to scale (default "
                        "threads, the engine's default; processes compile in every worker)")
    parser.add_argument("--cold", action="store_true", help="also cold 2-worker runs")
    args = parser.parse_args()
    logging.getLogger("distributed").setLevel(logging.ERROR)
    reps = args.reps or (2 if args.quick else 3)
    import numba
    from threadpoolctl import threadpool_limits

    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        spec = load_spec(make_spec(tmp, args.quick))
        work, blob, prov, fp = prepare(spec, None, progress=False)
        n = spec.n_points
        points = [grid_point(spec, i) for i in range(n)]

        t0 = time.perf_counter()
        _warm(work, points)
        first = time.perf_counter() - t0
        numba.set_num_threads(1)
        directs, locals_ = [], []
        for _ in range(reps):
            with threadpool_limits(1, user_api="blas"):
                t0 = time.perf_counter()
                for p in points:
                    evaluate(work, p)
                directs.append(time.perf_counter() - t0)
            work.calibrations.clear()
            locals_.append(timed_run(spec, work, blob, prov, fp, tmp / f"w0-{_}.zarr",
                                     workers=0, threads_per_worker=1))
        direct = statistics.median(directs)
        print(f"first pass over the grid in this process: {first:.1f} s, of which about "
              f"{first - direct:.1f} s compilation")
        print(f"direct calls:             {n / direct:6.2f} points/s "
              f"({direct / n * 1e3:.0f} ms per point, 1 Numba + 1 BLAS thread)")
        over = [100 * (t / d - 1) for (t, _, _), d in zip(locals_, directs)]
        over_all = [100 * (t / d - 1) for (_, _, t), d in zip(locals_, directs)]
        print(f"engine in process (zarr): overhead median {statistics.median(over):+.1f}% "
              f"(range {min(over):+.1f}..{max(over):+.1f}%) of direct; with the once-per-sweep "
              f"work {statistics.median(over_all):+.1f}%")
        print(f"machine: 2 threads / 1 thread of 1-thread BLAS matmuls: {machine_ratio():.2f}x "
              f"(the ceiling of any 2-worker ratio right now)")

        for processes in (False, True):
            if args.workers in ("both", "processes" if processes else "threads"):
                scaling(spec, work, blob, prov, fp, tmp, processes, reps)
        print(f"machine: 2 threads / 1 thread of 1-thread BLAS matmuls: {machine_ratio():.2f}x")
    if args.cold:
        cold(args.quick)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

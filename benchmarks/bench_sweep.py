"""Sweep engine speed: PTQ points per second with 1 and 2 workers, and the engine's overhead.

LeNet-300-100 on the 10,000 MNIST test images (``$LOWBIT_DATA``; the digits CNN on its 368
test images otherwise), fixed point calibrated per layer, 20 points. Weights are the untrained
zoo initialization: speed does not depend on what the weights learned. Everything is measured
in this process or its workers, as ratios:

* ``engine / direct``: the same points through ``lowbit.sweep.run`` (Dask + zarr store +
  bookkeeping) on one warm worker, against calling ``lowbit.point.evaluate`` in a loop here.
  Goal: overhead < 10% of the simulation time.
* ``2 workers / 1 worker``: points per second of a warm 2-worker cluster over a warm 1-worker
  one (processes, one numba thread each). Goal: >= 1.7.
* cold runs (cluster start-up and kernel compilation included) for threads and processes, the
  choice ``lowbit demo`` makes.

    python benchmarks/bench_sweep.py [--quick]    (--quick: 8 points, no cold runs)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lowbit.inputs import prepare  # noqa: E402
from lowbit.point import evaluate  # noqa: E402
from lowbit.spec import load_spec  # noqa: E402
from lowbit.sweep import grid_point, run  # noqa: E402


def make_spec(tmp: Path, quick: bool) -> dict:
    from models import datasets, zoo

    data_dir = os.environ.get("LOWBIT_DATA")
    mnist = bool(data_dir) and Path(data_dir, "t10k-images-idx3-ubyte.gz").exists()
    name, dataset, samples = ("lenet-300-100", "mnist", 10000) if mnist else \
        ("digits-cnn", "digits", 368)
    shape = (1, 28, 28) if mnist else (1, 8, 8)
    model = zoo.get(name, seed=0, input_shape=shape)
    path = tmp / f"{name}.npz"
    model.save(path)
    print(f"model {name} (untrained weights) on {samples} {dataset} test images")
    del datasets
    return {"model": str(path), "dataset": dataset, "samples": samples, "seed": 0,
            "calibration": 256,
            "axes": {"wl": [4, 8, 12, 16] if quick else [4, 6, 8, 12, 16],
                     "rounding": ["nearest", "floor"],
                     "target": ["cpu-int8"] if quick else ["cpu-int8", "fpga-dsp48e2"]}}


def _warm(work, points):
    for point in points:  # one point per word length: each code dtype compiles its kernels
        evaluate(work, point)
    return os.getpid()


def warm_points(spec) -> list[dict]:
    seen, out = set(), []
    for i in range(spec.n_points):
        p = grid_point(spec, i)
        if p["wl"] not in seen:
            seen.add(p["wl"])
            out.append(p)
    return out


def timed_run(spec, work, blob, prov, fp, store, **kwargs) -> float:
    work.calibrations.clear()  # every run pays for its calibrations, as the direct loop did
    t0 = time.perf_counter()
    run(spec, work, store, evaluate=evaluate, fingerprint=fp, model_npz=blob,
        provenance=prov, progress=False, **kwargs)
    return time.perf_counter() - t0


def warm_cluster(n_workers: int, work, spec):
    from distributed import Client, LocalCluster

    # one numba thread per worker process, as the engine's own local clusters run them
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, env={"NUMBA_NUM_THREADS": "1"})
    client = Client(cluster)
    client.run(_warm, work, warm_points(spec))  # compile every kernel on every worker
    work.calibrations.clear()
    return cluster, client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 points, no cold runs")
    quick = parser.parse_args().quick
    import numba

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        spec = load_spec(make_spec(tmp, quick))
        work, blob, prov, fp = prepare(spec, None, progress=False)
        n = spec.n_points
        points = [grid_point(spec, i) for i in range(n)]

        # direct calls, one numba thread (as each worker runs), after a warm-up point
        numba.set_num_threads(1)
        _warm(work, warm_points(spec))
        work.calibrations.clear()
        t0 = time.perf_counter()
        for p in points:
            evaluate(work, p)
        direct = time.perf_counter() - t0
        print(f"direct calls:               {n / direct:7.2f} points/s "
              f"({direct / n * 1e3:.0f} ms per point, 1 thread)")

        t_local = timed_run(spec, work, blob, prov, fp, tmp / "w0.zarr", workers=0)
        print(f"engine in-process (zarr):   {n / t_local:7.2f} points/s; "
              f"overhead {100 * (t_local / direct - 1):+.1f}% of direct")

        rates = {}
        for k in (1, 2):
            cluster, client = warm_cluster(k, work, spec)
            try:
                t = timed_run(spec, work, blob, prov, fp, tmp / f"w{k}.zarr",
                              scheduler=cluster.scheduler_address)
            finally:
                client.close()
                cluster.close()
            rates[k] = n / t
            extra = f"; overhead {100 * (t / direct - 1):+.1f}% of direct" if k == 1 else ""
            print(f"engine, {k} warm worker(s):   {rates[k]:7.2f} points/s{extra}")
        print(f"2 workers / 1 worker:       {rates[2] / rates[1]:7.2f}x  (goal >= 1.7)")

        for processes in (() if quick else (False, True)):
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
            t = timed_run(spec, work, blob, prov, fp, tmp / f"cold{processes}.zarr",
                          workers=2, processes=processes)
            kind = "processes" if processes else "threads"
            print(f"cold 2-worker {kind:9}:    {n / t:7.2f} points/s "
                  f"({t:.1f} s incl. start-up and compilation)")


if __name__ == "__main__":
    main()

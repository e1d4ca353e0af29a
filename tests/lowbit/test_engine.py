"""The sweep engine on a fake point function: grid layout, errors, store, resume, refusal."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from lowbit.point import FIGURES, LAYER_VARS, SCALAR_VARS
from lowbit.spec import load_spec
from lowbit.store import SweepStore, StoreMismatchError
from lowbit.sweep import MAX_CHUNK, TASKS_PER_WORKER, _blas_threads, _chunks, grid_point, run
from tests.lowbit import fake_point

REPO = Path(__file__).resolve().parents[2]


def run_fake(spec, store=None, **kwargs):
    spec = load_spec(spec)
    kwargs.setdefault("workers", 0)
    kwargs.setdefault("evaluate", fake_point.evaluate)
    return run(spec, fake_point.workload(), store,
               fingerprint=spec.fingerprint(), model_npz=b"fake model bytes",
               provenance=fake_point.provenance(), progress=False, **kwargs)


def test_grid_layout_and_values(fake_spec):
    """Every point lands at its own coordinates, with units and long names on each figure."""
    ds = run_fake(fake_spec)
    assert ds.sizes == {"wl": 4, "rounding": 3, "seed": 2, "layer": 3}
    assert list(ds.rounding.values) == ["nearest", "floor", "stochastic"]
    assert ds.wl.dtype == np.int64 and ds.rounding.dtype.kind == "U"
    for name, (units, long_name, per_layer) in FIGURES.items():
        assert ds[name].attrs == {"units": units, "long_name": long_name}
        assert ("layer" in ds[name].dims) == per_layer
    for wl in (2, 4, 5):
        for rounding in ("nearest", "floor", "stochastic"):
            for seed in (0, 1):
                point = {"wl": wl, "rounding": rounding, "seed": seed}
                code = fake_point.expected_code(point)
                got = ds.sel(point)
                assert got.accuracy.item() == code
                assert got[SCALAR_VARS[-1]].item() == code + (len(SCALAR_VARS) - 1) / 16
                np.testing.assert_array_equal(got[LAYER_VARS[1]].values,
                                              code * 10 + 100 + np.arange(3))
                assert got.error.item() == ""
    assert ds.attrs == fake_point.provenance()


def test_failing_point_is_recorded_and_the_sweep_goes_on(fake_spec):
    """A point that raises gets NaN figures and its exception in `error`; the others run."""
    ds = run_fake(fake_spec)
    bad = ds.sel(wl=3, rounding="floor")
    assert all(e.startswith("ValueError: fake failure at") for e in bad.error.values)
    assert np.isnan(bad.accuracy.values).all() and np.isnan(bad.sqnr_db.values).all()
    assert (ds.error.values != "").sum() == 2
    assert np.isfinite(ds.accuracy.where(ds.error == "")).sum() == 22


def test_grid_point_is_c_order(fake_spec):
    """Flat index 0 is the first value of every axis and the last axis varies fastest."""
    spec = load_spec(fake_spec)
    assert grid_point(spec, 0) == {"wl": 2, "rounding": "nearest", "seed": 0}
    assert grid_point(spec, 1) == {"wl": 2, "rounding": "nearest", "seed": 1}
    assert grid_point(spec, 23) == {"wl": 5, "rounding": "stochastic", "seed": 1}


@pytest.mark.parametrize("n, workers", [(1, 2), (7, 1), (24, 2), (100, 2), (1000, 3)])
def test_chunks_are_balanced_and_cover_the_todo_list(n, workers):
    """Chunks partition the points, differ in size by at most one and hold <= 8 points."""
    todo = np.arange(n) * 3
    chunks = _chunks(todo, workers)
    sizes = [len(c) for c in chunks]
    assert max(sizes) - min(sizes) <= 1 and max(sizes) <= 8
    np.testing.assert_array_equal(np.sort(np.concatenate(chunks)), todo)
    # small enough that the last worker still busy holds at most 1/16 of a worker's share
    assert max(sizes) <= max(1, min(MAX_CHUNK, math.ceil(n / (TASKS_PER_WORKER * workers))))


def test_a_short_sweep_goes_out_one_point_per_task():
    """20 points on 2 workers: 20 tasks, not 7 of up to 3 (which ended with 11 points on one
    worker and 9 on the other)."""
    chunks = _chunks(np.arange(20), 2)
    assert [len(c) for c in chunks] == [1] * 20


#: (BLAS thread counts, Numba threads) seen by each point of the recording evaluate below
SEEN: list = []


def evaluate_recording_threads(work, point):
    """fake_point.evaluate, noting the thread counts the point ran with."""
    import numba

    SEEN.append((tuple(_blas_threads()), numba.get_num_threads()))
    return fake_point.evaluate(work, point)


@pytest.mark.parametrize("workers", [0, 2])
def test_points_run_with_one_blas_thread_and_the_asked_numba_threads(fake_spec, workers):
    """Every point runs with 1 BLAS thread (one worker = one core) and
    threads_per_worker Numba threads; the caller's settings are restored afterwards."""
    import numba
    from threadpoolctl import threadpool_limits

    caller = numba.get_num_threads()
    SEEN.clear()
    with threadpool_limits(2, user_api="blas"):
        run_fake(fake_spec, workers=workers, threads_per_worker=1,
                 evaluate=evaluate_recording_threads)
        after = _blas_threads()
    assert len(SEEN) == 24
    assert {numba_threads for _, numba_threads in SEEN} == {1}
    assert {n for blas, _ in SEEN for n in blas} == {1}
    assert after and set(after) == {2}
    assert numba.get_num_threads() == caller


@pytest.mark.parametrize("value, error, match", [
    (0, ValueError, r"threads_per_worker=0 is out of range; expected threads_per_worker >= 1"),
    (1.5, TypeError, r"threads_per_worker must be an int, got float"),
    (True, TypeError, r"threads_per_worker must be an int, got bool"),
])
def test_threads_per_worker_is_checked(fake_spec, value, error, match):
    with pytest.raises(error, match=match):
        run_fake(fake_spec, threads_per_worker=value)


def test_store_round_trip_and_rerun_is_identical(fake_spec, tmp_path):
    """The store's assembled result, its root Dataset and a rerun all equal the in-memory run."""
    ref = run_fake(fake_spec)
    out = tmp_path / "out.zarr"
    ds = run_fake(fake_spec, out)
    xr.testing.assert_identical(ds, ref)
    log = tmp_path / "log"
    os.environ["LOWBIT_FAKE_LOG"] = str(log)
    try:
        again = run_fake(fake_spec, out)
    finally:
        del os.environ["LOWBIT_FAKE_LOG"]
    assert not log.exists()  # nothing ran a second time
    xr.testing.assert_identical(again, ref)
    on_disk = xr.open_zarr(out, consolidated=False).load()
    xr.testing.assert_identical(on_disk, ref)


def test_store_of_another_spec_is_refused(fake_spec, tmp_path):
    """Resuming into a store written by a different spec names the mismatch."""
    out = tmp_path / "out.zarr"
    run_fake(fake_spec, out)
    other = {**fake_spec, "axes": {**fake_spec["axes"], "wl": [2, 3]}}
    with pytest.raises(StoreMismatchError, match="holds a sweep of a different spec"):
        run_fake(other, out)


def test_directory_that_is_not_a_store_is_refused(fake_spec, tmp_path):
    """An unrelated existing directory is never overwritten."""
    out = tmp_path / "not-a-store"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    with pytest.raises(ValueError, match="is not a lowbit sweep store"):
        run_fake(fake_spec, out)
    assert (out / "precious.txt").read_text() == "keep me"


_KILLABLE = """
import sys
from tests.lowbit.test_engine import run_fake
from tests.lowbit.conftest import *  # noqa
spec = {spec!r}
run_fake(spec, sys.argv[1])
"""


def test_sigkill_then_resume_runs_only_the_rest_and_gives_the_same_result(fake_spec, tmp_path):
    """A sweep killed with SIGKILL part-way resumes with the missing points only."""
    out = tmp_path / "out.zarr"
    env = {**os.environ, "PYTHONPATH": str(REPO), "LOWBIT_FAKE_DELAY": "0.4"}
    proc = subprocess.Popen([sys.executable, "-c", _KILLABLE.format(spec=fake_spec), str(out)],
                            cwd=REPO, env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        done = 0
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            if (out / "_lowbit" / "points" / "done").exists():
                try:
                    done = _done_count(out)
                except KeyError:  # arrays made, attributes (fingerprint) not written yet
                    continue
                if done >= 6:
                    break
        assert proc.poll() is None, proc.stderr.read().decode()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    before = _done_count(out)
    assert 6 <= before < 24
    log = tmp_path / "log"
    os.environ["LOWBIT_FAKE_LOG"] = str(log)
    try:
        resumed = run_fake(fake_spec, out)
    finally:
        del os.environ["LOWBIT_FAKE_LOG"]
    assert len(log.read_text().splitlines()) == 24 - before
    xr.testing.assert_identical(resumed, run_fake(fake_spec))


def _done_count(out) -> int:
    store = SweepStore.open_existing(out, load_spec_fingerprint(out))
    return int(store.done_mask().sum())


def load_spec_fingerprint(out) -> str:
    import zarr
    return zarr.open_group(str(out), mode="r")["_lowbit"].attrs["fingerprint"]


def test_cli_refuses_zero_threads_per_worker(capsys):
    from lowbit.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "s.toml", "-o", "o", "--threads-per-worker", "0"])
    assert exit_info.value.code == 2
    assert "--threads-per-worker: 0 is out of range; expected >= 1" in capsys.readouterr().err


def test_resumed_store_overwrites_a_stale_error_of_an_unfinished_point(tmp_path):
    """A killed run may leave a point's error written but not its done flag; the rerun's clean
    result must not keep that error (only a store created by this object skips the write)."""
    from lowbit.store import _encode_error

    kwargs = dict(fingerprint="f", spec_toml="", dims=("wl",), coords={"wl": [1, 2]},
                  layers=["a"], scalar_vars=("x",), layer_vars=("y",))
    fresh = SweepStore.open_or_create(tmp_path / "s.zarr", **kwargs)
    assert fresh.fresh
    fresh.write_point(0, [1.0], [[2.0]], "")
    fresh._points["error"][1] = _encode_error("ValueError: from the killed run")
    resumed = SweepStore.open_or_create(tmp_path / "s.zarr", **kwargs)
    assert not resumed.fresh
    resumed.write_point(1, [3.0], [[4.0]], "")
    scalars, layered, errors, done = resumed.read_points()
    assert list(errors) == ["", ""] and done.tolist() == [True, True]
    np.testing.assert_array_equal(scalars, [[1.0], [3.0]])


def test_a_store_killed_while_being_created_leaves_nothing_to_refuse(tmp_path, monkeypatch):
    """The store is built beside its path and renamed into place: a run killed before its
    attributes are written leaves no half-made store, and the rerun creates it afresh."""
    import zarr

    kwargs = dict(fingerprint="f", spec_toml="", dims=("wl",), coords={"wl": [1, 2]},
                  layers=["a"], scalar_vars=("x",), layer_vars=("y",))
    path = tmp_path / "s.zarr"
    real_update = zarr.core.attributes.Attributes.update

    def killed(self, *args, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(zarr.core.attributes.Attributes, "update", killed)
    with pytest.raises(KeyboardInterrupt):
        SweepStore.open_or_create(path, **kwargs)
    assert not path.exists()
    monkeypatch.setattr(zarr.core.attributes.Attributes, "update", real_update)
    store = SweepStore.open_or_create(path, **kwargs)  # the leftover build dir is replaced
    assert store.fresh and store.attrs["fingerprint"] == "f"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr"]


def test_thread_workers_become_processes_on_numba_workqueue(monkeypatch):
    """Two worker threads must not share Numba's workqueue layer (it aborts the process)."""
    from lowbit import sweep as _  # noqa: F401  (the module, not the function)
    module = sys.modules["lowbit.sweep"]

    monkeypatch.setattr(module, "numba_threading_layer", lambda: "workqueue")
    with pytest.warns(RuntimeWarning, match="threading layer is 'workqueue'"):
        assert module._worker_processes(False, 2) is True
    assert module._worker_processes(False, 1) is False
    monkeypatch.setattr(module, "numba_threading_layer", lambda: "omp")
    assert module._worker_processes(False, 2) is False
    assert module._worker_processes(True, 2) is True


def test_numba_threading_layer_names_the_layer_in_use():
    code = ("from lowbit.sweep import numba_threading_layer as f; print(f())")
    env = {**os.environ, "PYTHONPATH": str(REPO), "NUMBA_THREADING_LAYER": "workqueue"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, cwd=REPO).stdout.split()
    assert out[-1] == "workqueue"

"""The distributed path with real processes: `dask scheduler` + two `dask worker`s on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr

from tests.lowbit.test_engine import run_fake

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.distributed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def scheduler_address():
    """A scheduler and two single-threaded workers in their own processes."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    procs = [subprocess.Popen(dask + ["--host", "127.0.0.1", "--port", str(port),
                                      "--dashboard-address", ":0", "--no-show"],
                              cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    try:
        worker = [sys.executable, "-m", "distributed.cli.dask_worker", address,
                  "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard", "--no-nanny"]
        procs += [subprocess.Popen(worker, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL) for _ in range(2)]
        from distributed import Client
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        # the workers hold nothing worth a graceful shutdown (which waits seconds)
        for p in procs[1:]:
            p.kill()
        procs[0].terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def test_two_worker_processes_give_the_local_result(fake_spec, scheduler_address, tmp_path):
    """The same points on a real two-process cluster: identical Dataset, store included."""
    local = run_fake(fake_spec)
    remote = run_fake(fake_spec, tmp_path / "out.zarr", workers=None,
                      scheduler=scheduler_address)
    xr.testing.assert_identical(remote, local)
    again = run_fake(fake_spec, tmp_path / "out.zarr", workers=None,
                     scheduler=scheduler_address)
    xr.testing.assert_identical(again, local)


def _executed(dask_worker) -> int:
    return dask_worker.state.executed_count


def test_both_workers_take_part(fake_spec, scheduler_address):
    """The chunks are spread over both worker processes."""
    from distributed import Client

    with Client(scheduler_address) as client:
        before = client.run(_executed)
        run_fake(fake_spec, workers=None, scheduler=scheduler_address)
        after = client.run(_executed)
    assert len(after) == 2
    assert all(after[w] > before[w] for w in after), (before, after)

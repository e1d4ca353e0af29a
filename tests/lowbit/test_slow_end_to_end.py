"""Slow tier: the real simulator through the command line, killed and resumed; real worker
processes; the demo."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
import xarray as xr

import lowbit as lb
from tests.lowbit.test_cli import REPO, lowbit

pytestmark = pytest.mark.slow

SPEC = """
model = "digits-mlp"
dataset = "digits"
samples = 60
seed = 0
calibration = 64
[train]
epochs = 1
seed = 0
[axes]
wl = [2, 3, 4, 5, 6, 8, 12, 16]
rounding = ["nearest", "stochastic"]
target = ["cpu-int8", "asic-45nm"]
"""


def _done(out) -> int:
    import zarr
    try:
        done = zarr.open_group(str(out), mode="r")["_lowbit/points/done"]
        return int(done[...].sum())
    except Exception:
        return 0


def test_cli_sweep_sigkilled_then_resumed_equals_an_uninterrupted_run(tmp_path):
    """`lowbit sweep` killed with SIGKILL after some points, rerun: identical result."""
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    out = tmp_path / "out.zarr"
    exe = [sys.executable, "-m", "lowbit"]
    import os
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(exe + ["sweep", str(spec), "-o", str(out), "--workers", "0",
                                   "--no-progress"], cwd=REPO, env=env,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None and _done(out) < 4:
        time.sleep(0.1)
    assert proc.poll() is None, proc.stderr.read().decode()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = _done(out)
    assert 4 <= before < 32
    res = lowbit("sweep", str(spec), "-o", str(out), "--workers", "0", "--no-progress")
    assert res.returncode == 0, res.stderr
    resumed = lb.open_store(out)[0]
    xr.testing.assert_identical(resumed, lb.sweep(str(spec), workers=0, progress=False))


def test_real_simulator_on_local_worker_processes(tmp_path):
    """Two worker processes (each compiling its own kernels) give the in-process result."""
    spec = lb.load_spec(SPEC)
    local = lb.sweep(spec, workers=0, progress=False)
    remote = lb.sweep(spec, store=tmp_path / "o.zarr", workers=2, processes=True,
                      progress=False)
    xr.testing.assert_identical(remote, local)


def test_demo_prints_the_pareto_table_and_writes_the_report(tmp_path):
    res = lowbit("demo", "--out", str(tmp_path / "demo"), "--no-progress")
    assert res.returncode == 0, res.stderr
    assert "Pareto front of accuracy vs energy per inference" in res.stdout
    assert "energy_pj [pJ]" in res.stdout
    assert (tmp_path / "demo" / "report.html").stat().st_size > 100_000
    ds = lb.open_store(tmp_path / "demo" / "digits.zarr")[0]
    assert dict(ds.sizes) == {"wl": 9, "fl": 1, "rounding": 3, "target": 3, "layer": 3}
    assert float(ds.accuracy.sel(wl=16, rounding="nearest").min()) > 0.9

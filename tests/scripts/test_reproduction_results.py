"""The reproduction scripts' result files (scripts/_reproduction.py ``Results``): every finished
cell is on disk after it finishes, a write never leaves a half-written file, ``--resume`` runs
only the missing cells and keeps the others bit for bit, and a file of another budget, or any
existing file without ``--resume``, is refused.  Cells are fabricated (no training)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr
from numpy.testing import assert_array_equal

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import _reproduction as R

from models import _atomic_file as atomic_file

from tests.scripts import stand_in_run

DIMS = ("rounding", "fl")
COORDS = {"rounding": ["nearest", "stochastic"], "fl": [8, 12]}
EPOCHS = 2
ATTRS = {"epochs": EPOCHS, "train_subset": 300, "schedule": "constant", "seed": 0, "lr": 0.1,
         "batch_size": 100, "optimizer": "SGD", "model": "gupta-1000-1000", "wl": 16,
         "dataset_sha256": "0" * 64}


def cell(rng, epochs=EPOCHS) -> dict:
    curve = rng.uniform(0.5, 20.0, epochs)
    return {"test_error": float(rng.uniform(0.5, 20.0)), "val_error": float(curve[-1]),
            "seconds": float(rng.uniform(1.0, 60.0)), "val_curve": curve}


def results(path, resume=False, coords=COORDS, **attrs) -> R.Results:
    return R.Results(path, DIMS, coords, {**ATTRS, **attrs}, epochs=EPOCHS, resume=resume)


def on_disk(path) -> xr.Dataset:
    with xr.open_dataset(path, engine="scipy") as ds:
        return ds.load()


def assert_holds(path, cells: dict) -> None:
    """The file at ``path`` holds exactly ``cells`` ({key: figures}) as finished cells."""
    ds = on_disk(path)
    finished = {(str(r), int(f)) for r in ds.rounding.values for f in ds.fl.values
                if np.isfinite(ds.test_error.sel(rounding=r, fl=f))}
    assert finished == set(cells)
    for (r, f), c in cells.items():
        sel = ds.sel(rounding=r, fl=f)
        for k in R.Results.FIGURES:
            assert_array_equal(sel[k].values, c[k])
        assert_array_equal(sel.val_error_curve.values, c["val_curve"])


def test_every_finished_cell_is_on_disk_after_it_finishes(tmp_path, rng):
    """After each add() the file holds every finished cell, and unfinished ones are NaN."""
    path = tmp_path / "r.nc"
    res = results(path)
    assert not path.exists()
    done = {}
    for key in [("stochastic", 12), ("nearest", 8), ("nearest", 12), ("stochastic", 8)]:
        done[key] = cell(rng)
        res.add(key, done[key])
        assert_holds(path, done)
    ds = on_disk(path)
    assert ds.attrs["lr"] == 0.1 and ds.attrs["dataset_sha256"] == "0" * 64
    assert ds.test_error.attrs["units"] == "%"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.nc"]


def test_a_shorter_curve_leaves_the_later_epochs_nan(tmp_path, rng):
    """A cell stopped early (fewer epochs in its curve) keeps NaN for the epochs it lacks."""
    path = tmp_path / "r.nc"
    c = cell(rng, epochs=1)
    results(path).add(("nearest", 8), c)
    curve = on_disk(path).val_error_curve.sel(rounding="nearest", fl=8).values
    assert_array_equal(curve, [c["val_curve"][0], np.nan])


@pytest.mark.parametrize("failing", ["write", "fsync", "replace"])
def test_a_failed_write_leaves_the_previous_file(tmp_path, rng, monkeypatch, failing):
    """A write failing after the partial file exists leaves the last complete file byte for
    byte, readable, and no partial file behind."""
    path = tmp_path / "r.nc"
    res = results(path)
    first = cell(rng)
    res.add(("nearest", 8), first)
    before = path.read_bytes()

    def fail(*args):
        assert any(p.name.startswith("r.nc.partial-") for p in tmp_path.iterdir())
        raise OSError(f"simulated failure in {failing}")

    if failing == "write":
        real_replacing = R.replacing

        class HalfWriter:
            def __init__(self, f):
                self.f = f

            def write(self, data):
                self.f.write(bytes(data)[:len(data) // 2])
                fail()

        def half_replacing(p):
            cm = real_replacing(p)

            class Wrapped:
                def __enter__(self):
                    return HalfWriter(cm.__enter__())

                def __exit__(self, *exc):
                    return cm.__exit__(*exc)

            return Wrapped()

        monkeypatch.setattr(R, "replacing", half_replacing)
    else:
        monkeypatch.setattr(atomic_file.os, failing, fail)
    with pytest.raises(OSError, match=f"simulated failure in {failing}"):
        res.add(("stochastic", 12), cell(rng))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert_holds(path, {("nearest", 8): first})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.nc"]


def test_a_new_file_gets_the_usual_mode_and_a_replaced_one_keeps_its_own(tmp_path, rng):
    """The partial file's 0600 never reaches the result: 0666 less the umask, or the old mode."""
    path = tmp_path / "r.nc"
    res = results(path)
    old_mask = os.umask(0o022)
    try:
        res.add(("nearest", 8), cell(rng))
        assert path.stat().st_mode & 0o777 == 0o644
        path.chmod(0o640)
        res.add(("nearest", 12), cell(rng))
        assert path.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old_mask)


def test_an_existing_file_is_refused_without_resume(tmp_path, rng):
    """Starting afresh over saved results would lose them: refused, the file untouched."""
    path = tmp_path / "r.nc"
    results(path).add(("nearest", 8), cell(rng))
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match=r"r\.nc already holds results; pass --resume"):
        results(path)
    assert path.read_bytes() == before


def test_resume_runs_only_the_missing_cells_and_keeps_the_others_bit_for_bit(tmp_path, rng):
    """Finished cells come back done() with the same float64 bits; the file after the resumed
    run holds them unchanged beside the new ones."""
    path = tmp_path / "r.nc"
    res = results(path)
    kept = {("nearest", 12): cell(rng), ("stochastic", 8): cell(rng)}
    for key, c in kept.items():
        res.add(key, c)
    before = on_disk(path)
    again = results(path, resume=True)
    missing = [k for k in [(r, f) for r in COORDS["rounding"] for f in COORDS["fl"]]
               if not again.done(k)]
    assert missing == [("nearest", 8), ("stochastic", 12)]
    for key, c in kept.items():
        assert again.get(key) == {k: c[k] for k in R.Results.FIGURES}
    new = {key: cell(rng) for key in missing}
    for key, c in new.items():
        again.add(key, c)
    assert_holds(path, {**kept, **new})
    after = on_disk(path)
    for key in kept:
        sel = dict(zip(DIMS, key))
        for k in ("test_error", "val_error", "seconds", "val_error_curve"):
            assert_array_equal(after[k].sel(sel).values.view(np.uint64),
                               before[k].sel(sel).values.view(np.uint64))


def test_resume_keeps_the_files_baselines_and_cells_outside_this_runs_coords(tmp_path, rng):
    """A resumed run over fewer or other coordinates (``--fl 14``) loses none of the file's
    cells, and results kept as attrs (a float baseline) survive."""
    path = tmp_path / "r.nc"
    res = results(path)
    first = {("nearest", 8): cell(rng), ("stochastic", 12): cell(rng)}
    for key, c in first.items():
        res.add(key, c)
    res.attrs["float_test_error"] = 1.25
    res.save()
    again = results(path, resume=True, coords={"rounding": ["stochastic"], "fl": [14]})
    assert again.coords == {"rounding": ["stochastic", "nearest"], "fl": [14, 8, 12]}
    assert again.attrs["float_test_error"] == 1.25
    new = cell(rng)
    again.add(("stochastic", 14), new)
    ds = on_disk(path)
    assert ds.attrs["float_test_error"] == 1.25
    for key, c in {**first, ("stochastic", 14): new}.items():
        assert_array_equal(ds.test_error.sel(dict(zip(DIMS, key))).values, c["test_error"])
    assert int(np.isfinite(ds.test_error.values).sum()) == 3


def test_resume_of_a_missing_file_starts_one(tmp_path, rng):
    """--resume with no file yet is a fresh run."""
    path = tmp_path / "r.nc"
    res = results(path, resume=True)
    c = cell(rng)
    res.add(("nearest", 8), c)
    assert_holds(path, {("nearest", 8): c})


OTHER = {"epochs": 3, "train_subset": 0, "lr": 0.05, "schedule": "cosine", "batch_size": 64,
         "seed": 1, "optimizer": "Adam", "hidden": "[512, 512]", "model": "lenet-300-100",
         "update_every_examples": 1000, "dataset_sha256": "f" * 64, "wl": 8,
         "max_overflow_rate": 0.001}


def test_every_budget_key_has_another_value_here():
    assert set(OTHER) == set(R.BUDGET_KEYS)


@pytest.mark.parametrize("key", R.BUDGET_KEYS)
def test_resume_refuses_another_budget_naming_the_key_and_both_values(tmp_path, rng, key):
    """Each budget key: a different value, or the key on one side only, is refused before
    anything is written; the message names the key and both values."""
    path = tmp_path / "r.nc"
    results(path).add(("nearest", 8), cell(rng))
    before = path.read_bytes()
    old = ATTRS.get(key, R.ABSENT)
    with pytest.raises(ValueError, match=(rf"--resume: .*r\.nc was written with another "
                                          rf"budget: {key} = {re.escape(str(old))} in the "
                                          rf"file, {re.escape(str(OTHER[key]))} now; pass "
                                          rf"another --out")):
        results(path, resume=True, **{key: OTHER[key]})
    assert path.read_bytes() == before


def test_a_budget_key_missing_from_this_run_is_refused(tmp_path, rng):
    """A key only the file has (another script's file, an older script) is a different budget."""
    path = tmp_path / "r.nc"
    R.Results(path, DIMS, COORDS, {**ATTRS, "hidden": "[100]"}, epochs=EPOCHS).add(
        ("nearest", 8), cell(rng))
    with pytest.raises(ValueError, match=r"hidden = \[100\] in the file, \(absent\) now"):
        results(path, resume=True)


def test_a_script_adds_its_own_budget_keys(tmp_path, rng):
    """budget_keys extends the shared keys: warmup_epochs differing is refused only there."""
    path = tmp_path / "r.nc"
    results(path, warmup_epochs=0).add(("nearest", 8), cell(rng))
    assert results(path, resume=True, warmup_epochs=2).done(("nearest", 8))
    with pytest.raises(ValueError, match=r"budget: warmup_epochs = 0 in the file, 2 now;"):
        R.Results(path, DIMS, COORDS, {**ATTRS, "warmup_epochs": 2}, epochs=EPOCHS, resume=True,
                  budget_keys=(*R.BUDGET_KEYS, "warmup_epochs"))


def test_resume_refuses_a_file_over_other_dimensions(tmp_path, rng):
    path = tmp_path / "r.nc"
    R.Results(path, ("variant",), {"variant": ["a"]}, ATTRS, epochs=EPOCHS).add(
        ("a",), cell(rng))
    with pytest.raises(ValueError, match=r"holds results over \('variant',\), this run's are "
                                         r"over \('rounding', 'fl'\)"):
        results(path, resume=True)


def test_budget_clash_compares_as_text_and_counts_a_missing_side():
    """netCDF gives attrs back as numpy scalars: np.int32(2) agrees with 2."""
    assert R.budget_clash({"epochs": np.int32(2), "lr": np.float64(0.1)},
                          {"epochs": 2, "lr": 0.1}, ["epochs", "lr", "seed"]) == {}
    assert R.budget_clash({"epochs": 2}, {"seed": 0}, ["epochs", "seed"]) == {
        "epochs": (2, R.ABSENT), "seed": (R.ABSENT, 0)}


# -- a real kill ---------------------------------------------------------------------------

def _stand_in(out, *options) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, stand_in_run.__file__, str(out), *options],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})


def _values(path) -> dict:
    ds = on_disk(path)
    return {v: tuple(ds[k].sel(variant=v).values.tobytes() for k in
                     ("test_error", "val_error", "seconds", "val_error_curve"))
            for v in ds.variant.values.tolist() if np.isfinite(ds.test_error.sel(variant=v))}


def _expected(label, salt) -> tuple:
    c = stand_in_run.stand_in_cell(label, salt)
    return tuple(np.float64(c[k]).tobytes() for k in ("test_error", "val_error", "seconds")) + (
        np.asarray(c["val_curve"], np.float64).tobytes(),)


def test_a_run_killed_after_its_first_cell_resumes_to_all_three(tmp_path):
    """SIGKILL while the second cell runs; --resume (another salt) runs only b and c, and a
    keeps the bytes the killed run wrote."""
    out = tmp_path / "r.nc"
    proc = _stand_in(out, "--hang-after", "1")
    try:
        line = proc.stdout.readline()
        assert " wrote " in line, line + proc.stderr.read()
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()
    first = _values(out)
    assert first == {"a": _expected("a", 0)}
    assert stand_in_run.main([str(out), "--resume", "--salt", "1"]) == ["b", "c"]
    assert _values(out) == {"a": _expected("a", 0), "b": _expected("b", 1),
                            "c": _expected("c", 1)}


def test_a_run_killed_while_writing_leaves_the_previous_file(tmp_path):
    """SIGKILL in the second write, the partial file complete but not renamed: the file still
    holds the first cell, readable, and --resume completes it."""
    out = tmp_path / "r.nc"
    proc = _stand_in(out, "--kill-in-write", "2")
    t0 = time.monotonic()
    assert proc.wait(timeout=30) == -signal.SIGKILL, proc.stderr.read()
    assert time.monotonic() - t0 < 30
    proc.stdout.close()
    proc.stderr.close()
    partial = [p for p in tmp_path.iterdir() if p.name.startswith("r.nc.partial-")]
    assert len(partial) == 1 and partial[0].stat().st_size > 0
    assert _values(out) == {"a": _expected("a", 0)}
    assert stand_in_run.main([str(out), "--resume", "--salt", "1"]) == ["b", "c"]
    assert _values(out)["a"] == _expected("a", 0)


# -- the scripts themselves, training replaced by stand-in cells --------------------------

def _fake_data():
    return SimpleNamespace(x_train=np.zeros((300, 1, 28, 28), np.float32), sha256="1" * 64,
                           input_shape=(1, 28, 28))


def _fake_run(calls, crash_at=None):
    def run(model, data, *, label, progress=False, **kwargs):
        calls.append(label)
        if len(calls) == crash_at:
            raise KeyboardInterrupt("stopped by the user")
        rng = np.random.default_rng(zlib.crc32(label.encode()) + 1000 * len(calls))
        return cell(rng, kwargs["epochs"])
    return run


@pytest.mark.parametrize("script, argv, cells", [
    ("reproduce_gupta2015", ["--fl", "8", "10"], 5),
    ("reproduce_binaryconnect", ["--hidden", "8"], 4),
])
def test_script_stopped_then_resumed_runs_each_cell_once(tmp_path, monkeypatch, script, argv,
                                                         cells):
    """A script stopped in its third cell keeps two; run again it refuses the file, with
    --resume it runs only the missing cells and the first two keep their bits."""
    module = __import__(script)
    out = tmp_path / "r.nc"
    argv = [*argv, "--epochs", "2", "--out", str(out)]
    monkeypatch.setattr(R, "load_mnist", lambda path, subset: _fake_data())
    calls = []
    monkeypatch.setattr(R, "run", _fake_run(calls, crash_at=3))
    with pytest.raises(KeyboardInterrupt):
        module.main(argv)
    before = on_disk(out)
    with pytest.raises(FileExistsError, match="pass --resume"):
        module.main(argv)
    resumed = []
    monkeypatch.setattr(R, "run", _fake_run(resumed))
    assert module.main([*argv, "--resume"]) == 0
    assert sorted(resumed) == sorted(set(resumed)) and not set(resumed) & set(calls[:2])
    assert len(calls[:2]) + len(resumed) == cells
    after = on_disk(out)
    assert int(np.isfinite(after.test_error.values).sum()) + ("float_test_error" in after.attrs
                                                              ) == cells
    for k, v in before.attrs.items():
        if k.startswith("float_"):
            assert_array_equal(after.attrs[k], v)
    finished = np.isfinite(before.test_error.values)
    assert_array_equal(after.test_error.values[finished], before.test_error.values[finished])
    assert_array_equal(after.val_error_curve.values[finished],
                       before.val_error_curve.values[finished])
    monkeypatch.setattr(R, "load_mnist", lambda path, subset: SimpleNamespace(
        **{**vars(_fake_data()), "sha256": "2" * 64}))
    with pytest.raises(ValueError, match="dataset_sha256 = 1{64} in the file, 2{64} now"):
        module.main([*argv, "--resume"])

"""The `lowbit` command line: help everywhere, errors on stderr with non-zero status."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lowbit.cli import build_parser, main

REPO = Path(__file__).resolve().parents[2]
COMMANDS = ("sweep", "simulate", "train", "targets", "formats", "report", "explore", "demo")


def lowbit(*args, **kwargs):
    """Run the installed `lowbit` script (or `python -m lowbit` from a source tree)."""
    exe = shutil.which("lowbit")
    cmd = [exe] if exe else [sys.executable, "-m", "lowbit"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(cmd + list(args), capture_output=True, text=True, env=env,
                          cwd=kwargs.pop("cwd", REPO), timeout=300, **kwargs)


def test_help_in_a_subprocess():
    res = lowbit("--help")
    assert res.returncode == 0
    for command in COMMANDS:
        assert command in res.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "usage: lowbit " + command in capsys.readouterr().out


def test_formats_parses_and_describes_an_hls_type():
    res = lowbit("formats", "ap_fixed<8,3,AP_RND_CONV,AP_SAT>")
    assert res.returncode == 0, res.stderr
    assert "FixedPoint(il=3, fl=5" in res.stdout
    assert "rounding=nearest_even" in res.stdout and "overflow=saturate" in res.stdout
    assert "min_value=-4.0, max_value=3.96875, step=0.03125" in res.stdout


def test_formats_bad_spec_fails_on_stderr(capsys):
    assert main(["formats", "ap_fixd<8,3>"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "lowbit formats: error: format 'ap_fixd<8,3>'" in captured.err


def test_targets_lists_every_target_with_key_figures():
    from simulator import targets
    res = lowbit("targets")
    assert res.returncode == 0, res.stderr
    for name in targets.names():
        assert f"\n{name}: " in "\n" + res.stdout
    assert "clock_mhz=" in res.stdout


def test_unknown_command_and_missing_argument_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["sweep", "spec.toml"])  # -o is required
    assert exc.value.code == 2
    assert "the following arguments are required: -o/--out" in capsys.readouterr().err


def test_sweep_with_a_bad_spec_names_the_key(tmp_path, capsys):
    spec = tmp_path / "bad.toml"
    spec.write_text('model = "digits-mlp"\ndataset = "digits"\nsamples = 10\n'
                    '[axes]\nwl = [0, 8]\n')
    assert main(["sweep", str(spec), "-o", str(tmp_path / "o.zarr")]) == 2
    assert "wl=0 is out of range; expected 1 <= wl <= 64" in capsys.readouterr().err
    assert not (tmp_path / "o.zarr").exists()


def test_workers_and_scheduler_are_exclusive(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["sweep", "s.toml", "-o", "o", "--workers", "2", "--scheduler", "tcp://x:1"])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_explore_refuses_a_missing_or_foreign_store_before_starting_bokeh(tmp_path, capsys,
                                                                           monkeypatch):
    """Exit status 2 with the reason on stderr; the server is never started."""
    started = []
    monkeypatch.setattr(subprocess, "call", lambda cmd, *a, **k: started.append(cmd) or 0)
    assert main(["explore", str(tmp_path / "none.zarr")]) == 2
    assert "store '" in capsys.readouterr().err
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "a.jpg").write_bytes(b"\xff\xd8")
    assert main(["explore", str(foreign)]) == 2
    err = capsys.readouterr().err
    assert "lowbit explore: error: cannot explore" in err
    assert "is not a lowbit sweep store" in err
    assert started == []


def _fake_store(path, spec, model_npz: bytes):
    """A store of the fake point function (no training, no simulation) holding ``model_npz``."""
    from lowbit.spec import load_spec
    from lowbit.sweep import run
    from tests.lowbit import fake_point

    spec = load_spec(spec)
    run(spec, fake_point.workload(), path, evaluate=fake_point.evaluate,
        fingerprint=spec.fingerprint(), model_npz=model_npz,
        provenance=fake_point.provenance(), workers=0, progress=False)


def test_explore_refuses_a_store_whose_model_does_not_load(tmp_path, fake_spec, capsys,
                                                           monkeypatch):
    started = []
    monkeypatch.setattr(subprocess, "call", lambda cmd, *a, **k: started.append(cmd) or 0)
    _fake_store(tmp_path / "bad.zarr", fake_spec, b"not an npz file")
    assert main(["explore", str(tmp_path / "bad.zarr")]) == 2
    assert "lowbit explore: error: cannot explore" in capsys.readouterr().err
    assert started == []


def test_explore_starts_bokeh_on_a_valid_store(tmp_path, fake_spec, monkeypatch):
    from models import zoo

    store = tmp_path / "ok.zarr"
    _fake_store(store, fake_spec, zoo.get("digits-mlp", input_shape=(1, 8, 8)).to_bytes())
    started = []
    monkeypatch.setattr(subprocess, "call", lambda cmd, *a, **k: started.append(cmd) or 0)
    assert main(["explore", str(store), "--port", "5123"]) == 0
    (cmd,) = started
    assert cmd[1:4] == ["-m", "bokeh", "serve"] and cmd[-1] == str(store.resolve())
    assert "5123" in cmd


def test_parser_builds_without_heavy_imports():
    assert build_parser().prog == "lowbit"

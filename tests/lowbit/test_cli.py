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


def test_explore_without_the_app_or_store_is_a_clear_error(tmp_path, capsys):
    assert main(["explore", str(tmp_path / "none.zarr")]) == 2
    assert "does not exist" in capsys.readouterr().err
    if not (REPO / "explorer_app" / "main.py").exists():
        store = tmp_path / "s.zarr"
        store.mkdir()
        assert main(["explore", str(store)]) == 2
        assert "explorer_app/main.py is missing" in capsys.readouterr().err


def test_parser_builds_without_heavy_imports():
    assert build_parser().prog == "lowbit"

"""scripts/compress_mnist.py's result file: every finished section is on disk after it
finishes, a write never leaves a half-written file, a killed run keeps what finished, and
``--resume`` skips the sections held for the same budget and refuses any other.  The sections
are stand-ins (no training)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import _reproduction as R

from models import _atomic_file as atomic_file
import compress_mnist as C


def fake_data(n=300, sha="1" * 64):
    return SimpleNamespace(x_train=np.zeros((n, 1, 28, 28), np.float32), sha256=sha)


@pytest.fixture
def sections(monkeypatch):
    """Stand-in sections: each records its call and stores a value drawn from its name and
    the call count; ``crash["at"] = name`` makes that section raise."""
    calls, crash = [], {}
    monkeypatch.setattr(C, "load_mnist", lambda path, subset: fake_data(subset or 300))

    def stand_in(name, key):
        def section(data, args, results):
            calls.append(name)
            if crash.get("at") == name:
                raise KeyboardInterrupt(f"stopped in {name}")
            results[key] = {"error": float(np.random.default_rng([len(calls), len(name)])
                                           .uniform()), "epochs": args.epochs}
        return section

    for name, (_, key, options) in list(C.SECTIONS.items()):
        monkeypatch.setitem(C.SECTIONS, name, (stand_in(name, key), key, options))
    return SimpleNamespace(calls=calls, crash=crash)


def run(out, *options):
    return C.main(["--out", str(out), "--epochs", "2", *options])


def on_disk(out) -> dict:
    return json.loads(Path(out).read_text())


def test_each_finished_section_is_on_disk_and_a_stopped_run_keeps_them(tmp_path, sections):
    """Stopped in its third section, the file holds the first two and their budgets."""
    out = tmp_path / "c.json"
    sections.crash["at"] = "distill"
    with pytest.raises(KeyboardInterrupt):
        run(out, "--sections", "dc,hash,distill")
    held = on_disk(out)
    assert {"deep_compression", "hashednets"} <= set(held) and "distillation" not in held
    assert set(held["budgets"]) == {"dc", "hash"}
    assert held["budgets"]["hash"] == {"epochs": 2, "seed": 0, "train_images": 300,
                                       "dataset_sha256": "1" * 64, "seeds": 1}
    assert held["budgets"]["dc"]["clusters"] == 32
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "c.json"]


def test_a_failed_write_leaves_the_previous_file(tmp_path, sections, monkeypatch):
    out = tmp_path / "c.json"
    run(out, "--sections", "dc")
    before = out.read_bytes()

    def fail(fd):
        raise OSError("disk full")

    monkeypatch.setattr(atomic_file.os, "fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        run(out, "--sections", "hash")
    monkeypatch.undo()
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "c.json"]


def test_resume_runs_only_the_missing_sections_and_keeps_the_others(tmp_path, sections):
    out = tmp_path / "c.json"
    run(out, "--sections", "dc")
    before = on_disk(out)
    sections.calls.clear()
    run(out, "--sections", "dc,hash", "--resume")
    assert sections.calls == ["hash"]
    after = on_disk(out)
    assert after["deep_compression"] == before["deep_compression"]
    assert after["budgets"]["dc"] == before["budgets"]["dc"]
    held = out.read_bytes()
    sections.calls.clear()
    run(out, "--sections", "dc,hash", "--resume")
    assert sections.calls == [] and out.read_bytes() == held


def test_without_resume_a_named_section_is_replaced_and_the_others_kept(tmp_path, sections):
    """The documented workflow: ``--sections hash --seeds 3`` redoes hash only."""
    out = tmp_path / "c.json"
    run(out, "--sections", "dc,hash")
    before = on_disk(out)
    run(out, "--sections", "hash", "--seeds", "3")
    after = on_disk(out)
    assert after["deep_compression"] == before["deep_compression"]
    assert after["hashednets"] != before["hashednets"]
    assert after["budgets"]["hash"]["seeds"] == 3 and after["budgets"]["dc"] == before[
        "budgets"]["dc"]


@pytest.mark.parametrize("section, option, value, key, old, new", [
    ("dc", "--epochs", "3", "epochs", 2, 3),
    ("dc", "--seed", "1", "seed", 0, 1),
    ("dc", "--train-subset", "200", "train_images", 300, 200),
    ("dc", "--clusters", "16", "clusters", 32, 16),
    ("dc", "--centroid-lr", "0.001", "centroid_lr", 0.0001, 0.001),
    ("hash", "--seeds", "3", "seeds", 1, 3),
    ("distill", "--temperature", "2", "temperature", 4.0, 2.0),
    ("distill_study", "--student-hidden", "10", "student_hidden", 30, 10),
    ("distill_qat", "--qat-epochs", "1", "qat_epochs", 2, 1),
])
def test_resume_refuses_a_section_of_another_budget(tmp_path, sections, section, option, value,
                                                     key, old, new):
    """The message names the section, the key and both values; nothing runs or is written."""
    out = tmp_path / "c.json"
    run(out, "--sections", section)
    before = out.read_bytes()
    sections.calls.clear()
    with pytest.raises(ValueError, match=rf"holds section {section} of another budget: "
                                         rf"{key} = {old} in the file, {new} now; drop "
                                         rf"--resume"):
        run(out, "--sections", section, "--resume", option, value)
    assert sections.calls == [] and out.read_bytes() == before


def test_resume_refuses_the_data_set_changing(tmp_path, sections, monkeypatch):
    out = tmp_path / "c.json"
    run(out, "--sections", "hash")
    monkeypatch.setattr(C, "load_mnist", lambda path, subset: fake_data(sha="2" * 64))
    with pytest.raises(ValueError, match="dataset_sha256 = 1{64} in the file, 2{64} now"):
        run(out, "--sections", "hash", "--resume")


def test_resume_refuses_a_section_without_a_budget_record(tmp_path, sections):
    """Files written before --resume existed hold sections of unknown budget."""
    out = tmp_path / "c.json"
    out.write_text(json.dumps({"hashednets": {"1/8": {}}}))
    with pytest.raises(ValueError, match=r"holds 'hashednets' \(section hash\) without a "
                                         r"budget record"):
        run(out, "--sections", "hash", "--resume")
    assert sections.calls == []


def test_unknown_sections_are_refused_before_anything_runs(tmp_path, sections, capsys):
    with pytest.raises(SystemExit):
        run(tmp_path / "c.json", "--sections", "dc,prune")
    assert "--sections ['prune'] unknown; expected some of ['dc', 'hash'" in (
        capsys.readouterr().err)
    assert sections.calls == [] and not (tmp_path / "c.json").exists()


KILLED_RUN = """
import sys, time
sys.path.insert(0, sys.argv[1])
import compress_mnist as C
from types import SimpleNamespace
import numpy as np
C.load_mnist = lambda path, subset: SimpleNamespace(x_train=np.zeros((300, 1)), sha256="1" * 64)
def dc(data, args, results):
    results["deep_compression"] = {"error": 0.015625}
def hang(data, args, results):
    print("dc written", flush=True)
    time.sleep(60)
C.SECTIONS["dc"] = (dc,) + C.SECTIONS["dc"][1:]
C.SECTIONS["hash"] = (hang,) + C.SECTIONS["hash"][1:]
C.main(["--out", sys.argv[2], "--epochs", "2", "--sections", "dc,hash"])
"""


def test_a_killed_run_keeps_its_finished_sections_and_resumes(tmp_path, sections):
    """SIGKILL in the second section; --resume runs only that one, dc unchanged."""
    out = tmp_path / "c.json"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(REPO / "scripts"), str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line == "dc written\n", line + proc.stderr.read()
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert on_disk(out)["deep_compression"] == {"error": 0.015625}
    run(out, "--sections", "dc,hash", "--resume")
    assert sections.calls == ["hash"]
    held = on_disk(out)
    assert held["deep_compression"] == {"error": 0.015625} and "hashednets" in held

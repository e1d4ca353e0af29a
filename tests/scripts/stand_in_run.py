"""A reproduction script's loop over three stand-in cells (no training), for the tests of
scripts/_reproduction.py that kill it: ``python stand_in_run.py OUT [--resume] [--salt S]
[--hang-after N] [--kill-in-write N]``.

Each cell's figures are drawn from ``(salt, cell)``: a resumed run with another salt shows by
its values which cells it ran again.  ``--hang-after N`` sleeps after the N-th finished cell
(the test kills it there); ``--kill-in-write N`` sends the process SIGKILL during its N-th write
of the result file, after the partial file holds every byte and before the rename.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import _reproduction as R

VARIANTS = ("a", "b", "c")
EPOCHS = 3
ATTRS = {"epochs": EPOCHS, "train_subset": 300, "seed": 0, "lr": 0.05,
         "dataset_sha256": "stand-in"}


def stand_in_cell(label: str, salt: int) -> dict:
    """Figures of one cell as ``_reproduction.run`` returns them (no model)."""
    rng = np.random.default_rng([salt, VARIANTS.index(label)])
    curve = rng.uniform(0.5, 20.0, EPOCHS)
    return {"test_error": float(rng.uniform(0.5, 20.0)), "val_error": float(curve[-1]),
            "seconds": float(rng.uniform(1.0, 60.0)), "val_curve": curve}


def main(argv=None) -> list[str]:
    """Run the missing cells; returns the labels it ran."""
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--salt", type=int, default=0)
    p.add_argument("--hang-after", type=int, default=None)
    p.add_argument("--kill-in-write", type=int, default=None)
    args = p.parse_args(argv)
    if args.kill_in_write is not None:
        writes = []
        fsync = os.fsync

        def fsync_or_die(fd):
            writes.append(fd)
            if len(writes) == args.kill_in_write:
                os.kill(os.getpid(), signal.SIGKILL)
            fsync(fd)

        os.fsync = fsync_or_die
    results = R.Results(Path(args.out), ("variant",), {"variant": VARIANTS}, dict(ATTRS),
                        epochs=EPOCHS, resume=args.resume)
    ran = []
    for label in VARIANTS:
        if results.done((label,)):
            continue
        results.add((label,), stand_in_cell(label, args.salt))
        ran.append(label)
        if len(ran) == args.hang_after:
            time.sleep(60)
    return ran


if __name__ == "__main__":
    main()

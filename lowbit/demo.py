"""``lowbit demo``: the README's main job, end to end.

Trains the digits CNN (cached after the first run), sweeps fixed point from 2 to 16 bits x three
rounding modes x three targets (CPU int8, FPGA DSP48E2, 45 nm ASIC) with each layer's fraction
bits calibrated, prints the accuracy-energy Pareto front and writes the HTML report. The store
resumes: a second run only reprints and rewrites the report.
"""

from __future__ import annotations

import sys
from pathlib import Path

DEMO_SPEC = {
    "title": "digits CNN: fixed point 2-16 bits x rounding x target",
    "model": "digits-cnn",
    "dataset": "digits",
    "samples": 368,          # the whole digits test split
    "seed": 0,               # key of stochastic rounding
    "calibration": 256,      # training images that choose each layer's fl
    "train": {"epochs": 6, "seed": 0},
    "axes": {
        "wl": [2, 3, 4, 5, 6, 8, 10, 12, 16],
        "fl": "auto",
        "rounding": ["nearest", "floor", "stochastic"],
        "target": ["cpu-int8", "fpga-dsp48e2", "asic-45nm"],
    },
}


def run_demo(out: Path, *, workers=None, scheduler=None, progress=True, processes=False,
             spec=None):
    """Run the demo into directory ``out`` (``digits.zarr`` and ``report.html``); return the
    result Dataset.

    Defaults to a local cluster of two worker threads (see ``lowbit.sweep.sweep``).
    """
    from lowbit.pareto import front_table, pareto_front
    from lowbit.report import write_report
    from lowbit.sweep import sweep

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    store, report = out / "digits.zarr", out / "report.html"
    spec = DEMO_SPEC if spec is None else spec
    _say(f"lowbit demo: training {spec['model']} (cached after the first run) and sweeping "
         f"into {store}")
    ds = sweep(spec, store=store, workers=workers, scheduler=scheduler, progress=progress,
               processes=processes)
    failed = int((ds["error"] != "").sum())
    front = pareto_front(ds, x="energy_pj", y="accuracy")
    print(f"\nfloat64 reference accuracy of the trained model: "
          f"{ds.attrs.get('float_accuracy', float('nan')):.4f} on {ds.attrs.get('samples')} "
          f"test images")
    print(f"{int(ds['error'].size)} configurations ({failed} failed); Pareto front of accuracy "
          f"vs energy per inference:\n")
    print(front_table(front, x="energy_pj", y="accuracy"))
    write_report(ds, report, title=spec.get("title"))
    print(f"\nreport: {report}\nexplore: lowbit explore {store}")
    return ds


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)

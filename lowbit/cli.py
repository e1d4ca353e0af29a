"""The ``lowbit`` command line.

    lowbit sweep SPEC.toml -o OUT.zarr [--workers N | --scheduler ADDR]
    lowbit simulate MODEL --format FMT [--target T] [--dataset D] [--samples N]
    lowbit train MODEL -o MODEL.npz [--dataset D] [--epochs E] [--method M] [--seed S]
    lowbit targets                      list the simulated targets with their key figures
    lowbit formats FMT [FMT ...]        parse precision specs and describe them
    lowbit report OUT.zarr [-o report.html]
    lowbit explore OUT.zarr [--port P] [--address HOST]
    lowbit demo [--workers N] [--out DIR]

Exit status: 0 on success, 2 for bad input (message on stderr), 1 for a failure while running,
130 when interrupted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


class UsageError(Exception):
    """Bad input found after argument parsing (exit status 2)."""


def _at_least_one(text: str) -> int:
    value = _positive_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is out of range; expected >= 1")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; expected >= 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lowbit", description="What fewer bits and fewer weights cost in accuracy and buy "
        "in energy, latency, memory and chip area.")
    from lowbit import __version__
    parser.add_argument("--version", action="version", version=f"lowbit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("sweep", help="run a sweep spec into a zarr store (resumes)",
                       description="Run every point of a sweep spec (TOML) on Dask and write "
                       "them to a zarr store as they finish; rerun to resume.")
    p.add_argument("spec", help="sweep spec (TOML)")
    p.add_argument("-o", "--out", required=True, help="output store (directory, e.g. out.zarr)")
    _cluster_args(p)
    p.add_argument("--threads-per-worker", type=_at_least_one, default=None, metavar="N",
                   help="Numba threads per worker (default: cores // workers on a local "
                   "cluster); BLAS always runs one thread per point")
    p.set_defaults(run=_cmd_sweep)

    p = sub.add_parser("simulate", help="simulate one configuration and print its figures",
                       description="Simulate a model bit-exactly in one number format on one "
                       "target and print accuracy and cost.")
    p.add_argument("model", help="zoo name (trained first, cached) or a trained .npz")
    p.add_argument("--format", dest="fmt", default=None,
                   help="precision spec for every tensor, e.g. 'ap_fixed<8,3>' (default: "
                   "8-bit fixed point calibrated per layer)")
    p.add_argument("--wl", type=int, default=8, help="word length of the calibrated default")
    p.add_argument("--target", default="cpu-int8", help="target name (see `lowbit targets`)")
    p.add_argument("--dataset", default="digits", help="digits | mnist")
    p.add_argument("--samples", type=int, default=None, help="test images (default: all)")
    p.add_argument("--epochs", type=int, default=3, help="training epochs of a zoo model")
    p.add_argument("--seed", type=int, default=0, help="seed of training and stochastic rounding")
    p.set_defaults(run=_cmd_simulate)

    p = sub.add_parser("train", help="train a zoo model and save it (.npz)",
                       description="Train a zoo model on a data set and save it as .npz.")
    p.add_argument("model", help="zoo name")
    p.add_argument("-o", "--out", required=True, help="output .npz")
    p.add_argument("--dataset", default="digits", help="digits | mnist")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--method", default="float", help="training method (models.methods)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=_cmd_train)

    p = sub.add_parser("targets", help="list the simulated targets with key figures",
                       description="List the simulated CPU, FPGA and ASIC targets.")
    p.set_defaults(run=_cmd_targets)

    p = sub.add_parser("formats", help="parse precision specs and describe them",
                       description="Parse number-format specs (HLS strings, Q notation, "
                       "registered names) and describe range, step and modes.")
    p.add_argument("specs", nargs="+", metavar="FMT", help="e.g. 'ap_fixed<8,3,AP_RND_CONV,AP_SAT>'")
    p.set_defaults(run=_cmd_formats)

    p = sub.add_parser("report", help="write a static HTML report of a sweep store",
                       description="Write a static HTML report (Bokeh) with the Pareto plots "
                       "of a sweep store.")
    p.add_argument("store", help="sweep store (directory)")
    p.add_argument("-o", "--out", default=None, help="HTML file (default: STORE/../NAME.html)")
    p.set_defaults(run=_cmd_report)

    p = sub.add_parser("explore", help="explore a sweep store in the browser (bokeh serve)",
                       description="Start the Bokeh explorer app on a sweep store.")
    p.add_argument("store", help="sweep store (directory)")
    p.add_argument("--port", type=int, default=5006)
    p.add_argument("--address", default="localhost",
                   help="interface to listen on (default localhost; 0.0.0.0 for all)")
    p.add_argument("--show", action="store_true", help="open a browser")
    p.set_defaults(run=_cmd_explore)

    p = sub.add_parser("demo", help="train the digits CNN, sweep 2-16-bit fixed point on three "
                       "targets, print the Pareto table, write the report",
                       description="The end-to-end demonstration (about two minutes on 2 cores).")
    p.add_argument("--out", default="lowbit-demo", help="output directory (default lowbit-demo)")
    _cluster_args(p)
    p.set_defaults(run=_cmd_demo)
    return parser


def _cluster_args(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--workers", type=_positive_int, default=None,
                       help="local Dask workers (default 2; 0 = no Dask, run in this process)")
    group.add_argument("--scheduler", default=None,
                       help="address of a running dask scheduler, e.g. tcp://10.0.0.5:8786")
    p.add_argument("--processes", action="store_true",
                   help="local workers as processes (default: threads of this process, which "
                   "share its compiled kernels)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _cmd_sweep(args) -> int:
    from lowbit.sweep import sweep

    ds = sweep(args.spec, store=args.out, scheduler=args.scheduler, workers=args.workers,
               progress=not args.no_progress, processes=args.processes,
               threads_per_worker=args.threads_per_worker)
    failed = int((ds["error"] != "").sum())
    print(f"{int(ds['error'].size)} points in {args.out} ({failed} failed); dims: "
          + ", ".join(f"{d}={n}" for d, n in ds.sizes.items()))
    return 0


def _cmd_simulate(args) -> int:
    import precision
    from lowbit.spec import load_spec
    from lowbit.inputs import prepare
    from lowbit.point import evaluate

    spec = {"model": args.model, "dataset": args.dataset, "samples": args.samples or 10**9,
            "seed": args.seed, "train": {"epochs": args.epochs, "seed": args.seed},
            "axes": ({"format": [args.fmt]} if args.fmt else {"wl": [args.wl], "fl": "auto"})
            | {"target": [args.target]}}
    if args.samples is None:
        from models import datasets
        spec["samples"] = len(datasets.load(args.dataset).x_test)
    spec = load_spec(spec)
    work, *_ = prepare(spec, None)
    point = {name: values[0] for name, values in spec.axes}
    scalars, layered = evaluate(work, point)
    what = str(precision.get(args.fmt)) if args.fmt else f"fixed point wl={args.wl}, fl per layer"
    print(f"{spec.model} on {args.samples or len(work.x_eval)} {args.dataset} test images, "
          f"{what}, target {args.target}")
    from lowbit.point import FIGURES
    for name, value in scalars.items():
        units = FIGURES[name][0]
        print(f"  {name:>15} = {value:.6g}" + ("" if units == "1" else f" {units}"))
    for k, layer in enumerate(work.layers):
        print(f"  {'sqnr_db':>15} [{layer}] = {layered['sqnr_db'][k]:.2f} dB")
    return 0


def _cmd_train(args) -> int:
    from models import datasets, train, zoo

    data = datasets.load(args.dataset)
    model = zoo.get(args.model, seed=args.seed, input_shape=data.input_shape)
    train(model, data, method=args.method, epochs=args.epochs, seed=args.seed)
    model.save(args.out)
    print(f"{args.model} trained {args.epochs} epochs ({args.method}) on {args.dataset}: test "
          f"accuracy {model.evaluate(data.x_test, data.y_test):.4f}; saved to {args.out}")
    return 0


def _cmd_targets(args) -> int:
    from simulator import targets

    rows = [targets.get(name).summary() for name in targets.names()]
    keys = list(dict.fromkeys(k for r in rows for k in r if k != "description"))
    for row in rows:
        print(f"{row['name']}: {row.get('description', '')}")
        print("    " + "; ".join(f"{k}={_short(row[k])}" for k in keys
                                 if k in row and k != "name"))
    return 0


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


_FORMAT_FIELDS = ("family", "bits", "il", "fl", "signed", "exp_bits", "man_bits", "bias",
                  "rounding", "overflow", "min_value", "max_value", "step")


def _cmd_formats(args) -> int:
    import precision

    for text in args.specs:
        try:
            fmt = precision.get(text)
        except (ValueError, TypeError) as exc:
            raise UsageError(f"format {text!r}: {exc}") from None
        print(f"{text}\n    {fmt!r}")
        fields = []
        for name in _FORMAT_FIELDS:
            try:
                value = getattr(fmt, name)
            except (AttributeError, NotImplementedError):
                continue
            if value is not None and not callable(value):
                fields.append(f"{name}={value}")  # exact: a range is not to be rounded
        print("    " + ", ".join(fields))
        if hasattr(fmt, "to_hls"):
            try:
                print(f"    HLS: {fmt.to_hls()}")
            except (ValueError, NotImplementedError):
                pass
    return 0


def _cmd_report(args) -> int:
    from lowbit.report import write_report

    out = Path(args.out) if args.out else Path(args.store).with_suffix(".html")
    write_report(args.store, out)
    print(f"report written to {out}")
    return 0


def _cmd_explore(args) -> int:
    import importlib.util
    import subprocess

    from lowbit.store import open_store

    store = Path(args.store)
    if not store.is_dir():
        raise UsageError(f"store {str(store)!r} does not exist")
    # read it here, before starting a server that would fail on the first page load
    try:
        open_store(store)
    except Exception as exc:  # corrupt zarr, foreign directory, unreadable model: say which
        raise UsageError(f"cannot explore {str(store)!r}: {exc}") from None
    spec = importlib.util.find_spec("explorer_app")
    app = Path(spec.origin).parent if spec is not None and spec.origin else None
    if app is None or not (app / "main.py").is_file():
        raise UsageError("the explorer app is not installed (explorer_app/main.py is missing); "
                         "`lowbit report STORE` writes a static report meanwhile")
    cmd = [sys.executable, "-m", "bokeh", "serve", str(app), "--port", str(args.port),
           "--address", args.address, "--allow-websocket-origin",
           f"{args.address}:{args.port}", "--args", str(store.resolve())]
    if args.show:
        cmd.insert(4, "--show")
    return subprocess.call(cmd)


def _cmd_demo(args) -> int:
    from lowbit.demo import run_demo

    run_demo(Path(args.out), workers=args.workers, scheduler=args.scheduler,
             progress=not args.no_progress, processes=args.processes)
    return 0


def main(argv=None) -> int:
    """Entry point of the ``lowbit`` script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("lowbit: interrupted", file=sys.stderr)
        return 130
    except (UsageError, ValueError, TypeError, FileNotFoundError, NotImplementedError) as exc:
        print(f"lowbit {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

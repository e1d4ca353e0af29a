"""Reproduce Gupta et al. 2015 (ICML), "Deep Learning with Limited Numerical Precision", MNIST
fully connected network: 784-1000-1000-10 (ReLU, softmax) trained with 16-bit fixed point
``<IL, FL>``, ``FL`` in {8, 10, 12, 14}, round-to-nearest vs stochastic rounding, vs float32.

Everything of the training step is fixed point (``train(method="fixed")``): input, weights,
biases, layer outputs, back-propagated errors and updates.  Plain SGD (no momentum, so that no
float state is kept outside the format), learning rate ``--lr``, mini-batches of 100.

    python scripts/reproduce_gupta2015.py --epochs 1 --train-subset 0 --lr 0.1

writes docs/reproductions/gupta2015.nc (dims rounding x fl, plus the float baseline) and
prints a markdown table for docs/reproductions.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _reproduction as R

WL = 16
FLS = (8, 10, 12, 14)
ROUNDINGS = ("nearest", "stochastic")


def main(argv=None) -> int:
    p = R.parser(__doc__.splitlines()[0], epochs=1, subset=10000)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--fl", type=int, nargs="+", default=list(FLS))
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--no-float", action="store_true", help="skip the float32 baseline")
    args = p.parse_args(argv)

    from models import zoo
    from models.optim import SGD
    from precision import FixedPoint

    data = R.load_mnist(args.data, args.train_subset)
    common = {"epochs": args.epochs, "seed": args.seed, "batch_size": args.batch_size,
              "lr": args.lr, "schedule": args.schedule, "progress": args.progress}
    results = R.Results(
        R.result_path(args.out, "gupta2015.nc"), ("rounding", "fl"),
        {"rounding": ROUNDINGS, "fl": args.fl},
        R.budget_attrs(args, data, paper="Gupta et al. 2015, ICML", model="gupta-1000-1000",
                       wl=WL, lr=args.lr, batch_size=args.batch_size, optimizer="SGD"),
        epochs=args.epochs, resume=args.resume)
    with R.limit_threads(args.threads):
        # the float baseline first: every other cell is read against it
        if not args.no_float and "float_test_error" not in results.attrs:
            r = R.run(zoo.get("gupta-1000-1000", seed=args.seed), data, label="float32",
                      method="float", optimizer=SGD(momentum=0.0), **common)
            results.attrs.update(float_test_error=r["test_error"], float_val_error=r["val_error"],
                                 float_seconds=r["seconds"],
                                 float_val_error_curve=r["val_curve"])
            results.save()
        for fl in args.fl:
            for rounding in ROUNDINGS:
                if results.done((rounding, fl)):
                    continue
                fmt = FixedPoint(il=WL - fl, fl=fl, rounding=rounding)
                results.add((rounding, fl), R.run(
                    zoo.get("gupta-1000-1000", seed=args.seed), data,
                    label=f"fixed <{WL - fl},{fl}> {rounding}", method="fixed", fmt=fmt,
                    optimizer=SGD(momentum=0.0), **common))
    float_error = results.attrs.get("float_test_error", float("nan"))
    rows = [[f"<{WL - fl},{fl}>"]
            + [f"{results.get((rounding, fl))['test_error']:.2f}" for rounding in ROUNDINGS]
            + [f"{float_error:.2f}"] for fl in args.fl]
    print(R.markdown_table(["format `<IL,FL>`", "round-to-nearest", "stochastic",
                            "float32 (same budget)"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

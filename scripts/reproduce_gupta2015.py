"""Reproduce Gupta et al. 2015 (ICML), "Deep Learning with Limited Numerical Precision", MNIST
fully connected network: 784-1000-1000-10 (ReLU, softmax) trained with 16-bit fixed point
``<IL, FL>``, ``FL`` in {8, 10, 12, 14}, round-to-nearest vs stochastic rounding, vs float32.

Everything of the training step is fixed point (``train(method="fixed")``): input, weights,
biases, layer outputs, back-propagated errors and updates.  Plain SGD (no momentum, so that no
float state is kept outside the format), learning rate ``--lr``, mini-batches of 100.

    python scripts/reproduce_gupta2015.py --epochs 1 --train-subset 10000

writes docs/reproductions/gupta2015.nc (dims rounding x fl, plus the float baseline) and
prints a markdown table for docs/reproductions.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _reproduction as R  # noqa: E402

WL = 16
FLS = (8, 10, 12, 14)
ROUNDINGS = ("nearest", "stochastic")


def main(argv=None) -> int:
    p = R.parser(__doc__.splitlines()[0], epochs=1, subset=10000)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--fl", type=int, nargs="+", default=list(FLS))
    p.add_argument("--batch-size", type=int, default=100)
    args = p.parse_args(argv)

    from models import zoo
    from models.optim import SGD
    from precision import FixedPoint

    data = R.load_mnist(args.data, args.train_subset)
    common = dict(epochs=args.epochs, seed=args.seed, batch_size=args.batch_size, lr=args.lr)
    runs = {}
    with R.limit_threads(args.threads):
        float_run = R.run(zoo.get("gupta-1000-1000", seed=args.seed), data, label="float32",
                          method="float", optimizer=SGD(momentum=0.0), **common)
        for fl in args.fl:
            for rounding in ROUNDINGS:
                fmt = FixedPoint(il=WL - fl, fl=fl, rounding=rounding)
                runs[(rounding, fl)] = R.run(
                    zoo.get("gupta-1000-1000", seed=args.seed), data,
                    label=f"fixed <{WL - fl},{fl}> {rounding}", method="fixed", fmt=fmt,
                    optimizer=SGD(momentum=0.0), **common)
    ds = R.to_dataset(runs, ("rounding", "fl"), {"rounding": ROUNDINGS, "fl": args.fl},
                      {"paper": "Gupta et al. 2015, ICML", "model": "gupta-1000-1000",
                       "wl": WL, "epochs": args.epochs, "train_subset": args.train_subset or 0,
                       "lr": args.lr, "batch_size": args.batch_size, "optimizer": "SGD",
                       "seed": args.seed, "dataset_sha256": data.sha256,
                       "float_test_error": float_run["test_error"],
                       "float_val_error": float_run["val_error"],
                       "float_seconds": float_run["seconds"]})
    R.save(ds, args.out, "gupta2015.nc")
    rows = [["float32", "-", f"{float_run['test_error']:.2f}"]]
    for fl in args.fl:
        for rounding in ROUNDINGS:
            rows.append([f"<{WL - fl},{fl}>", rounding,
                         f"{runs[(rounding, fl)]['test_error']:.2f}"])
    print(R.markdown_table(["format", "rounding", "test error (%)"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Reproduce BinaryConnect (Courbariaux, Bengio & David, NeurIPS 2015; deterministic and
stochastic) and binarized neural networks (Hubara et al., NeurIPS 2016) on permutation-invariant
MNIST, against the same network trained in float32.

The authors' MNIST scripts train large MLPs with batch norm and the squared hinge loss
(BinaryConnect: 3 x 2048 ReLU units, 250 epochs, Adam lr 1e-3 decayed to 3e-6; BNN: 3 x 4096
sign units with dropout, 1000 epochs, Adam lr 3e-3 decayed to 3e-7; see
docs/reproductions.md for the sources).  This script trains ``binary_mlp(hidden=--hidden)``: Dense (no bias)
-> BatchNorm -> ReLU (float, BinaryConnect) or Sign (BNN) per hidden layer, Dense -> BatchNorm
on top, with Adam at ``--lr``, batches of 100, the Glorot learning-rate scale of the papers and
latent weights clipped to [-1, 1].  Test errors are of the deployed binary network (sign of the
latent weights).

    python scripts/reproduce_binaryconnect.py --epochs 2 --train-subset 0 \
        --hidden 1024 1024 1024 --schedule cosine
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _reproduction as R

#: (label, method, hidden activation, method options)
VARIANTS = (
    ("float32", "float", "relu", {}),
    ("binaryconnect-det", "binaryconnect", "relu", {}),
    ("binaryconnect-stoch", "binaryconnect", "relu", {"stochastic": True}),
    ("bnn", "bnn", "sign", {}),
)


def main(argv=None) -> int:
    p = R.parser(__doc__.splitlines()[0], epochs=2, subset=20000)
    p.add_argument("--lr", type=float, default=0.003)
    p.add_argument("--hidden", type=int, nargs="+", default=[512, 512])
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--only", nargs="+", default=None, choices=[v[0] for v in VARIANTS],
                   help="labels of the variants to run")
    args = p.parse_args(argv)

    from models.methods.binary import binary_mlp

    data = R.load_mnist(args.data, args.train_subset)
    labels = [v[0] for v in VARIANTS if args.only is None or v[0] in args.only]
    results = R.Results(
        R.result_path(args.out, "binaryconnect.nc"), ("variant",), {"variant": labels},
        R.budget_attrs(args, data, papers="Courbariaux et al. 2015 (BinaryConnect); Hubara et "
                                          "al. 2016 (BNN)",
                       hidden=str(args.hidden), lr=args.lr, optimizer="Adam",
                       batch_size=args.batch_size),
        epochs=args.epochs, resume=args.resume)
    with R.limit_threads(args.threads):
        for label, method, act, options in VARIANTS:
            if label not in labels or results.done((label,)):
                continue
            model = binary_mlp(data.input_shape, hidden=tuple(args.hidden), activation=act,
                               seed=args.seed, name=f"{label}-mlp")
            results.add((label,), R.run(
                model, data, label=label, method=method, epochs=args.epochs, seed=args.seed,
                batch_size=args.batch_size, optimizer="adam", lr=args.lr,
                schedule=args.schedule, progress=args.progress, **options))
    print(R.markdown_table(["variant", "test error (%)"],
                           [[lab, f"{results.get((lab,))['test_error']:.2f}"] for lab in labels]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

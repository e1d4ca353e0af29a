"""Reproduce Courbariaux, Bengio & David 2014, "Training deep neural networks with low precision
multiplications" (arXiv:1412.7024): dynamic fixed point with 10-bit propagations and 12-bit
parameter updates, scales updated from the overflow rate (max 0.01 %) every 10 000 examples
(``--update-every``), vs float32, on permutation-invariant MNIST.

The paper trains maxout networks with dropout for hundreds of epochs; this script trains the
zoo's LeNet-300-100 (784-300-100-10, ReLU) with SGD (momentum 0.9, ``--lr``), batches of 100.

    python scripts/reproduce_courbariaux2014.py --epochs 5 --train-subset 0 --update-every 1000 \
        --schedule cosine

With short budgets use ``--update-every 1000``: the initial scales come from the first batch,
and the logits' range grows by 4 bits within the first few hundred examples; until the next
update they saturate, which stalls training.  (The authors' code instead measures the initial
scales in a few epochs of high-precision training, then re-initializes the parameters; lowbit's
DynamicFixedPointTraining has no such warm-up.)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _reproduction as R

#: (label, method, options)
VARIANTS = (
    ("float32", "float", {}),
    ("dynamic 10/12", "dynamic_fixed", {"wl_prop": 10, "wl_update": 12}),
    ("dynamic 10/12 stochastic", "dynamic_fixed",
     {"wl_prop": 10, "wl_update": 12, "rounding": "stochastic"}),
    ("dynamic 8/10", "dynamic_fixed", {"wl_prop": 8, "wl_update": 10}),
)


def main(argv=None) -> int:
    p = R.parser(__doc__.splitlines()[0], epochs=2, subset=20000)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--model", default="lenet-300-100")
    p.add_argument("--update-every", type=int, default=10000,
                   help="training examples between scale updates (paper: 10 000)")
    args = p.parse_args(argv)

    from models import zoo
    from models.methods.dynamic_fixed import DynamicFixedPointTraining

    data = R.load_mnist(args.data, args.train_subset)
    labels = [v[0] for v in VARIANTS]
    results = R.Results(
        R.result_path(args.out, "courbariaux2014.nc"), ("variant",), {"variant": labels},
        R.budget_attrs(args, data, paper="Courbariaux, Bengio & David 2014 (arXiv:1412.7024)",
                       model=args.model, lr=args.lr, optimizer="SGD(momentum=0.9)",
                       batch_size=args.batch_size, max_overflow_rate=1e-4,
                       update_every_examples=args.update_every),
        epochs=args.epochs, resume=args.resume)
    with R.limit_threads(args.threads):
        for label, method, options in VARIANTS:
            if results.done((label,)):
                continue
            if method == "dynamic_fixed":
                method = DynamicFixedPointTraining(update_every=args.update_every, **options)
            results.add((label,), R.run(
                zoo.get(args.model, seed=args.seed), data, label=label, method=method,
                epochs=args.epochs, seed=args.seed, batch_size=args.batch_size, lr=args.lr,
                schedule=args.schedule, progress=args.progress))
            if not isinstance(method, str):
                print(f"final fractional bits, {label}:")
                print(method.scales().to_pandas().to_string(), flush=True)
    print(R.markdown_table(["variant", "test error (%)"],
                           [[lab, f"{results.get((lab,))['test_error']:.2f}"] for lab in labels]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

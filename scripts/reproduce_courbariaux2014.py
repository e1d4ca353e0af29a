"""Reproduce Courbariaux, Bengio & David 2014, "Training deep neural networks with low precision
multiplications" (arXiv:1412.7024): dynamic fixed point with 10-bit propagations and 12-bit
parameter updates, scales updated from the overflow rate (max 0.01 %) every 10 000 examples
(``--update-every``), vs float32, on permutation-invariant MNIST.

The paper trains maxout networks with dropout for hundreds of epochs; this script trains the
zoo's LeNet-300-100 (784-300-100-10, ReLU) with SGD (momentum 0.9, ``--lr``), batches of 100.

    python scripts/reproduce_courbariaux2014.py --epochs 5 --train-subset 0 --update-every 1000 \
        --schedule cosine

Without a warm-up, each scale starts from the first tensor of its group, and the logits'
range grows by 4 bits within the first few hundred examples; until the next update they
saturate, which with the paper's period of 10 000 examples wrecks training (use
``--update-every 1000``).  The authors' code instead measures the initial scales in a few epochs
of high-precision training, then re-initializes the parameters: ``--warmup-epochs N`` adds, for
every dynamic variant, a row trained after N such epochs (``warmup_epochs=N``):

    python scripts/reproduce_courbariaux2014.py --epochs 5 --train-subset 0 --update-every 10000 \
        --schedule cosine --warmup-epochs 2 --out docs/reproductions/courbariaux2014_warmup.nc

``--variants`` runs only the named rows (the others stay empty in the file; ``--resume`` fills
them later).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _reproduction as R

#: attrs of this script that define the budget beyond ``_reproduction.BUDGET_KEYS``
OWN_BUDGET_KEYS = ("warmup_epochs", "update_unit")

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
                   help="training examples (or batches, --update-unit) between scale updates "
                        "(paper: 10 000 examples)")
    p.add_argument("--update-unit", default="examples", choices=("examples", "batches"),
                   help="what --update-every counts (the authors' code: batches)")
    p.add_argument("--warmup-epochs", type=int, default=0,
                   help="add a row per dynamic variant whose scales come from this many "
                        "epochs of float warm-up (the authors' code; default 0: no such rows)")
    p.add_argument("--variants", nargs="+", default=None, metavar="LABEL",
                   help="run only these rows (default: all)")
    args = p.parse_args(argv)

    from models import zoo
    from models.methods.dynamic_fixed import DynamicFixedPointTraining

    if args.warmup_epochs < 0:
        p.error(f"--warmup-epochs={args.warmup_epochs} is out of range; expected >= 0")
    variants = list(VARIANTS)
    if args.warmup_epochs:
        variants += [(f"{label}, warm-up {args.warmup_epochs}", method,
                      {**options, "warmup_epochs": args.warmup_epochs})
                     for label, method, options in VARIANTS if method == "dynamic_fixed"]
    labels = [v[0] for v in variants]
    unknown = sorted(set(args.variants or ()) - set(labels))
    if unknown:
        p.error(f"--variants {unknown} unknown; expected some of {labels}")
    path = R.result_path(args.out, "courbariaux2014.nc")
    if args.resume:
        _check_own_budget(path, {"warmup_epochs": args.warmup_epochs,
                                 "update_unit": args.update_unit})
    data = R.load_mnist(args.data, args.train_subset)
    results = R.Results(
        path, ("variant",), {"variant": labels},
        R.budget_attrs(args, data, paper="Courbariaux, Bengio & David 2014 (arXiv:1412.7024)",
                       model=args.model, lr=args.lr, optimizer="SGD(momentum=0.9)",
                       batch_size=args.batch_size, max_overflow_rate=1e-4,
                       update_every_examples=args.update_every, update_unit=args.update_unit,
                       warmup_epochs=args.warmup_epochs),
        epochs=args.epochs, resume=args.resume)
    with R.limit_threads(args.threads):
        for label, method, options in variants:
            if results.done((label,)) or (args.variants and label not in args.variants):
                continue
            if method == "dynamic_fixed":
                method = DynamicFixedPointTraining(update_every=args.update_every,
                                                   update_unit=args.update_unit, **options)
            results.add((label,), R.run(
                zoo.get(args.model, seed=args.seed), data, label=label, method=method,
                epochs=args.epochs, seed=args.seed, batch_size=args.batch_size, lr=args.lr,
                schedule=args.schedule, progress=args.progress))
            if not isinstance(method, str):
                if method.warmup_fl:
                    print(f"fractional bits after the warm-up, {label}:")
                    print(_fl_table(method.warmup_fl), flush=True)
                print(f"final fractional bits, {label}:")
                print(method.scales().to_pandas().to_string(), flush=True)
    print(R.markdown_table(["variant", "test error (%)"],
                           [[lab, f"{results.get((lab,))['test_error']:.2f}"] for lab in labels]))
    return 0


def _check_own_budget(path: Path, now: dict) -> None:
    """``--resume`` keeps a file's cells only for the same warm-up and update unit (files
    written before these options existed had neither: no warm-up, examples)."""
    if not path.exists():
        return
    import xarray as xr

    with xr.open_dataset(path, engine="scipy") as old:
        attrs = dict(old.attrs)
    before = {"warmup_epochs": int(attrs.get("warmup_epochs", 0)),
              "update_unit": str(attrs.get("update_unit", "examples"))}
    clash = R.budget_clash(before, now, OWN_BUDGET_KEYS)
    if clash:
        raise ValueError(f"--resume: {path} was written with another budget: "
                         f"{R.describe_clash(clash)}; pass another --out, or delete the file "
                         f"to start afresh")


def _fl_table(fl: dict) -> str:
    """``{(kind, layer): fl}`` as a kind x layer text table."""
    kinds = sorted({k for k, _ in fl})
    layers = sorted({i for _, i in fl})
    rows = [["kind"] + [str(i) for i in layers]]
    rows += [[k] + [str(fl.get((k, i), "")) for i in layers] for k in kinds]
    return "\n".join("  ".join(f"{c:>11s}" for c in row) for row in rows)


if __name__ == "__main__":
    raise SystemExit(main())

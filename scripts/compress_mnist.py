"""The survey's compression methods on MNIST: Deep Compression on LeNet-300-100 (Han et al.
2016 report 40x at 1.58% error from 1.64%), HashedNets at 1/8 and 1/64 against plain networks
with the same number of real weights (Chen et al. 2015), and distillation of a small student
from LeNet-300-100 with and without the teacher (Hinton et al. 2015; Ba & Caruana 2014), the
distilled student then quantized to 8- and 4-bit fixed point in the simulator.  The
``distill_study`` section repeats distillation over seeds with the settings chosen on the
validation split (docs/compression.md, "Distillation").

    nice -n 19 python scripts/compress_mnist.py --epochs 8 --sections dc,hash,distill
    nice -n 19 python scripts/compress_mnist.py --epochs 8 --seeds 3 --sections hash
    nice -n 19 python scripts/compress_mnist.py --epochs 8 --seeds 3 --student-hidden 30,10 \
        --sections distill_study

Results (JSON) go to docs/compression_mnist.json, rewritten atomically after every section so
that a stopped run keeps what finished; tables are printed.  A section named in ``--sections``
is run again and replaces its old entry, the file's other sections are kept.  ``--resume``
instead skips the named sections the file holds for the same budget (``budgets`` in the file)
and refuses, naming each differing key, those it holds for another budget or without a record.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

import numpy as np
from _reproduction import (
    budget_clash,
    describe_clash,
    limit_threads,
    load_mnist,
    replacing,
)


def _mlp(sizes, seed):
    """The ReLU MLP ``sizes[0] -> ... -> sizes[-1]`` on 28x28 images (``zoo.mlp``)."""
    from models import zoo

    return zoo.mlp(sizes[1:-1], (1, 28, 28), sizes[-1], seed=seed)


def _error(model, data) -> float:
    return 1.0 - model.evaluate(data.x_test, data.y_test)


def section_dc(data, args, results):
    from models import compress, train, zoo

    t0 = time.time()
    base = zoo.get("lenet-300-100", seed=args.seed)
    train(base, data, epochs=args.epochs, seed=args.seed, progress=False)
    base.save(args.work / "lenet300_float.npz")
    sparsity = {"dense1": 0.92, "dense2": 0.91, "dense3": 0.74}  # Han et al. 2016, Table 2
    small, report = compress.deep_compression(
        base, data, seed=args.seed, sparsity=sparsity, clusters=args.clusters,
        prune_steps=3, retrain_epochs=args.retrain_epochs, finetune_epochs=args.finetune_epochs,
        lr=0.01, centroid_lr=args.centroid_lr)
    print(report.table())
    results["deep_compression"] = {
        "float_error": _error(base, data), "final_error": 1 - report.accuracy_after,
        "stage_accuracy": report.extra["accuracy"],
        "compression_ratio": report.compression_ratio, "bytes_before": report.bytes_before,
        "bytes_after": report.bytes_after, "table": report.table(),
        "settings": {k: str(v) for k, v in report.settings.items()},
        "seconds": time.time() - t0}


def _plain_same_budget(budget, seed):
    """784-h1-h2-10 with (h1, h2) = s (300, 100), s the largest making the weights <= budget."""
    s = 1.0
    while True:
        h1, h2 = max(1, round(300 * s)), max(1, round(100 * s))
        if 784 * h1 + h1 * h2 + h2 * 10 <= budget:
            return _mlp((784, h1, h2, 10), seed), (h1, h2)
        s *= 0.98


def _spread(values) -> dict:
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max()), "runs": [float(a) for a in v]}


def section_hash(data, args, results):
    """HashedNets at 1/8 and 1/64 against the plain 784-h1-h2-10 net of the same real-weight
    budget, each pair trained with the same epochs, optimizer and seed, over ``args.seeds``."""
    from models import train, zoo
    from models.compress.hashing import hashed_like

    out = {}
    for frac in (1 / 8, 1 / 64):
        runs = {"hashed": [], "plain": []}
        for seed in range(args.seed, args.seed + args.seeds):
            t0 = time.time()
            hashed, report = hashed_like(zoo.get("lenet-300-100", seed=seed), frac, seed=seed)
            train(hashed, data, epochs=args.epochs, seed=seed, progress=False)
            real = sum(r.weights for r in report.layers)
            plain, hidden = _plain_same_budget(real, seed)
            train(plain, data, epochs=args.epochs, seed=seed, progress=False)
            runs["hashed"].append(_error(hashed, data))
            runs["plain"].append(_error(plain, data))
            print(f"1/{round(1 / frac)} seed {seed}: hashed {runs['hashed'][-1]:.4f} plain "
                  f"{runs['plain'][-1]:.4f} ({time.time() - t0:.0f} s)", flush=True)
        out[f"1/{round(1 / frac)}"] = {
            "real_weights": real, "plain_hidden": hidden, "plain_weights": int(sum(
                layer.params()["weight"].size for layer in plain.layers if layer.params())),
            "hashed_error": _spread(runs["hashed"]), "plain_error": _spread(runs["plain"]),
            "epochs": args.epochs}
    results["hashednets"] = out


def section_distill(data, args, results):
    from models import Sequential, train
    from models.compress.distillation import distill
    from simulator import calibrate, simulate

    teacher_path = args.work / "lenet300_float.npz"
    if teacher_path.exists():
        teacher = Sequential.load(teacher_path)
    else:
        from models import zoo

        teacher = zoo.get("lenet-300-100", seed=args.seed)
        train(teacher, data, epochs=args.epochs, seed=args.seed, progress=False)
    student = _mlp((784, int(args.student_hidden), 10), args.seed + 7)
    out = {"teacher_error": _error(teacher, data), "student_hidden": args.student_hidden}
    runs = {"labels": dict(teacher=None),
            "hinton": dict(teacher=teacher, mode="hinton", temperature=args.temperature,
                           alpha=0.9),
            "logits": dict(teacher=teacher, mode="logits", lr=0.01)}
    distilled = None
    for name, kw in runs.items():
        t0 = time.time()
        model, report = distill(student, data=data, epochs=args.epochs, seed=args.seed, **kw)
        out[name] = {"error": 1 - report.accuracy_after, "seconds": time.time() - t0}
        if name == "hinton":
            distilled = model
        print(name, out[name])
    graph = distilled.to_graph()
    for wl in (8, 4):
        qc = calibrate(graph, data.x_val[:2000], wl=wl)
        res = simulate(graph, qc, data.x_test, collect=False)
        out[f"hinton_fixed{wl}_error"] = float(np.mean(res.predictions != data.y_test))
    print("quantized", out)
    results["distillation"] = out


#: Hinton et al.'s (T, alpha) grid and the logit-regression variants; each is selected on the
#: validation split, never on test.
HINTON_GRID = [(t, a) for t in (2.0, 4.0, 8.0) for a in (0.5, 0.9)]
LOGIT_VARIANTS = {"raw lr 0.01": dict(lr=0.01), "raw lr 0.001": dict(lr=0.001),
                  "std lr 0.01": dict(lr=0.01, logit_scale="std"),
                  "std lr 0.05": dict(lr=0.05, logit_scale="std")}


def section_distill_study(data, args, results):
    """Students of ``args.student_hidden`` hidden units over ``args.seeds`` seeds: labels only,
    Hinton distillation on a (T, alpha) grid and logit regression variants, all with the same
    epochs, optimizer and per-seed initialisation and shuffling.  The Hinton setting and the
    logit variant are chosen by mean validation error; test error is computed only for the
    chosen ones (and the baseline), which are then quantized with the simulator."""
    from models import Sequential
    from models.compress.distillation import distill
    from simulator import calibrate, simulate

    teacher = Sequential.load(args.teacher)
    seeds = list(range(args.seed, args.seed + args.seeds))
    study = {"teacher": str(args.teacher), "teacher_val_error": 1 - teacher.evaluate(
        data.x_val, data.y_val), "teacher_test_error": _error(teacher, data), "epochs":
        args.epochs, "seeds": seeds}
    for hidden in (int(h) for h in str(args.student_hidden).split(",")):
        configs = {"labels": dict(teacher=None)}
        configs.update({f"hinton T={t:g} alpha={a:g}": dict(teacher=teacher, temperature=t,
                                                          alpha=a) for t, a in HINTON_GRID})
        configs.update({f"logits {k}": dict(teacher=teacher, mode="logits", **kw)
                        for k, kw in LOGIT_VARIANTS.items()})
        val, models = {name: [] for name in configs}, {name: [] for name in configs}
        for seed in seeds:
            student = _mlp((784, hidden, 10), seed)
            for name, kw in configs.items():
                t0 = time.time()
                model, _ = distill(student, data=data, epochs=args.epochs, seed=seed, **kw)
                val[name].append(1 - model.evaluate(data.x_val, data.y_val))
                models[name].append(model)
                print(f"{hidden} seed {seed} {name}: val {val[name][-1]:.4f} "
                      f"({time.time() - t0:.0f} s)", flush=True)
        mean_val = {name: float(np.mean(v)) for name, v in val.items()}
        chosen = {"labels": "labels",
                  "hinton": min((n for n in configs if n.startswith("hinton")), key=mean_val.get),
                  "logits": min((n for n in configs if n.startswith("logits")), key=mean_val.get)}
        out = {"val_error": {n: _spread(v) for n, v in val.items()}, "chosen": chosen}
        for role, name in chosen.items():
            row = {"test_error": _spread([_error(m, data) for m in models[name]])}
            for wl in (8, 6, 4):
                errs = []
                for m in models[name]:
                    graph = m.to_graph()
                    qc = calibrate(graph, data.x_val[:2000], wl=wl)
                    res = simulate(graph, qc, data.x_test, collect=False)
                    errs.append(float(np.mean(res.predictions != data.y_test)))
                row[f"fixed{wl}_test_error"] = _spread(errs)
            out[role] = row
            print(hidden, role, name, {k: round(v["mean"], 4) for k, v in row.items()},
                  flush=True)
        study[f"784-{hidden}-10"] = out
    results["distillation_study"] = study



def section_distill_qat(data, args, results):
    """Quantization-aware training of the baseline and the chosen Hinton student (settings read
    from ``distill_study``'s results, models retrained with the same seeds, which reproduces
    them): ``args.qat_epochs`` epochs of QAT on the labels with 4-bit weights and biases
    ``FixedPoint(il=0, fl=4)`` (range [-0.5, 0.4375]) and 8-bit activations
    ``FixedPoint(il=4, fl=4)``, the same for both; test error by ``simulate`` with the model's
    exported qconfig."""
    from models import Sequential, train
    from models.compress.distillation import distill
    from precision import FixedPoint
    from simulator import simulate

    study = results["distillation_study"]
    teacher = Sequential.load(args.teacher)
    weights, acts = FixedPoint(il=0, fl=4), FixedPoint(il=4, fl=4)
    out = {"weights": repr(weights), "activations": repr(acts), "epochs": args.qat_epochs,
           "lr": 0.01}
    for hidden in (int(h) for h in str(args.student_hidden).split(",")):
        name = f"784-{hidden}-10"
        chosen = study[name]["chosen"]["hinton"]          # "hinton T=4 alpha=0.5"
        t, a = (float(part.split("=")[1]) for part in chosen.split()[1:])
        rows = {}
        for role, kw in (("labels", dict(teacher=None)),
                         ("hinton", dict(teacher=teacher, temperature=t, alpha=a))):
            floats, quantized = [], []
            for seed in study["seeds"]:
                model, _ = distill(_mlp((784, hidden, 10), seed), data=data, epochs=study["epochs"],
                                   seed=seed, **kw)
                floats.append(_error(model, data))
                train(model, data, method="qat", fmt=weights, activations=acts,
                      epochs=args.qat_epochs, seed=seed, lr=0.01, progress=False)
                res = simulate(model.to_graph(), model.qconfig, data.x_test, collect=False)
                quantized.append(float(np.mean(res.predictions != data.y_test)))
                print(name, role, seed, floats[-1], quantized[-1], flush=True)
            rows[role] = {"setting": chosen if role == "hinton" else "labels",
                          "float_test_error": _spread(floats),
                          "qat_w4a8_test_error": _spread(quantized)}
        out[name] = rows
    results["distillation_qat"] = out


#: section name -> (function, key of its entry in the result file, the options beyond the
#: common budget of ``section_budget`` that decide its results)
SECTIONS = {
    "dc": (section_dc, "deep_compression",
           ("clusters", "retrain_epochs", "finetune_epochs", "centroid_lr")),
    "hash": (section_hash, "hashednets", ("seeds",)),
    "distill": (section_distill, "distillation", ("student_hidden", "temperature")),
    "distill_study": (section_distill_study, "distillation_study",
                      ("seeds", "student_hidden", "teacher")),
    "distill_qat": (section_distill_qat, "distillation_qat",
                    ("seeds", "student_hidden", "teacher", "qat_epochs")),
}


def section_budget(name: str, args, data) -> dict:
    """What decides section ``name``'s results: epochs, seed, the training images and the data
    hash, and the section's own options (``SECTIONS``); JSON-able."""
    budget = {"epochs": args.epochs, "seed": args.seed, "train_images": len(data.x_train),
              "dataset_sha256": data.sha256}
    for option in SECTIONS[name][2]:
        value = getattr(args, option)
        budget[option] = str(value) if isinstance(value, Path) else value
    return budget


def _sections_to_run(names, results, budgets: dict, resume: bool, out: Path) -> list[str]:
    """``names`` less, with ``resume``, those ``results`` holds for the same budget; refuses
    (ValueError) a resumed section held for another budget or without a budget record."""
    if not resume:
        return list(names)
    recorded = results.get("budgets", {})
    todo = []
    for name in names:
        key = SECTIONS[name][1]
        if key not in results:
            todo.append(name)
        elif name not in recorded:
            raise ValueError(f"--resume: {out} holds {key!r} (section {name}) without a budget "
                             f"record (written before --resume existed); drop --resume to run "
                             f"it again and replace it, or pass another --out")
        else:
            clash = budget_clash(recorded[name], budgets[name],
                                 [*recorded[name], *budgets[name]])
            if clash:
                raise ValueError(f"--resume: {out} holds section {name} of another budget: "
                                 f"{describe_clash(clash)}; drop --resume to run it again and "
                                 f"replace it, or pass another --out")
            print(f"{name}: kept from {out}", flush=True)
    return todo


def write_results(out: Path, results: dict) -> None:
    """The whole result file, replaced atomically (``_reproduction.replacing``)."""
    content = json.dumps(results, indent=1, default=float).encode()
    with replacing(out) as f:
        f.write(content)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--retrain-epochs", type=int, default=2)
    p.add_argument("--finetune-epochs", type=int, default=1)
    p.add_argument("--clusters", type=int, default=32)
    p.add_argument("--centroid-lr", type=float, default=1e-4)
    p.add_argument("--student-hidden", default="30",
                   help="hidden units of the student(s), comma-separated for distill_study")
    p.add_argument("--seeds", type=int, default=1, help="seeds per setting (hash, distill_study)")
    p.add_argument("--teacher", default=None,
                   help="teacher model file (default: <out dir>/lenet300_float.npz)")
    p.add_argument("--temperature", type=float, default=4.0)
    p.add_argument("--train-subset", type=int, default=0)
    p.add_argument("--sections", default="dc,hash,distill",
                   help="comma-separated: dc, hash, distill, distill_study, distill_qat (the last "
                        "three use dc's baseline as the teacher; distill_qat needs "
                        "distill_study's results)")
    p.add_argument("--qat-epochs", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=None)
    p.add_argument("--out", default=str(REPO / "docs" / "compression_mnist.json"))
    p.add_argument("--resume", action="store_true",
                   help="skip the named sections the result file holds for the same budget "
                        "(default: run them again and replace them)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    names = args.sections.split(",")
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        p.error(f"--sections {unknown} unknown; expected some of {list(SECTIONS)}")
    args.work = Path(args.out).with_suffix("")
    args.work.mkdir(parents=True, exist_ok=True)
    args.teacher = Path(args.teacher) if args.teacher else args.work / "lenet300_float.npz"
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    with limit_threads(args.threads):
        data = load_mnist(args.data, args.train_subset)
        budgets = {name: section_budget(name, args, data) for name in names}
        todo = _sections_to_run(names, results, budgets, args.resume, out)
        results["setup"] = {"epochs": args.epochs, "train_images": len(data.x_train),
                            "seed": args.seed, "optimizer": "SGD momentum 0.9, lr 0.05, batch 64"}
        for name in todo:
            SECTIONS[name][0](data, args, results)
            results.setdefault("budgets", {})[name] = budgets[name]
            write_results(out, results)
    return results


if __name__ == "__main__":
    main()

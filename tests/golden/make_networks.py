"""Write tests/golden/networks.npz: simulate() outputs of whole networks, frozen bit for bit.

Run only when a change of the numbers is intended (and say why in the commit):

    python tests/golden/make_networks.py

``tests/simulator/test_executor.py::test_golden_networks`` recomputes every case and compares
codes, float outputs and statistics exactly.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from precision import FixedPoint  # noqa: E402
from simulator import Accumulator, Graph, QConfig, simulate  # noqa: E402

PATH = HERE / "networks.npz"


def mlp() -> Graph:
    rng = np.random.default_rng(101)
    g = Graph((12,))
    g.add("fc1", "dense", weight=rng.normal(size=(16, 12)) * 0.4, bias=rng.normal(size=16) * 0.1)
    g.add("relu1", "relu")
    g.add("fc2", "dense", weight=rng.normal(size=(10, 16)) * 0.3, bias=rng.normal(size=10) * 0.1)
    g.add("relu2", "relu")
    g.add("fc3", "dense", weight=rng.normal(size=(4, 10)) * 0.4)
    return g


def cnn() -> Graph:
    rng = np.random.default_rng(202)
    g = Graph((1, 10, 10))
    g.add("conv1", "conv2d", weight=rng.normal(size=(4, 1, 3, 3)) * 0.5,
          bias=rng.normal(size=4) * 0.1, padding=1)
    g.add("bn1", "batchnorm", gamma=rng.uniform(0.5, 1.5, 4), beta=rng.normal(size=4) * 0.1,
          mean=rng.normal(size=4) * 0.1, var=rng.uniform(0.5, 1.5, 4))
    g.add("relu1", "relu")
    g.add("conv2", "conv2d", weight=rng.normal(size=(4, 2, 3, 3)) * 0.4, padding=1, groups=2)
    g.add("sum", "add", inputs=("conv2", "relu1"))
    g.add("pool1", "maxpool2d", kernel=2)
    g.add("avg", "avgpool2d", kernel=3, stride=1)
    g.add("flat", "flatten")
    g.add("fc", "dense", weight=rng.normal(size=(5, 36)) * 0.3, bias=rng.normal(size=5) * 0.1)
    return g.fold_batchnorm()


def inputs(g: Graph) -> np.ndarray:
    rng = np.random.default_rng(303)
    return rng.normal(size=(16,) + g.input_shape)


def cases():
    """(name, graph, qconfig, target, seed)"""
    q8 = QConfig.uniform(FixedPoint(il=4, fl=4))
    q6 = QConfig.uniform(FixedPoint(il=3, fl=3, rounding="nearest_even", overflow="wrap"),
                         accumulator=Accumulator(14, "saturate", saturate_each_step=True))
    qs = QConfig.uniform(FixedPoint(il=3, fl=5, rounding="stochastic"))
    for gname, build in (("mlp", mlp), ("cnn", cnn)):
        g = build()
        yield f"{gname}_q8_cpu", g, q8, "cpu-int8", None
        yield f"{gname}_q6_step_sat", g, q6, "cpu-int8", None
        yield f"{gname}_stochastic", g, qs, "fpga-dsp48e2", 7


def outputs(g, q, target, seed) -> dict[str, np.ndarray]:
    res = simulate(g, q, inputs(g), target=target, seed=seed)
    s = res.stats
    return {"codes": res.codes.codes, "outputs": res.outputs, "sqnr_db": s["sqnr_db"].values,
            "acc_overflow": s["acc_overflow"].values, "out_overflow": s["out_overflow"].values,
            "hist": s["hist"].values}


def main() -> None:
    arrays = {}
    for name, g, q, target, seed in cases():
        for key, value in outputs(g, q, target, seed).items():
            arrays[f"{name}/{key}"] = value
    np.savez_compressed(PATH, **arrays)
    print(f"wrote {len(arrays)} arrays to {PATH}")


if __name__ == "__main__":
    main()

"""Write tests/golden/cost.npz: estimate_cost of fixed seeded networks on every built-in target.

Run ``python -m tests.golden.make_cost`` only when a change of the cost model or of a cited
constant is intended; ``tests/simulator/test_cost.py::test_golden`` compares current outputs
with the file bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from precision import Binary, DynamicFixedPoint, FixedPoint, Ternary
from precision.codebook import Codebook
from simulator import Graph, LayerConfig, QConfig
from simulator.cost import estimate_cost
from simulator.targets import BUILTIN_NAMES

FIELDS = ("macs", "energy_pj", "compute_energy_pj", "memory_energy_pj", "cycles", "latency_s",
          "weight_bytes", "activation_bytes", "dsp", "lut", "bram", "fits")
PATH = Path(__file__).with_name("cost.npz")


def golden_graph() -> Graph:
    """A small conv net: conv (pruned) -> relu -> pool -> flatten -> dense (shared) -> dense."""
    rng = np.random.default_rng(7)
    g = Graph((1, 12, 12))
    w = rng.normal(size=(6, 1, 3, 3))
    w[rng.random(w.shape) < 0.7] = 0.0
    g.add("conv1", "conv2d", weight=w, bias=rng.normal(size=6))
    g.add("relu1", "relu")
    g.add("pool1", "maxpool2d", kernel=2)
    g.add("flat", "flatten")
    w2 = rng.normal(size=(40, 150))
    g.add("fc1", "dense", weight=w2, codebook=Codebook(centroids=(-1.0, 0.0, 1.0)).quantize(w2))
    g.add("relu2", "relu")
    g.add("fc2", "dense", weight=rng.normal(size=(10, 40)), bias=rng.normal(size=10))
    return g


def golden_qconfig() -> QConfig:
    q8, q4 = FixedPoint(il=2, fl=6), FixedPoint(il=1, fl=3)
    return QConfig(default=LayerConfig(weights=q8, activations=q8), input=q8,
                   layers={"fc1": LayerConfig(weights=q4)})


def low_bit_qconfig() -> QConfig:
    """Binary conv (XNOR-Net channel scales), ternary fc1, dynamic fixed point fc2."""
    b, q8 = Binary(scale="channel"), FixedPoint(il=2, fl=6)
    return QConfig(default=LayerConfig(weights=b, activations=b), input=b,
                   layers={"fc1": LayerConfig(weights=Ternary(), activations=Ternary()),
                           "fc2": LayerConfig(weights=DynamicFixedPoint(8, ("axis", 0)),
                                              activations=q8)})


def compute() -> dict[str, np.ndarray]:
    g = golden_graph()
    out = {}
    for tag, qc in (("fixed", golden_qconfig()), ("lowbit", low_bit_qconfig())):
        for name in BUILTIN_NAMES:
            for batch in (1, 4):
                cost = estimate_cost(g, qc, name, batch=batch)
                for f in FIELDS:
                    out[f"{tag}/{name}/{batch}/{f}"] = np.array(
                        [getattr(r, f) for r in (*cost.layers, cost.total)])
    return out


if __name__ == "__main__":
    np.savez(PATH, **compute())
    print(f"wrote {PATH}")

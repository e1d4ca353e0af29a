"""Bit-exact arithmetic on codes, hardware targets and their costs, and the network executor.

``Graph`` is the network IR, ``QConfig``/``LayerConfig`` say which format each tensor is stored
in, ``calibrate`` picks fixed-point steps from observed ranges, and ``simulate`` runs a graph on
codes, bit for bit as the target would, returning outputs, per-layer statistics and the cost.
"""

from simulator.accumulator import Accumulator
from simulator.calibrate import calibrate
from simulator.executor import SimResult, accuracy, simulate, simulate_float
from simulator.executor import warmup as _executor_warmup
from simulator.graph import Graph, Node
from simulator.qconfig import LayerConfig, QConfig

__all__ = [
    "Accumulator", "Cost", "Graph", "LayerConfig", "Node", "QConfig", "SimResult", "accuracy",
    "calibrate", "estimate_cost", "ops", "simulate", "simulate_float", "targets", "warmup",
]

_LAZY = {"ops": ("simulator.ops", None), "targets": ("simulator.targets", None),
         "estimate_cost": ("simulator.cost", "estimate_cost"), "Cost": ("simulator.cost", "Cost")}


def __getattr__(name):
    # ops, targets and cost import on first use, which keeps ``import simulator`` light.
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        mod = importlib.import_module(module)
        value = mod if attr is None else getattr(mod, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'simulator' has no attribute {name!r}")


def warmup() -> None:
    """Compile the simulator's hot kernels (ops and the executor) on one-element inputs."""
    from simulator import ops

    if hasattr(ops, "warmup"):
        ops.warmup()
    _executor_warmup()

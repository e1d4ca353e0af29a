"""One configuration of a sweep -> its measured figures, by calling the simulator.

A *point* is a dict ``{axis: value}`` (one value per swept axis). :func:`evaluate` builds the
``QConfig`` the point describes, runs ``simulator.simulate`` on the evaluation subset and reads
the figures off its result: no arithmetic of its own beyond counting and averaging.

The same function runs in the caller's process (``workers=0``) and on Dask workers, so a local
and a distributed sweep give identical results.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Figure name -> (units, long_name, per_layer). The order fixes the store's columns.
FIGURES: dict[str, tuple[str, str, bool]] = {
    "accuracy": ("1", "top-1 accuracy on the evaluation subset", False),
    "loss": ("nat", "mean cross-entropy of the simulated logits on the evaluation subset", False),
    "overflow_rate": ("1", "fraction of layer outputs that overflowed their format", False),
    "energy_pj": ("pJ", "energy of one inference", False),
    "latency_cycles": ("cycles", "latency of one inference in target clock cycles", False),
    "latency_s": ("s", "latency of one inference", False),
    "model_bytes": ("B", "bytes of weights and biases stored in their formats", False),
    "dsp": ("1", "DSP slices used (FPGA targets; 0 on others)", False),
    "lut": ("1", "LUTs used (FPGA targets; 0 on others)", False),
    "bram": ("1", "block RAMs used (FPGA targets; 0 on others)", False),
    "sqnr_db": ("dB", "signal-to-quantization-noise ratio of the layer output against the "
                      "float64 reference", True),
    "saturation_rate": ("1", "fraction of the layer's outputs that overflowed its format", True),
}
SCALAR_VARS = tuple(k for k, v in FIGURES.items() if not v[2])
LAYER_VARS = tuple(k for k, v in FIGURES.items() if v[2])
DEFAULT_TARGET = "cpu-int8"


@dataclass
class Workload:
    """What every point needs, scattered once to each worker.

    ``graph`` is the trained model's ``simulator.Graph``; ``x_eval``/``y_eval`` the evaluation
    subset; ``x_calib`` the calibration images of ``fl = "auto"``; ``layers`` the names of the
    weight layers (the ``layer`` dimension); ``seed`` the default seed of stochastic rounding;
    ``graphs`` the compressed graphs of the compression axes, computed once before scattering
    (``lowbit.compression.compressed_graphs``: setting -> graph, or the error text of a
    setting the library refused).
    """

    graph: object
    x_eval: np.ndarray
    y_eval: np.ndarray
    x_calib: np.ndarray
    layers: tuple[str, ...]
    seed: int | None = None
    graphs: dict = field(default_factory=dict, repr=False)
    #: per-worker memo of calibrate() results, keyed by (setting, wl, rounding, overflow)
    calibrations: dict = field(default_factory=dict, repr=False, compare=False)

    def graph_for(self, point: dict):
        """The graph a point simulates: the compressed one of its compression setting."""
        from lowbit.compression import setting_of

        setting = setting_of(point)
        if not setting:
            return self.graph
        if setting not in self.graphs:
            raise ValueError(f"compression setting {dict(setting)} was not prepared for this "
                             f"workload (prepared: {[dict(k) for k in self.graphs]})")
        graph = self.graphs[setting]
        if isinstance(graph, str):
            raise ValueError(f"compression {dict(setting)} failed: {graph}")
        return graph


def evaluate(work: Workload, point: dict) -> tuple[dict, dict]:
    """Simulate one point: ``(scalar figures, per-layer figures)`` keyed as in ``FIGURES``.

    Raises whatever the library raises for an impossible configuration; the engine records it
    in the ``error`` variable.
    """
    from simulator import simulate

    graph = work.graph_for(point)
    qconfig = build_qconfig(work, point)
    seed = point.get("seed", work.seed)
    target = point.get("target", DEFAULT_TARGET)
    res = simulate(graph, qconfig, work.x_eval, target=target, seed=seed)
    return figures(work, res)


def build_qconfig(work: Workload, point: dict):
    """The ``simulator.QConfig`` a point describes (see ``lowbit.spec.AXES``)."""
    import precision
    from simulator import Accumulator, QConfig

    acc = Accumulator(width=point["accumulator"]) if "accumulator" in point else None
    if "format" in point:
        qconfig = QConfig.uniform(precision.get(point["format"]), accumulator=acc)
    else:
        family = point.get("family", "fixed")
        qconfig = _family_qconfig(work, point, family, point.get("wl"), acc)
    for key, index in (("first_wl", 0), ("last_wl", -1)):
        wl = point.get(key, 0)
        if wl and work.layers:
            name = work.layers[index]
            kept = _family_qconfig(work, {**point, "fl": "auto"}, "fixed", wl, acc)
            qconfig = qconfig.with_layer(name, kept.resolve(name))
    return qconfig


def _family_qconfig(work: Workload, point: dict, family: str, wl, acc):
    import precision
    from lowbit.compression import setting_of
    from simulator import QConfig, calibrate

    rounding = point.get("rounding", "nearest")
    overflow = point.get("overflow", "saturate")
    if family == "fixed":
        if "fl" in point:
            fl = point["fl"]
        else:
            fl = wl - point["il"] if "il" in point else "auto"
        if fl == "auto":
            # the same for every target, seed, accumulator; not across compressed models
            key = (setting_of(point), wl, rounding, overflow)
            if key not in work.calibrations:
                work.calibrations[key] = calibrate(work.graph_for(point), work.x_calib, wl=wl,
                                                   rounding=rounding, overflow=overflow)
            cal = work.calibrations[key]
            return cal if acc is None else _with_accumulator(cal, acc)
        fmt = precision.FixedPoint(il=wl - fl, fl=fl, rounding=rounding, overflow=overflow)
        return QConfig.uniform(fmt, accumulator=acc)
    if family == "float":
        exp_bits = point["exp_bits"]
        kwargs = {"rounding": rounding} if "rounding" in point else {}
        fmt = precision.FloatingPoint(exp_bits=exp_bits, man_bits=wl - 1 - exp_bits, **kwargs)
        return QConfig.uniform(fmt, accumulator=acc)
    if family == "dynamic_fixed":
        fmt = precision.DynamicFixedPoint(wl, rounding=rounding, overflow=overflow)
        return QConfig.uniform(fmt, accumulator=acc)
    if family in ("binary", "ternary"):
        # binarized/ternarized weights; activations in fixed point of the point's wl (default 8)
        act = _family_qconfig(work, point, "fixed", wl or 8, acc)
        weights = precision.Binary() if family == "binary" else precision.Ternary()
        layers = {name: act.resolve(name) for name in work.layers}
        return QConfig(default=act.default, input=act.input,
                       layers={n: _replace(c, weights=weights) for n, c in layers.items()})
    raise ValueError(f"family={family!r} is not known; expected one of fixed, dynamic_fixed, "
                     f"float, binary, ternary")


def _replace(config, **roles):
    from dataclasses import replace
    return replace(config, **roles)


def _with_accumulator(qconfig, acc):
    from dataclasses import replace

    layers = {name: replace(c, accumulator=acc) for name, c in qconfig.layers.items()}
    return replace(qconfig, default=replace(qconfig.default, accumulator=acc), layers=layers)


def figures(work: Workload, res) -> tuple[dict, dict]:
    """``(scalar figures, per-layer figures)`` of a ``simulator.SimResult`` of ``work``'s
    evaluation subset, keyed as in ``FIGURES`` (accuracy and loss against ``work.y_eval``; cost
    figures from ``res.cost.total``; per-layer figures over ``work.layers``)."""
    from models.sequential import softmax_cross_entropy

    stats = res.stats.sel(layer=list(work.layers))
    # the weight layers requantize their outputs: their overflow events over their output
    # elements (stats' `size` counts them for the whole evaluation subset)
    overflow = float(stats["out_overflow"].sum()) / float(stats["size"].sum())
    total = res.cost.total
    scalars = {
        "accuracy": float(np.mean(res.predictions == work.y_eval)),
        "loss": softmax_cross_entropy(res.outputs, work.y_eval)[0],
        "overflow_rate": overflow,
        "energy_pj": float(total.energy_pj),
        "latency_cycles": float(total.cycles),
        "latency_s": float(total.latency_s),
        "model_bytes": float(total.weight_bytes),
        "dsp": float(total.dsp),
        "lut": float(total.lut),
        "bram": float(total.bram),
    }
    layered = {"sqnr_db": stats["sqnr_db"].values.astype(np.float64),
               "saturation_rate": stats["saturation_rate"].values.astype(np.float64)}
    return scalars, layered

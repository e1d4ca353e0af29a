"""The live lab: pick a format and a target, rerun the simulator, see what changed.

Accuracy and cost come from ``simulator.simulate`` on the store's whole evaluation subset
without statistics (the fast path); the per-layer SQNR bars from a run with statistics on its
first ``STATS_IMAGES`` images.  The weight histogram shows the chosen layer's float weights,
the values its format can hold (the quantization grid) and the fraction outside its range.
"""

from __future__ import annotations

import numpy as np
from bokeh.layouts import column, row
from bokeh.models import ColumnDataSource, Div, Select, Slider
from bokeh.plotting import figure

#: images of the statistics run behind the SQNR bars (the float reference doubles its cost)
STATS_IMAGES = 256
#: the grid is drawn when the format holds at most this many values inside the histogram
MAX_GRID_LINES = 400
FAMILIES = ("fixed", "dynamic_fixed", "float", "binary", "ternary")


def lab_point(family: str, il: int, fl: int, rounding: str, overflow: str, target: str) -> dict:
    """The sweep point (``lowbit.spec`` axes) the lab's widgets describe.

    ``wl = il + fl``.  For ``float`` the IL slider gives the exponent bits; for ``binary`` and
    ``ternary`` the activations are fixed point ``<il, fl>``.
    """
    point = {"family": family, "wl": il + fl, "rounding": rounding, "overflow": overflow,
             "target": target}
    if family in ("fixed", "binary", "ternary"):
        point["fl"] = fl
    if family == "float":
        point["exp_bits"] = il
    return point


def run_figures(data, point: dict) -> dict:
    """Accuracy and cost of ``point`` on the whole evaluation subset (no statistics: fast)."""
    from lowbit.point import build_qconfig
    from simulator import simulate

    data.warm.wait()
    qconfig = build_qconfig(data.workload(), point)
    res = simulate(data.graph, qconfig, data.x_eval, target=point["target"], collect=False,
                   seed=0)
    total = res.cost.total
    return {"accuracy": float(np.mean(res.predictions == data.y_eval)),
            "energy_pj": float(total.energy_pj), "latency_s": float(total.latency_s),
            "latency_cycles": float(total.cycles), "model_bytes": float(total.weight_bytes),
            "dsp": float(total.dsp), "lut": float(total.lut)}


def run_details(data, point: dict, layer: str) -> dict:
    """Per-layer SQNR (statistics run on the first ``STATS_IMAGES`` images) and the weight
    histogram of ``layer`` for ``point``."""
    from lowbit.point import build_qconfig
    from simulator import simulate

    data.warm.wait()
    qconfig = build_qconfig(data.workload(), point)
    stats = simulate(data.graph, qconfig, data.x_eval[:STATS_IMAGES], target=point["target"],
                     seed=0).stats.sel(layer=list(data.layers))
    return {"sqnr_db": stats["sqnr_db"].values.astype(float),
            "hist": weight_histogram(data.graph, qconfig, layer)}


def weight_histogram(graph, qconfig, layer: str, bins: int = 60) -> dict:
    """Histogram of ``layer``'s float weights, its format's grid and the clipped fraction.

    The grid is the set of distinct values the quantized weights take together with the
    format's range ends; ``clipped`` is the fraction of weights outside
    ``[min_value, max_value]`` (None for formats scaled per tensor, whose range follows the
    data).
    """
    node = next(n for n in graph.nodes if n.name == layer)
    w = np.asarray(node.params["weight"], dtype=np.float64).ravel()
    fmt = qconfig.resolve(layer).weights
    counts, edges = np.histogram(w, bins=bins)
    grid = np.zeros(0)
    clipped = None
    if fmt is not None:
        q = fmt.quantize(w, seed=0).to_float()
        lo, hi = getattr(fmt, "min_value", None), getattr(fmt, "max_value", None)
        if lo is not None and hi is not None and getattr(fmt, "family", "") != "dynamic_fixed":
            clipped = float(np.mean((w < lo) | (w > hi)))
        grid = np.unique(q)
        if grid.size > MAX_GRID_LINES:
            grid = np.zeros(0)
    return {"left": edges[:-1], "right": edges[1:], "count": counts, "grid": grid,
            "clipped": clipped, "format": repr(fmt)}


class LiveLab:
    """Widgets, sources and figures of the live lab for one session."""

    def __init__(self, data, runner, on_result=None):
        import precision
        from simulator import targets

        self.data, self.runner, self.on_result = data, runner, on_result
        self.family = Select(title="Format family", options=list(FAMILIES), value="fixed",
                             name="lab-family")
        self.il = Slider(title="IL (integer bits incl. sign; exponent bits for float)",
                         start=1, end=16, step=1, value=4, name="lab-il")
        self.fl = Slider(title="FL (fraction bits)", start=-4, end=24, step=1, value=4,
                         name="lab-fl")
        self.rounding = Select(title="Rounding", options=list(precision.ROUNDING_MODES),
                               value="nearest", name="lab-rounding")
        self.overflow = Select(title="Overflow", options=list(precision.OVERFLOW_MODES),
                               value="saturate", name="lab-overflow")
        names = list(targets.names())
        self.target = Select(title="Target", options=names,
                             value="cpu-int8" if "cpu-int8" in names else names[0],
                             name="lab-target")
        self.layer = Select(title="Histogram of layer", options=list(data.layers),
                            value=data.layers[0], name="lab-layer")
        self.result = Div(text="<i>not run yet</i>", name="lab-accuracy", width=420)
        self.clipped = Div(text="", name="lab-clipped", width=420)
        self.sqnr = ColumnDataSource({"layer": list(data.layers),
                                      "sqnr_db": np.zeros(len(data.layers))}, name="lab-sqnr")
        self.hist = ColumnDataSource({"left": [], "right": [], "count": []}, name="lab-hist")
        self.grid = ColumnDataSource({"x": []}, name="lab-grid")

        self.sqnr_fig = figure(x_range=list(data.layers), height=240, width=380,
                               title="Per-layer SQNR [dB]", tools="save", name="lab-sqnr-fig")
        self.sqnr_fig.vbar(x="layer", top="sqnr_db", width=0.7, source=self.sqnr)
        self.hist_fig = figure(height=240, width=480, title="Weights and quantization grid",
                               tools="pan,wheel_zoom,reset,save", name="lab-hist-fig")
        self.hist_fig.quad(left="left", right="right", bottom=0, top="count", source=self.hist,
                           alpha=0.6)
        self.hist_fig.ray(x="x", y=0, length=0, angle=np.pi / 2, source=self.grid,
                          color="crimson", alpha=0.35)
        for w in (self.family, self.il, self.fl, self.rounding, self.overflow, self.target,
                  self.layer):
            w.on_change("value", lambda attr, old, new: self.update())

    def point(self) -> dict:
        return lab_point(self.family.value, self.il.value, self.fl.value, self.rounding.value,
                         self.overflow.value, self.target.value)

    def update(self) -> None:
        """Rerun the simulator for the widgets' configuration (off the document lock): the
        figures first, then the SQNR bars and the histogram."""
        point, layer = self.point(), self.layer.value
        if not self.data.warm.is_set():
            self.result.text = "<i>compiling kernels (first start of the server)...</i>"
        self.runner.submit(lambda: run_figures(self.data, point),
                           lambda figures: self.apply_figures(point, layer, figures), self.fail)

    def apply_figures(self, point: dict, layer: str, f: dict) -> None:
        self.result.text = (
            f"<b>accuracy {100 * f['accuracy']:.2f} %</b> on {len(self.data.x_eval)} images"
            f"<br>energy {f['energy_pj']:.4g} pJ · latency {f['latency_s']:.4g} s · "
            f"weights {f['model_bytes']:.0f} B")
        if self.on_result is not None:
            self.on_result(point, f)
        self.runner.submit(lambda: run_details(self.data, point, layer), self.apply_details,
                           self.fail)

    def apply_details(self, out: dict) -> None:
        h = out["hist"]
        clipped = "n/a" if h["clipped"] is None else f"{100 * h['clipped']:.2f} %"
        self.clipped.text = f"weights of the layer outside the format's range: {clipped}"
        self.sqnr.data = {"layer": list(self.data.layers), "sqnr_db": out["sqnr_db"]}
        self.hist.data = {"left": h["left"], "right": h["right"], "count": h["count"]}
        self.grid.data = {"x": h["grid"]}

    def fail(self, exc: Exception) -> None:
        import html
        self.result.text = f"<b style='color:crimson'>cannot run this configuration:</b> " \
                           f"{html.escape(str(exc))}"

    def layout(self):
        controls = column(self.family, self.il, self.fl, self.rounding, self.overflow,
                          self.target, self.layer, width=300)
        return row(controls, column(self.result, self.clipped, row(self.sqnr_fig, self.hist_fig)))

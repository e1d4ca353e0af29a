"""Mixed precision: a per-layer table of formats, edited in place, run, added to the plot.

Each cell holds a format spec string as ``precision.get`` reads it (``"Q4.4"``,
``"ap_fixed<8,3>"``, ``"int8"``, ``"fp8_e4m3fn"``, ``"binary"``...).  The run uses the
same figures as a sweep point (``lowbit.point``) so the new star sits on the same axes.
"""

from __future__ import annotations

import html

from bokeh.layouts import column
from bokeh.models import (Button, ColumnDataSource, DataTable, Div, Select, StringEditor,
                          TableColumn)


def mixed_qconfig(layers, weights, activations):
    """The ``QConfig`` with each layer's weight and activation formats (spec strings)."""
    import precision
    from simulator import LayerConfig, QConfig

    configs = {}
    for name, w, a in zip(layers, weights, activations):
        try:
            configs[name] = LayerConfig(weights=precision.get(str(w).strip()),
                                        activations=precision.get(str(a).strip()))
        except Exception as exc:
            raise ValueError(f"layer {name!r}: {exc}") from None
    first = configs[layers[0]].activations if layers else None
    return QConfig(default=LayerConfig(weights=first, activations=first), input=first,
                   layers=configs)


def run_mixed(data, layers, weights, activations, target: str) -> dict:
    """Simulate the table's configuration: the sweep's scalar figures (``lowbit.point``)."""
    from lowbit.point import figures as _figures
    from simulator import simulate

    data.warm.wait()
    qconfig = mixed_qconfig(layers, weights, activations)
    res = simulate(data.graph, qconfig, data.x_eval, target=target, seed=0)
    scalars, layered = _figures(data.workload(), res)
    scalars["sqnr_db"] = float(layered["sqnr_db"][-1])
    return scalars


class MixedPrecision:
    """The per-layer format table of one session."""

    def __init__(self, data, runner, on_result=None):
        from simulator import targets

        self.data, self.runner, self.on_result = data, runner, on_result
        n = len(data.layers)
        self.source = ColumnDataSource({"layer": list(data.layers), "weights": ["Q2.6"] * n,
                                        "activations": ["Q4.4"] * n}, name="mixed-table")
        editor = StringEditor()
        self.table = DataTable(source=self.source, editable=True, height=160, width=420,
                               index_position=None, name="mixed",
                               columns=[TableColumn(field="layer", title="layer"),
                                        TableColumn(field="weights", title="weights",
                                                    editor=editor),
                                        TableColumn(field="activations", title="activations",
                                                    editor=editor)])
        names = list(targets.names())
        self.target = Select(title="Target", options=names,
                             value="cpu-int8" if "cpu-int8" in names else names[0],
                             name="mixed-target")
        self.button = Button(label="Run and add to the plot", button_type="primary",
                             name="mixed-run")
        self.result = Div(text="<i>Edit the formats, then run.</i>", name="mixed-result",
                          width=420)
        self.runs = 0
        self.button.on_click(lambda event=None: self.update())

    def update(self) -> None:
        d = self.source.data
        layers, w, a = list(d["layer"]), list(d["weights"]), list(d["activations"])
        target = self.target.value
        self.result.text = "<i>running...</i>"
        self.runner.submit(lambda: run_mixed(self.data, layers, w, a, target),
                           lambda out: self.apply(w, a, target, out), self.fail)

    def apply(self, weights, activations, target, figures: dict) -> None:
        self.runs += 1
        label = f"mixed #{self.runs} on {target}: " + ", ".join(
            f"{n}={w}/{a}" for n, w, a in zip(self.data.layers, weights, activations))
        self.result.text = (f"<b>{html.escape(label)}</b><br>accuracy "
                            f"{100 * figures['accuracy']:.2f} % · energy "
                            f"{figures['energy_pj']:.4g} pJ · weights "
                            f"{figures['model_bytes']:.0f} B")
        if self.on_result is not None:
            self.on_result(figures, label)

    def fail(self, exc: Exception) -> None:
        self.result.text = (f"<b style='color:crimson'>cannot run this table:</b> "
                            f"{html.escape(str(exc))}")

    def layout(self):
        return column(self.table, self.target, self.button, self.result)

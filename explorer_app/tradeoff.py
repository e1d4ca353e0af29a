"""The trade-off view: a chosen figure of merit against a chosen cost, with the Pareto front.

Points are coloured by a string axis of the sweep (family, target, ...), the hover shows the
point's whole configuration, a click shows its details beside the plot.  Configurations run
live (live lab, mixed precision) join the plot as stars in ``extra``.
"""

from __future__ import annotations

import html

import numpy as np
from bokeh.models import ColumnDataSource, Div, HoverTool, Select
from bokeh.palettes import Category10_10
from bokeh.plotting import figure

from explorer_app.state import SMALLER_IS_BETTER, X_FIGURES, Y_FIGURES


def _label(table, name: str) -> str:
    units = table[name].attrs.get("units", "")
    return f"{name} [{units}]" if units and units != "1" else name


class TradeoffView:
    """Scatter of ``y`` against ``x`` over the rows ``mask`` keeps; ``update()`` redraws."""

    def __init__(self, table, axes):
        self.table = table
        self.axes = tuple(axes)
        ys = [f for f in Y_FIGURES if f in table]
        xs = [f for f in X_FIGURES if f in table]
        strings = [a for a in axes if table[a].values.dtype.kind not in "iuf"]
        colour_default = next((a for a in ("family", "target") if a in strings),
                              strings[0] if strings else "")
        self.y_select = Select(title="Figure of merit", options=ys, value=ys[0], name="y")
        self.x_select = Select(title="Cost", options=xs, value=xs[0], name="x")
        self.colour_select = Select(title="Colour by", options=strings or [""],
                                    value=colour_default, name="colour")
        self.source = ColumnDataSource(self._columns(np.zeros(0, dtype=np.int64)),
                                       name="points")
        self.front = ColumnDataSource({"x": [], "y": []}, name="front")
        self.extra = ColumnDataSource({"x": [], "y": [], "label": []}, name="extra")
        self.extra_rows: list[dict] = []

        self.figure = figure(height=460, sizing_mode="stretch_width", output_backend="webgl",
                             tools="pan,wheel_zoom,box_zoom,box_select,tap,reset,save",
                             active_scroll="wheel_zoom", name="tradeoff")
        self.figure.toolbar.logo = None
        renderer = self.figure.scatter("x", "y", source=self.source, size=9, color="colour",
                                       legend_field="colour_value", alpha=0.8,
                                       selection_line_color="black", selection_line_width=2,
                                       nonselection_alpha=0.3)
        self.figure.line("x", "y", source=self.front, color="black", line_width=2,
                         line_dash="dashed", legend_label="Pareto front")
        self.figure.scatter("x", "y", source=self.front, marker="square", size=5,
                            color="black", legend_label="Pareto front")
        self.figure.scatter("x", "y", source=self.extra, marker="star", size=16,
                            color="crimson", legend_label="run here")
        self.figure.legend.location = "bottom_right"
        self.figure.legend.click_policy = "hide"
        tips = [(a, f"@{{{a}}}") for a in self.axes]
        tips += [(f, f"@{{{f}}}") for f in dict.fromkeys(ys + xs)]
        tips.append(("error", "@error"))
        self.figure.add_tools(HoverTool(renderers=[renderer], tooltips=tips))
        self.details = Div(text="<i>Click a point to see its configuration.</i>",
                           name="details", width=320)
        self.source.selected.on_change("indices", lambda attr, old, new: self.show_details())

    def _columns(self, rows: np.ndarray) -> dict:
        t = self.table
        cols = {"row": rows}
        for a in self.axes:
            cols[a] = t[a].values[rows].astype(str)
        for f in dict.fromkeys([*Y_FIGURES, *X_FIGURES, "overflow_rate"]):
            if f in t:
                cols[f] = t[f].values[rows]
        cols["error"] = t["error"].values[rows].astype(str)
        return cols

    def update(self, mask: np.ndarray) -> None:
        """Show the rows ``mask`` keeps on the chosen axes, with their Pareto front."""
        from lowbit.pareto import pareto_front

        x, y, colour = self.x_select.value, self.y_select.value, self.colour_select.value
        rows = np.flatnonzero(mask)
        cols = self._columns(rows)
        cols["x"], cols["y"] = cols[x], cols[y]
        values = cols[colour] if colour else np.full(len(rows), "all")
        factors = list(dict.fromkeys(self.table[colour].values.astype(str))) if colour else []
        palette = {v: Category10_10[i % 10] for i, v in enumerate(factors)}
        cols["colour_value"] = values
        cols["colour"] = np.array([palette.get(v, "gray") for v in values], dtype=object)
        self.source.selected.indices = []
        self.source.data = cols
        front = pareto_front(self.table.isel(row=rows), x=x, y=y,
                             maximize_y=y not in SMALLER_IS_BETTER)
        self.front.data = {"x": front[x].values, "y": front[y].values}
        self.figure.xaxis.axis_label = _label(self.table, x)
        self.figure.yaxis.axis_label = _label(self.table, y)
        self.extra.data = {"x": [r.get(x, np.nan) for r in self.extra_rows],
                           "y": [r.get(y, np.nan) for r in self.extra_rows],
                           "label": [r["label"] for r in self.extra_rows]}

    def add_point(self, figures: dict, label: str, mask: np.ndarray) -> None:
        """Add a configuration run in this session (live lab, mixed precision) as a star."""
        self.extra_rows.append({**figures, "label": label})
        self.update(mask)

    def selected_rows(self) -> list[int]:
        """Row numbers (of the flattened table) of the selected points."""
        rows = self.source.data["row"]
        return [int(rows[i]) for i in self.source.selected.indices]

    def show_details(self) -> None:
        """Write the selected point's configuration and figures into ``details``."""
        idx = self.source.selected.indices
        if not idx:
            self.details.text = "<i>Click a point to see its configuration.</i>"
            return
        row = self.selected_rows()[0]
        t = self.table.isel(row=row)
        lines = [f"<b>{html.escape(a)}</b>: {html.escape(str(t[a].values))}" for a in self.axes]
        for f in t.data_vars:
            if f == "error":
                continue
            lines.append(f"{html.escape(_label(self.table, f))}: {float(t[f]):.6g}")
        if str(t["error"].values):
            lines.append(f"<b>error</b>: {html.escape(str(t['error'].values))}")
        more = f" (+{len(idx) - 1} more selected)" if len(idx) > 1 else ""
        self.details.text = (f"<h4>Point {row}{more}</h4>" + "<br>".join(lines))

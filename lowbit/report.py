"""A static HTML report of a sweep store: accuracy-cost Pareto plots, the front, provenance.

The file is self-contained (Bokeh's JavaScript inlined), so it opens without a network, e.g.
attached to a design review.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import xarray as xr

from lowbit.pareto import TABLE_FIGURES, pareto_front

#: (x figure, y figure) of the plots, in order; a plot is skipped when its x is all zero/NaN.
PLOTS = (("energy_pj", "accuracy"), ("latency_s", "accuracy"), ("model_bytes", "accuracy"),
         ("lut", "accuracy"), ("dsp", "accuracy"))
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf")


def write_report(store, out, *, title: str | None = None) -> Path:
    """Write the report of the sweep store ``store`` (or of a result Dataset) to ``out``."""
    from bokeh.embed import file_html
    from bokeh.layouts import column
    from bokeh.resources import INLINE

    if isinstance(store, xr.Dataset):
        ds = store
    else:
        from lowbit.store import open_store
        ds = open_store(store)[0]
    title = title or ds.attrs.get("title") or f"lowbit sweep: {ds.attrs.get('model', '')}"
    parts = [_header(ds, title)]
    for x, y in PLOTS:
        if x in ds and np.nansum(np.abs(ds[x].values)) > 0:
            parts.append(_plot(ds, x, y))
            if x == "energy_pj":
                parts.append(_front_table(ds, x, y))
    parts.append(_provenance(ds))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(file_html(column(*parts, sizing_mode="stretch_width"), resources=INLINE,
                             title=title))
    return out


def _color_axis(ds: xr.Dataset) -> str | None:
    """The axis that colors the points: ``target`` if swept, else the first string axis."""
    dims = [d for d in ds["accuracy"].dims]
    if "target" in dims:
        return "target"
    return next((d for d in dims if ds[d].dtype.kind == "U"), None)


def _flat(ds: xr.Dataset, x: str, y: str):
    dims = list(ds[x].dims)
    flat = ds[[x, y, "error"]].stack(point=dims)
    ok = (flat["error"].values == "") & np.isfinite(flat[x].values) & np.isfinite(flat[y].values)
    return flat.isel(point=np.flatnonzero(ok)), dims


def _plot(ds: xr.Dataset, x: str, y: str):
    from bokeh.models import ColumnDataSource, HoverTool
    from bokeh.plotting import figure

    flat, dims = _flat(ds, x, y)
    xs = flat[x].values
    positive = xs.size and (xs > 0).all()
    log = bool(positive and xs.max() / xs.min() > 100)
    fig = figure(height=380, sizing_mode="stretch_width", x_axis_type="log" if log else "linear",
                 title=f"{ds[y].attrs.get('long_name', y)} vs {ds[x].attrs.get('long_name', x)}",
                 x_axis_label=f"{x} [{ds[x].attrs.get('units', '')}]",
                 y_axis_label=f"{y} [{ds[y].attrs.get('units', '')}]",
                 tools="pan,wheel_zoom,box_zoom,reset,save")
    color_by = _color_axis(ds)
    groups = [None] if color_by is None else list(dict.fromkeys(flat[color_by].values))
    for k, group in enumerate(groups):
        sel = np.ones(xs.size, bool) if group is None else flat[color_by].values == group
        data = {"x": xs[sel], "y": flat[y].values[sel]}
        data.update({d: flat[d].values[sel].astype(str) for d in dims})
        fig.scatter("x", "y", source=ColumnDataSource(data), size=7, alpha=0.7,
                    color=_PALETTE[k % len(_PALETTE)],
                    legend_label=str(group) if group is not None else "points")
    front = pareto_front(ds, x=x, y=y)
    fig.step(front[x].values, front[y].values, mode="after", color="black", line_width=2,
             legend_label="Pareto front")
    fig.add_tools(HoverTool(tooltips=[(d, f"@{d}") for d in dims] + [(x, "@x"), (y, "@y")]))
    fig.legend.location = "bottom_right"
    fig.legend.click_policy = "hide"
    return fig


def _front_table(ds: xr.Dataset, x: str, y: str):
    from bokeh.models import ColumnDataSource, DataTable, TableColumn

    front = pareto_front(ds, x=x, y=y)
    axes = list(ds[x].dims)
    figures = [f for f in dict.fromkeys((y, x) + TABLE_FIGURES) if f in front.data_vars
               and "layer" not in front[f].dims]
    data = {a: front[a].values.astype(str) for a in axes}
    data.update({f: front[f].values for f in figures})
    columns = [TableColumn(field=c, title=c if c in axes else
                           f"{c} [{ds[c].attrs.get('units', '')}]") for c in axes + figures]
    return DataTable(source=ColumnDataSource(data), columns=columns, height=260,
                     sizing_mode="stretch_width", index_position=None)


def _header(ds: xr.Dataset, title: str):
    from bokeh.models import Div

    n = int(ds["error"].size)
    failed = int((ds["error"].values != "").sum())
    dims = ", ".join(f"{d} ({ds.sizes[d]})" for d in ds["error"].dims)
    text = (f"<h1>{html.escape(title)}</h1><p>{n} configurations over {html.escape(dims)}; "
            f"{failed} did not run (see the store's <code>error</code> variable). The black "
            f"line is the Pareto front: no configuration is both cheaper and more accurate.</p>")
    return Div(text=text, sizing_mode="stretch_width")


def _provenance(ds: xr.Dataset):
    from bokeh.models import Div

    items = "".join(f"<li><b>{html.escape(str(k))}</b>: {html.escape(str(v))}</li>"
                    for k, v in ds.attrs.items() if k != "spec_toml")
    spec = html.escape(str(ds.attrs.get("spec_toml", "")))
    return Div(text=f"<h2>Provenance</h2><ul>{items}</ul><h3>Spec</h3><pre>{spec}</pre>",
               sizing_mode="stretch_width")

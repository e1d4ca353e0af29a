"""The lowbit explorer: one Bokeh document per browser session.

    bokeh serve explorer_app --args OUT.zarr        (or: lowbit explore OUT.zarr)

Sections: the store (shared, loaded once by ``app_hooks``), the trade-off view and its filters,
the live lab, mixed precision, export, then the layout.  Every session has its own widgets and
sources; heavy work runs off the document lock (``_runner``).
"""

import html
import sys

from bokeh.io import curdoc
from bokeh.layouts import column, row
from bokeh.models import Button, Div, TabPanel, Tabs

from explorer_app import state
from explorer_app._runner import Runner

doc = curdoc()
doc.title = "lowbit explorer"

# -- the store ------------------------------------------------------------------------------
args = sys.argv[1:]
data = None
problem = None
if len(args) != 1:
    problem = ("start the explorer with one sweep store: "
               "<code>bokeh serve explorer_app --args OUT.zarr</code>")
else:
    try:
        data = state.load(args[0])
    except state.StoreError as exc:
        problem = html.escape(str(exc))

if data is None:
    doc.add_root(Div(text=f"<h2>lowbit explorer</h2><p style='color:crimson'>{problem}</p>",
                     name="problem"))
else:
    from explorer_app.export import export_buttons
    from explorer_app.filters import Filters
    from explorer_app.livelab import LiveLab
    from explorer_app.mixed import MixedPrecision
    from explorer_app.tradeoff import TradeoffView

    runner_lab, runner_mixed = Runner(doc), Runner(doc)

    # -- trade-off and filters --------------------------------------------------------------
    tradeoff = TradeoffView(data.table, data.axes)
    filters = Filters(data.table, data.axes)

    def update():
        tradeoff.update(filters.mask())

    filters.on_change(update)
    for select in (tradeoff.x_select, tradeoff.y_select, tradeoff.colour_select):
        select.on_change("value", lambda attr, old, new: update())

    # -- live lab and mixed precision: their runs join the plot as stars ---------------------
    def add_lab_point(point, figures):
        label = "lab: " + ", ".join(f"{k}={v}" for k, v in point.items())
        tradeoff.add_point(figures, label, filters.mask())

    lab = LiveLab(data, runner_lab)
    lab_add = Button(
        label="Add the lab's last run to the plot", name="lab-add")
    last_lab = {}

    def remember(point, figures):
        last_lab.update(point=point, figures=figures)

    lab.on_result = remember
    lab_add.on_click(lambda event=None: last_lab and add_lab_point(last_lab["point"],
                                                                  last_lab["figures"]))
    mixed = MixedPrecision(data, runner_mixed,
                           on_result=lambda f, label: tradeoff.add_point(f, label,
                                                                         filters.mask()))

    # -- export -----------------------------------------------------------------------------
    columns = ["row", *data.axes, *[c for c in tradeoff.source.data
                                    if c not in ("row", *data.axes, "x", "y", "colour",
                                                 "colour_value")]]
    export = export_buttons(tradeoff.source, columns)

    # -- layout -----------------------------------------------------------------------------
    update()
    lab.update()
    title = data.ds.attrs.get("title") or data.ds.attrs.get("model", "")
    header = Div(text=f"<h2>lowbit explorer</h2><p>{html.escape(str(title))} · "
                      f"{data.table.sizes['row']} points · store "
                      f"<code>{html.escape(data.path.name)}</code></p>", name="header")
    controls = column(tradeoff.y_select, tradeoff.x_select, tradeoff.colour_select,
                      *filters.widgets.values(), width=280)
    tabs = Tabs(tabs=[TabPanel(child=lab.layout(), title="Live lab"),
                      TabPanel(child=column(mixed.layout()), title="Mixed precision")])
    doc.add_root(column(header, row(controls, tradeoff.figure, tradeoff.details,
                                    sizing_mode="stretch_width"),
                        export, row(lab_add), tabs, sizing_mode="stretch_width",
                        name="explorer"))

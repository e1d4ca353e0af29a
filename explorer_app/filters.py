"""Filters generated from the Dataset's own dimensions, applied without reloading the page.

A string axis (modes, targets, families) gets a multi-select of its values; a numeric axis with
more than one value gets a range slider over its span.  ``mask()`` says which rows of the
flattened table pass them all.
"""

from __future__ import annotations

import numpy as np
from bokeh.models import MultiChoice, RangeSlider


class Filters:
    """One widget per swept axis of ``table`` (the flattened sweep, see ``state.flatten``)."""

    def __init__(self, table, axes):
        self.table = table
        self.widgets: dict[str, object] = {}
        for axis in axes:
            values = table[axis].values
            if values.dtype.kind in "iuf":
                lo, hi = values.min(), values.max()
                if lo == hi:
                    continue  # one value: nothing to filter
                step = 1 if values.dtype.kind in "iu" else (hi - lo) / 100
                self.widgets[axis] = RangeSlider(
                    title=axis, start=lo.item(), end=hi.item(), value=(lo.item(), hi.item()),
                    step=step, name=f"filter-{axis}", sizing_mode="stretch_width")
            else:
                options = [str(v) for v in dict.fromkeys(values.tolist())]
                self.widgets[axis] = MultiChoice(title=axis, options=options, value=options,
                                                 name=f"filter-{axis}",
                                                 sizing_mode="stretch_width")

    def on_change(self, callback) -> None:
        """Call ``callback()`` whenever any filter changes."""
        for w in self.widgets.values():
            w.on_change("value", lambda attr, old, new: callback())

    def mask(self) -> np.ndarray:
        """Boolean per row: True where the row's configuration passes every filter."""
        keep = np.ones(self.table.sizes["row"], dtype=bool)
        for axis, w in self.widgets.items():
            values = self.table[axis].values
            if isinstance(w, RangeSlider):
                lo, hi = w.value
                keep &= (values >= lo) & (values <= hi)
            else:
                keep &= np.isin(values.astype(str), list(w.value))
        return keep

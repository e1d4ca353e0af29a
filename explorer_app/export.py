"""Export: the selected configurations as CSV or JSON, downloaded by the browser.

The rows are those of the trade-off source the user selected (tap or box select; everything
shown when nothing is selected), written by a small browser-side callback so that no file is
written on the server.  Figures are saved as PNG with each plot's toolbar save tool.
"""

from __future__ import annotations

from bokeh.layouts import row
from bokeh.models import Button, CustomJS

_DOWNLOAD_JS = """
const data = source.data;
const sel = source.selected.indices;
const n = data[columns[0]].length;
const rows = sel.length ? sel : Array.from({length: n}, (_, i) => i);
let text;
if (fmt === "csv") {
    const quote = (v) => {
        const s = String(v);
        return /[",\\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
    };
    const lines = [columns.join(",")];
    for (const i of rows) lines.push(columns.map((c) => quote(data[c][i])).join(","));
    text = lines.join("\\n") + "\\n";
} else {
    const out = rows.map((i) => Object.fromEntries(columns.map((c) => {
        const v = data[c][i];
        return [c, (typeof v === "number" && !Number.isFinite(v)) ? null : v];
    })));
    text = JSON.stringify(out, null, 1);
}
const blob = new Blob([text], {type: fmt === "csv" ? "text/csv" : "application/json"});
const link = document.createElement("a");
link.href = URL.createObjectURL(blob);
link.download = "lowbit-selection." + fmt;
link.target = "_blank";
link.style.visibility = "hidden";
link.dispatchEvent(new MouseEvent("click"));
"""


def export_buttons(source, columns):
    """CSV and JSON download buttons over ``columns`` of ``source``'s selected rows."""
    buttons = []
    for fmt in ("csv", "json"):
        b = Button(label=f"Download selection ({fmt.upper()})", name=f"export-{fmt}")
        b.js_on_click(CustomJS(args={"source": source, "columns": list(columns), "fmt": fmt},
                               code=_DOWNLOAD_JS))
        buttons.append(b)
    return row(*buttons)

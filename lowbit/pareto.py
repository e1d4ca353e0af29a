"""The accuracy-cost Pareto front of a sweep result."""

from __future__ import annotations

import numpy as np
import xarray as xr

#: Scalar figures worth showing next to the two of the front (in this order, when present).
TABLE_FIGURES = ("accuracy", "energy_pj", "latency_s", "model_bytes", "dsp", "lut", "loss")


def pareto_front(ds: xr.Dataset, x: str = "energy_pj", y: str = "accuracy", *,
                 minimize_x: bool = True, maximize_y: bool = True) -> xr.Dataset:
    """The points of ``ds`` that no other point beats on both ``x`` and ``y``.

    A point is dominated when another is at least as good on both figures and strictly better
    on one ("good" = smaller ``x`` when ``minimize_x``, larger ``y`` when ``maximize_y``).
    Points with an error or a NaN in ``x`` or ``y`` take no part. Equal points are all kept.

    Returns the front as a Dataset with one dimension ``point`` (the swept axes stacked into a
    MultiIndex, so ``front.wl`` etc. give each point's configuration), sorted from the best
    ``x`` to the worst.
    """
    for name in (x, y):
        if name not in ds.data_vars:
            raise ValueError(f"{name!r} is not a figure of this sweep; figures: "
                             f"{', '.join(sorted(ds.data_vars))}")
        if "layer" in ds[name].dims:
            raise ValueError(f"{name!r} is per layer; give a figure with one value per point")
    dims = [d for d in ds[x].dims]
    flat = ds.stack(point=dims) if dims else ds.expand_dims("point")
    xs = flat[x].values.astype(np.float64)
    ys = flat[y].values.astype(np.float64)
    ok = np.isfinite(xs) & np.isfinite(ys)
    if "error" in flat:
        ok &= flat["error"].values == ""
    idx = np.flatnonzero(ok)
    kx = xs[idx] if minimize_x else -xs[idx]  # smaller is better on both keys
    ky = -ys[idx] if maximize_y else ys[idx]
    order = idx[np.lexsort((ky, kx))]
    keep, best_y, best_x = [], np.inf, np.nan
    for i in order:
        px = xs[i] if minimize_x else -xs[i]
        py = -ys[i] if maximize_y else ys[i]
        if py < best_y:
            keep.append(i)
            best_y, best_x = py, px
        elif py == best_y and px == best_x:
            keep.append(i)  # an exact tie with the last front point: neither dominates
    return flat.isel(point=np.array(keep, dtype=np.int64))


def front_table(front: xr.Dataset, x: str = "energy_pj", y: str = "accuracy") -> str:
    """A plain-text table of a front: the configuration columns, then the figures."""
    axes = [name for name in front.coords if "point" in front[name].dims and name != "point"]
    figures = [f for f in dict.fromkeys((y, x) + TABLE_FIGURES)
               if f in front.data_vars and "layer" not in front[f].dims]
    header = axes + [f"{f} [{front[f].attrs.get('units', '')}]" for f in figures]
    rows = []
    for k in range(front.sizes["point"]):
        row = [str(front[a].values[k]) for a in axes]
        row += [_fmt(front[f].values[k]) for f in figures]
        rows.append(row)
    widths = [max(len(h), *(len(r[j]) for r in rows)) if rows else len(h)
              for j, h in enumerate(header)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def _fmt(v) -> str:
    v = float(v)
    if v == 0 or 1e-3 <= abs(v) < 1e5:
        return f"{v:.4g}"
    return f"{v:.3e}"

"""How the executor runs each op on codes (see ``simulator.executor`` for the arithmetic).

Every function takes the run (formats, configs, parameter cache, statistics), the node's index
and the node, its input tensors (``QArray`` or float64 ndarray) and the chunk number, and returns
the node's output tensor.
"""

from __future__ import annotations

import numpy as np

from simulator import _executor_kernels as K
from simulator._pool_kernels import maxpool
from simulator.stats import fixed_code_range


_WRAPS = ("wrap", "wrap_sign_magnitude")


def _is_fixed(v) -> bool:
    """Integer codes with one power-of-two scale for the whole tensor (fixed point)."""
    return (hasattr(v, "codes") and getattr(v.format, "family", None) == "fixed"
            and np.ndim(v.scale) == 0 and float(v.scale) == 2.0 ** -v.format.fl)


def _to_float(v) -> np.ndarray:
    return v.to_float() if hasattr(v, "codes") else v


def _requantize(run, i: int, n, values: np.ndarray, fl: int, ci: int):
    """Exact integers ``values * 2**-fl`` into the node's output format (``requantize``: round,
    then overflow), counting the values whose overflow rule fired."""
    fmt = run.formats[n.name]
    if fmt is None:
        return np.ldexp(values.astype(np.float64), -fl)
    seed = run.key(i, "out", ci) if fmt.is_stochastic else None
    if fixed_code_range(fmt) is None:
        return fmt.quantize(np.ldexp(values.astype(np.float64), -fl), seed=seed)
    out = fmt.requantize(values, fl, seed=seed)
    if run.collect and fmt.wl <= 62:
        # the same rounding (same random words) into a word two bits wider shows where the
        # overflow rule fired: the rounded integer left [min_code, max_code]
        from dataclasses import replace

        wide = replace(fmt, il=fmt.il + 2, overflow="saturate", saturation_bits=0)
        r = wide.requantize(values, fl, seed=seed).codes
        run.stats.add_overflow(n.name, out=int(np.count_nonzero(r > fmt.max_code)
                                               + np.count_nonzero(r < fmt.min_code)))
    return out


def _quantize_float(run, i: int, n, y: np.ndarray, ci: int):
    fmt = run.formats[n.name]
    if fmt is None:
        return y
    seed = run.key(i, "out", ci) if fmt.is_stochastic else None
    rng = fixed_code_range(fmt)
    if run.collect and rng is not None:
        lo, hi = np.ldexp(float(rng[0]), -fmt.fl), np.ldexp(float(rng[1]), -fmt.fl)
        run.stats.add_overflow(n.name, out=int(np.count_nonzero((y < lo) | (y > hi))))
    return fmt.quantize(y, seed=seed)


def _value_path(run, i, n, ins, ci):
    """Dequantize, compute in float64, quantize into the output format."""
    from simulator.executor import _float_node

    y = _float_node(n, [_to_float(v) for v in ins])
    if n.op in ("relu", "hardtanh", "maxpool2d", "flatten") and hasattr(ins[0], "codes"):
        seed = run.key(i, "out", ci) if ins[0].format.is_stochastic else None
        return ins[0].format.quantize(y, seed=seed)  # exact: y holds representable values
    return _quantize_float(run, i, n, y, ci)


def _same(q, codes):
    from precision.qarray import QArray

    return QArray(codes, q.format, q.scale)


# -- weighted layers -------------------------------------------------------------------------
def _weighted(run, i, n, ins, ci):
    from simulator import ops

    x = ins[0]
    cfg = run.configs[n.name]
    p = n.params
    wq = run.param(i, n, "weight", cfg.weights) if cfg.weights is not None else None
    acc = cfg.accumulator if cfg.accumulator is not None else run.target.accumulator
    if not acc.is_floating and (_is_float_format(x) or (wq is not None and _is_float_format(wq))):
        acc = _FP32_ACCUMULATOR()  # minifloat operands never sum in an integer register
    fuse = n.name in run.fuse_relu
    if wq is None or not hasattr(x, "codes"):
        w = wq.to_float() if wq is not None else p["weight"]
        b = p.get("bias")
        if b is not None and cfg.bias is not None:
            b = run.param(i, n, "bias", cfg.bias).to_float()
        xf = _to_float(x)
        if n.op == "dense":
            y = xf @ w.T + (b if b is not None else 0.0)
        else:
            y = K.conv2d_float(xf, w, b, p["stride"], p["padding"], p["dilation"], p["groups"])
        return _quantize_float(run, i, n, np.maximum(y, 0) if fuse else y, ci)
    scaled = _has_alpha(x) or _has_alpha(wq)
    bq = None
    if "bias" in p and acc.is_floating:  # preloaded as a value of the bias (or acc.) format
        bq = run.param(i, n, "bias", cfg.bias if cfg.bias is not None else acc.floating)
    elif "bias" in p and not scaled:
        grid = _acc_grid(x, wq, acc, cfg.bias)
        bq = run.param(i, n, "bias", cfg.bias if cfg.bias is not None else grid)
        if _frac_bits(bq) > grid.fl:  # a finer bias is rounded onto the accumulator's grid
            bq = grid.requantize(bq.codes, _frac_bits(bq))
    st: dict = {}
    act = run.formats[n.name]
    # Requantizing inside ops saves an int64 pass.  With a fused relu that is exact only for
    # overflow modes that keep negatives non-positive (relu(Q(v)) == Q(relu(v)) then), and the
    # overflow count would include values the relu clips: so only when no stats are collected.
    # (ops' overflow count of stochastic outputs fails on 64-bit keys: count them here instead)
    direct = (not scaled and fixed_code_range(act) is not None
              and not (run.collect and act.is_stochastic)
              and (not fuse or (not run.collect and act.overflow not in _WRAPS)))
    kwargs = dict(acc=acc, stats=st if run.collect else None)
    if direct:
        kwargs.update(out=act, seed=run.key(i, "out", ci) if act.is_stochastic else None)
    if n.op == "dense":
        res = ops.dense(x, wq, bq, **kwargs)
    else:
        res = ops.conv2d(x, wq, bq, stride=p["stride"], padding=p["padding"],
                         dilation=p["dilation"], groups=p["groups"], **kwargs)
    if run.collect:
        run.stats.add_overflow(n.name, acc=st.get("acc_overflow", 0),
                               out=st.get("out_overflow", 0) if direct else 0)
    if direct:
        return _same(res, np.maximum(res.codes, 0).astype(res.codes.dtype, copy=False)) \
            if fuse else res
    if _is_fixed(res):
        values = res.codes.astype(np.int64)
        if fuse:
            np.maximum(values, 0, out=values)
        return _requantize(run, i, n, values, res.format.fl, ci)
    # XNOR-Net scales multiply the exact integer sum after accumulation; a bias (in its own
    # format, or unrounded when it has none) is added to that real value
    y = res.codes * res.scale if _is_scaled_fixed(res) else _to_float(res)
    if "bias" in p and scaled:
        b = (run.param(i, n, "bias", cfg.bias).to_float() if cfg.bias is not None
             else p["bias"])
        y = y + b.reshape((1, -1) + (1,) * (y.ndim - 2))
    return _quantize_float(run, i, n, np.maximum(y, 0) if fuse else y, ci)


def _is_float_format(q) -> bool:
    return hasattr(q, "codes") and getattr(q.format, "family", "") == "float"


def _FP32_ACCUMULATOR():
    from precision import FloatingPoint
    from simulator.accumulator import Accumulator

    return Accumulator(floating=FloatingPoint(exp_bits=8, man_bits=23))


def _has_alpha(q) -> bool:
    return (getattr(q.format, "family", "") in ("binary", "ternary")
            and (np.ndim(q.scale) > 0 or float(q.scale) != 1.0))


def _is_scaled_fixed(q) -> bool:
    return hasattr(q, "codes") and getattr(q.format, "family", None) == "fixed"


def _acc_grid(x, wq, acc, bias_fmt=None):
    """The accumulator's grid as a format: where a bias with no format of its own (or one finer
    than the grid) is rounded to, with the bias format's rounding (default nearest)."""
    from precision import FixedPoint

    fl = _frac_bits(x) + _frac_bits(wq)
    rounding = getattr(bias_fmt, "rounding", "nearest")
    if rounding == "stochastic":
        rounding = "nearest"
    return FixedPoint(il=acc.width - fl, fl=fl, signed=True, rounding=rounding,
                      overflow="saturate")


def _frac_bits(q) -> int:
    if getattr(q.format, "fl", None) is not None:
        return int(q.format.fl)
    return 0  # binary / ternary codes are integers


# -- the rest --------------------------------------------------------------------------------
def _relu(run, i, n, ins, ci):
    x = ins[0]
    if _is_fixed(x):
        return x if not x.format.signed else _same(x, np.maximum(x.codes, 0).astype(
            x.codes.dtype, copy=False))
    return _value_path(run, i, n, ins, ci)


def _hardtanh(run, i, n, ins, ci):
    x = ins[0]
    if _is_fixed(x):
        lo = int(np.ceil(np.ldexp(n.params["min_val"], x.format.fl)))
        hi = int(np.floor(np.ldexp(n.params["max_val"], x.format.fl)))
        info = np.iinfo(x.codes.dtype)
        lo, hi = max(lo, info.min), min(hi, info.max)
        return _same(x, np.clip(x.codes, lo, hi).astype(x.codes.dtype, copy=False))
    return _value_path(run, i, n, ins, ci)


def _maxpool(run, i, n, ins, ci):
    x = ins[0]
    if _is_fixed(x):
        p = n.params
        return _same(x, maxpool(x.codes, p["kernel"], p["stride"], p["padding"]))
    return _value_path(run, i, n, ins, ci)


def _flatten(run, i, n, ins, ci):
    x = ins[0]
    if hasattr(x, "codes") and np.ndim(x.scale) == 0:
        return _same(x, x.codes.reshape(len(x.codes), -1))
    return _value_path(run, i, n, ins, ci)


def _avgpool(run, i, n, ins, ci):
    x = ins[0]
    out = run.formats[n.name]
    p = n.params
    if not (_is_fixed(x) and fixed_code_range(out) is not None):
        return _value_path(run, i, n, ins, ci)
    s = K.pool_sum(x.codes, p["kernel"], p["stride"], p["padding"])
    k = p["kernel"][0] * p["kernel"][1]
    e2 = (k & -k).bit_length() - 1
    m = k >> e2
    fl = x.format.fl + e2
    if m == 1:
        return _requantize(run, i, n, s, fl, ci)
    guard = max(1, out.fl - fl + 1)
    # n * 2**guard must stay inside int64: |s| < 2**(wl + log2 k)
    if x.format.bits + k.bit_length() + guard + 1 > 62:
        return _value_path(run, i, n, ins, ci)
    return _requantize(run, i, n, K.divide_with_sticky(s, m, guard), fl + guard + 1, ci)


def _add(run, i, n, ins, ci):
    a, b = ins
    if not (_is_fixed(a) and _is_fixed(b)):
        return _value_path(run, i, n, ins, ci)
    fa, fb = a.format.fl, b.format.fl
    fl = max(fa, fb)
    if max(a.format.bits + fl - fa, b.format.bits + fl - fb) > 62:
        return _value_path(run, i, n, ins, ci)
    va = a.codes.astype(np.int64) << np.int64(fl - fa)
    vb = b.codes.astype(np.int64) << np.int64(fl - fb)
    return _requantize(run, i, n, va + vb, fl, ci)


def _batchnorm(run, i, n, ins, ci):
    x = ins[0]
    cfg = run.configs[n.name]
    if not (_is_fixed(x) and fixed_code_range(cfg.weights) is not None
            and fixed_code_range(cfg.bias) is not None):
        return _value_path(run, i, n, ins, ci)
    sq = run.param(i, n, "scale", cfg.weights)
    tq = run.param(i, n, "shift", cfg.bias)
    shape = (1, -1) + (1,) * (x.codes.ndim - 2)
    fl = x.format.fl + sq.format.fl
    if x.format.bits + sq.format.bits + abs(fl - tq.format.fl) + 1 > 62:
        return _value_path(run, i, n, ins, ci)
    v = x.codes.astype(np.int64) * sq.codes.astype(np.int64).reshape(shape)
    t = tq.codes.astype(np.int64).reshape(shape)
    if tq.format.fl <= fl:
        v = v + (t << np.int64(fl - tq.format.fl))
    else:
        v = (v << np.int64(tq.format.fl - fl)) + t
        fl = tq.format.fl
    return _requantize(run, i, n, v, fl, ci)


def _sign(run, i, n, ins, ci):
    x = ins[0]
    fmt = run.formats[n.name]
    if hasattr(x, "codes") and x.codes.dtype.kind == "i" and np.all(np.asarray(x.scale) > 0):
        return fmt.quantize(x.codes)  # sign(codes * scale) == sign(codes) for a positive scale
    return fmt.quantize(_to_float(x))


_RUNNERS = {
    "dense": _weighted, "conv2d": _weighted, "relu": _relu, "hardtanh": _hardtanh,
    "maxpool2d": _maxpool, "avgpool2d": _avgpool, "flatten": _flatten, "add": _add,
    "batchnorm": _batchnorm, "sign": _sign,
}


def run(r, i: int, n, ins: list, ci: int):
    """Run node ``n`` (index ``i``) of chunk ``ci`` on its input tensors."""
    return _RUNNERS[n.op](r, i, n, ins, ci)

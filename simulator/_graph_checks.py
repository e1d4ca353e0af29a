"""Validation of each op's parameters against its input shapes, for ``Graph.add``.

Each check takes ``(node name, input shapes, params)`` and returns ``(clean params, output
shape)``: arrays copied to read-only float64, ints and pairs normalized, errors naming the node,
the parameter, what was given and what was expected.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def conv_output_hw(h: int, w: int, kernel: tuple[int, int], stride: tuple[int, int],
                   padding: tuple[int, int], dilation: tuple[int, int] = (1, 1)) -> tuple[int, int]:
    """Output height and width of a convolution or pooling window (floor mode)."""
    oh = (h + 2 * padding[0] - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    ow = (w + 2 * padding[1] - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    return oh, ow


def _pair(name: str, value: Any, minimum: int) -> tuple[int, int]:
    vals = value if isinstance(value, (tuple, list)) else (value, value)
    if len(vals) != 2:
        raise ValueError(f"{name}={value!r} must be an int or a pair of ints")
    out = []
    for v in vals:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
        if v < minimum:
            raise ValueError(f"{name}={value!r} is out of range; expected {name} >= {minimum}")
        out.append(int(v))
    return (out[0], out[1])


def _float_array(name: str, node: str, value: Any, shape: tuple[int, ...] | None = None,
                 ndim: int | None = None) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{node}: {name} must hold real numbers, got dtype {arr.dtype}")
    arr = np.array(arr, dtype=np.float64, copy=True)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{node}: {name} must have {ndim} dimensions, got shape {arr.shape}")
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{node}: {name} has shape {arr.shape}; expected {shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{node}: {name} holds NaN or infinite values")
    arr.flags.writeable = False
    return arr


# -- per-op validation: (node name, input shapes, params) -> (clean params, output shape) ------
def _need_rank(name: str, op: str, shape: tuple[int, ...], rank: int) -> None:
    if len(shape) != rank:
        what = "(C, H, W)" if rank == 3 else "(F,)"
        raise ValueError(f"{name}: {op} needs a {what} input, got shape {shape}")


def _check_extra(name: str, params: dict, clean: dict) -> None:
    if "real_weights" in params:
        rw = params["real_weights"]
        if isinstance(rw, (bool, np.bool_)) or not isinstance(rw, (int, np.integer)) or rw < 1:
            raise ValueError(f"{name}: real_weights={rw!r} must be a positive int")
        clean["real_weights"] = int(rw)
    if "codebook" in params:
        if not hasattr(params["codebook"], "codes"):
            raise TypeError(f"{name}: codebook must be a QArray, got "
                            f"{type(params['codebook']).__name__}")
        clean["codebook"] = params["codebook"]


def _check_dense(name, in_shapes, p):
    (shape,) = in_shapes
    _need_rank(name, "dense", shape, 1)
    w = _float_array("weight", name, p["weight"], ndim=2)
    if w.shape[1] != shape[0]:
        raise ValueError(f"{name}: weight shape {w.shape} (out, in) does not match the input "
                         f"shape {shape}; expected weight (out, {shape[0]})")
    clean = {"weight": w}
    if p.get("bias") is not None:
        clean["bias"] = _float_array("bias", name, p["bias"], shape=(w.shape[0],))
    _check_extra(name, p, clean)
    return clean, (w.shape[0],)


def _check_conv(name, in_shapes, p):
    (shape,) = in_shapes
    _need_rank(name, "conv2d", shape, 3)
    w = _float_array("weight", name, p["weight"], ndim=4)
    groups = p.get("groups", 1)
    if isinstance(groups, (bool, np.bool_)) or not isinstance(groups, (int, np.integer)):
        raise TypeError(f"{name}: groups must be an int, got {groups!r}")
    if groups < 1 or shape[0] % groups or w.shape[0] % groups:
        raise ValueError(f"{name}: groups={groups} must be >= 1 and divide both the input "
                         f"channels ({shape[0]}) and the output channels ({w.shape[0]})")
    if w.shape[1] * groups != shape[0]:
        raise ValueError(f"{name}: weight shape {w.shape} (O, C/groups, kH, kW) does not match "
                         f"the input shape {shape} with groups={groups}; expected weight "
                         f"(O, {shape[0] // groups}, kH, kW)")
    stride = _pair(f"{name}: stride", p.get("stride", 1), 1)
    padding = _pair(f"{name}: padding", p.get("padding", 0), 0)
    dilation = _pair(f"{name}: dilation", p.get("dilation", 1), 1)
    oh, ow = conv_output_hw(shape[1], shape[2], w.shape[2:], stride, padding, dilation)
    if oh < 1 or ow < 1:
        raise ValueError(f"{name}: kernel {w.shape[2:]} (dilation {dilation}, padding {padding}) "
                         f"is larger than the input shape {shape}")
    clean = {"weight": w, "stride": stride, "padding": padding, "dilation": dilation,
             "groups": int(groups)}
    if p.get("bias") is not None:
        clean["bias"] = _float_array("bias", name, p["bias"], shape=(w.shape[0],))
    _check_extra(name, p, clean)
    return clean, (w.shape[0], oh, ow)


def _check_pool(op):
    def check(name, in_shapes, p):
        (shape,) = in_shapes
        _need_rank(name, op, shape, 3)
        kernel = _pair(f"{name}: kernel", p["kernel"], 1)
        stride = _pair(f"{name}: stride", p.get("stride") or kernel, 1)
        padding = _pair(f"{name}: padding", p.get("padding", 0), 0)
        if padding[0] * 2 > kernel[0] or padding[1] * 2 > kernel[1]:
            raise ValueError(f"{name}: padding={padding} must be at most half of kernel={kernel}")
        oh, ow = conv_output_hw(shape[1], shape[2], kernel, stride, padding)
        if oh < 1 or ow < 1:
            raise ValueError(f"{name}: kernel {kernel} is larger than the input shape {shape}")
        return {"kernel": kernel, "stride": stride, "padding": padding}, (shape[0], oh, ow)
    return check


def _check_elementwise(name, in_shapes, p):
    return {}, in_shapes[0]


def _check_hardtanh(name, in_shapes, p):
    lo, hi = p.get("min_val", -1.0), p.get("max_val", 1.0)
    for k, v in (("min_val", lo), ("max_val", hi)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer,
                                                                 np.floating)):
            raise TypeError(f"{name}: {k} must be a real number, got {v!r}")
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"{name}: min_val={lo} and max_val={hi} must be finite with "
                         "min_val < max_val")
    return {"min_val": float(lo), "max_val": float(hi)}, in_shapes[0]


def _check_flatten(name, in_shapes, p):
    return {}, (int(np.prod(in_shapes[0])),)


def _check_batchnorm(name, in_shapes, p):
    (shape,) = in_shapes
    c = (shape[0],)
    clean = {k: _float_array(k, name, p[k], shape=c) for k in ("gamma", "beta", "mean", "var")}
    eps = p.get("eps", 1e-5)
    if isinstance(eps, (bool, np.bool_)) or not isinstance(eps, (int, float, np.integer,
                                                                 np.floating)):
        raise TypeError(f"{name}: eps must be a real number, got {eps!r}")
    if np.any(clean["var"] < 0) or not eps >= 0 or np.any(clean["var"] + eps <= 0):
        raise ValueError(f"{name}: var + eps must be positive (eps={eps})")
    clean["eps"] = float(eps)
    return clean, shape


def _check_add(name, in_shapes, p):
    a, b = in_shapes
    if a != b:
        raise ValueError(f"{name}: add needs inputs of equal shape, got {a} and {b}")
    return {}, a


CHECKS = {
    "dense": _check_dense,
    "conv2d": _check_conv,
    "relu": _check_elementwise,
    "sign": _check_elementwise,
    "hardtanh": _check_hardtanh,
    "maxpool2d": _check_pool("maxpool2d"),
    "avgpool2d": _check_pool("avgpool2d"),
    "flatten": _check_flatten,
    "batchnorm": _check_batchnorm,
    "add": _check_add,
}

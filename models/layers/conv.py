"""2-D convolution (cross-correlation, NCHW / OIHW) with stride, padding, dilation and groups.

Computed as im2col + one GEMM per group.  The column matrix is laid out ``(C, kh, kw, N, Ho, Wo)``
so that each group's block ``(C/G * kh * kw, N * Ho * Wo)`` is contiguous and the whole batch
is a single BLAS call; im2col is ``kh * kw`` strided numpy copies, col2im a Numba loop
(``_conv_kernels``; benchmarks/bench_train.py measures both against the alternatives).
"""

from __future__ import annotations

import numpy as np

from models.layers.base import (Layer, as_rng, check_input, check_positive_int, initializer,
                                pair)


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """``floor((size + 2 padding - dilation (kernel - 1) - 1) / stride) + 1``."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def im2col(x: np.ndarray, kernel, stride, padding, dilation, ho: int, wo: int,
           dtype) -> np.ndarray:
    """``cols[c, i, j, n, oh, ow] = x[n, c, oh*sh + i*dh - ph, ow*sw + j*dw - pw]`` (zero
    outside the image), shape ``(C, kh, kw, N, Ho, Wo)``."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    n, c = x.shape[:2]
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
    xt = xp.transpose(1, 0, 2, 3)
    cols = np.empty((c, kh, kw, n, ho, wo), dtype=dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = xt[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh,
                               j * dw:j * dw + sw * (wo - 1) + 1:sw]
    return cols


class Conv2D(Layer):
    """``y[n, o, h, w] = b[o] + sum_{c, i, j} x[n, g*Cg + c, h*sh + i*dh - ph, w*sw + j*dw - pw]
    * W[o, c, i, j]`` where ``g = o // (O / G)`` is the group of output channel ``o`` and
    ``Cg = C / G``; zero padding.

    Weights ``(out_channels, in_channels / groups, kh, kw)`` are ``N(0, init_gain / fan_in)``
    with ``fan_in = in_channels / groups * kh * kw`` (He-normal for the default gain 2, for a
    ReLU after the layer; LeCun-normal for gain 1, a linear layer); the bias starts at 0.
    """

    kind = "conv"

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, seed=0,
                 init_gain: float = 2.0):
        super().__init__()
        self.in_channels = check_positive_int("in_channels", in_channels)
        self.out_channels = check_positive_int("out_channels", out_channels)
        self.kernel_size = pair("kernel_size", kernel_size)
        self.stride = pair("stride", stride)
        self.padding = pair("padding", padding, minimum=0)
        self.dilation = pair("dilation", dilation)
        self.groups = check_positive_int("groups", groups)
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"groups={groups} must divide in_channels={in_channels} and "
                f"out_channels={out_channels}"
            )
        self.use_bias = bool(bias)
        kh, kw = self.kernel_size
        cg = in_channels // groups
        rng = as_rng(seed)
        self._params["weight"] = initializer(rng, (out_channels, cg, kh, kw), cg * kh * kw,
                                             init_gain)
        if self.use_bias:
            self._params["bias"] = np.zeros(out_channels, dtype=self._params["weight"].dtype)

    def config(self) -> dict:
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": list(self.kernel_size), "stride": list(self.stride),
                "padding": list(self.padding), "dilation": list(self.dilation),
                "groups": self.groups, "bias": self.use_bias}

    def output_shape(self, input_shape):
        if len(input_shape) != 3 or input_shape[0] != self.in_channels:
            raise ValueError(f"layer {self.name!r} expects per-sample shape "
                             f"({self.in_channels}, H, W), got {tuple(input_shape)}")
        ho, wo = self._spatial(input_shape[1], input_shape[2])
        return (self.out_channels, ho, wo)

    def _spatial(self, h: int, w: int) -> tuple[int, int]:
        ho = conv_output_size(h, self.kernel_size[0], self.stride[0], self.padding[0],
                              self.dilation[0])
        wo = conv_output_size(w, self.kernel_size[1], self.stride[1], self.padding[1],
                              self.dilation[1])
        if ho < 1 or wo < 1:
            raise ValueError(
                f"layer {self.name!r}: input {h}x{w} is too small for kernel_size="
                f"{self.kernel_size}, dilation={self.dilation}, padding={self.padding}"
            )
        return ho, wo

    def forward(self, x, training=False, params=None):
        x = check_input(self, x, (4,))
        n, c, h, w = x.shape
        if c != self.in_channels:
            raise ValueError(f"layer {self.name!r} expects {self.in_channels} input channels, "
                             f"got shape {x.shape}")
        ho, wo = self._spatial(h, w)
        p = self._forward_params(params)
        weight = p["weight"]
        kh, kw = self.kernel_size
        cols = im2col(x, self.kernel_size, self.stride, self.padding, self.dilation, ho, wo,
                      np.result_type(x.dtype, weight.dtype))
        g = self.groups
        og = self.out_channels // g
        cols = cols.reshape(g, (c // g) * kh * kw, n * ho * wo)
        wmat = weight.reshape(g, og, -1)
        y = np.matmul(wmat, cols)                       # (G, Og, N*Ho*Wo)
        y = y.reshape(self.out_channels, n, ho, wo).transpose(1, 0, 2, 3)
        y = np.ascontiguousarray(y)
        if self.use_bias:
            y += p["bias"].reshape(1, -1, 1, 1)
        self._cache = (x.shape, cols, wmat, weight.shape) if training else None
        return y

    def backward(self, grad, input_grad=True):
        xshape, cols, wmat, wshape = self._need_cache()
        n, c, h, w = xshape
        _, _, ho, wo = grad.shape
        g = self.groups
        gt = grad.transpose(1, 0, 2, 3).reshape(g, self.out_channels // g, n * ho * wo)
        self._grads = {"weight": np.matmul(gt, cols.transpose(0, 2, 1)).reshape(wshape)}
        if self.use_bias:
            self._grads["bias"] = grad.sum(axis=(0, 2, 3))
        if not input_grad:
            return None
        kh, kw = self.kernel_size
        dcols = np.matmul(wmat.transpose(0, 2, 1), gt).reshape(c, kh, kw, n, ho, wo)
        # imported here: the kernel module imports the precision package (seconds), which
        # models that never back-propagate into a convolution's input need not pay
        from models.layers._conv_kernels import col2im

        dx = np.zeros((n, c, h, w), dtype=dcols.dtype)
        col2im(dcols, kh, kw, *self.stride, *self.padding, *self.dilation, dx)
        return dx

"""Max and average pooling over ``kernel_size`` windows (NCHW, no padding)."""

from __future__ import annotations

import numpy as np

from models.layers.base import Layer, check_input, pair


class _Pool2D(Layer):
    def __init__(self, kernel_size=2, stride=None):
        super().__init__()
        self.kernel_size = pair("kernel_size", kernel_size)
        self.stride = self.kernel_size if stride is None else pair("stride", stride)

    def config(self) -> dict:
        return {"kernel_size": list(self.kernel_size), "stride": list(self.stride)}

    def _spatial(self, h: int, w: int) -> tuple[int, int]:
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        if h < kh or w < kw:
            raise ValueError(f"layer {self.name!r}: input {h}x{w} is smaller than "
                             f"kernel_size={self.kernel_size}")
        return (h - kh) // sh + 1, (w - kw) // sw + 1

    def output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"layer {self.name!r} expects per-sample shape (C, H, W), "
                             f"got {tuple(input_shape)}")
        return (input_shape[0], *self._spatial(input_shape[1], input_shape[2]))

    def _windows(self, x: np.ndarray):
        """The ``kh * kw`` strided views, window element k = i * kw + j first."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        ho, wo = self._spatial(x.shape[2], x.shape[3])
        for i in range(kh):
            for j in range(kw):
                yield (slice(i, i + sh * (ho - 1) + 1, sh), slice(j, j + sw * (wo - 1) + 1, sw))


class MaxPool2D(_Pool2D):
    """``y[n, c, h, w] = max_{i < kh, j < kw} x[n, c, h*sh + i, w*sw + j]``.

    The gradient flows to the first maximum of each window in row-major order (ties go to the
    lowest ``(i, j)``), as in Caffe and PyTorch.  ``stride`` defaults to ``kernel_size``.
    """

    kind = "maxpool"

    def forward(self, x, training=False, params=None):
        x = check_input(self, x, (4,))
        slices = list(self._windows(x))
        y = x[:, :, slices[0][0], slices[0][1]].copy()
        arg = np.zeros(y.shape, dtype=np.int32) if training else None
        for k, (si, sj) in enumerate(slices[1:], start=1):
            v = x[:, :, si, sj]
            if training:
                greater = v > y
                arg[greater] = k
            np.maximum(y, v, out=y)
        self._cache = (x.shape, x.dtype, arg, slices) if training else None
        return y

    def backward(self, grad, input_grad=True):
        shape, dtype, arg, slices = self._need_cache()
        dx = np.zeros(shape, dtype=np.result_type(dtype, grad.dtype))
        for k, (si, sj) in enumerate(slices):
            dx[:, :, si, sj] += np.where(arg == k, grad, 0)
        return dx


class AvgPool2D(_Pool2D):
    """``y[n, c, h, w] = mean_{i < kh, j < kw} x[n, c, h*sh + i, w*sw + j]``."""

    kind = "avgpool"

    def forward(self, x, training=False, params=None):
        x = check_input(self, x, (4,))
        slices = list(self._windows(x))
        y = x[:, :, slices[0][0], slices[0][1]].copy()
        for si, sj in slices[1:]:
            y += x[:, :, si, sj]
        y /= len(slices)
        self._cache = (x.shape, x.dtype, slices) if training else None
        return y

    def backward(self, grad, input_grad=True):
        shape, dtype, slices = self._need_cache()
        dx = np.zeros(shape, dtype=np.result_type(dtype, grad.dtype))
        g = grad / len(slices)
        for si, sj in slices:
            dx[:, :, si, sj] += g
        return dx

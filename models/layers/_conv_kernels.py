"""Numba core of the convolution's col2im (serial, cached, valid Python).

Layout: ``cols[c, i, j, n, oh, ow] = x[n, c, oh*sh + i*dh - ph, ow*sw + j*dw - pw]`` (zero
outside the image).  The scatter-add back into the image is 3-5x faster as one Numba pass
than as ``kh * kw`` strided numpy ``+=`` on a padded temporary for multi-channel inputs
(LeNet-5's second convolution), on par for a single channel; the forward copy (im2col) is
not: numpy's strided copies beat a Numba loop, so im2col stays in numpy
(benchmarks/bench_train.py prints both ratios).
"""

from __future__ import annotations

from precision._numba_config import njit_serial


@njit_serial
def _valid_range(size_out, stride, offset, size_in):
    """``[lo, hi)``: the outputs ``o`` whose input ``o * stride + offset`` is inside
    ``[0, size_in)`` (empty when none is)."""
    lo = 0
    if offset < 0:
        lo = (-offset + stride - 1) // stride
    hi = 0
    if size_in - offset > 0:
        hi = (size_in - offset + stride - 1) // stride
    if hi > size_out:
        hi = size_out
    if lo > hi:
        lo = hi
    return lo, hi


@njit_serial
def col2im(dcols, kh, kw, sh, sw, ph, pw, dh, dw, dx):
    """Add every entry of ``dcols`` (C, kh, kw, N, Ho, Wo) into the pixel of ``dx`` (N, C, H, W,
    zeroed by the caller) it was copied from; padding positions are dropped."""
    n_img, n_ch, h, w = dx.shape
    ho, wo = dcols.shape[4], dcols.shape[5]
    for c in range(n_ch):
        for i in range(kh):
            for j in range(kw):
                lo, hi = _valid_range(wo, sw, j * dw - pw, w)
                for n in range(n_img):
                    for oh in range(ho):
                        ih = oh * sh + i * dh - ph
                        if ih < 0 or ih >= h:
                            continue
                        for ow in range(lo, hi):
                            dx[n, c, ih, ow * sw + j * dw - pw] += dcols[c, i, j, n, oh, ow]

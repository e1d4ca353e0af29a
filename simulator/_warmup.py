"""``ops.warmup()``: compile every hot kernel once on tiny inputs."""

from __future__ import annotations

import numpy as np

from precision.fixed import FixedPoint


def run() -> None:
    from simulator import ops
    from simulator._avx2_table import AVAILABLE as TABLE_KERNELS
    from simulator._table_kernels import left_positions, right_positions, table_gemm
    from simulator._xnor_kernels import (
        pack_rows,
        sign_select_matmul,
        ternary_gemm,
        xnor_gemm,
    )
    from simulator.accumulator import Accumulator

    f8, f16 = FixedPoint(4, 4), FixedPoint(4, 12)
    for fmt in (f8, f16):
        a = fmt.quantize(np.ones((1, 1)))
        for method in ("float", "int"):
            ops.matmul(a, a, method=method)
        ops.matmul(a, a, acc=Accumulator(32, "saturate", saturate_each_step=True), method="int")
        ops.dense(a, a, fmt.quantize(np.ones(1)), out=fmt, stats={})
    x = f8.quantize(np.ones((1, 1, 1, 1)))
    ops.conv2d(x, x, padding=0)
    ops.add(a, a), ops.mul(a, a)
    codes = np.ones((1, 1), dtype=np.int8)
    neg = np.zeros((1, 1), np.uint64)
    pack_rows(codes, neg, neg.copy())
    out = np.empty((1, 1), np.int64)
    popcount_out = np.empty((1, 1), np.int32)  # the popcount GEMMs write int32 (simulator._gemm)
    if TABLE_KERNELS:
        for ternary in (False, True):
            table_gemm(left_positions(neg, neg, ternary), right_positions(neg, neg, ternary), 1,
                       ternary, popcount_out)
    else:
        xnor_gemm(neg, neg, 1, popcount_out)
        ternary_gemm(neg, neg, neg, neg, popcount_out)
    for dtype in (np.int32, np.int64):
        sign_select_matmul(np.ones((1, 1), dtype), codes, out)

"""AVX2 inner loops of the popcount GEMMs on *nibble planes*, written as LLVM IR for Numba.

Why: LLVM vectorizes ``sum(popcount(x ^ y))`` with the nibble-table method (``vpshufb``), but
per 256-bit vector it spends nine operations: xor, mask, shift, mask, two table lookups, a byte
add, ``vpsadbw`` to widen and a 64-bit add.  On this class of machine (AVX2, no AVX-512
``vpopcntq``) the popcount GEMM is bound by that operation count.  Two changes cut it to six:

* the operands are stored as nibble planes (:func:`simulator._nibble_kernels.nibble_rows`):
  every byte holds four bits, so ``lo(x ^ y) = lo(x) ^ lo(y)`` indexes the table directly and
  the mask and shift disappear (one pass over each operand, not one per product);
* the per-byte counts are summed in 8-bit lanes and widened with ``vpsadbw`` only once per
  :data:`BINARY_FLUSH` (or :data:`TERNARY_FLUSH`) vectors, before a lane can overflow.

Each intrinsic computes a 2x2 block of dot products (two rows of ``a`` against two rows of
``b``), so every loaded vector serves two products.  Layout of a nibble row (uint64 words): per
256-bit step ``v`` of the packed row, binary ``[lo(neg), hi(neg)]``, ternary
``[lo(nz), hi(nz), lo(neg), hi(neg)]``, each 4 words; ``lo(w) = w & 0x0F..0F``,
``hi(w) = (w >> 4) & 0x0F..0F``.  Padding is zero in every plane.

The x86 intrinsics used (``pshuf.b``, ``psad.bw``) exist only with AVX2: :data:`AVAILABLE` says
whether this process may use them; callers fall back to the portable kernels otherwise.  Under
``NUMBA_DISABLE_JIT`` the same names are plain Python with the same results.
"""

from __future__ import annotations

import llvmlite.binding as llvm
import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

#: Vectors summed in 8-bit lanes between two widenings.  Binary: a step adds at most 8 to a
#: lane (two lookups of at most 4), and 31 * 8 = 248 < 256.  Ternary: a step adds a signed
#: value in [-8, 8] (nonzero count minus twice the negative count), and 15 * 8 = 120 < 128.
BINARY_FLUSH = 31
TERNARY_FLUSH = 15

#: Words per nibble-row step: binary 2 planes x 4 words, ternary 4 planes x 4 words.
BINARY_STEP_WORDS = 8
TERNARY_STEP_WORDS = 16

_POPCOUNT_NIBBLE = [bin(i).count("1") for i in range(16)]


def _host_has_avx2() -> bool:
    """True when Numba compiles for this host and the host has AVX2."""
    if numba.config.DISABLE_JIT:
        return False
    if numba.config.CPU_NAME not in (None, "host"):
        return "+avx2" in (numba.config.CPU_FEATURES or "")
    try:
        return bool(llvm.get_host_cpu_features().get("avx2", False))
    except RuntimeError:  # pragma: no cover - LLVM cannot tell on some platforms
        return False


#: Whether the AVX2 kernels may run in this process.
AVAILABLE = _host_has_avx2()

_I8x32 = ir.VectorType(ir.IntType(8), 32)
_I64x4 = ir.VectorType(ir.IntType(64), 4)
_I64 = ir.IntType(64)


def _row_pointer(context, builder, arytype, ary, first, offset):
    """``<32 x i8>*`` to row ``min(first + offset, rows - 1)`` of a C-contiguous 2-d uint64 array
    (a block at the last rows repeats the last one; the caller writes only real rows)."""
    arr = context.make_array(arytype)(context, builder, ary)
    rows, width = cgutils.unpack_tuple(builder, arr.shape, 2)
    row = builder.add(first, ir.Constant(_I64, offset))
    last = builder.sub(rows, ir.Constant(_I64, 1))
    row = builder.select(builder.icmp_signed("<", row, last), row, last)
    start = builder.gep(arr.data, [builder.mul(row, width)], inbounds=True)
    return builder.bitcast(start, _I8x32.as_pointer())


def _load(builder, base, index):
    ptr = builder.gep(base, [index], inbounds=True, source_etype=_I8x32)
    return builder.load(ptr, typ=_I8x32, align=1)


def _block_loop(builder, nv, flush, step_vectors, n_acc, body, widen):
    """Emit ``for v0 in range(0, nv, flush): accs8 = 0; for v in v0..: body; widen(accs8)``.

    ``body(base, accs8) -> accs8`` adds the step whose first vector is ``base`` to the ``n_acc``
    byte accumulators; ``widen(accs8, wides) -> wides`` folds them into the ``<4 x i64>`` sums.
    Returns the final wides and the number of flushes (an i64 value).
    """
    zero8 = ir.Constant(_I8x32, None)
    zero64 = ir.Constant(_I64x4, None)
    fn = builder.function
    entry = builder.block
    outer = fn.append_basic_block("outer")
    inner_pre = fn.append_basic_block("inner_pre")
    inner = fn.append_basic_block("inner")
    latch = fn.append_basic_block("latch")
    done = fn.append_basic_block("done")
    builder.branch(outer)

    builder.position_at_end(outer)
    v0 = builder.phi(_I64, "v0")
    flushes = builder.phi(_I64, "flushes")
    wides = [builder.phi(_I64x4, f"wide{k}") for k in range(n_acc)]
    v0.add_incoming(ir.Constant(_I64, 0), entry)
    flushes.add_incoming(ir.Constant(_I64, 0), entry)
    for w in wides:
        w.add_incoming(zero64, entry)
    builder.cbranch(builder.icmp_signed("<", v0, nv), inner_pre, done)

    builder.position_at_end(inner_pre)
    limit = builder.add(v0, ir.Constant(_I64, flush))
    v_end = builder.select(builder.icmp_signed("<", limit, nv), limit, nv)
    builder.branch(inner)

    builder.position_at_end(inner)
    v = builder.phi(_I64, "v")
    accs = [builder.phi(_I8x32, f"acc{k}") for k in range(n_acc)]
    v.add_incoming(v0, inner_pre)
    for a in accs:
        a.add_incoming(zero8, inner_pre)
    new_accs = body(builder.mul(v, ir.Constant(_I64, step_vectors)), accs)
    v_next = builder.add(v, ir.Constant(_I64, 1))
    inner_end = builder.block
    v.add_incoming(v_next, inner_end)
    for a, n in zip(accs, new_accs):
        a.add_incoming(n, inner_end)
    builder.cbranch(builder.icmp_signed("<", v_next, v_end), inner, latch)

    builder.position_at_end(latch)
    new_wides = widen(new_accs, wides)
    latch_end = builder.block
    v0.add_incoming(v_end, latch_end)
    flushes.add_incoming(builder.add(flushes, ir.Constant(_I64, 1)), latch_end)
    for w, n in zip(wides, new_wides):
        w.add_incoming(n, latch_end)
    builder.branch(outer)

    builder.position_at_end(done)
    return wides, flushes


def _x86(builder, name, ret, args):
    fnty = ir.FunctionType(ret, [a.type for a in args])
    fn = cgutils.get_or_insert_function(builder.module, fnty, name)
    return builder.call(fn, args)


def _lookup(builder, table, index):
    return _x86(builder, "llvm.x86.avx2.pshuf.b", _I8x32, [table, index])


def _sad(builder, bytes_):
    return _x86(builder, "llvm.x86.avx2.psad.bw", _I64x4, [bytes_, ir.Constant(_I8x32, None)])


def _reduce(builder, wide):
    fnty = ir.FunctionType(_I64, [_I64x4])
    fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.vector.reduce.add.v4i64")
    return builder.call(fn, [wide])


def _table(values):
    return ir.Constant(_I8x32, [v & 0xFF for v in values * 2])


def _typing_ok(a, i0, b, j0, nv):
    arrays_ok = all(isinstance(x, types.Array) and x.ndim == 2 and x.layout == "C"
                    and x.dtype == types.uint64 for x in (a, b))
    return arrays_ok and all(isinstance(x, types.Integer) for x in (i0, j0, nv))


def _block_intrinsic(rows: int, cols: int, ternary: bool):
    """An intrinsic ``(a, i0, b, j0, nv) -> rows*cols int64`` (row-major over the block) of the
    dot products of rows ``i0..i0+rows-1`` of ``a`` with rows ``j0..j0+cols-1`` of ``b``."""
    step_vectors = 4 if ternary else 2
    flush = TERNARY_FLUSH if ternary else BINARY_FLUSH

    def generic(typingctx, a, i0, b, j0, nv):
        if not _typing_ok(a, i0, b, j0, nv):
            return None
        sig = types.UniTuple(types.int64, rows * cols)(a, i0, b, j0, nv)

        def codegen(context, builder, signature, args):
            ta, ti, tb, tj, tn = signature.args
            va, vi, vb, vj, vn = args
            i0_, j0_, nv_ = (context.cast(builder, x, t, types.int64)
                             for x, t in ((vi, ti), (vj, tj), (vn, tn)))
            rows_a = [_row_pointer(context, builder, ta, va, i0_, r) for r in range(rows)]
            rows_b = [_row_pointer(context, builder, tb, vb, j0_, c) for c in range(cols)]
            count = _table(_POPCOUNT_NIBBLE)
            minus_twice = _table([-2 * c for c in _POPCOUNT_NIBBLE])

            def body(base, accs):
                def planes(p):
                    return [_load(builder, p, builder.add(base, ir.Constant(_I64, q)))
                            for q in range(step_vectors)]

                xs = [planes(p) for p in rows_a]
                ys = [planes(p) for p in rows_b]
                out = []
                for k in range(rows * cols):
                    x, y, acc = xs[k // cols], ys[k % cols], accs[k]
                    for half in range(2):  # low nibbles, then high nibbles
                        if ternary:
                            nz = builder.and_(x[half], y[half])
                            neg = builder.and_(nz, builder.xor(x[2 + half], y[2 + half]))
                            acc = builder.add(acc, _lookup(builder, count, nz))
                            acc = builder.add(acc, _lookup(builder, minus_twice, neg))
                        else:
                            diff = builder.xor(x[half], y[half])
                            acc = builder.add(acc, _lookup(builder, count, diff))
                    out.append(acc)
                return out

            # Ternary lanes are signed: psadbw sums unsigned bytes, so sum (b + 128) and
            # remove 128 per byte (32 bytes per flush) at the end.
            bias = ir.Constant(_I8x32, [0x80 if ternary else 0] * 32)

            def widen(accs, wides):
                return [builder.add(w, _sad(builder, builder.xor(a, bias)))
                        for a, w in zip(accs, wides)]

            wides, flushes = _block_loop(builder, nv_, flush, step_vectors, rows * cols, body,
                                         widen)
            correction = builder.mul(flushes, ir.Constant(_I64, 32 * 128 if ternary else 0))
            sums = [builder.sub(_reduce(builder, w), correction) for w in wides]
            return context.make_tuple(builder, signature.return_type, sums)

        return sig, codegen

    generic.__name__ = f"_{'ternary' if ternary else 'xnor'}_block_{rows}x{cols}_avx2"
    return intrinsic(generic)


def _nibble_popcount(words: np.ndarray) -> int:
    return sum(_POPCOUNT_NIBBLE[int(w) >> s & 0xF] for w in words for s in range(0, 64, 8))


def _block_python(rows: int, cols: int, ternary: bool):
    """``NUMBA_DISABLE_JIT`` form of :func:`_block_intrinsic` (same results)."""

    def block(a, i0, b, j0, nv):
        out = []
        for r in range(rows):
            for c in range(cols):
                x = a[min(i0 + r, a.shape[0] - 1)]
                y = b[min(j0 + c, b.shape[0] - 1)]
                if ternary:
                    x, y = x[:TERNARY_STEP_WORDS * nv].reshape(-1, 2, 8), y[:16 * nv].reshape(-1, 2, 8)
                    nz = x[:, 0] & y[:, 0]
                    neg = nz & (x[:, 1] ^ y[:, 1])
                    out.append(_nibble_popcount(nz.ravel()) - 2 * _nibble_popcount(neg.ravel()))
                else:
                    w = BINARY_STEP_WORDS * nv
                    out.append(_nibble_popcount(np.bitwise_xor(x[:w], y[:w])))
        return tuple(out)

    return block


def block_dots(rows: int, cols: int, ternary: bool):
    """The block kernel for Numba code (the Python form under ``NUMBA_DISABLE_JIT``)."""
    if numba.config.DISABLE_JIT:  # pragma: no cover - exercised by the coverage run only
        return _block_python(rows, cols, ternary)
    return _block_intrinsic(rows, cols, ternary)

"""The AVX2 inner loop of the popcount GEMMs: ``vpshufb`` table lookups on 4-bit positions.

Binary and ternary dot products are sums over *positions*: four binary elements (4 bits of the
"neg" plane) or two ternary elements (2 x (nz, neg) bits) make a 4-bit index.  For one position
``p`` and one row ``i`` of ``a`` with index ``x = a_idx[i, p]``, the contribution of every row
``j`` of ``b`` is a function of the 4-bit index ``y = b_idx[j, p]`` alone: a 16-entry table
``T_x[y]`` — exactly what ``vpshufb`` looks up, 32 lanes at once.  So with ``b`` transposed to
32 rows per chunk (``b_tr[c, p, q] = b_idx[32 c + q, p]``), one lookup and one byte add give a
position's contribution to 32 outputs.  Per position, a register block of 2 rows of ``a`` and
4 chunks of ``b`` (256 outputs) costs 2 table loads, 4 loads of ``b``, 8 lookups and 8 adds —
about half the operations of xor + nibble-popcount on packed words, the method LLVM's own
vectorizer uses (measured on AMD Zen 3: 5.5-5.9 against 9-10 cycles per 1024 element pairs).

Tables hold values in [0, 4], so a byte lane gathers at most :data:`FLUSH` = 63 positions
(252) before it is widened into the caller's uint16 accumulators:

* binary: ``T_x[y] = popcount(x ^ y)``, so ``sum = popcount(neg_a ^ neg_b)`` and the ±1 dot
  product is ``K - 2 sum`` (padding bits are 0 on both sides and count nothing);
* ternary: index bits ``(nz_0, neg_0, nz_1, neg_1)`` of the position's two elements, and
  ``T_x[y] = 2 + sum_e nz_x nz_y (1 - 2 (neg_x ^ neg_y))``: the exact products biased by 2 to
  stay non-negative, so the dot product is ``sum - 2 P`` over the ``P`` positions summed.

The x86 intrinsics exist only with AVX2: :data:`AVAILABLE` says whether this process may use
them; the callers fall back to the portable kernels otherwise.  Under ``NUMBA_DISABLE_JIT`` the
same name is plain Python with the same effect.
"""

from __future__ import annotations

import llvmlite.binding as llvm
import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

#: Positions summed in 8-bit lanes before they are widened (63 * 4 = 252 < 256).
FLUSH = 63
#: Rows of ``a`` and 32-row chunks of ``b`` per register block.
BLOCK_ROWS = 2
BLOCK_CHUNKS = 4
#: Lanes per chunk: one 256-bit vector of bytes.
LANES = 32


def _ternary_product(x: int, y: int) -> int:
    total = 0
    for e in range(2):
        zx, nx = (x >> (2 * e)) & 1, (x >> (2 * e + 1)) & 1
        zy, ny = (y >> (2 * e)) & 1, (y >> (2 * e + 1)) & 1
        total += zx * zy * (1 - 2 * (nx ^ ny))
    return total


#: ``TABLES[ternary][x, y]``: the lookup tables described in the module docstring.
TABLES = {
    False: np.array([[bin(x ^ y).count("1") for y in range(16)] for x in range(16)], np.uint8),
    True: np.array([[2 + _ternary_product(x, y) for y in range(16)] for x in range(16)],
                   np.uint8),
}
#: The same tables as the kernel reads them: (16, 32) bytes, each row twice over, since
#: ``vpshufb`` looks up within each 128-bit lane.
LANE_TABLES = {ternary: np.ascontiguousarray(np.tile(t, 2)) for ternary, t in TABLES.items()}


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

_I8 = ir.IntType(8)
_I16 = ir.IntType(16)
_I64 = ir.IntType(64)
_I8x32 = ir.VectorType(_I8, 32)
_I16x16 = ir.VectorType(_I16, 16)


def _const(value: int):
    return ir.Constant(_I64, value)


def _array(context, builder, arytype, value):
    arr = context.make_array(arytype)(context, builder, value)
    return arr, cgutils.unpack_tuple(builder, arr.shape, arytype.ndim)


def _lookup(builder, table, index):
    fnty = ir.FunctionType(_I8x32, [_I8x32, _I8x32])
    fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.avx2.pshuf.b")
    return builder.call(fn, [table, index])


def _typing_ok(a_idx, i, b_tr, c, p0, p1, acc, acc_row, acc_col, tables):
    def array(x, ndim, dtype):
        return isinstance(x, types.Array) and x.ndim == ndim and x.layout == "C" \
            and x.dtype == dtype

    return (array(a_idx, 2, types.uint8) and array(b_tr, 3, types.uint8)
            and array(acc, 2, types.uint16) and array(tables, 2, types.uint8)
            and all(isinstance(x, types.Integer) for x in (i, c, p0, p1, acc_row, acc_col)))


def _block_intrinsic():
    """``table_block(a_idx, i, b_tr, c, p0, p1, acc, acc_row, acc_col, tables)``: for rows
    ``i, i + 1`` of ``a_idx`` (M, P) and chunks ``c .. c + 3`` of ``b_tr`` (NC, P, 32), add the
    sums of ``tables`` (:data:`LANE_TABLES`, binary or ternary) over positions ``p0 <= p < p1``
    (at most :data:`FLUSH` of them) to ``acc[acc_row + r, acc_col + 32 k + q]`` (uint16).  No
    bounds are checked: the callers pad ``a_idx`` to even rows, ``b_tr`` to whole blocks of
    chunks, and size ``acc`` to match.  One compiled form serves both tables."""

    def generic(typingctx, a_idx, i, b_tr, c, p0, p1, acc, acc_row, acc_col, tables):
        if not _typing_ok(a_idx, i, b_tr, c, p0, p1, acc, acc_row, acc_col, tables):
            return None
        sig = types.none(a_idx, i, b_tr, c, p0, p1, acc, acc_row, acc_col, tables)

        def codegen(context, builder, signature, args):
            t_a, t_i, t_b, t_c, t_p0, t_p1, t_acc, t_ar, t_ac, t_tab = signature.args
            v_a, v_i, v_b, v_c, v_p0, v_p1, v_acc, v_ar, v_ac, v_tab = args
            i, c, p0, p1, acc_row, acc_col = (
                context.cast(builder, v, t, types.int64)
                for v, t in ((v_i, t_i), (v_c, t_c), (v_p0, t_p0), (v_p1, t_p1),
                             (v_ar, t_ar), (v_ac, t_ac)))
            a_arr, (_, positions) = _array(context, builder, t_a, v_a)
            b_arr, _ = _array(context, builder, t_b, v_b)
            acc_arr, (_, acc_width) = _array(context, builder, t_acc, v_acc)
            tab_arr, _ = _array(context, builder, t_tab, v_tab)
            tables = builder.bitcast(tab_arr.data, _I8x32.as_pointer())
            # Row starts: a_idx rows (bytes), b chunks (one <32 x i8> per position).
            a_rows = [builder.gep(a_arr.data, [builder.mul(builder.add(i, _const(r)),
                                                           positions)], inbounds=True)
                      for r in range(BLOCK_ROWS)]
            b_base = builder.bitcast(b_arr.data, _I8x32.as_pointer())
            b_chunks = [builder.gep(b_base, [builder.mul(builder.add(c, _const(k)), positions)],
                                    inbounds=True, source_etype=_I8x32)
                        for k in range(BLOCK_CHUNKS)]

            fn = builder.function
            entry = builder.block
            loop = fn.append_basic_block("positions")
            done = fn.append_basic_block("widen")
            zero = ir.Constant(_I8x32, None)
            builder.cbranch(builder.icmp_signed("<", p0, p1), loop, done)

            builder.position_at_end(loop)
            p = builder.phi(_I64, "p")
            p.add_incoming(p0, entry)
            accs = [builder.phi(_I8x32, f"acc{k}") for k in range(BLOCK_ROWS * BLOCK_CHUNKS)]
            for a in accs:
                a.add_incoming(zero, entry)
            rows = []
            for r in range(BLOCK_ROWS):
                index = builder.load(builder.gep(a_rows[r], [p], inbounds=True), typ=_I8)
                slot = builder.gep(tables, [builder.zext(index, _I64)], inbounds=True,
                                   source_etype=_I8x32)
                rows.append(builder.load(slot, typ=_I8x32, align=1))
            cols = [builder.load(builder.gep(b_chunks[k], [p], inbounds=True,
                                             source_etype=_I8x32), typ=_I8x32, align=1)
                    for k in range(BLOCK_CHUNKS)]
            new = [builder.add(accs[r * BLOCK_CHUNKS + k], _lookup(builder, rows[r], cols[k]))
                   for r in range(BLOCK_ROWS) for k in range(BLOCK_CHUNKS)]
            p_next = builder.add(p, _const(1))
            p.add_incoming(p_next, loop)
            for a, n in zip(accs, new):
                a.add_incoming(n, loop)
            builder.cbranch(builder.icmp_signed("<", p_next, p1), loop, done)

            builder.position_at_end(done)
            finals = [builder.phi(_I8x32, f"final{k}") for k in range(len(accs))]
            for f, n in zip(finals, new):
                f.add_incoming(zero, entry)
                f.add_incoming(n, loop)
            acc_base = builder.bitcast(acc_arr.data, _I16.as_pointer())
            for r in range(BLOCK_ROWS):
                row_start = builder.mul(builder.add(acc_row, _const(r)), acc_width)
                for k in range(BLOCK_CHUNKS):
                    lanes = finals[r * BLOCK_CHUNKS + k]
                    for half in range(2):  # bytes 0-15, then 16-31, widened in order
                        part = builder.shuffle_vector(
                            lanes, ir.Constant(_I8x32, None),
                            ir.Constant(ir.VectorType(ir.IntType(32), 16),
                                        list(range(16 * half, 16 * half + 16))))
                        wide = builder.zext(part, _I16x16)
                        column = builder.add(acc_col, _const(LANES * k + 16 * half))
                        ptr = builder.gep(acc_base, [builder.add(row_start, column)],
                                          inbounds=True)
                        ptr = builder.bitcast(ptr, _I16x16.as_pointer())
                        old = builder.load(ptr, typ=_I16x16, align=2)
                        builder.store(builder.add(old, wide), ptr, align=2)
            return context.get_dummy_value()

        return sig, codegen

    generic.__name__ = "_table_block_avx2"
    return intrinsic(generic)


def block_python(a_idx, i, b_tr, c, p0, p1, acc, acc_row, acc_col, tables):
    """``NUMBA_DISABLE_JIT`` form of the block (same effect on ``acc``)."""
    table = tables[:, :16].astype(np.uint16)
    for r in range(BLOCK_ROWS):
        for k in range(BLOCK_CHUNKS):
            sums = table[a_idx[i + r, p0:p1, None], b_tr[c + k, p0:p1]].sum(axis=0)
            cols = slice(acc_col + LANES * k, acc_col + LANES * (k + 1))
            acc[acc_row + r, cols] += sums.astype(np.uint16)


#: The block for Numba code (its Python form under ``NUMBA_DISABLE_JIT``).
table_block = block_python if numba.config.DISABLE_JIT else _block_intrinsic()

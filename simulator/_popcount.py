"""``popcount`` for Numba kernels: the LLVM ``ctpop`` intrinsic on 64-bit words.

Numba has no popcount builtin.  ``llvm.ctpop.i64`` compiles to the ``popcnt`` instruction, and
inside a loop over words LLVM vectorizes it (with AVX2, a nibble-table ``vpshufb`` popcount), which
is what makes XNOR-popcount GEMMs cheap.  Outside Numba (``NUMBA_DISABLE_JIT=1``) the same name is
a plain Python function with the same result, so kernels that call it stay valid Python.
"""

from __future__ import annotations

import numba
from llvmlite import ir
from numba import types
from numba.extending import intrinsic


@intrinsic
def _ctpop_u64(typingctx, word):
    """The number of set bits of a 64-bit integer word (``llvm.ctpop.i64``)."""
    if not isinstance(word, types.Integer) or word.bitwidth != 64:
        return None
    sig = types.int64(word)

    def codegen(context, builder, signature, args):
        (value,) = args
        fn = builder.module.declare_intrinsic("llvm.ctpop", [ir.IntType(64)])
        return builder.call(fn, [value])

    return sig, codegen


def _popcount_python(word) -> int:
    """Reference and ``NUMBA_DISABLE_JIT`` fallback: set bits of the 64-bit pattern of ``word``."""
    return (int(word) & 0xFFFF_FFFF_FFFF_FFFF).bit_count()


if numba.config.DISABLE_JIT:  # pragma: no cover - exercised by the coverage run only
    popcount = _popcount_python
else:
    popcount = _ctpop_u64

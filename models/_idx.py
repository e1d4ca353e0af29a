"""Reader (and writer, for tests and tools) of the IDX format of the MNIST files.

IDX: two zero bytes, a type byte, the number of dimensions ``d``, then ``d`` big-endian uint32
sizes, then the data in big-endian row-major order (LeCun et al., yann.lecun.com/exdb/mnist).
"""

from __future__ import annotations

import numpy as np

#: IDX type byte -> numpy dtype (big-endian as stored).
IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
             0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


class IDXError(ValueError):
    """The bytes are not a well-formed IDX file."""


def parse_idx(data: bytes, *, source: str = "<bytes>") -> np.ndarray:
    """The array stored in the IDX bytes ``data`` (native byte order; ``IDXError`` when the
    header or the length is wrong, naming ``source``)."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise IDXError(f"{source}: not an IDX file (the first two bytes must be zero)")
    type_code, ndim = data[2], data[3]
    if type_code not in IDX_TYPES:
        raise IDXError(f"{source}: unknown IDX type byte 0x{type_code:02X}; expected one of "
                       + ", ".join(f"0x{k:02X}" for k in IDX_TYPES))
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IDXError(f"{source}: truncated IDX header ({len(data)} bytes)")
    shape = tuple(int(v) for v in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_TYPES[type_code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise IDXError(f"{source}: IDX header announces shape {shape} ({expected} bytes) but "
                       f"the file has {len(data)} bytes")
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def to_idx(arr: np.ndarray) -> bytes:
    """The IDX bytes of ``arr`` (one of the dtypes of ``IDX_TYPES``)."""
    arr = np.asarray(arr)
    for code, dtype in IDX_TYPES.items():
        if arr.dtype.kind == dtype.kind and arr.dtype.itemsize == dtype.itemsize:
            header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, ">u4").tobytes()
            return header + arr.astype(dtype).tobytes()
    raise TypeError(f"IDX cannot store dtype {arr.dtype}")

"""Read IDX files, the format MNIST and Fashion-MNIST ship in (http://yann.lecun.com/exdb/mnist/).

An IDX file is a 4-byte magic number ``0x00 0x00 TYPE NDIM``, then NDIM big-endian uint32
dimensions, then the values, big-endian, row-major, and nothing after them. The files are
usually distributed gzipped; ``read_idx`` recognises gzip by its magic bytes (``1f 8b``), so a
decompressed file that kept its ``.gz`` name, or the reverse, still reads.

Everything is checked, because a truncated download should fail here, loudly, rather than
train a network on half a dataset: an unknown type code, NDIM = 0, a data section shorter or
longer than the dimensions say, or a broken gzip stream raise ``ValueError`` naming the file.
"""

import gzip
import os
import zlib

import numpy as np

# IDX type code -> dtype as stored (big-endian).
DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path):
    """The array stored in the IDX file at ``path`` (gzipped or raw), in native byte order.

    Raises ``FileNotFoundError`` if there is no such file and ``ValueError`` naming the file and
    the problem if it is not a complete, well-formed IDX file.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
            raise ValueError(f"{path}: broken or truncated gzip data ({type(e).__name__}: {e})") from None
    return parse_idx(raw, path)


def parse_idx(raw, name="<bytes>"):
    """The array held by the IDX bytes ``raw``; ``name`` is used in error messages."""
    if len(raw) < 4:
        raise ValueError(f"{name}: {len(raw)} bytes, too short for an IDX header (4-byte magic number)")
    zero0, zero1, code, ndim = raw[:4]
    if zero0 or zero1:
        raise ValueError(f"{name}: not an IDX file (magic number {raw[:4].hex()} does not start with 0000)")
    if code not in DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in DTYPES)
        raise ValueError(f"{name}: unknown IDX data type code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise ValueError(f"{name}: IDX header says 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{name}: truncated header: {len(raw)} bytes, {ndim} dimensions need {header}")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = DTYPES[code]
    expected = dtype.itemsize * int(np.prod(shape, dtype=object))  # Python ints: no overflow
    got = len(raw) - header
    if got != expected:
        what = "truncated" if got < expected else "trailing bytes"
        raise ValueError(
            f"{name}: {what}: shape {shape} of {dtype.newbyteorder('=').name} needs {expected} data bytes, "
            f"the file has {got}"
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # a writable native-order copy

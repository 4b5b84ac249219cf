"""Helpers for the data tests: write IDX files (independently of scratchnet's reader) and fake datasets."""

import gzip
import struct

import numpy as np

TYPE_CODES = {np.dtype("u1"): 0x08, np.dtype("i1"): 0x09, np.dtype("i2"): 0x0B, np.dtype("i4"): 0x0C,
              np.dtype("f4"): 0x0D, np.dtype("f8"): 0x0E}  # fmt: skip


def idx_bytes(array):
    """The IDX encoding of ``array``: magic 00 00 type ndim, big-endian uint32 dims, big-endian data."""
    array = np.asarray(array)
    code = TYPE_CODES[array.dtype.newbyteorder("=")]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array, gz=None):
    """Write ``array`` to ``path`` as IDX, gzipped if ``gz`` (default: when the name ends in .gz)."""
    data = idx_bytes(array)
    if gz if gz is not None else str(path).endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    with open(path, "wb") as f:
        f.write(data)
    return path


def fake_split(n, seed=0):
    """uint8 images (n, 28, 28) and uint8 labels 0..9 that are easy to tell apart."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)


SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def write_dataset(directory, splits=("train", "test"), gz=True, n=None, seed=0):
    """Fake MNIST-format files for ``splits`` in ``directory``; returns {split: (images, labels)}."""
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    for k, split in enumerate(splits):
        images, labels = fake_split(n or (7 if split == "train" else 3), seed + k)
        suffix = ".gz" if gz else ""
        write_idx(directory / (SPLIT_FILES[split][0] + suffix), images)
        write_idx(directory / (SPLIT_FILES[split][1] + suffix), labels)
        out[split] = (images, labels)
    return out

"""Data: IDX files, datasets by name, a DataLoader and batch transforms.

    from scratchnet.data import load_dataset, DataLoader, transforms
    train = load_dataset("mnist10k", "train")            # bundled: always there, no download
    loader = DataLoader(train, batch_size=64, shuffle=True, seed=0,
                        transform=transforms.RandomShift(2))
    for x, y in loader: ...                               # x float32 (B, 1, 28, 28), y int64 (B,)

- ``idx.py``: ``read_idx``, the checked reader of the MNIST file format.
- ``datasets.py``: ``load_dataset``, ``Dataset``, ``DATASETS`` and where files are looked for.
- ``download.py``: fetching from the canonical mirrors, SHA-256 verified.
- ``loader.py``: ``DataLoader`` (vectorised batches, own seeded generator, resumable).
- ``transforms.py``: ``Normalize``, ``RandomShift``, ``RandomCrop``, ``Compose``.
- ``mnist10k.npz``: 8,000 + 2,000 MNIST digits, built by ``tools/build_mnist10k.py``.
"""

from . import transforms
from .datasets import DATASETS, Dataset, load_dataset
from .idx import read_idx
from .loader import DataLoader

__all__ = ["DATASETS", "DataLoader", "Dataset", "load_dataset", "read_idx", "transforms"]

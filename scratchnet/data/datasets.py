"""Datasets by name: the bundled ``mnist10k``, and ``mnist`` / ``fashion-mnist`` from IDX files.

``load_dataset(name, split)`` gives a ``Dataset``: ``images`` uint8 (N, 28, 28), ``labels``
int64 (N,), ``classes``, ``name``, ``split``. The IDX datasets are looked for, in order, in

1. ``data_dir``, when given: there and in ``data_dir/<name>/``, and nowhere else (a directory
   named on purpose that lacks the files is a mistake to report, not to work around);
2. each directory in ``$SCRATCHNET_DATA`` (``os.pathsep``-separated): ``<dir>/<name>/``, ``<dir>/``;
3. ``~/.cache/scratchnet/<name>/``, where downloads go (``$SCRATCHNET_DATA/<name>/`` if set);
4. ``<system dir>/<name>/`` for each of ``SYSTEM_DIRS``: ``/usr/share/datasets``, where
   Debian's ``dataset-fashion-mnist`` installs ``/usr/share/datasets/fashion-mnist/*.gz``.

Each file may be gzipped or not (``train-images-idx3-ubyte`` or ``...ubyte.gz``; the dotted
spelling ``train-images.idx3-ubyte`` of some mirrors is accepted too). A split needs only its
own two files. If no place has them and ``download`` is true, they are downloaded (see
``download.py``); otherwise, or when the download fails, ``FileNotFoundError`` lists every
place looked at and how to get the data.
"""

import os

import numpy as np

from . import download as _download
from .idx import read_idx

DATASETS = ("mnist10k", "mnist", "fashion-mnist")
SPLITS = ("train", "test")

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
CLASSES = {"mnist10k": MNIST_CLASSES, "mnist": MNIST_CLASSES, "fashion-mnist": FASHION_MNIST_CLASSES}

# split -> (images file, labels file), without the .gz the published files have
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

SYSTEM_DIRS = ["/usr/share/datasets"]  # a list so that tests (and odd systems) can change it
BUNDLED = "mnist10k.npz"


class Dataset:
    """Images and labels in memory. ``ds[i]`` is ``(image, label)``; ``len(ds)`` the sample count."""

    def __init__(self, images, labels, classes, name, split):
        images, labels = np.asarray(images), np.asarray(labels)
        if images.ndim != 3 or labels.shape != images.shape[:1]:
            raise ValueError(f"{name}/{split}: images {images.shape} and labels {labels.shape} do not match")
        if images.dtype != np.uint8:
            raise TypeError(f"{name}/{split}: images must be uint8, got {images.dtype}")
        labels = labels.astype(np.int64, copy=False)
        if labels.size and not (0 <= labels.min() and labels.max() < len(classes)):
            raise ValueError(f"{name}/{split}: labels span {labels.min()}..{labels.max()}, not 0..{len(classes) - 1}")
        self.images, self.labels = images, labels
        self.classes, self.name, self.split = tuple(classes), name, split

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return self.images[index], self.labels[index]

    def subset(self, indices):
        """A new Dataset of the samples at ``indices`` (a range, slice, index list or boolean mask), same classes."""
        if isinstance(indices, range):
            indices = slice(indices.start, indices.stop, indices.step)
        elif not isinstance(indices, slice):
            indices = np.asarray(indices)
        return Dataset(self.images[indices], self.labels[indices], self.classes, self.name, self.split)

    def __repr__(self):
        return f"Dataset({self.name!r}, split={self.split!r}, {len(self)} images {self.images.shape[1:]})"


def load_dataset(name, split="train", data_dir=None, download=True):
    """The ``split`` ('train' or 'test') of dataset ``name`` (one of ``DATASETS``); see the module docstring.

    ``mnist10k`` ships inside the package, so it ignores ``data_dir`` and ``download``.
    """
    key = str(name).strip().lower().replace("_", "-")
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} for {key}; splits: {', '.join(SPLITS)}")
    if key == "mnist10k":
        images, labels = _load_bundled(split)
    else:
        images, labels = _load_idx(key, split, data_dir, download)
    return Dataset(images, labels, CLASSES[key], key, split)


def _load_bundled(split):
    """The split of the npz in this package (built by tools/build_mnist10k.py)."""
    import importlib.resources  # here: it costs 20 ms, and only this dataset needs it

    resource = importlib.resources.files(__package__).joinpath(BUNDLED)
    with resource.open("rb") as f, np.load(f, allow_pickle=False) as npz:
        return npz[f"{split}_images"], npz[f"{split}_labels"]


# --------------------------------------------------------------------------- IDX datasets


def _spellings(base):
    """File names under which ``base`` may be found, gzipped or not."""
    dotted = base.replace("-idx", ".idx")  # train-images.idx3-ubyte
    return [base, base + ".gz", dotted, dotted + ".gz"]


def _find_in(directory, split):
    """(paths found, base names missing) for ``split``'s two files in ``directory``."""
    found, missing = [], []
    for base in IDX_FILES[split]:
        path = next((p for p in (os.path.join(directory, n) for n in _spellings(base)) if os.path.isfile(p)), None)
        if path is None:
            missing.append(base)
        else:
            found.append(path)
    return found, missing


def cache_dir(name):
    """Where downloads of ``name`` go: ``$SCRATCHNET_DATA/<name>`` (its first dir) if set, else
    ``~/.cache/scratchnet/<name>``."""
    env = [d for d in os.environ.get("SCRATCHNET_DATA", "").split(os.pathsep) if d]
    if env:
        return os.path.join(os.path.expanduser(env[0]), name)
    return os.path.join(os.path.expanduser("~"), ".cache", "scratchnet", name)


def search_dirs(name):
    """The directories looked in for ``name`` without an explicit data_dir, in order."""
    dirs = []
    for d in os.environ.get("SCRATCHNET_DATA", "").split(os.pathsep):
        if d:
            d = os.path.expanduser(d)
            dirs += [os.path.join(d, name), d]
    dirs.append(os.path.join(os.path.expanduser("~"), ".cache", "scratchnet", name))
    dirs += [os.path.join(d, name) for d in SYSTEM_DIRS]
    return list(dict.fromkeys(dirs))  # without repeats, order kept


def _load_idx(name, split, data_dir, download):
    if data_dir is not None:
        data_dir = os.path.expanduser(os.fspath(data_dir))
        if not os.path.isdir(data_dir):
            raise FileNotFoundError(f"{name}: data_dir {data_dir!r} does not exist or is not a directory")
        best = None
        for directory in (data_dir, os.path.join(data_dir, name)):
            found, missing = _find_in(directory, split)
            if not missing:
                return _read_pair(name, split, found)
            if best is None or len(missing) < len(best[1]):
                best = (directory, missing)
        missing = best[1]
        raise FileNotFoundError(
            f"{name}/{split}: data_dir {data_dir!r} lacks {' and '.join(_gz(missing))} "
            f"(looked in {data_dir} and {os.path.join(data_dir, name)}; gzipped or not)\n{_how_to_get(name)}"
        )
    looked = []
    for directory in search_dirs(name):
        found, missing = _find_in(directory, split)
        if not missing:
            return _read_pair(name, split, found)
        if os.path.isdir(directory):
            looked.append(f"  {directory}  (no {' or '.join(_gz(missing))})")
        else:
            looked.append(f"  {directory}  (does not exist)")
    problem = "download=False"
    if download:
        target = cache_dir(name)
        try:
            paths = _download.download(name, [f + ".gz" for f in IDX_FILES[split]], target)
        except _download.DownloadError as e:
            problem = f"the download failed: {e}"
        else:
            return _read_pair(name, split, paths)
    where = "\n".join(looked)
    raise FileNotFoundError(
        f"{name}/{split}: files {' and '.join(_gz(IDX_FILES[split]))} not found; looked in:\n{where}\n"
        f"and {problem}.\n{_how_to_get(name)}"
    )


def _gz(bases):
    return [b + "[.gz]" for b in bases]


def _how_to_get(name):
    urls = ", ".join(_download.mirrors_for(name))
    lines = [f"To get {name}:"]
    if name == "fashion-mnist":
        lines.append("  - on Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist  (-> /usr/share/datasets)")
    lines += [
        f"  - download the four files {', '.join(f + '.gz' for s in SPLITS for f in IDX_FILES[s])}",
        f"    from {urls} into {cache_dir(name)} (or call load_dataset(..., download=True) online)",
        f"  - or put them in a directory DIR and set SCRATCHNET_DATA=DIR (looked in DIR/{name}/ and DIR/)",
    ]
    return "\n".join(lines)


def _read_pair(name, split, paths):
    """Read one split's images and labels files and check that they belong together."""
    images_path, labels_path = paths
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{images_path}: expected uint8 images (N, 28, 28), got {images.dtype} {images.shape}")
    if labels.dtype != np.uint8 or labels.shape != images.shape[:1] or (labels.size and labels.max() > 9):
        raise ValueError(
            f"{labels_path}: expected {len(images)} uint8 labels 0..9 to go with {images_path}, "
            f"got {labels.dtype} {labels.shape}"
        )
    return images, labels

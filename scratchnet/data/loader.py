"""DataLoader: mini-batches of a Dataset as Tensors on the current backend.

Batches are cut from the whole image array with one slice or one fancy index each (no Python
loop over images), scaled to float32 in [0, 1], passed through the transform on the CPU, then
moved to the current backend's device (``scratchnet.backend.on_current_device``).

Randomness (the shuffle and the transform's draws) comes from the loader's own
``numpy.random.Generator``, ``loader.rng``, so a run is reproducible from ``seed``, or from
``scratchnet.manual_seed`` when ``seed`` is None, and other code drawing random numbers does
not change the batches. ``state_dict()`` captures that generator and the position inside the
current epoch (its order and the batches already handed out), so a run interrupted mid-epoch
resumes with exactly the batches it would have seen.
"""

import numbers

import numpy as np

from .. import backend
from ..tensor import Tensor

_MASK64 = (1 << 64) - 1


class DataLoader:
    """Iterate over ``dataset`` in batches ``(x, y)``: x float32 (B, 1, H, W) in [0, 1] then
    ``transform``-ed, y int64 (B,).

    ``dataset`` needs ``images`` (N, H, W) or (N, C, H, W) and ``labels`` (N,) arrays (a
    ``Dataset`` has them); uint8 images are divided by 255, float images are taken as they are.
    Each ``iter()`` is a new epoch, reshuffled when ``shuffle``; ``drop_last`` drops a last
    batch smaller than ``batch_size``. ``transform(batch, rng)`` gets the NumPy batch and
    ``self.rng`` (see ``scratchnet.data.transforms``).
    """

    def __init__(self, dataset, batch_size=64, shuffle=False, drop_last=False, seed=None, transform=None):
        images, labels = getattr(dataset, "images", None), getattr(dataset, "labels", None)
        if images is None or labels is None:
            raise TypeError(f"DataLoader: the dataset needs .images and .labels arrays, got {type(dataset).__name__}")
        images, labels = np.asarray(images), np.asarray(labels)
        if images.ndim not in (3, 4) or labels.shape != images.shape[:1]:
            raise ValueError(
                f"DataLoader: images must be (N, H, W) or (N, C, H, W) with labels (N,); "
                f"got {images.shape} and {labels.shape}"
            )
        if images.dtype.kind not in "biuf":
            raise TypeError(f"DataLoader: images must hold numbers, got dtype {images.dtype}")
        if labels.dtype.kind not in "iu":  # float labels were cut to integers silently
            raise TypeError(f"DataLoader: labels must be integer class indices, got dtype {labels.dtype}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Real):
            raise TypeError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if not (batch_size >= 1 and float(batch_size).is_integer()):  # also NaN and inf
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
            raise ValueError(f"DataLoader: seed must be None or a non-negative integer, got {seed!r}")
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: transform must be callable as transform(batch, rng), got {transform!r}")
        self.dataset, self.images, self.labels = dataset, images, labels
        self.batch_size, self.shuffle, self.drop_last, self.transform = int(batch_size), shuffle, drop_last, transform
        if seed is None:  # drawn once, from scratchnet's seeded generator: manual_seed makes it reproducible
            seed = int(backend.generator().integers(2**63))
        self.seed = seed
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.epoch = 0  # epochs started
        self._order = None  # this epoch's permutation (shuffle only)
        self._position = 0  # batches handed out in this epoch; 0 between epochs
        self._resume = None  # (order, position) set by load_state_dict, used by the next iter()

    def __len__(self):
        n, b = len(self.labels), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self):
        if self._resume is not None:
            order, start = self._resume
            self._resume = None
        else:
            order = self.rng.permutation(len(self.labels)) if self.shuffle else None
            start = 0
            self.epoch += 1
        self._order, self._position = order, start
        for i in range(start, len(self)):
            lo, hi = i * self.batch_size, min((i + 1) * self.batch_size, len(self.labels))
            index = slice(lo, hi) if order is None else order[lo:hi]
            self._position = i + 1  # state_dict() taken after this batch resumes with the next one
            yield self._batch(index)
        self._order, self._position = None, 0

    def _batch(self, index):
        images = self.images[index]
        x = images.astype(np.float32)
        if images.dtype == np.uint8:
            x /= np.float32(255)
        if x.ndim == 3:
            x = x[:, None]
        if self.transform is not None:
            n = len(x)
            x = self.transform(x, self.rng)
            if not isinstance(x, np.ndarray) or x.ndim != 4 or len(x) != n or x.dtype.kind != "f":
                got = f"shape {x.shape} and dtype {x.dtype}" if isinstance(x, np.ndarray) else type(x).__name__
                raise TypeError(
                    f"DataLoader: transform {self.transform!r} must return a float batch (B, C, H, W) with "
                    f"B = {n}, got {got}"
                )
        y = self.labels[index].astype(np.int64)
        return Tensor(backend.on_current_device(x)), Tensor(backend.on_current_device(y))

    def __repr__(self):
        return (
            f"DataLoader({len(self.labels)} samples, batch_size={self.batch_size}, shuffle={self.shuffle}, "
            f"drop_last={self.drop_last}, transform={self.transform!r})"
        )

    # ------------------------------------------------------------------ resuming

    def state_dict(self):
        """The generator and the position in the current epoch, as plain numbers and arrays.

        Taken between epochs, it resumes with the next epoch; taken after k batches of an epoch,
        ``load_state_dict`` makes the next ``iter()`` continue that epoch at batch k. Savable
        with ``scratchnet.save`` (PCG64's 128-bit integers are stored as pairs of uint64).
        """
        state = self.rng.bit_generator.state
        s, inc = state["state"]["state"], state["state"]["inc"]
        words = [s >> 64, s & _MASK64, inc >> 64, inc & _MASK64]
        in_epoch = self._position > 0 and self._position < len(self)
        order = self._order if in_epoch and self._order is not None else np.zeros(0, dtype=np.int64)
        return {
            "rng_pcg64": np.array(words, dtype=np.uint64),
            "rng_has_uint32": int(state["has_uint32"]),
            "rng_uinteger": int(state["uinteger"]),
            "epoch": self.epoch,
            "position": self._position if in_epoch else 0,
            "order": np.array(order, dtype=np.int64),
        }

    def load_state_dict(self, state):
        """Restore what ``state_dict()`` captured (from this loader or one over the same dataset)."""
        try:
            hi, lo, inc_hi, inc_lo = (int(w) for w in np.asarray(state["rng_pcg64"], dtype=np.uint64))
            rng_state = {
                "bit_generator": "PCG64",
                "state": {"state": (hi << 64) | lo, "inc": (inc_hi << 64) | inc_lo},
                "has_uint32": int(state["rng_has_uint32"]),
                "uinteger": int(state["rng_uinteger"]),
            }
            position, epoch = int(state["position"]), int(state["epoch"])
            if position != state["position"] or epoch != state["epoch"]:
                raise ValueError(f"position {state['position']!r} and epoch {state['epoch']!r} must be integers")
            order = np.asarray(state["order"], dtype=np.int64)
            check = np.random.PCG64()
            check.state = rng_state  # a bad state fails here, before this loader changes
        except (KeyError, IndexError, TypeError, ValueError, OverflowError) as e:
            raise ValueError(f"DataLoader.load_state_dict: not a DataLoader state ({type(e).__name__}: {e})") from None
        n = len(self.labels)
        if not 0 <= position < max(len(self), 1):
            raise ValueError(
                f"DataLoader.load_state_dict: position {position} is outside this loader's {len(self)} batches"
            )
        if position and self.shuffle and (order.shape != (n,) or not np.array_equal(np.sort(order), np.arange(n))):
            raise ValueError(f"DataLoader.load_state_dict: the saved order is not a permutation of {n} samples")
        self.rng.bit_generator.state = rng_state
        self.epoch = epoch
        self._resume = ((order if self.shuffle else None), position) if position else None

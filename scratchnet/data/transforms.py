"""Batch transforms for the DataLoader: ``transform(batch, rng) -> batch``.

They work on a whole NumPy float32 batch (B, C, H, W) at once, never image by image, and draw
their randomness from the ``numpy.random.Generator`` handed to them (the loader's own), so a
run is reproducible from the loader's seed and resumes exactly from its ``state_dict``.

Random shifts and crops share one trick: zero-pad the batch, take a strided *view* of every
window (``sliding_window_view``, no copy), then pick each image's window with one fancy-index
gather, ``windows[arange(B), :, row, col]``: a single copy of the output, whatever the batch.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _check_batch(batch, who):
    if not isinstance(batch, np.ndarray) or batch.ndim != 4:
        got = f"shape {batch.shape}" if hasattr(batch, "shape") else type(batch).__name__
        raise ValueError(f"{who}: expects a NumPy batch (B, C, H, W), got {got}")


def _window_gather(padded, size, rows, cols):
    """``out[b] = padded[b, :, rows[b]:rows[b] + h, cols[b]:cols[b] + w]`` for every b, vectorised."""
    windows = sliding_window_view(padded, size, axis=(2, 3))  # (B, C, nH, nW, h, w), a view
    # Advanced indices on axes 0, 2 and 3 around the slice on axis 1: the indexed axis (B) comes
    # first, then C, then (h, w).
    return windows[np.arange(len(padded)), :, rows, cols]


def _pad(batch, p):
    """Zeros around each image, ``p`` wide."""
    return np.pad(batch, ((0, 0), (0, 0), (p, p), (p, p)))


class Compose:
    """Apply ``transforms`` in order, each with the same generator."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, batch, rng):
        for t in self.transforms:
            batch = t(batch, rng)
        return batch

    def __repr__(self):
        return f"Compose({self.transforms!r})"


class Normalize:
    """``(x - mean) / std``, per channel when given sequences (one value per channel). Keeps float32."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)
        if np.any(self.std <= 0):
            raise ValueError(f"Normalize: std must be positive, got {std}")

    def __call__(self, batch, rng=None):
        _check_batch(batch, "Normalize")
        return ((batch - self.mean) / self.std).astype(batch.dtype, copy=False)

    def __repr__(self):
        return f"Normalize(mean={self.mean.ravel().tolist()}, std={self.std.ravel().tolist()})"


class RandomShift:
    """Shift each image by its own integer offsets (dy, dx), each uniform in [-max_shift, max_shift].

    Content moves down by dy and right by dx: ``out[..., i, j] = x[..., i - dy, j - dx]``, and
    pixels shifted in from outside are 0. All channels of an image move together. The offsets are
    drawn as ``dy, dx = rng.integers(-max_shift, max_shift + 1, size=(2, B))``.
    """

    def __init__(self, max_shift=2):
        if int(max_shift) != max_shift or max_shift < 0:
            raise ValueError(f"RandomShift: max_shift must be a non-negative integer, got {max_shift}")
        self.max_shift = int(max_shift)

    def __call__(self, batch, rng):
        _check_batch(batch, "RandomShift")
        m = self.max_shift
        dy, dx = rng.integers(-m, m + 1, size=(2, len(batch)))
        return self.shift(batch, dy, dx, m)

    @staticmethod
    def shift(batch, dy, dx, max_shift=None):
        """``batch`` with image b moved by (dy[b], dx[b]), zero-filled; |offsets| <= max_shift."""
        dy, dx = np.asarray(dy, dtype=np.intp), np.asarray(dx, dtype=np.intp)
        largest = int(max(np.abs(dy).max(initial=0), np.abs(dx).max(initial=0)))
        m = largest if max_shift is None else int(max_shift)
        if largest > m or dy.shape != (len(batch),) or dx.shape != (len(batch),):
            raise ValueError(f"RandomShift.shift: need one dy and dx per image, each within +-{m}")
        # In the batch padded by m, out[i, j] = padded[i - dy + m, j - dx + m]: the window at (m - dy, m - dx).
        return _window_gather(_pad(batch, m), batch.shape[2:], m - dy, m - dx)

    def __repr__(self):
        return f"RandomShift(max_shift={self.max_shift})"


class RandomCrop:
    """Zero-pad by ``padding`` on every side, then cut a ``size`` window at a random place per image.

    ``size`` is an int (square) or (h, w). Window corners are drawn as
    ``rows = rng.integers(0, H + 2p - h + 1, B)`` then ``cols`` likewise. With ``size`` the
    image size this is a random shift by up to ``padding`` (as torchvision's RandomCrop).
    """

    def __init__(self, size, padding=0):
        self.size = (int(size), int(size)) if np.ndim(size) == 0 else tuple(int(s) for s in size)
        if len(self.size) != 2 or min(self.size) <= 0:
            raise ValueError(f"RandomCrop: size must be a positive int or (h, w), got {size}")
        if int(padding) != padding or padding < 0:
            raise ValueError(f"RandomCrop: padding must be a non-negative integer, got {padding}")
        self.padding = int(padding)

    def __call__(self, batch, rng):
        _check_batch(batch, "RandomCrop")
        padded = _pad(batch, self.padding)
        (h, w), (ph, pw) = self.size, padded.shape[2:]
        if h > ph or w > pw:
            raise ValueError(f"RandomCrop: size {self.size} is larger than the padded image {(ph, pw)}")
        rows = rng.integers(0, ph - h + 1, size=len(batch))
        cols = rng.integers(0, pw - w + 1, size=len(batch))
        return _window_gather(padded, self.size, rows, cols)

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding})"

"""Batch transforms: shapes and dtypes kept, deterministic given the generator, and shifts/crops
that move content by exactly the drawn offsets, checked against a per-image loop."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.data import transforms


def batch(b=6, c=1, h=7, w=5, seed=0):
    return np.random.default_rng(seed).random((b, c, h, w), dtype=np.float32) + 0.5  # no zeros: fill is visible


def shift_by_loop(x, dy, dx):
    """The definition, one image at a time: out[..., i, j] = x[..., i - dy, j - dx], 0 outside."""
    out = np.zeros_like(x)
    h, w = x.shape[2:]
    for b in range(len(x)):
        for i in range(h):
            for j in range(w):
                if 0 <= i - dy[b] < h and 0 <= j - dx[b] < w:
                    out[b, :, i, j] = x[b, :, i - dy[b], j - dx[b]]
    return out


# --------------------------------------------------------------------------- RandomShift


def test_shift_moves_a_dot_by_the_drawn_offsets():
    x = np.zeros((50, 1, 9, 9), np.float32)
    x[:, 0, 4, 4] = 1.0
    out = transforms.RandomShift(2)(x, np.random.default_rng(0))
    dy, dx = np.random.default_rng(0).integers(-2, 3, size=(2, 50))  # the documented draw
    for b in range(50):
        assert np.argwhere(out[b, 0]).tolist() == [[4 + dy[b], 4 + dx[b]]]
    assert set(dy.tolist()) == set(dx.tolist()) == {-2, -1, 0, 1, 2}  # the whole range, both signs


def test_shift_zero_fills_and_keeps_the_rest():
    x = batch(b=40)
    out = transforms.RandomShift(3)(x, np.random.default_rng(1))
    dy, dx = np.random.default_rng(1).integers(-3, 4, size=(2, 40))
    np.testing.assert_array_equal(out, shift_by_loop(x, dy, dx))
    for b in np.flatnonzero(dy > 0):  # rows shifted in at the top are zero, the rest is the original
        assert (out[b, :, : dy[b]] == 0).all() and (out[b, :, dy[b] :] != 0).any()
    assert out.shape == x.shape and out.dtype == np.float32 and out.flags.c_contiguous


def test_shift_moves_all_channels_together():
    x = batch(b=5, c=3)
    out = transforms.RandomShift(2)(x, np.random.default_rng(2))
    dy, dx = np.random.default_rng(2).integers(-2, 3, size=(2, 5))
    np.testing.assert_array_equal(out, shift_by_loop(x, dy, dx))


@given(
    st.integers(1, 4), st.integers(1, 3), st.integers(1, 6), st.integers(1, 6), st.integers(0, 7), st.integers(0, 2**32)
)
def test_shift_matches_the_loop(b, c, h, w, max_shift, seed):
    x = batch(b, c, h, w, seed=seed % 1000)
    rng = np.random.default_rng(seed)
    dy, dx = rng.integers(-max_shift, max_shift + 1, size=(2, b))
    np.testing.assert_array_equal(transforms.RandomShift.shift(x, dy, dx), shift_by_loop(x, dy, dx))
    np.testing.assert_array_equal(
        transforms.RandomShift(max_shift)(x, np.random.default_rng(seed)), shift_by_loop(x, dy, dx)
    )


def test_shift_zero_is_identity_and_shift_checks_offsets():
    x = batch()
    np.testing.assert_array_equal(transforms.RandomShift(0)(x, np.random.default_rng(0)), x)
    with pytest.raises(ValueError, match="within"):
        transforms.RandomShift.shift(x, np.full(6, 3), np.zeros(6, int), max_shift=2)
    with pytest.raises(ValueError, match="one dy and dx per image"):
        transforms.RandomShift.shift(x, np.zeros(5, int), np.zeros(6, int))
    with pytest.raises(ValueError):
        transforms.RandomShift(-1)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        transforms.RandomShift(1)(x[0], np.random.default_rng(0))


# --------------------------------------------------------------------------- RandomCrop


def test_crop_windows_are_the_drawn_ones():
    x = batch(b=8, h=6, w=6)
    out = transforms.RandomCrop(4, padding=1)(x, np.random.default_rng(3))
    rng = np.random.default_rng(3)
    rows, cols = rng.integers(0, 5, 8), rng.integers(0, 5, 8)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    assert out.shape == (8, 1, 4, 4)
    for b in range(8):
        np.testing.assert_array_equal(out[b], padded[b, :, rows[b] : rows[b] + 4, cols[b] : cols[b] + 4])


def test_full_size_crop_with_padding_is_a_shift():
    x = batch(b=30, h=8, w=8)
    out = transforms.RandomCrop(8, padding=2)(x, np.random.default_rng(4))
    rng = np.random.default_rng(4)
    rows, cols = rng.integers(0, 5, 30), rng.integers(0, 5, 30)
    np.testing.assert_array_equal(out, shift_by_loop(x, 2 - rows, 2 - cols))


def test_crop_rectangular_and_errors():
    x = batch(b=3, h=7, w=5)
    assert transforms.RandomCrop((3, 2))(x, np.random.default_rng(0)).shape == (3, 1, 3, 2)
    with pytest.raises(ValueError, match="larger than the padded image"):
        transforms.RandomCrop(8)(x, np.random.default_rng(0))
    with pytest.raises(ValueError):
        transforms.RandomCrop(0)
    with pytest.raises(ValueError):
        transforms.RandomCrop(3, padding=-1)


# --------------------------------------------------------------------------- Normalize, Compose, determinism


def test_normalize():
    x = batch(c=2)
    out = transforms.Normalize([0.5, 1.0], [2.0, 4.0])(x, None)
    assert out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_allclose(out[:, 0], (x[:, 0] - 0.5) / 2, rtol=1e-6)
    np.testing.assert_allclose(out[:, 1], (x[:, 1] - 1.0) / 4, rtol=1e-6)
    np.testing.assert_allclose(transforms.Normalize(0.1307, 0.3081)(x, None), (x - 0.1307) / 0.3081, rtol=1e-6)
    with pytest.raises(ValueError, match="positive"):
        transforms.Normalize(0, 0)


def test_compose_applies_in_order_with_one_generator():
    x = np.zeros((2, 1, 5, 5), np.float32)
    x[:, 0, 2, 2] = 1
    shift = transforms.RandomShift(1)
    composed = transforms.Compose([shift, transforms.Normalize(0.5, 0.5)])
    out = composed(x, np.random.default_rng(5))
    np.testing.assert_array_equal(out, (shift(x, np.random.default_rng(5)) - 0.5) / 0.5)
    assert "RandomShift(max_shift=1)" in repr(composed)


@pytest.mark.parametrize(
    "transform",
    [transforms.RandomShift(2), transforms.RandomCrop(5, padding=2), transforms.Normalize(0.2, 0.3)],
    ids=repr,
)
def test_deterministic_given_the_generator(transform):
    x = batch(b=16)
    a = transform(x, np.random.default_rng(9))
    b = transform(x, np.random.default_rng(9))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(x, batch(b=16))  # the input is left alone
    if not isinstance(transform, transforms.Normalize):
        assert not np.array_equal(a, transform(x, np.random.default_rng(10)))

"""DataLoader: batch shapes and values, shuffling from its own seed, every sample once per epoch,
and a state_dict that resumes mid-epoch with exactly the batches an uninterrupted run gets."""

from types import SimpleNamespace

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.data import DataLoader, load_dataset, transforms


def indexed(n, side=4):
    """A dataset whose sample i has label i and every pixel i % 256: batches show which samples they hold."""
    images = np.broadcast_to((np.arange(n) % 256).astype(np.uint8)[:, None, None], (n, side, side)).copy()
    return SimpleNamespace(images=images, labels=np.arange(n))


def labels_of(loader):
    return [y.numpy().tolist() for _, y in loader]


def flat(lists):
    return [v for values in lists for v in values]


def test_batches_on_mnist10k():
    ds = load_dataset("mnist10k", "test")
    loader = DataLoader(ds, batch_size=64)
    batches = list(loader)
    assert len(loader) == len(batches) == 32  # 2000 = 31 * 64 + 16
    x, y = batches[0]
    assert isinstance(x, sn.Tensor) and isinstance(y, sn.Tensor)
    assert x.shape == (64, 1, 28, 28) and x.dtype == np.float32 and x.device == "cpu"
    assert y.shape == (64,) and y.dtype == np.int64
    assert not x.requires_grad
    np.testing.assert_array_equal(x.numpy()[:, 0], ds.images[:64].astype(np.float32) / 255)
    np.testing.assert_array_equal(y.numpy(), ds.labels[:64])
    assert 0.0 <= x.numpy().min() and x.numpy().max() == 1.0
    assert batches[-1][0].shape == (16, 1, 28, 28)


@pytest.mark.parametrize("n, batch_size, drop_last, sizes", [
    (10, 4, False, [4, 4, 2]), (10, 4, True, [4, 4]), (8, 4, True, [4, 4]), (3, 5, False, [3]), (3, 5, True, []),
])  # fmt: skip
def test_len_and_drop_last(n, batch_size, drop_last, sizes):
    loader = DataLoader(indexed(n), batch_size=batch_size, drop_last=drop_last)
    assert len(loader) == len(sizes)
    assert [len(y) for y in labels_of(loader)] == sizes


def test_unshuffled_order():
    assert flat(labels_of(DataLoader(indexed(10), batch_size=3))) == list(range(10))


def test_float_images_are_taken_as_they_are():
    data = SimpleNamespace(images=np.full((2, 1, 3, 3), 0.25), labels=np.array([1, 0]))
    x, _ = next(iter(DataLoader(data)))
    assert x.shape == (2, 1, 3, 3) and x.dtype == np.float32 and (x.numpy() == 0.25).all()


def test_shuffle_is_reproducible_from_the_seed_and_reshuffles_each_epoch():
    a = DataLoader(indexed(50), batch_size=8, shuffle=True, seed=3)
    b = DataLoader(indexed(50), batch_size=8, shuffle=True, seed=3)
    epochs_a = [labels_of(a) for _ in range(3)]
    assert epochs_a == [labels_of(b) for _ in range(3)]
    assert epochs_a[0] != epochs_a[1] != epochs_a[2]
    assert labels_of(DataLoader(indexed(50), batch_size=8, shuffle=True, seed=4)) != epochs_a[0]
    for epoch in epochs_a:  # every sample exactly once per epoch
        assert sorted(flat(epoch)) == list(range(50))
    assert a.epoch == 3


def test_pixels_travel_with_their_labels():
    loader = DataLoader(indexed(300), batch_size=32, shuffle=True, seed=0)
    for x, y in loader:
        np.testing.assert_array_equal(x.numpy()[:, 0, 0, 0], (y.numpy() % 256).astype(np.float32) / np.float32(255))


def test_drop_last_with_shuffle_drops_different_samples_each_epoch():
    loader = DataLoader(indexed(10), batch_size=4, shuffle=True, drop_last=True, seed=1)
    seen = [sorted(flat(labels_of(loader))) for _ in range(5)]
    assert all(len(s) == 8 and len(set(s)) == 8 for s in seen)
    assert len({tuple(s) for s in seen}) > 1


def test_seed_none_follows_manual_seed():
    sn.manual_seed(123)
    a = labels_of(DataLoader(indexed(40), batch_size=8, shuffle=True))
    sn.manual_seed(123)
    b = labels_of(DataLoader(indexed(40), batch_size=8, shuffle=True))
    sn.manual_seed(124)
    c = labels_of(DataLoader(indexed(40), batch_size=8, shuffle=True))
    assert a == b != c


def test_the_loader_generator_is_its_own():
    """Random numbers drawn elsewhere (model init, dropout) do not change the batches."""
    a = DataLoader(indexed(40), batch_size=8, shuffle=True, seed=0)
    first = labels_of(a)
    b = DataLoader(indexed(40), batch_size=8, shuffle=True, seed=0)
    sn.randn(100)
    np.random.default_rng().random(10)
    assert labels_of(b) == first


def test_transform_gets_the_scaled_batch_and_the_loader_rng():
    calls = []

    def transform(batch, rng):
        calls.append((batch.dtype, batch.shape, rng))
        return batch * 2

    loader = DataLoader(indexed(5), batch_size=2, transform=transform, seed=0)
    x, _ = next(iter(loader))
    assert calls[0] == (np.float32, (2, 1, 4, 4), loader.rng)
    np.testing.assert_array_equal(x.numpy()[1], np.full((1, 4, 4), 2 / 255, np.float32))


def test_iteration_is_cheap():
    """Vectorised batches: a whole epoch of mnist10k (125 batches, shifted) in well under a second."""
    import time

    loader = DataLoader(load_dataset("mnist10k"), 64, shuffle=True, seed=0, transform=transforms.RandomShift(2))
    start = time.perf_counter()
    assert sum(1 for _ in loader) == 125
    assert time.perf_counter() - start < 2.0


# --------------------------------------------------------------------------- resuming


def make_loader(seed):
    return DataLoader(indexed(45), batch_size=6, shuffle=True, seed=seed, transform=transforms.RandomShift(1))


def batches(it, k):
    return [(x.numpy(), y.numpy()) for _, (x, y) in zip(range(k), it, strict=False)]


def assert_same(got, expected):
    assert len(got) == len(expected)
    for (gx, gy), (ex, ey) in zip(got, expected, strict=True):
        np.testing.assert_array_equal(gx, ex)
        np.testing.assert_array_equal(gy, ey)


@pytest.mark.parametrize("stop_after", [0, 3, 8])  # 8 batches = one whole epoch
def test_state_dict_resumes_with_the_same_next_batches(tmp_path, stop_after):
    reference = make_loader(7)
    first_epoch = list(iter(reference))
    expected = [(x.numpy(), y.numpy()) for x, y in first_epoch[stop_after:]] + batches(iter(reference), 8)

    interrupted = make_loader(7)
    it = iter(interrupted)
    batches(it, stop_after)
    sn.save({"loader": interrupted.state_dict()}, tmp_path / "ckpt.npz")

    resumed = make_loader(99)  # another seed: everything must come from the state
    resumed.load_state_dict(sn.load(tmp_path / "ckpt.npz")["loader"])
    got = batches(iter(resumed), 8 - stop_after) if stop_after < 8 else []
    got += batches(iter(resumed), 8)
    assert_same(got, expected)
    assert resumed.epoch == 2


def test_state_dict_is_plain_numbers_and_arrays():
    loader = make_loader(0)
    it = iter(loader)
    next(it)
    state = loader.state_dict()
    assert set(state) == {"rng_pcg64", "rng_has_uint32", "rng_uinteger", "epoch", "position", "order"}
    assert state["rng_pcg64"].dtype == np.uint64 and state["rng_pcg64"].shape == (4,)
    assert state["position"] == 1 and sorted(state["order"].tolist()) == list(range(45))
    assert all(isinstance(v, (int, np.ndarray)) for v in state.values())


def test_unshuffled_resume_mid_epoch():
    loader = DataLoader(indexed(10), batch_size=3)
    it = iter(loader)
    next(it)
    state = loader.state_dict()
    other = DataLoader(indexed(10), batch_size=3)
    other.load_state_dict(state)
    assert labels_of(other) == [[3, 4, 5], [6, 7, 8], [9]]
    assert labels_of(other) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_load_state_dict_rejects_foreign_states():
    loader = make_loader(0)
    with pytest.raises(ValueError, match="not a DataLoader state"):
        loader.load_state_dict({"lr": 0.1})
    state = make_loader(0).state_dict()
    state["position"] = 100
    with pytest.raises(ValueError, match="position 100"):
        loader.load_state_dict(state)
    state.update(position=2, order=np.arange(10))
    with pytest.raises(ValueError, match="not a permutation of 45"):
        loader.load_state_dict(state)


# --------------------------------------------------------------------------- arguments and devices


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True, "8", float("inf"), float("nan"), None])
def test_bad_batch_size(batch_size):
    # inf used to escape as OverflowError, "8" and None as int()'s errors without the loader's name
    with pytest.raises((ValueError, TypeError), match="^DataLoader: batch_size must be a positive integer"):
        DataLoader(indexed(4), batch_size=batch_size)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_bad_seed(seed):
    with pytest.raises(ValueError, match="^DataLoader: seed must be None or a non-negative integer"):
        DataLoader(indexed(4), seed=seed)


def test_labels_must_be_integers_and_images_numbers():
    """Float labels [0.5, 1.5] used to come out of the loader as [0, 1]: silently wrong."""
    with pytest.raises(TypeError, match="^DataLoader: labels must be integer class indices, got dtype float64"):
        DataLoader(SimpleNamespace(images=np.zeros((2, 2, 2)), labels=np.array([0.5, 1.5])))
    with pytest.raises(TypeError, match="^DataLoader: images must hold numbers, got dtype object"):
        DataLoader(SimpleNamespace(images=np.zeros((2, 2, 2), dtype=object), labels=np.arange(2)))


@pytest.mark.parametrize(
    "transform",
    [lambda b, rng: None, lambda b, rng: b[:1], lambda b, rng: b[:, 0], lambda b, rng: (b * 255).astype(np.uint8)],
    ids=["none", "fewer-images", "3-d", "integer"],
)
def test_a_transform_returning_something_else_than_a_float_batch_is_named(transform):
    """A transform returning None used to give batches of dtype object."""
    with pytest.raises(TypeError, match="^DataLoader: transform .* must return a float batch"):
        next(iter(DataLoader(indexed(4), batch_size=2, transform=transform)))


@pytest.mark.parametrize(
    "change",
    [{"rng_uinteger": 2**70}, {"position": 1.5}, {"epoch": float("nan")}, {"rng_pcg64": np.ones((2, 2), np.uint64)}],
    ids=["uinteger-overflow", "fractional-position", "nan-epoch", "rng-2d"],
)
def test_load_state_dict_refuses_damaged_numbers(change):
    """An oversized generator word used to escape as OverflowError."""
    loader = DataLoader(indexed(10), batch_size=3, shuffle=True, seed=0)
    state = {**loader.state_dict(), **change}
    before = loader.rng.bit_generator.state
    with pytest.raises(ValueError, match="^DataLoader.load_state_dict: not a DataLoader state"):
        loader.load_state_dict(state)
    assert loader.rng.bit_generator.state == before


def test_bad_dataset_and_transform():
    with pytest.raises(TypeError, match=r"\.images and \.labels"):
        DataLoader([(np.zeros((2, 2)), 0)])
    with pytest.raises(ValueError, match="labels"):
        DataLoader(SimpleNamespace(images=np.zeros((3, 2, 2), np.uint8), labels=np.zeros(4)))
    with pytest.raises(TypeError, match="callable"):
        DataLoader(indexed(3), transform="shift")


@pytest.mark.gpu
def test_batches_on_the_gpu():
    sn.backend.use("cupy")
    x, y = next(iter(DataLoader(load_dataset("mnist10k", "test"), 32, transform=transforms.RandomShift(2), seed=0)))
    assert x.device.startswith("cuda") and y.device.startswith("cuda")
    assert x.shape == (32, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64


def test_load_state_dict_of_an_array_is_a_value_error():
    """An array where the state dict should be (a damaged checkpoint) leaked NumPy's IndexError."""
    with pytest.raises(ValueError, match="^DataLoader.load_state_dict: not a DataLoader state"):
        DataLoader(indexed(4)).load_state_dict(np.zeros(3))

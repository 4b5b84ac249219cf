"""Fuzzing the data pipeline: DataLoader arguments and datasets, damaged loader states, and the IDX reader
on random, truncated, extended and corrupted bytes (raw and gzipped).
"""

import copy
import gzip
from types import SimpleNamespace

import numpy as np
from fuzzing import FUZZ, NUMERIC_DTYPES, OTHER_DTYPES, attempt, junk
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.data import DataLoader, idx

BREAK = st.sampled_from([None] * 5 + ["images", "dtype", "labels", "length", "batch_size", "seed", "transform"])


@st.composite
def loader_arguments(draw):
    """(dataset, batch_size, seed, transform), well formed or with one thing broken (which one: drawn)."""
    broken = draw(BREAK)
    n = draw(st.integers(0, 7))
    shape = draw(st.sampled_from([(n, 3, 3), (n, 1, 2, 2)] if broken != "images" else [(n, 4), (n,), (n, 2, 2, 2, 2)]))
    dtype = draw(st.sampled_from(NUMERIC_DTYPES if broken != "dtype" else OTHER_DTYPES[:3]))
    label_dtype = draw(st.sampled_from([np.int64, np.uint8, np.int32] if broken != "labels" else [np.float64,
                                                                                                  np.bool_]))
    labels = np.arange(n + (broken == "length")).astype(label_dtype)
    batch_size = draw(st.integers(1, 4) if broken != "batch_size" else st.one_of(
        st.integers(-1, 0), st.floats(allow_nan=True).filter(lambda v: not float(v).is_integer()),
        st.just(float("inf")), junk.filter(lambda v: not isinstance(v, (int, float)) or isinstance(v, bool))))
    seed = draw(st.one_of(st.none(), st.integers(0, 2**64)) if broken != "seed" else st.one_of(
        st.integers(-(2**64), -1), junk.filter(lambda v: v is not None)))
    transform = draw(st.sampled_from([None, lambda b, rng: b * 2]) if broken != "transform" else st.one_of(
        st.just(lambda b, rng: None), st.just(lambda b, rng: b[:, 0]), junk.filter(lambda v: v is not None)))
    return broken, SimpleNamespace(images=np.zeros(shape, dtype=dtype), labels=labels), batch_size, seed, transform


@FUZZ
@given(args=loader_arguments(), shuffle=st.booleans(), drop_last=st.booleans())
def test_dataloader_arguments(args, shuffle, drop_last):
    broken, ds, batch_size, seed, transform = args
    out = attempt("DataLoader", DataLoader, ds, batch_size, shuffle, drop_last, seed, transform)
    if broken not in (None, "transform") or (broken == "transform" and not callable(transform)):
        assert not out.ok, f"DataLoader accepted a broken {broken}"
        return
    assert out.ok, out
    loader = out.value
    batches = attempt("DataLoader.__iter__", list, loader, names=("DataLoader",))
    if broken == "transform" and len(loader):
        assert not batches.ok  # the transform's bad result is named
        return
    assert batches.ok, batches
    labels = [y for _, b in batches.value for y in b.numpy().tolist()]
    n, size = len(ds.labels), int(batch_size)
    assert len(batches.value) == len(loader) == (n // size if drop_last else -(-n // size))
    if not drop_last:
        assert sorted(labels) == list(range(n))  # every sample once
    for x, y in batches.value:
        assert x.dtype == np.float32 and x.ndim == 4 and y.dtype == np.int64 and len(x) == len(y)


@st.composite
def damaged_states(draw, state):
    state = copy.deepcopy(state)
    key = draw(st.sampled_from(sorted(state)))
    how = draw(st.sampled_from(["drop", "junk", "number", "array"]))
    if how == "drop":
        del state[key]
    elif how == "junk":
        state[key] = draw(junk)
    elif how == "number":
        state[key] = draw(st.one_of(st.integers(-(2**70), 2**70), st.floats()))
    else:
        state[key] = draw(st.sampled_from([np.arange(4), np.ones(4), np.full(4, -1), np.arange(20), np.zeros((2, 2)),
                                           np.array(["a"] * 4)]))
    return state


@FUZZ
@given(data=st.data(), stop=st.integers(0, 3))
def test_dataloader_load_state_dict_of_damaged_states(data, stop):
    ds = SimpleNamespace(images=np.zeros((10, 2, 2), np.uint8), labels=np.arange(10))
    loader = DataLoader(ds, 3, shuffle=True, seed=0)
    it = iter(loader)
    for _ in range(stop):
        next(it)
    state = data.draw(damaged_states(loader.state_dict()))
    fresh = DataLoader(ds, 3, shuffle=True, seed=1)
    before = fresh.rng.bit_generator.state
    out = attempt("DataLoader.load_state_dict", fresh.load_state_dict, state, allowed=(ValueError,))
    if not out.ok:
        assert fresh.rng.bit_generator.state == before
        return
    labels = [y for _, b in fresh for y in b.numpy().tolist()]  # a state that loads must give a valid epoch
    assert len(labels) == len(set(labels)) and set(labels) <= set(range(10))


# --------------------------------------------------------------------------- IDX


@st.composite
def idx_files(draw):
    """Valid IDX bytes for a random dtype and shape, with the array they hold."""
    code, dtype = draw(st.sampled_from(sorted(idx.DTYPES.items())))
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=1, max_size=3)))
    values = np.random.default_rng(draw(st.integers(0, 99))).integers(0, 100, shape).astype(dtype)
    header = bytes([0, 0, code, len(shape)]) + np.array(shape, dtype=">u4").tobytes()
    return header + values.tobytes(), values


def damage(draw, raw):
    how = draw(st.sampled_from(["truncate", "extend", "flip", "nothing"]))
    if how == "truncate":
        return raw[: draw(st.integers(0, max(len(raw) - 1, 0)))], how
    if how == "extend":
        return raw + draw(st.binary(min_size=1, max_size=8)), how
    if how == "flip" and raw:
        i = draw(st.integers(0, len(raw) - 1))
        return raw[:i] + bytes([raw[i] ^ draw(st.integers(1, 255))]) + raw[i + 1 :], how
    return raw, "nothing"


@FUZZ
@given(data=st.data(), gz=st.booleans())
def test_idx_reader_on_damaged_files(data, gz, tmp_path_factory):
    raw, values = data.draw(idx_files())
    bad, how = damage(data.draw, raw)
    path = tmp_path_factory.mktemp("idx") / "f.idx"
    path.write_bytes(gzip.compress(bad) if gz and data.draw(st.booleans()) else bad)
    out = attempt("read_idx", idx.read_idx, path, names=(str(path),), allowed=(ValueError,))
    if how in ("truncate", "extend"):
        assert not out.ok, f"{how}d file read as {out.value!r}"
    elif how == "nothing":
        assert out.ok and out.value.dtype == values.dtype.newbyteorder("=") and np.array_equal(out.value, values)
    elif out.ok:  # a flipped byte in the data: the values change, never the size
        assert out.value.size * out.value.itemsize == len(bad) - 4 - 4 * out.value.ndim


@FUZZ
@given(raw=st.one_of(st.binary(max_size=64), st.binary(max_size=32).map(b"\x00\x00\x08\x01".__add__),
                     st.binary(max_size=32).map(b"\x1f\x8b".__add__)))
def test_idx_reader_on_random_bytes(raw, tmp_path_factory):
    path = tmp_path_factory.mktemp("idx") / "r.idx"
    path.write_bytes(raw)
    attempt("read_idx", idx.read_idx, path, names=(str(path),), allowed=(ValueError,))
    attempt("parse_idx", idx.parse_idx, raw, names=("<bytes>",), allowed=(ValueError,))

"""Fuzzing checkpoints: any structure round-trips exactly; truncated, corrupted, random and crafted files
give ValueError (or, for a harmless flipped byte, exactly what was saved) and never anything else; a
checkpoint's content handed to the state loaders (model, optimizer, loader, RNG) gives documented errors.
"""

import io
import json
import math
import zipfile

import numpy as np
from fuzzing import FUZZ, NUMERIC_DTYPES, arrays, attempt, shapes
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
from scratchnet import nn
from scratchnet.data import DataLoader

array_values = st.sampled_from(NUMERIC_DTYPES).flatmap(lambda d: arrays(d, shapes(max_dims=3, max_side=3)))
leaves = st.one_of(st.none(), st.booleans(), st.integers(-(2**80), 2**80), st.floats(), st.text(max_size=4),
                   array_values, array_values.map(lambda a: a.reshape(-1)[0] if a.size else np.float32(0)))
keys = st.one_of(st.text(max_size=3), st.integers(-5, 5))
structures = st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=3), st.lists(inner, max_size=3).map(
    tuple), st.dictionaries(keys, inner, max_size=3)), max_leaves=8)


def identical(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            identical(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            identical(x, y)
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and a.shape == b.shape and np.asarray(a).tobytes() == np.asarray(b).tobytes()
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


@FUZZ
@given(obj=structures, compress=st.booleans())
def test_any_structure_round_trips_exactly(obj, compress, tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "c.npz"
    out = attempt("save", sn.save, obj, path, compress=compress)
    assert out.ok, out
    back = attempt("load", sn.load, path)
    assert back.ok, back
    identical(obj, back.value)


def checkpoint_bytes(obj, compress):
    """The bytes ``sn.save(obj, ..., compress)`` writes (in memory: the fuzzer damages them)."""
    buffer = io.BytesIO()
    arrays_ = {}
    root = sn.serialization._encode(obj, "obj", arrays_, set())
    manifest = json.dumps({"format": sn.serialization.FORMAT, "version": sn.serialization.VERSION, "root": root})
    arrays_["manifest"] = np.frombuffer(manifest.encode(), dtype=np.uint8)
    (np.savez_compressed if compress else np.savez)(buffer, **arrays_)
    return buffer.getvalue()


@FUZZ
@given(obj=structures, compress=st.booleans(), data=st.data())
def test_damaged_checkpoints_are_value_errors(obj, compress, data, tmp_path_factory):
    raw = checkpoint_bytes(obj, compress)
    how = data.draw(st.sampled_from(["truncate", "flip", "append", "prepend"]))
    if how == "truncate":
        bad = raw[: data.draw(st.integers(0, len(raw) - 1))]
    elif how == "flip":
        i = data.draw(st.integers(0, len(raw) - 1))
        bad = raw[:i] + bytes([raw[i] ^ data.draw(st.integers(1, 255))]) + raw[i + 1 :]
    elif how == "append":
        bad = raw + data.draw(st.binary(min_size=1, max_size=16))
    else:
        bad = data.draw(st.binary(min_size=1, max_size=16)) + raw
    path = tmp_path_factory.mktemp("bad") / "c.npz"
    path.write_bytes(bad)
    out = attempt("load", sn.load, path, names=(str(path),), allowed=(ValueError,))
    if out.ok:  # zip tolerates some damage (a timestamp, junk around the archive): then nothing may change
        identical(obj, out.value)


json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                                     st.floats(allow_nan=False), st.text(max_size=5)),
                           lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                   st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                           max_leaves=10)
node_like = st.recursive(
    st.one_of(st.fixed_dictionaries({"type": st.sampled_from(["none", "bool", "int", "float", "str", "array",
                                                              "scalar", "list", "tuple", "dict", "nope"])},
                                    optional={"value": json_values, "key": st.sampled_from(["array_0", "x", 3]),
                                              "items": json_values}), json_values),
    lambda inner: st.fixed_dictionaries({"type": st.sampled_from(["list", "tuple", "dict"]),
                                         "items": st.lists(st.one_of(inner, st.lists(inner, min_size=2, max_size=2)),
                                                           max_size=3)}),
    max_leaves=8)


@FUZZ
@given(root=node_like, version=st.sampled_from([1, 1, 1, 2, "1", None]), extra=st.booleans())
def test_crafted_manifests_are_value_errors(root, version, extra, tmp_path_factory):
    manifest = {"format": sn.serialization.FORMAT, "version": version, "root": root}
    path = tmp_path_factory.mktemp("crafted") / "c.npz"
    arrays_ = {"array_0": np.arange(3.0), "manifest": np.frombuffer(json.dumps(manifest).encode(), np.uint8)}
    if extra:
        arrays_["array_1"] = np.array(["x"])  # a string array: allowed in a file, loaded without pickle
    np.savez(path, **arrays_)
    attempt("load", sn.load, path, names=(str(path),), allowed=(ValueError,))


@FUZZ
@given(obj=structures)
def test_checkpoint_content_handed_to_state_loaders(obj):
    """Whatever a checkpoint holds, the loaders answer with a documented error or take it."""
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    attempt("Module.load_state_dict", model.load_state_dict, obj,
            names=("state_dict", "Sequential", "load_state_dict"), allowed=(TypeError, ValueError, RuntimeError))
    opt = sn.optim.Adam(model.parameters())
    attempt("Optimizer.load_state_dict", opt.load_state_dict, obj, names=("load_state_dict",),
            allowed=(TypeError, ValueError))
    loader = DataLoader(type("D", (), {"images": np.zeros((4, 2, 2), np.uint8), "labels": np.arange(4)})(), 2)
    attempt("DataLoader.load_state_dict", loader.load_state_dict, obj, allowed=(ValueError,))
    state = sn.backend.get_rng_state()
    out = attempt("set_rng_state", sn.backend.set_rng_state, obj, allowed=(ValueError,))
    if not out.ok:
        assert sn.backend.get_rng_state() == state


@FUZZ
@given(raw=st.one_of(st.binary(max_size=200), st.binary(max_size=100).map(b"PK\x03\x04".__add__),
                     st.binary(max_size=100).map(b"\x93NUMPY".__add__)))
def test_random_bytes_are_value_errors(raw, tmp_path_factory):
    path = tmp_path_factory.mktemp("random") / "r.npz"
    path.write_bytes(raw)
    out = attempt("load", sn.load, path, names=(str(path),), allowed=(ValueError,))
    assert not out.ok


def test_a_zip_bomb_like_entry_is_not_a_hang(tmp_path):
    """A manifest entry claiming a huge size is read lazily and refused, not allocated."""
    path = tmp_path / "c.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.npy", b"\x93NUMPY\x01\x00v\x00{'descr': '|u1', 'fortran_order': False, 'shape': "
                                   b"(1000000000000,), }" + b" " * 52 + b"\n")
    out = attempt("load", sn.load, path, names=(str(path),), allowed=(ValueError,))
    assert not out.ok

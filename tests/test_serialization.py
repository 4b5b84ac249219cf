"""Checkpoints: exact round trips, no pickle, atomic writes, and clear errors for bad files."""

import io
import json
import os
import pathlib
import zipfile

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratchnet as sn
from scratchnet.serialization import load, save

CORRUPT = "not a scratchnet checkpoint or corrupted"


@pytest.fixture(scope="module")
def scratch_dir(tmp_path_factory):
    """A directory for tests driven by hypothesis (which can't use the per-test tmp_path)."""
    return tmp_path_factory.mktemp("checkpoints")


def assert_identical(got, expected, where="obj"):
    """Same types all the way down (dict vs list vs tuple, int vs bool vs float, key types and
    order), same dtypes and shapes, and bit-identical values (nan payloads and -0.0 included)."""
    assert type(got) is type(expected), f"{where}: {type(got).__name__} != {type(expected).__name__}"
    if isinstance(expected, dict):
        assert [(type(k), k) for k in got] == [(type(k), k) for k in expected], f"{where}: keys differ"
        for k in expected:
            assert_identical(got[k], expected[k], f"{where}[{k!r}]")
    elif isinstance(expected, (list, tuple)):
        assert len(got) == len(expected), f"{where}: length {len(got)} != {len(expected)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            assert_identical(g, e, f"{where}[{i}]")
    elif isinstance(expected, (np.ndarray, np.generic)):
        assert got.dtype == expected.dtype, f"{where}: dtype {got.dtype} != {expected.dtype}"
        assert got.shape == expected.shape, f"{where}: shape {got.shape} != {expected.shape}"
        same_bits = np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(expected).tobytes()
        assert same_bits, f"{where}: values differ"
    else:
        assert repr(got) == repr(expected), f"{where}: {got!r} != {expected!r}"  # repr tells -0.0 and nan apart


def round_trip(obj, path, **kwargs):
    save(obj, path, **kwargs)
    return load(path)


# --------------------------------------------------------------------------- round trips

DTYPES = [
    "?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16",
    ">f4", ">i8", "<U3", "S2", "M8[s]", "m8[ms]", [("a", "<i4"), ("b", "<f8")],
]
dtypes = st.sampled_from(DTYPES).map(np.dtype)
arrays = dtypes.flatmap(lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)))
numpy_scalars = dtypes.flatmap(lambda dt: hnp.arrays(dt, ())).map(lambda a: a[()])
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # nan, inf, -0.0 included
    st.text(max_size=5),
    arrays,
    arrays.map(lambda a: a.T),  # non-contiguous
    numpy_scalars,
)
keys = st.one_of(st.text(max_size=5), st.integers())
trees = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(keys, children, max_size=3),
    ),
    max_leaves=12,
)


@given(obj=trees, compress=st.booleans())
def test_round_trip_is_exact(obj, compress, scratch_dir):
    assert_identical(round_trip(obj, scratch_dir / "tree.npz", compress=compress), obj)


def test_round_trip_of_every_kind_of_value(tmp_path):
    obj = {
        "none": None,
        "bools": [True, False],
        "ints": (0, -1, 2**100, -(2**70)),
        "floats": [0.1, -0.0, float("nan"), float("inf"), float("-inf"), 1e-310, 1.7976931348623157e308],
        "strings": ["", "ünïcödé ☃", "\x00", '"quoted" \\ {json}'],
        "empty": [[], (), {}],
        "nested": ([1, (2, [3, {"x": (4,)}])],),
        3: "int key",
        -7: {0: "zero", "0": "string zero"},  # 0 and "0" stay distinct keys
        "arrays": {
            "0-d": np.array(1.5, dtype=np.float32),
            "empty": np.zeros((0, 3), dtype=np.int16),
            "big-endian": np.arange(4, dtype=">f8"),
            "fortran": np.asfortranarray(np.arange(6).reshape(2, 3)),
            "bool": np.array([[True, False]]),
            "strings": np.array(["a", "bcd"]),
            "nan-payload": np.array([0x7FF8000000000123], dtype=np.uint64).view(np.float64),
        },
        "scalars": [np.float32(2.5), np.int8(-3), np.bool_(True), np.float64("nan"), np.str_("s"), np.complex64(1j)],
    }
    assert_identical(round_trip(obj, tmp_path / "all.npz"), obj)


def test_key_order_is_kept(tmp_path):
    obj = {"b": 1, 10: 2, "a": 3, -1: 4}
    assert list(round_trip(obj, tmp_path / "order.npz")) == ["b", 10, "a", -1]


def test_optimizer_state_dict_with_int_keys(tmp_path):
    state = {
        "model": {"fc.weight": np.ones((2, 3), np.float32), "fc.bias": np.zeros(2, np.float32)},
        "optimizer": {
            "state": {
                0: {"step": 3, "exp_avg": np.full((2, 3), 0.5, np.float32)},
                1: {"step": 3, "exp_avg": np.ones(2, np.float32)},
            },
            "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "weight_decay": 0.0, "params": [0, 1]}],
        },
        "epoch": 7,
    }
    assert_identical(round_trip(state, tmp_path / "state.npz"), state)


def test_tensors_are_saved_as_their_arrays(tmp_path):
    w = sn.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    obj = {"leaf": w, "computed": w * 2, "int": sn.tensor([1, 2, 3]), "0-d": sn.tensor(np.float32(4))}
    got = round_trip(obj, tmp_path / "t.npz")
    expected = {k: t.numpy() for k, t in obj.items()}
    assert_identical(got, expected)


class FakeCupyArray:
    """Quacks like a CuPy array: has __cuda_array_interface__ and .get() (copy to the host)."""

    def __init__(self, host):
        self._host = host
        self.__cuda_array_interface__ = {"shape": host.shape, "typestr": host.dtype.str, "version": 3}

    def get(self):
        return self._host.copy()


def test_gpu_arrays_are_saved_through_get_without_importing_cupy(tmp_path):
    host = np.arange(5, dtype=np.float32)
    got = round_trip({"w": FakeCupyArray(host), "t": sn.Tensor(FakeCupyArray(host))}, tmp_path / "gpu.npz")
    assert_identical(got, {"w": host, "t": host})


@pytest.mark.gpu
def test_cupy_round_trip_and_load_to_cuda(tmp_path):
    import cupy

    w = cupy.arange(6, dtype=cupy.float32).reshape(2, 3)
    save({"w": w, "t": sn.Tensor(w), "step": 1}, tmp_path / "gpu.npz")  # a Tensor living on the GPU
    on_cpu = load(tmp_path / "gpu.npz")
    assert_identical(on_cpu, {"w": w.get(), "t": w.get(), "step": 1})
    on_gpu = load(tmp_path / "gpu.npz", device="cuda")
    assert isinstance(on_gpu["w"], cupy.ndarray) and isinstance(on_gpu["t"], cupy.ndarray)
    assert on_gpu["step"] == 1
    np.testing.assert_array_equal(on_gpu["w"].get(), w.get())


def test_load_to_cpu_and_bad_device(tmp_path):
    path = tmp_path / "c.npz"
    save({"w": np.ones(2), "s": np.float32(1)}, path)
    got = load(path, device="cpu")
    assert type(got["w"]) is np.ndarray and type(got["s"]) is np.float32
    with pytest.raises(ValueError, match="unknown device"):
        load(path, device="tpu")


def test_compression_is_optional_and_round_trips(tmp_path):
    obj = {"zeros": np.zeros(10_000), "n": 1}
    save(obj, tmp_path / "plain.npz")
    save(obj, tmp_path / "small.npz", compress=True)
    assert os.path.getsize(tmp_path / "small.npz") < os.path.getsize(tmp_path / "plain.npz") / 10
    with zipfile.ZipFile(tmp_path / "small.npz") as z:
        assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_DEFLATED}
    assert_identical(load(tmp_path / "small.npz"), obj)


# --------------------------------------------------------------------------- paths


def test_path_without_npz_suffix_is_used_exactly(tmp_path):
    path = tmp_path / "model.ckpt"
    save({"w": np.ones(3)}, str(path))
    assert sorted(os.listdir(tmp_path)) == ["model.ckpt"]
    assert_identical(load(str(path)), {"w": np.ones(3)})


def test_pathlib_and_str_paths_give_the_same_file(tmp_path):
    save([1, np.arange(3)], tmp_path / "a.npz")
    save([1, np.arange(3)], str(tmp_path / "b.npz"))
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    assert_identical(load(pathlib.Path(tmp_path / "b.npz")), [1, np.arange(3)])


def test_overwrite_replaces_the_checkpoint(tmp_path):
    path = tmp_path / "c.npz"
    save({"v": 1}, path)
    save({"v": 2}, path)
    assert load(path) == {"v": 2}
    assert os.listdir(tmp_path) == ["c.npz"]


def test_relative_path_in_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    save({"v": 1}, "rel.npz")
    assert load("rel.npz") == {"v": 1}
    assert os.listdir(tmp_path) == ["rel.npz"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_checkpoint_gets_the_usual_permissions_not_private_temp_ones(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    save({"v": 1}, tmp_path / "c.npz")
    assert os.stat(tmp_path / "c.npz").st_mode & 0o777 == 0o666 & ~umask


# --------------------------------------------------------------------------- no pickle


def test_file_is_a_plain_npz_readable_without_pickle(tmp_path):
    path = tmp_path / "c.npz"
    save({"w": np.ones((2, 2), np.float32), "names": ["a", "b"], "lr": 0.1, "t": (np.int64(3),)}, path)
    with np.load(path, allow_pickle=False) as npz:
        entries = {name: npz[name] for name in npz.files}
    assert all(not a.dtype.hasobject for a in entries.values())
    assert sorted(entries) == ["array_0", "array_1", "manifest"]
    manifest = json.loads(entries["manifest"].tobytes())
    assert manifest["format"] == "scratchnet.checkpoint" and manifest["version"] == 1


UNPICKLED = []


def _record_unpickling():
    UNPICKLED.append("code ran")
    return "payload"


class Payload:
    """Unpickling this runs _record_unpickling: a stand-in for a malicious checkpoint."""

    def __reduce__(self):
        return (_record_unpickling, ())


def _write_npz(path, manifest=None, **arrays):
    if manifest is not None:
        text = manifest if isinstance(manifest, str) else json.dumps(manifest)
        arrays["manifest"] = np.frombuffer(text.encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _manifest(root, version=1):
    return {"format": "scratchnet.checkpoint", "version": version, "root": root}


def test_pickled_object_array_is_rejected_and_never_unpickled(tmp_path):
    path = tmp_path / "evil.npz"
    _write_npz(path, _manifest({"type": "array", "key": "array_0"}), array_0=np.array([Payload()], dtype=object))
    UNPICKLED.clear()
    with pytest.raises(ValueError, match=CORRUPT):
        load(path)
    assert UNPICKLED == []
    with np.load(path, allow_pickle=True) as npz:  # the control: this file really does run code when unpickled
        npz["array_0"]
    assert UNPICKLED == ["code ran"]


def test_save_rejects_object_arrays_naming_the_path(tmp_path):
    with pytest.raises(TypeError, match=r"obj\['model'\]\[1\]: cannot save an array of dtype object"):
        save({"model": [np.ones(2), np.array([1, None], dtype=object)]}, tmp_path / "c.npz")
    with pytest.raises(TypeError, match=r"obj\[0\]: .*dtype"):
        save([np.zeros(2, dtype=[("a", "i4"), ("o", "O")])], tmp_path / "c.npz")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "bad, message",
    [
        ({1, 2}, "cannot save a set"),
        (b"bytes", "cannot save a bytes"),
        (1 + 2j, "cannot save a complex"),
        (object(), "cannot save a object"),
        (lambda: 0, "cannot save a function"),
    ],
)
def test_save_rejects_unsupported_types_naming_the_path(tmp_path, bad, message):
    state = {"optimizer": {"state": {0: {"exp_avg": bad}}}}
    with pytest.raises(TypeError, match=r"^obj\['optimizer'\]\['state'\]\[0\]\['exp_avg'\]: " + message):
        save(state, tmp_path / "c.npz")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("key", [(1, 2), 1.5, None, True])
def test_save_rejects_dict_keys_that_are_not_str_or_int(tmp_path, key):
    with pytest.raises(TypeError, match=r"^obj\['a'\]: cannot save a dict key of type .*keys must be str or int"):
        save({"a": {key: 1}}, tmp_path / "c.npz")


def test_save_rejects_a_structure_that_contains_itself(tmp_path):
    loop = [1]
    loop.append({"again": loop})
    with pytest.raises(TypeError, match=r"^obj\[1\]\['again'\]: cannot save a structure that contains itself"):
        save(loop, tmp_path / "c.npz")
    shared = [1]
    assert round_trip([shared, shared], tmp_path / "c.npz") == [[1], [1]]  # shared but not a cycle: fine


# --------------------------------------------------------------------------- atomic writes


def _fail_half_way_through_savez(monkeypatch):
    real_savez = np.savez

    def savez(f, **arrays):
        buffer = io.BytesIO()
        real_savez(buffer, **arrays)
        f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", savez)
    return OSError


def _fail_in(name, error):
    def arrange(monkeypatch):
        def fail(*args, **kwargs):
            raise error

        monkeypatch.setattr(os, name, fail)
        return type(error)

    return arrange


@pytest.mark.parametrize(
    "arrange",
    [
        _fail_half_way_through_savez,
        _fail_in("fsync", OSError(5, "Input/output error")),
        _fail_in("replace", PermissionError(13, "Permission denied")),
        _fail_in("fsync", KeyboardInterrupt()),
    ],
    ids=["savez-half-way", "fsync", "replace", "interrupt"],
)
def test_failed_save_leaves_the_old_checkpoint_untouched(tmp_path, monkeypatch, arrange):
    path = tmp_path / "c.npz"
    save({"w": np.arange(1000.0), "epoch": 1}, path)
    before = path.read_bytes()
    error = arrange(monkeypatch)
    with pytest.raises(error):
        save({"w": np.zeros(1000), "epoch": 2}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["c.npz"]  # no temporary file left behind
    assert load(path)["epoch"] == 1


def test_failed_first_save_leaves_nothing(tmp_path, monkeypatch):
    _fail_half_way_through_savez(monkeypatch)
    with pytest.raises(OSError):
        save({"w": np.ones(3)}, tmp_path / "c.npz")
    assert os.listdir(tmp_path) == []


def test_temporary_file_is_renamed_from_the_same_directory(tmp_path, monkeypatch):
    renames = []
    real_replace = os.replace

    def replace(src, dst):
        renames.append((src, dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    save({"v": 1}, tmp_path / "c.npz")
    ((src, dst),) = renames
    assert os.path.dirname(src) == os.path.dirname(dst) == str(tmp_path)
    assert src != dst


# --------------------------------------------------------------------------- bad files


@pytest.fixture
def small_checkpoint(tmp_path):
    path = tmp_path / "small.npz"
    save({"w": np.arange(3, dtype=np.float32), "step": 2, "betas": (0.9, 0.99)}, path)
    return path


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope.npz")
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "no-dir" / "nope.npz")


def test_every_truncation_is_rejected(small_checkpoint, tmp_path):
    data = small_checkpoint.read_bytes()
    cut = tmp_path / "cut.npz"
    for n in range(len(data)):
        cut.write_bytes(data[:n])
        with pytest.raises(ValueError, match=CORRUPT) as info:
            load(cut)
        assert str(cut) in str(info.value)


@pytest.mark.parametrize("compress", [False, True])
def test_every_single_byte_corruption_is_detected_or_harmless(tmp_path, compress):
    """Zip CRCs guard the data, so a flipped byte either fails to load or sits in a field that
    does not matter (a timestamp, say) and gives back exactly what was saved."""
    obj = {"w": np.arange(4, dtype=np.float32), "s": np.int8(2), "step": [1, None, "x"]}
    save(obj, tmp_path / "c.npz", compress=compress)
    data = (tmp_path / "c.npz").read_bytes()
    bad = tmp_path / "bad.npz"
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= 0xFF
        bad.write_bytes(bytes(flipped))
        try:
            got = load(bad)
        except ValueError as e:
            assert CORRUPT in str(e)
        else:
            assert_identical(got, obj)


@given(data=st.one_of(st.binary(), st.binary().map(b"PK\x03\x04".__add__), st.binary().map(b"\x93NUMPY".__add__)))
def test_random_bytes_are_rejected(data, scratch_dir):
    path = scratch_dir / "random.npz"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=CORRUPT):
        load(path)


def _craft(kind, path):
    one = {"type": "array", "key": "array_0"}
    if kind == "text file":
        path.write_text("hello, I am not a checkpoint\n")
    elif kind == "empty file":
        path.write_bytes(b"")
    elif kind == "empty zip":
        zipfile.ZipFile(path, "w").close()
    elif kind == "single .npy":
        path.write_bytes(_npy(np.arange(3)))
    elif kind == "npz without manifest":
        _write_npz(path, None, weights=np.ones(3))
    elif kind == "manifest is not JSON":
        _write_npz(path, "{not json")
    elif kind == "manifest is not UTF-8":
        with open(path, "wb") as f:
            np.savez(f, manifest=np.frombuffer(b"\xff\xfe", np.uint8))
    elif kind == "manifest of wrong dtype":
        with open(path, "wb") as f:
            np.savez(f, manifest=np.arange(3.0))
    elif kind == "manifest not an object":
        _write_npz(path, [1, 2])
    elif kind == "foreign format":
        _write_npz(path, {"format": "something else", "version": 1, "root": {"type": "none"}})
    elif kind == "future version":
        _write_npz(path, _manifest({"type": "none"}, version=2))
    elif kind == "no root":
        _write_npz(path, {"format": "scratchnet.checkpoint", "version": 1})
    elif kind == "missing array":
        missing = {"type": "array", "key": "array_9"}
        _write_npz(path, _manifest({"type": "list", "items": [one, missing]}), array_0=np.ones(2))
    elif kind == "manifest used as array":
        _write_npz(path, _manifest({"type": "array", "key": "manifest"}))
    elif kind == "entry is not .npy":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("manifest.npy", _npy(np.frombuffer(json.dumps(_manifest(one)).encode(), np.uint8)))
            z.writestr("array_0.npy", b"raw bytes, not an array")
    elif kind == "entry marked encrypted":
        save({"w": np.ones(2)}, path)
        data = bytearray(path.read_bytes())
        for at in range(len(data)):  # set the 'encrypted' bit in every central directory entry
            if data[at : at + 4] == b"PK\x01\x02":
                data[at + 8] |= 1
        path.write_bytes(bytes(data))
    elif kind == "scalar of shape (2,)":
        _write_npz(path, _manifest({"type": "scalar", "key": "array_0"}), array_0=np.ones(2))
    elif kind == "unknown node":
        _write_npz(path, _manifest({"type": "set", "items": []}))
    elif kind == "int node holding a string":
        _write_npz(path, _manifest({"type": "int", "value": "3"}))
    elif kind == "float node holding junk":
        _write_npz(path, _manifest({"type": "float", "value": "fast"}))
    elif kind == "dict with a float key":
        _write_npz(path, _manifest({"type": "dict", "items": [[{"type": "float", "value": "1.0"}, {"type": "none"}]]}))
    elif kind == "dict item not a pair":
        _write_npz(path, _manifest({"type": "dict", "items": [[{"type": "str", "value": "a"}]]}))
    elif kind == "items not a list":
        _write_npz(path, _manifest({"type": "list", "items": 5}))
    elif kind == "node without type":
        _write_npz(path, _manifest({"value": 1}))
    elif kind == "deeply nested":
        deep = "[" * 100_000 + "]" * 100_000
        _write_npz(path, '{"format": "scratchnet.checkpoint", "version": 1, "root": ' + deep + "}")
    else:
        raise AssertionError(kind)


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "kind",
    [
        "text file", "empty file", "empty zip", "single .npy", "npz without manifest", "manifest is not JSON",
        "manifest is not UTF-8", "manifest of wrong dtype", "manifest not an object", "foreign format",
        "future version", "no root", "missing array", "manifest used as array", "entry is not .npy",
        "entry marked encrypted", "scalar of shape (2,)", "unknown node", "int node holding a string",
        "float node holding junk", "dict with a float key", "dict item not a pair", "items not a list",
        "node without type", "deeply nested",
    ],
)
def test_foreign_or_broken_files_are_rejected(tmp_path, kind):
    path = tmp_path / "bad.npz"
    _craft(kind, path)
    with pytest.raises(ValueError, match=CORRUPT) as info:
        load(path)
    assert str(info.value).startswith(f"{path}: ")
    assert info.value.__cause__ is not None  # the original error is chained, for debugging


def test_error_names_the_reason(tmp_path):
    path = tmp_path / "v2.npz"
    _craft("future version", path)
    with pytest.raises(ValueError, match="format version 2; this scratchnet reads version 1"):
        load(path)
    _craft("missing array", path)
    with pytest.raises(ValueError, match="missing array 'array_9'"):
        load(path)


def test_saving_into_a_missing_folder_names_the_checkpoint_not_the_temporary_file(tmp_path):
    path = tmp_path / "no-such-folder" / "c.npz"
    with pytest.raises(FileNotFoundError) as info:
        save({"v": 1}, path)
    assert info.value.filename == str(path) and ".tmp" not in str(info.value)


def test_a_structure_too_deep_to_save_is_a_value_error_naming_save(tmp_path):
    deep = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ValueError, match="^save: obj is nested too deeply"):
        save(deep, tmp_path / "c.npz")  # used to be a bare RecursionError
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_an_entry_claiming_more_data_than_it_holds_is_refused_before_allocating(tmp_path, compression):
    """A .npy header claiming 10**12 elements made NumPy allocate 931 GiB: MemoryError instead of ValueError."""
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }"
    header += " " * (117 - len(header)) + "\n"
    path = tmp_path / "c.npz"
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        z.writestr("manifest.npy", b"\x93NUMPY\x01\x00v\x00" + header.encode() + b"\x00" * 16)
    with pytest.raises(ValueError, match="claims 8000000000000 bytes of data but holds 16"):
        load(path)

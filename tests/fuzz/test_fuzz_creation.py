"""Fuzzing tensor creation: sn.tensor from any Python or NumPy data, the factories with any sizes and values."""

import math
import operator
import warnings

import numpy as np
import pytest
from fuzzing import FUZZ, NUMERIC_DTYPES, OTHER_DTYPES, arrays, attempt, junk, same, shapes
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn

leaves = st.one_of(st.integers(-(2**70), 2**70), st.floats(), st.booleans(), st.complex_numbers(max_magnitude=1e3),
                   st.text(max_size=2), st.none(), st.binary(max_size=2))
python_data = st.recursive(leaves, lambda inner: st.lists(inner, max_size=3), max_leaves=10)


def numpy_view(data):
    """What NumPy makes of ``data``, or None if it cannot make an array of it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return np.asarray(data)
        except (ValueError, TypeError, OverflowError):
            return None


def holdable(dtype):
    return dtype.kind in "biu" or (dtype.kind == "f" and dtype.itemsize <= 8)


@FUZZ
@given(data=python_data)
def test_tensor_from_python_data(data):
    out = attempt("tensor", sn.tensor, data)
    ref = numpy_view(data)
    if ref is None or not holdable(ref.dtype):  # ragged, strings, None, complex, ints beyond 64 bits
        assert not out.ok, f"tensor({data!r}) gave {out.value!r}"
        return
    assert out.ok, out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 1e300 -> inf in float32, as in PyTorch
        expected = ref.astype(np.float32) if ref.dtype == np.float64 else ref
    same(out.value, expected)


@FUZZ
@given(dtype=st.sampled_from(NUMERIC_DTYPES + OTHER_DTYPES), shape=shapes(max_side=3), data=st.data(),
       view=st.sampled_from(["as-is", "transposed", "every-other", "reversed"]))
def test_tensor_from_numpy_arrays_of_any_dtype_and_layout(dtype, shape, data, view):
    dtype = np.dtype(dtype)
    if dtype.kind in "biuf":
        a = data.draw(arrays(dtype, shape))
    else:
        a = np.zeros(shape, dtype=dtype)
    a = {"as-is": a, "transposed": a.T, "every-other": a[..., ::2] if a.ndim else a,
         "reversed": a[..., ::-1] if a.ndim else a}[view]
    out = attempt("tensor", sn.tensor, a)
    if not holdable(dtype):
        assert not out.ok and isinstance(out.error, TypeError)
        return
    assert out.ok, out
    same(out.value, a)  # dtype kept, values copied whatever the layout
    assert out.value.data.flags.c_contiguous and not np.shares_memory(out.value.data, a)


@FUZZ
@given(a=arrays(np.float64, shapes(max_side=3)), dtype=st.one_of(st.sampled_from(NUMERIC_DTYPES + OTHER_DTYPES), junk))
def test_tensor_with_a_dtype_argument(a, dtype):
    out = attempt("tensor", sn.tensor, a, dtype=dtype)
    try:
        wanted = np.dtype(dtype)
    except (TypeError, ValueError, SyntaxError):  # NumPy's parser raises all three
        wanted = None
    if wanted is None or not holdable(wanted):
        assert not out.ok and isinstance(out.error, TypeError)
        return
    assert out.ok, out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same(out.value, a.astype(wanted))


def as_size(value):
    """The size a factory should accept for ``value`` (an int >= 0), or None."""
    try:
        n = operator.index(value)
    except TypeError:
        return None
    return n if n >= 0 else None


sizes = st.lists(st.one_of(st.integers(-2, 4), st.integers(-(2**70), 2**70), st.floats(), junk), max_size=4)


@pytest.mark.parametrize("factory", ["zeros", "ones", "rand", "randn"])
@FUZZ
@given(size=sizes, as_tuple=st.booleans())
def test_factories_with_any_sizes(factory, size, as_tuple):
    fn = getattr(sn, factory)
    dims = size[0] if len(size) == 1 and isinstance(size[0], (list, tuple)) and not as_tuple else size
    wanted = [as_size(s) for s in dims]
    if any(w is not None and w > 4 for w in wanted):  # huge but valid: would allocate exabytes; not a fuzz case
        return
    out = attempt(factory, fn, tuple(size)) if as_tuple else attempt(factory, fn, *size)
    if any(w is None for w in wanted):
        assert not out.ok, f"{factory}{tuple(size)!r} gave shape {out.value.shape}"
        return
    assert out.ok, out
    assert out.value.shape == tuple(wanted) and out.value.dtype == np.float32
    if factory in ("zeros", "ones"):
        assert (out.value.numpy() == (factory == "ones")).all()


@FUZZ
@given(shape=st.lists(st.integers(0, 3), max_size=3), fill=st.one_of(st.floats(), st.integers(-(2**70), 2**70),
                                                                      st.booleans(), junk))
def test_full_with_any_fill_value(shape, fill):
    out = attempt("full", sn.full, tuple(shape), fill)
    if isinstance(fill, bool):
        expected = np.full(shape, fill)
    elif isinstance(fill, int) and -(2**63) <= fill < 2**63:
        expected = np.full(shape, fill, dtype=np.int64)
    elif isinstance(fill, float):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = np.full(shape, fill, dtype=np.float32)
    else:
        assert not out.ok, f"full({shape}, {fill!r}) gave {out.value!r}"
        return
    assert out.ok, out
    same(out.value, expected)


numbers_or_junk = st.one_of(st.integers(-20, 20), st.floats(-20, 20), st.sampled_from([math.nan, math.inf, -math.inf]),
                            st.text(max_size=2), st.none(), st.booleans())


@FUZZ
@given(start=numbers_or_junk, end=numbers_or_junk, step=st.one_of(st.sampled_from([1, 2, -1, 0.5, -0.25, 0]),
                                                                  numbers_or_junk))
def test_arange_with_any_bounds(start, end, step):
    out = attempt("arange", sn.arange, start, end, step)
    args = (0, start, step) if end is None else (start, end, step)  # arange(n) is arange(0, n)
    start, end, step = args
    real = [isinstance(v, (int, float)) and not isinstance(v, bool) for v in args]
    if not all(real) or not all(math.isfinite(v) for v in args) or step == 0:
        assert not out.ok, f"arange{args} gave {out.value!r}"
        return
    if abs((end - start) / step) > 1e5:
        return
    assert out.ok, out
    ints = all(isinstance(v, int) for v in args)
    expected = np.arange(start, end, step, dtype=np.float64 if not ints else np.int64)
    assert out.value.dtype == (np.int64 if ints else np.float32)
    np.testing.assert_allclose(out.value.numpy(), expected, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("factory", ["zeros_like", "ones_like", "rand_like", "randn_like", "full_like"])
@FUZZ
@given(like=st.one_of(junk, shapes(max_side=3).map(lambda s: sn.tensor(np.zeros(s, np.float32)))),
       dtype=st.one_of(st.none(), st.sampled_from(NUMERIC_DTYPES + OTHER_DTYPES)))
def test_like_factories(factory, like, dtype):
    fn = getattr(sn, factory)
    args = (like, 1.0) if factory == "full_like" else (like,)
    out = attempt(factory, fn, *args, dtype=dtype, names=(factory.split("_")[0],))
    wanted = np.dtype(np.float32 if dtype is None else dtype)
    if not isinstance(like, sn.Tensor) or not holdable(wanted) or (factory.startswith("rand") and wanted.kind != "f"):
        assert not out.ok and isinstance(out.error, TypeError)
        return
    assert out.ok, out
    assert out.value.shape == like.shape and out.value.dtype == wanted

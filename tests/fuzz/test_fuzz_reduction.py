"""Fuzzing the reductions: any dtype, shape (empty too), dim (out of range, repeated, not an int), layout.

The contiguous result must equal NumPy's bit for bit (PyTorch's dtype rules); a non-contiguous input may
only change the rounding of a sum (NumPy adds in another order), nothing else.
"""

import warnings

import numpy as np
import pytest
from fuzzing import FUZZ, as_tensor, attempt, junk, layouts, numeric_arrays, same
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn

torch = pytest.importorskip("torch")

dims = st.one_of(st.none(), st.integers(-5, 5), st.lists(st.integers(-5, 5), max_size=3).map(tuple), junk)


def axes_of(dim, ndim):
    """The axes PyTorch reduces for ``dim`` (None or (): all), or None where ``dim`` is invalid."""
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(ndim))
    if isinstance(dim, bool) or not isinstance(dim, (int, tuple, list)):
        return None
    items = (dim,) if isinstance(dim, int) else tuple(dim)
    if not all(isinstance(d, int) and not isinstance(d, bool) for d in items):
        return None
    n = max(ndim, 1)
    if not all(-n <= d < n for d in items):
        return None
    axes = tuple(sorted(d % n for d in items))
    if len(set(axes)) != len(axes):
        return None
    return axes if ndim else ()


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def check(out, expected, layout):
    if layout == "contiguous":
        same(out, expected)
    else:  # summation order may differ; nothing else may
        same(out, expected, exact=False, rtol=1e-2 if np.asarray(expected).dtype == np.float16 else 1e-5,
             atol=1e-6 * float(np.nanmax(np.abs(expected), initial=0) if np.asarray(expected).dtype.kind == "f" else 0))


def finite_or_same(a):
    """Sums of huge values overflow differently in another order; compare layouts only on tame values."""
    return a.dtype.kind != "f" or bool(np.all(np.isfinite(a)) and np.all(np.abs(a) < 1e4))


@pytest.mark.parametrize("name", ["sum", "mean", "var"])
@FUZZ
@given(a=numeric_arrays(max_side=3), dim=dims, keepdim=st.booleans(), layout=layouts)
def test_sum_mean_var(name, a, dim, keepdim, layout):
    if layout != "contiguous" and not finite_or_same(a):
        layout = "contiguous"
    out = attempt(name, quiet, getattr(sn, name), as_tensor(a, layout), dim, keepdim=keepdim)
    axes = axes_of(dim, a.ndim)
    if axes is None or (name != "sum" and a.dtype.kind != "f"):
        assert not out.ok, out
        return
    assert out.ok, out
    if name == "sum":
        expected = a.sum(axis=axes, keepdims=keepdim, dtype=np.int64 if a.dtype.kind in "biu" else None)
    elif name == "mean":
        expected = quiet(a.mean, axis=axes, keepdims=keepdim)
    else:
        expected = quiet(a.var, axis=axes, ddof=1, keepdims=keepdim)
    check(out.value, np.asarray(expected), layout)


@pytest.mark.parametrize("name", ["amax", "amin"])
@FUZZ
@given(a=numeric_arrays(max_side=3), dim=dims, keepdim=st.booleans(), layout=layouts)
def test_amax_amin(name, a, dim, keepdim, layout):
    out = attempt(name, getattr(sn, name), as_tensor(a, layout), dim, keepdim=keepdim)
    axes = axes_of(dim, a.ndim)
    if axes is None or any(a.shape[i] == 0 for i in axes) or (a.size == 0 and not axes):
        assert not out.ok, out
        return
    assert out.ok, out
    same(out.value, np.asarray((a.max if name == "amax" else a.min)(axis=axes, keepdims=keepdim)))


@pytest.mark.parametrize("name", ["max", "min", "argmax", "argmin"])
@FUZZ
@given(a=numeric_arrays(max_side=3), dim=st.one_of(st.none(), st.integers(-4, 4), junk), keepdim=st.booleans(),
       layout=layouts)
def test_max_min_with_indices(name, a, dim, keepdim, layout):
    out = attempt(name, getattr(sn, name), as_tensor(a, layout), dim, keepdim=keepdim)
    arg = name.startswith("arg")
    if dim is None:
        if a.size == 0:
            assert not out.ok, out
            return
        assert out.ok, out
        base = name[3:] if arg else name
        expected = getattr(a, "arg" + base)() if arg else getattr(a, base)()
        same(out.value, np.asarray(expected))
        return
    axes = axes_of(dim, a.ndim) if isinstance(dim, int) and not isinstance(dim, bool) else None
    if axes is None or (a.ndim and a.shape[axes[0]] == 0):
        assert not out.ok, out
        return
    assert out.ok, out
    x, axis = (a, axes[0]) if a.ndim else (a.reshape(1), 0)
    base = name[3:] if arg else name
    index = getattr(x, "arg" + base)(axis=axis, keepdims=keepdim if a.ndim else False)
    if arg:
        same(out.value, np.asarray(index, dtype=np.int64))
    else:
        values, indices = out.value
        same(values, np.asarray(getattr(x, base)(axis=axis, keepdims=keepdim if a.ndim else False)))
        same(indices, np.asarray(index, dtype=np.int64))


@FUZZ
@given(a=numeric_arrays(max_side=3), dim=dims, keepdim=st.booleans(), layout=layouts)
def test_logsumexp_against_pytorch(a, dim, keepdim, layout):
    out = attempt("logsumexp", quiet, sn.logsumexp, as_tensor(a, layout), dim, keepdim=keepdim)
    axes = axes_of(dim, a.ndim)
    if axes is None:
        assert not out.ok, out
        return
    assert out.ok, out
    x = a.astype(np.float32) if a.dtype.kind in "biu" else a
    expected = torch.logsumexp(torch.tensor(x.astype(np.float64)), dim=axes, keepdim=keepdim).numpy()
    expected = expected.astype(x.dtype)
    rtol = {np.float16: 2e-3, np.float32: 2e-6, np.float64: 1e-12}[x.dtype.type]
    same(out.value, expected, exact=False, rtol=rtol, atol=rtol)

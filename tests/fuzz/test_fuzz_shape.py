"""Fuzzing the shape ops, indexing and matmul: any sizes, dims, keys and layouts, against NumPy.

Shape ops move values without arithmetic, so results must equal NumPy's exactly in every layout;
gradients must put each upstream value back where it came from (scatter-add for repeated indices).
"""

import warnings

import numpy as np
import pytest
from fuzzing import FUZZ, NUMERIC_DTYPES, arrays, as_tensor, attempt, float_arrays, junk, layouts, numeric_arrays, same
from fuzzing import shapes as array_shapes
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn

small_ints = st.integers(-5, 5)
size_lists = st.lists(st.one_of(st.integers(-2, 6), st.just(-1)), max_size=4)


def numpy_or_none(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(*args, **kwargs)
        except (ValueError, IndexError, TypeError):
            return None


def agree(out, expected):
    """Either both failed, or both worked with the same values."""
    if expected is None:
        assert not out.ok, f"NumPy refuses, got {out.value!r}"
    else:
        assert out.ok, out
        same(out.value, np.asarray(expected))


def torch_reshape_ok(shape, size):
    """PyTorch takes one -1 and otherwise sizes >= 0."""
    return shape.count(-1) <= 1 and all(s >= -1 for s in shape)


@FUZZ
@given(a=numeric_arrays(max_side=3), shape=size_lists, layout=layouts)
def test_reshape(a, shape, layout):
    out = attempt("reshape", sn.reshape, as_tensor(a, layout), *shape)
    expected = numpy_or_none(np.reshape, a, shape) if torch_reshape_ok(shape, a.size) else None
    agree(out, expected)


@FUZZ
@given(a=numeric_arrays(max_side=3), start=small_ints, end=small_ints, layout=layouts)
def test_flatten(a, start, end, layout):
    out = attempt("flatten", sn.flatten, as_tensor(a, layout), start, end)
    if a.ndim == 0:
        agree(out, a.reshape(1))
        return
    n = a.ndim
    if not (-n <= start < n and -n <= end < n) or start % n > end % n:
        assert not out.ok, out
        return
    s, e = start % n, end % n
    agree(out, a.reshape(a.shape[:s] + (int(np.prod(a.shape[s : e + 1])),) + a.shape[e + 1 :]))


@FUZZ
@given(a=numeric_arrays(max_side=2), dim=st.one_of(st.none(), small_ints, st.tuples(small_ints, small_ints), junk),
       layout=layouts)
def test_squeeze(a, dim, layout):
    out = attempt("squeeze", sn.squeeze, as_tensor(a, layout), dim)
    n = max(a.ndim, 1)
    if dim is None:
        agree(out, a.reshape([s for s in a.shape if s != 1]))
        return
    dims = (dim,) if isinstance(dim, int) else tuple(dim) if isinstance(dim, list) else dim
    if isinstance(dim, bool) or not isinstance(dims, tuple) or not all(
            isinstance(d, int) and not isinstance(d, bool) and -n <= d < n for d in dims):
        assert not out.ok, out
        return
    axes = {d % n for d in dims}
    agree(out, a.reshape([s for i, s in enumerate(a.shape) if not (i in axes and s == 1)]))


@FUZZ
@given(a=numeric_arrays(max_side=3), dim=st.one_of(small_ints, junk), layout=layouts)
def test_unsqueeze(a, dim, layout):
    out = attempt("unsqueeze", sn.unsqueeze, as_tensor(a, layout), dim)
    ok = isinstance(dim, int) and not isinstance(dim, bool) and -a.ndim - 1 <= dim <= a.ndim
    agree(out, np.expand_dims(a, dim) if ok else None)


@FUZZ
@given(a=numeric_arrays(max_side=3), dims=st.lists(small_ints, max_size=5), layout=layouts)
def test_permute(a, dims, layout):
    out = attempt("permute", sn.permute, as_tensor(a, layout), *dims)
    n = a.ndim
    ok = len(dims) == n and all(-n <= d < n for d in dims) and sorted(d % n for d in dims) == list(range(n))
    agree(out, np.transpose(a, [d % n for d in dims]) if ok else None)


@FUZZ
@given(a=numeric_arrays(max_side=3), d0=small_ints, d1=small_ints, layout=layouts)
def test_transpose(a, d0, d1, layout):
    out = attempt("transpose", sn.transpose, as_tensor(a, layout), d0, d1)
    n = max(a.ndim, 1)
    ok = -n <= d0 < n and -n <= d1 < n
    agree(out, np.swapaxes(a, d0 % n, d1 % n) if ok and a.ndim else (a if ok else None))


@FUZZ
@given(a=numeric_arrays(max_side=3), shape=size_lists, layout=layouts)
def test_broadcast_to_and_expand(a, shape, layout):
    x = as_tensor(a, layout)
    out = attempt("broadcast_to", sn.broadcast_to, x, *shape)
    agree(out, numpy_or_none(np.broadcast_to, a, shape) if all(s >= 0 for s in shape) else None)
    out = attempt("expand", sn.expand, x, *shape, names=("broadcast_to",))
    lead = len(shape) - a.ndim
    if lead < 0 or any(s == -1 for s in shape[:lead]) or any(s < -1 for s in shape):
        assert not out.ok, out
        return
    wanted = [a.shape[i - lead] if (s == -1 and i >= lead) else s for i, s in enumerate(shape)]
    agree(out, numpy_or_none(np.broadcast_to, a, wanted))


@st.composite
def tensor_lists(draw):
    base = draw(array_shapes(max_dims=3, max_side=3))
    dtype = draw(st.sampled_from(NUMERIC_DTYPES))
    parts = []
    for _ in range(draw(st.integers(0, 3))):
        shape = list(base)
        if shape and draw(st.booleans()):
            shape[draw(st.integers(0, len(shape) - 1))] = draw(st.integers(0, 3))
        if draw(st.integers(0, 9)) == 0:
            shape = shape[:-1]  # a rank mismatch now and then
        parts.append(draw(arrays(dtype, tuple(shape))))
    return parts


@pytest.mark.parametrize("name", ["cat", "stack"])
@FUZZ
@given(parts=tensor_lists(), dim=small_ints, layout=layouts)
def test_cat_and_stack(name, parts, dim, layout):
    out = attempt(name, getattr(sn, name), [as_tensor(p, layout) for p in parts], dim)
    if not parts or (name == "cat" and parts[0].ndim == 0):
        assert not out.ok, out
        return
    n = parts[0].ndim + (name == "stack")
    if not -n <= dim < n:
        assert not out.ok, out
        return
    agree(out, numpy_or_none(np.concatenate if name == "cat" else np.stack, parts, axis=dim))


@FUZZ
@given(a=numeric_arrays(max_side=3), pads=st.lists(st.integers(-3, 3), max_size=7), value=st.floats(-2, 2),
       layout=layouts)
def test_pad(a, pads, value, layout):
    out = attempt("pad", sn.pad, as_tensor(a, layout), tuple(pads), value=value)
    if len(pads) % 2 or len(pads) // 2 > a.ndim:
        assert not out.ok, out
        return
    widths = [(0, 0)] * a.ndim
    for k in range(len(pads) // 2):
        widths[a.ndim - 1 - k] = (pads[2 * k], pads[2 * k + 1])
    if any(n + lo + hi < 0 or -lo > n or -hi > n for (lo, hi), n in zip(widths, a.shape)):
        assert not out.ok, out
        return
    if a.ndim == 0:
        agree(out, a)
        return
    crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(widths, a.shape))
    fill = np.asarray(value).astype(a.dtype) if a.dtype.kind != "b" else bool(value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = np.pad(a[crop], [(max(lo, 0), max(hi, 0)) for lo, hi in widths], constant_values=fill)
    agree(out, expected)


def index_parts(ndim):
    ints = st.integers(-4, 4)
    return st.one_of(
        ints,
        st.slices(4),
        st.none(),
        st.just(Ellipsis),
        st.lists(ints, min_size=0, max_size=3),
        st.lists(st.booleans(), min_size=0, max_size=4).map(np.array),
        st.lists(ints, max_size=3).map(lambda v: np.array(v, dtype=np.int64)),
        st.floats(-2, 2),
        st.text(max_size=1),
    )


keys = st.one_of(index_parts(3), st.lists(index_parts(3), max_size=4).map(tuple))


def numpy_key(key):
    """The key as scratchnet hands it to NumPy (lists become arrays)."""
    parts = key if isinstance(key, tuple) else (key,)
    out = tuple(np.asarray(k) if isinstance(k, list) else k for k in parts)
    return out


@FUZZ
@given(a=float_arrays(max_side=3, dtypes=[np.float32, np.float64]), key=keys, layout=layouts)
def test_getitem_and_its_gradient(a, key, layout):
    x = as_tensor(a, layout).requires_grad_()
    out = attempt("getitem", lambda: x[key])
    nkey = numpy_key(key)
    if any(isinstance(k, np.ndarray) and k.dtype.kind == "f" for k in nkey):
        expected = None  # empty lists become float arrays: NumPy refuses them, as does PyTorch for floats
    else:
        expected = numpy_or_none(lambda: a[nkey])
    agree(out, expected)
    if expected is None:
        return
    g = np.random.default_rng(0).standard_normal(np.shape(expected)).astype(a.dtype)
    out.value.backward(sn.tensor(g))
    want = np.zeros_like(a)
    np.add.at(want, nkey, g)
    same(x.grad, want)


def matmul_ok(sa, sb):
    if not sa or not sb:
        return False
    ka = sa[-1]
    kb = sb[-2] if len(sb) > 1 else sb[0]
    if ka != kb:
        return False
    try:
        np.broadcast_shapes(sa[:-2], sb[:-2])
    except ValueError:
        return False
    return True


@FUZZ
@given(sa=array_shapes(max_dims=4, max_side=3), sb=array_shapes(max_dims=4, max_side=3),
       da=st.sampled_from(NUMERIC_DTYPES), db=st.sampled_from(NUMERIC_DTYPES), data=st.data(),
       layout=layouts)
def test_matmul(sa, sb, da, db, data, layout):
    if data.draw(st.booleans()) and len(sa) >= 1:  # mostly compatible shapes
        sb = sb[:-2] + (sa[-1],) + sb[-1:] if len(sb) >= 2 else (sa[-1],)
    a = data.draw(arrays(da, sa, finite=True))
    b = data.draw(arrays(db, sb, finite=True))
    out = attempt("matmul", lambda: as_tensor(a, layout) @ as_tensor(b, layout))
    if not matmul_ok(sa, sb):
        assert not out.ok, out
        return
    x, y = a, b
    if x.dtype.kind == "f" and y.dtype.kind in "biu":
        y = y.astype(x.dtype)
    elif y.dtype.kind == "f" and x.dtype.kind in "biu":
        x = x.astype(y.dtype)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        expected = np.matmul(x, y)
    if layout == "contiguous" or expected.dtype.kind != "f":
        agree(out, expected)
    else:
        assert out.ok, out
        same(out.value, expected, exact=False, rtol=1e-2 if expected.dtype == np.float16 else 1e-5, atol=1e-5)


@FUZZ
@given(a=numeric_arrays(max_side=3), junk_arg=junk)
def test_shape_ops_with_junk_arguments(a, junk_arg):
    """Every op gets a wrong kind of argument; each must answer with a documented error or a right result."""
    x = sn.tensor(a)
    for name, call in (("reshape", lambda: sn.reshape(x, junk_arg)), ("permute", lambda: sn.permute(x, junk_arg)),
                       ("transpose", lambda: sn.transpose(x, junk_arg, 0)),
                       ("unsqueeze", lambda: sn.unsqueeze(x, junk_arg)), ("flatten", lambda: sn.flatten(x, junk_arg)),
                       ("pad", lambda: sn.pad(x, junk_arg)), ("cat", lambda: sn.cat(junk_arg)),
                       ("stack", lambda: sn.stack([x, junk_arg])), ("squeeze", lambda: sn.squeeze(x, junk_arg)),
                       ("broadcast_to", lambda: sn.broadcast_to(x, junk_arg))):
        attempt(name, call)

"""Property tests for the shape ops: reshape/view, flatten, squeeze/unsqueeze, permute/transpose,
T/mT, broadcast_to/expand/sum_to, cat/stack, pad and indexing.

Hypothesis draws shapes and op parameters (dims, permutations, pad widths,
index keys, cat/stack dims and counts); values come from a seeded NumPy RNG.
Forward values are compared with NumPy; gradients are checked against finite
differences to first and second order (``strategies.check``). Shape ops are
linear, so any kink-free values do; ``distinct`` values also make a misplaced
gradient visible.
"""

import functools
import itertools
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import check, distinct, normal, seeds, shapes

import scratchnet as sn


def size(shape):
    return int(np.prod(shape, dtype=np.int64))


def spell(dim, ndim, draw):
    """``dim`` as itself or as its negative alias."""
    return draw(st.sampled_from([dim, dim - ndim]))


# --------------------------------------------------------------------------- reshape, flatten, squeeze


@functools.lru_cache(maxsize=None)
def factorizations(n, max_dims=3):
    """Every shape of at most ``max_dims`` dims holding ``n`` elements."""
    out = [()] if n == 1 else []
    for k in range(1, max_dims + 1):
        out += [s for s in itertools.product(range(1, n + 1), repeat=k) if size(s) == n]
    return out


@st.composite
def reshape_args(draw):
    shape = draw(shapes())
    target = list(draw(st.sampled_from(factorizations(size(shape)))))
    if target and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1  # inferred from the size
    return shape, tuple(target)


@given(reshape_args(), st.sampled_from(["reshape(*s)", "reshape(s)", "view(*s)", "view(list)", "sn.reshape"]), seeds)
def test_reshape_and_view(args, spelling, seed):
    shape, target = args
    x = distinct(seed, shape)

    def fn(t):
        return {
            "reshape(*s)": lambda: t.reshape(*target),
            "reshape(s)": lambda: t.reshape(target),
            "view(*s)": lambda: t.view(*target),
            "view(list)": lambda: t.view(list(target)),
            "sn.reshape": lambda: sn.reshape(t, target),
        }[spelling]()

    expected = np.reshape(x, target)
    y = fn(sn.tensor(x))
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y.numpy(), expected)
    check(fn, x)


@st.composite
def flatten_args(draw):
    """(shape, kwargs): start_dim <= end_dim, each possibly negative; 0-d uses the defaults."""
    shape = draw(shapes())
    n = len(shape)
    if n == 0:
        return shape, {}
    s = draw(st.integers(0, n - 1))
    e = draw(st.integers(s, n - 1))
    kwargs = {}
    if draw(st.booleans()) or s != 0:
        kwargs["start_dim"] = spell(s, n, draw)
    if draw(st.booleans()) or e != n - 1:
        kwargs["end_dim"] = spell(e, n, draw)
    return shape, kwargs


@given(flatten_args(), seeds)
def test_flatten(args, seed):
    """Dims start..end merge into one; a 0-d tensor becomes shape (1,), as in PyTorch."""
    shape, kwargs = args
    x = distinct(seed, shape)
    n = len(shape)
    if n == 0:
        expected = x.reshape(1)
    else:
        s = kwargs.get("start_dim", 0) % n
        e = kwargs.get("end_dim", -1) % n
        expected = x.reshape(shape[:s] + (size(shape[s : e + 1]),) + shape[e + 1 :])
    y = sn.tensor(x).flatten(**kwargs)
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y.numpy(), expected)
    check(lambda t: sn.flatten(t, **kwargs), x)


@st.composite
def squeeze_args(draw):
    """(shape, dim): None (all), one dim (any size: non-1 dims are left alone), or a tuple of dims."""
    shape = draw(st.one_of(shapes(), shapes(max_side=2)))  # max_side=2: more size-1 dims
    n = len(shape)
    lo, hi = -max(n, 1), max(n, 1) - 1
    dim = draw(
        st.one_of(
            st.none(),
            st.integers(lo, hi),
            st.lists(st.integers(0, max(n, 1) - 1), min_size=1, unique=True).map(tuple),
        )
    )
    return shape, dim


@given(squeeze_args(), seeds)
def test_squeeze(args, seed):
    shape, dim = args
    x = distinct(seed, shape)
    if dim is None:
        expected = np.squeeze(x)
    else:
        dims = {d % max(len(shape), 1) for d in ((dim,) if isinstance(dim, int) else dim)}
        expected = np.squeeze(x, axis=tuple(i for i in sorted(dims) if i < x.ndim and shape[i] == 1))
    y = sn.tensor(x).squeeze() if dim is None else sn.tensor(x).squeeze(dim)
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y.numpy(), expected)
    check(lambda t: sn.squeeze(t, dim), x)


@given(shapes(), st.data(), seeds)
def test_unsqueeze(shape, data, seed):
    """Valid dims are [-ndim-1, ndim]; -1 appends a dim (NumPy's expand_dims agrees)."""
    n = len(shape)
    dim = data.draw(st.integers(-n - 1, n), label="dim")
    x = distinct(seed, shape)
    expected = np.expand_dims(x, dim)
    y = sn.tensor(x).unsqueeze(dim)
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y.numpy(), expected)
    check(lambda t: sn.unsqueeze(t, dim), x)


# --------------------------------------------------------------------------- permute, transpose, T, mT


@given(shapes(), st.data(), st.sampled_from(["method(*dims)", "method(dims)", "sn.permute"]), seeds)
def test_permute(shape, data, spelling, seed):
    n = len(shape)
    perm = data.draw(st.permutations(range(n)), label="perm")
    dims = tuple(data.draw(st.sampled_from([d, d - n]), label="dim") for d in perm)
    x = distinct(seed, shape)

    def fn(t):
        return {
            "method(*dims)": lambda: t.permute(*dims),
            "method(dims)": lambda: t.permute(dims),
            "sn.permute": lambda: sn.permute(t, list(dims)),
        }[spelling]()

    expected = np.transpose(x, perm)
    y = fn(sn.tensor(x))
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y.numpy(), expected)
    check(fn, x)


@given(shapes(min_dims=1), st.data(), seeds)
def test_transpose(shape, data, seed):
    n = len(shape)
    d0 = data.draw(st.integers(-n, n - 1), label="dim0")
    d1 = data.draw(st.integers(-n, n - 1), label="dim1")
    x = distinct(seed, shape)
    expected = np.swapaxes(x, d0, d1)
    y = sn.tensor(x).transpose(d0, d1)
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y.numpy(), expected)
    check(lambda t: sn.transpose(t, d0, d1), x)


@pytest.mark.parametrize("dims", [(0, 0), (0, -1), (-1, -1)])
def test_transpose_0d_is_identity(dims):
    """PyTorch treats a 0-d tensor as 1-d for dim wrapping: transpose(0, -1) is the tensor itself."""
    x = sn.tensor(np.array(1.5), requires_grad=True)
    y = x.transpose(*dims)
    assert y.shape == ()
    assert y.item() == 1.5
    check(lambda t: t.transpose(*dims), np.array(1.5))


@given(shapes(), seeds)
def test_T_reverses_all_dims(shape, seed):
    x = distinct(seed, shape)
    y = sn.tensor(x).T
    np.testing.assert_array_equal(y.numpy(), x.T)
    assert y.shape == x.T.shape
    check(lambda t: t.T, x)


@given(shapes(min_dims=2), seeds)
def test_mT_swaps_last_two_dims(shape, seed):
    x = distinct(seed, shape)
    expected = np.swapaxes(x, -1, -2)
    y = sn.tensor(x).mT
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y.numpy(), expected)
    check(lambda t: t.mT, x)


# --------------------------------------------------------------------------- broadcast_to, expand, sum_to


@st.composite
def broadcast_args(draw, max_dims=3):
    """(shape, target): target adds leading dims and grows size-1 dims, as broadcasting allows."""
    shape = draw(shapes(max_dims=max_dims))
    lead = draw(st.lists(st.integers(1, 3), max_size=max_dims - len(shape)))
    grown = tuple(draw(st.integers(1, 3)) if n == 1 else n for n in shape)
    return shape, tuple(lead) + grown


@given(broadcast_args(), st.booleans(), seeds)
def test_broadcast_to(args, as_method, seed):
    shape, target = args
    x = distinct(seed, shape)
    expected = np.broadcast_to(x, target)
    y = sn.tensor(x).broadcast_to(*target) if as_method else sn.broadcast_to(sn.tensor(x), target)
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y.numpy(), expected)
    check(lambda t: sn.broadcast_to(t, target), x)


@given(broadcast_args(), st.data(), seeds)
def test_expand(args, data, seed):
    """-1 keeps an existing dim's size (also for a size-1 dim that stays 1)."""
    shape, target = args
    lead = len(target) - len(shape)
    sizes = tuple(
        -1 if i >= lead and data.draw(st.booleans(), label=f"keep {i}") and n == shape[i - lead] else n
        for i, n in enumerate(target)
    )
    x = distinct(seed, shape)
    expected = np.broadcast_to(x, target)
    y = sn.tensor(x).expand(*sizes)
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y.numpy(), expected)
    check(lambda t: t.expand(sizes), x)


@given(broadcast_args(), seeds)
def test_sum_to(args, seed):
    """sum_to(x, shape) undoes broadcasting: sum the leading dims and the dims grown from 1."""
    shape, target = args
    lead = len(target) - len(shape)
    x = normal(seed, target)
    expected = x.sum(axis=tuple(range(lead))).sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)
    y = sn.sum_to(sn.tensor(x), shape)
    assert y.shape == shape
    np.testing.assert_allclose(y.numpy(), expected)
    check(lambda t: sn.sum_to(t, shape), x)


# --------------------------------------------------------------------------- cat, stack, pad


@st.composite
def cat_args(draw):
    """(shapes, dim): 2-3 shapes that agree except along dim, where sizes differ freely."""
    base = draw(shapes(min_dims=1, max_side=2))  # the other dims small: <= 36 elements in all
    n = len(base)
    dim = draw(st.integers(-n, n - 1))
    d = dim % n
    sizes = draw(st.lists(st.integers(1, 3), min_size=2, max_size=3))
    return [base[:d] + (k,) + base[d + 1 :] for k in sizes], dim


@given(cat_args(), st.sampled_from(["list", "tuple", "concat"]), seeds)
def test_cat(args, spelling, seed):
    shps, dim = args
    arrays = [distinct(seed + i, s) for i, s in enumerate(shps)]

    def fn(*ts):
        if spelling == "list":
            return sn.cat(list(ts), dim)
        if spelling == "tuple":
            return sn.cat(ts, dim=dim)
        return sn.concat(list(ts), dim=dim)

    expected = np.concatenate(arrays, axis=dim)
    y = fn(*[sn.tensor(a) for a in arrays])
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y.numpy(), expected)
    check(fn, *arrays)


@given(shapes(max_side=2), st.integers(2, 3), st.data(), seeds)
def test_stack(shape, count, data, seed):
    """A new dim at position dim in [-ndim-1, ndim]."""
    n = len(shape)
    dim = data.draw(st.integers(-n - 1, n), label="dim")
    arrays = [distinct(seed + i, shape) for i in range(count)]
    expected = np.stack(arrays, axis=dim)
    y = sn.stack([sn.tensor(a) for a in arrays], dim)
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y.numpy(), expected)
    check(lambda *ts: sn.stack(ts, dim=dim), *arrays)


@st.composite
def pad_args(draw):
    """(shape, pad): F.pad's flat tuple for the last k dims (k <= ndim), widths in [-n, 2].

    Negative widths crop; the result keeps at least one element per dim.
    """
    shape = draw(shapes(min_dims=1))
    k = draw(st.integers(1, len(shape)))
    pad = []
    for i in range(k):
        n = shape[-1 - i]
        lo = draw(st.integers(-n, 2))
        hi = draw(st.integers(max(-n, 1 - n - lo), 2))
        pad += [lo, hi]
    return shape, tuple(pad)


def np_pad(x, pad, value):
    """Reference: pad by the positive widths with np.pad, then crop the negative ones."""
    widths = [(0, 0)] * x.ndim
    for k in range(len(pad) // 2):
        widths[x.ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    y = np.pad(x, [(max(lo, 0), max(hi, 0)) for lo, hi in widths], constant_values=value)
    return y[tuple(slice(max(-lo, 0), y.shape[i] - max(-hi, 0)) for i, (lo, hi) in enumerate(widths))]


@given(pad_args(), st.sampled_from([0.0, -1.5, 2.0]), st.booleans(), seeds)
def test_pad(args, value, as_list, seed):
    shape, pad = args
    x = distinct(seed, shape)
    p = list(pad) if as_list else pad
    expected = np_pad(x, pad, value)
    y = sn.pad(sn.tensor(x), p, value=value)
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y.numpy(), expected)
    check(lambda t: sn.pad(t, p, value=value), x)


# --------------------------------------------------------------------------- indexing


@st.composite
def basic_keys(draw):
    """(shape, key, np_key): ints (incl. negative; as int, np.int64 or 0-d int Tensor), slices with
    steps, None and Ellipsis. ``key`` is for scratchnet, ``np_key`` the same key for NumPy."""
    shape = draw(shapes())
    n = len(shape)
    head = draw(st.integers(0, n))
    use_ellipsis = draw(st.booleans())
    tail = draw(st.integers(0, n - head)) if use_ellipsis else 0
    dims = list(range(head)) + list(range(n - tail, n))
    items = []
    for d in dims:
        size_d = shape[d]
        if draw(st.booleans()):
            items.append(draw(st.integers(-size_d, size_d - 1)))
        else:
            items.append(draw(st.slices(size_d).filter(lambda s, m=size_d: len(range(*s.indices(m))) > 0)))
    if use_ellipsis:
        items.insert(head, Ellipsis)
    for _ in range(draw(st.integers(0, 2))):
        items.insert(draw(st.integers(0, len(items))), None)
    key, np_key = [], []
    for item in items:
        np_key.append(item)
        if isinstance(item, int):
            item = draw(st.sampled_from([item, np.int64(item), sn.tensor(np.array(item, dtype=np.int64))]))
        key.append(item)
    if len(items) == 1 and draw(st.booleans()):
        return shape, key[0], np_key[0]  # a bare item, not a 1-tuple
    return shape, tuple(key), tuple(np_key)


@given(basic_keys(), seeds)
def test_getitem_basic(args, seed):
    shape, key, np_key = args
    x = distinct(seed, shape)
    expected = x[np_key]
    y = sn.tensor(x)[key]
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y.numpy(), expected)
    check(lambda t: t[key], x)


@st.composite
def int_array_keys(draw):
    """(shape, key, np_key): integer index arrays with a repeated index (so backward must add
    the repeats up), on any dim, alone or with a second array that broadcasts against it."""
    shape = draw(shapes(min_dims=1))
    n = len(shape)
    axis = draw(st.integers(0, n - 1))
    m = shape[axis]
    idx = draw(st.lists(st.integers(-m, m - 1), min_size=1, max_size=3))
    alias = idx[0] - m if idx[0] >= 0 else idx[0] + m  # the same element, spelled the other way
    idx = np.array(idx + [draw(st.sampled_from([idx[0], alias]))])  # a repeated index
    if draw(st.booleans()):
        idx = idx.reshape(2, 2) if idx.size == 4 else idx
    arrays = [idx]
    if axis + 1 < n and draw(st.booleans()):
        arrays.append(np.array(draw(st.integers(-shape[axis + 1], shape[axis + 1] - 1))).reshape(1))
    form = draw(st.sampled_from(["ndarray", "list", "tensor"]))
    convert = {"ndarray": lambda a: a, "list": lambda a: a.tolist(), "tensor": lambda a: sn.tensor(a)}[form]
    lead = (slice(None),) * axis
    return shape, lead + tuple(convert(a) for a in arrays), lead + tuple(arrays)


@given(int_array_keys(), seeds)
def test_getitem_integer_arrays_with_repeats(args, seed):
    shape, key, np_key = args
    x = distinct(seed, shape)
    expected = x[np_key]
    y = sn.tensor(x)[key]
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y.numpy(), expected)
    check(lambda t: t[key], x)
    # d(sum x[key])/dx counts how often each element was picked
    t = sn.tensor(x, requires_grad=True)
    t[key].sum().backward()
    counts = np.zeros(shape)
    np.add.at(counts, np_key, 1.0)
    np.testing.assert_array_equal(t.grad.numpy(), counts)


@given(shapes(min_dims=1), st.data(), st.sampled_from(["ndarray", "tensor", "list"]), seeds)
def test_getitem_boolean_mask(shape, data, form, seed):
    """A mask over dims axis..axis+k-1 selects the True positions (maybe none)."""
    n = len(shape)
    axis = data.draw(st.integers(0, n - 1), label="axis")
    k = data.draw(st.integers(1, n - axis), label="mask dims")
    mask = np.random.default_rng(seed + 1).random(shape[axis : axis + k]) < 0.5
    m = {"ndarray": mask, "tensor": sn.tensor(mask), "list": mask.tolist()}[form]
    key = (slice(None),) * axis + (m,)
    np_key = (slice(None),) * axis + (mask,)
    x = distinct(seed, shape)
    expected = x[np_key]
    y = sn.tensor(x)[key]
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y.numpy(), expected)
    check(lambda t: t[key], x)


# --------------------------------------------------------------------------- dtypes and errors

SHAPE_OPS = {
    "reshape": lambda t: t.reshape(3, 2),
    "view(-1)": lambda t: t.view(-1),
    "flatten": lambda t: t.flatten(),
    "squeeze": lambda t: t.unsqueeze(0).squeeze(0),
    "unsqueeze": lambda t: t.unsqueeze(-1),
    "permute": lambda t: t.permute(1, 0),
    "transpose": lambda t: t.transpose(0, 1),
    "T": lambda t: t.T,
    "mT": lambda t: t.mT,
    "broadcast_to": lambda t: t.broadcast_to(2, 2, 3),
    "expand": lambda t: t.expand(2, -1, -1),
    "sum_to": lambda t: sn.sum_to(t, (1, 3)),
    "cat": lambda t: sn.cat([t, t], 1),
    "stack": lambda t: sn.stack([t, t], -1),
    "pad": lambda t: sn.pad(t, (1, -1, 2, 0), value=0.5),
    "getitem basic": lambda t: t[1, ::-2],
    "getitem int array": lambda t: t[:, [0, 0, 2]],
    "getitem mask": lambda t: t[np.array([True, False])],
}


@pytest.mark.parametrize("name", sorted(SHAPE_OPS))
def test_float32_stays_float32(name):
    """No silent upcast: float32 in, float32 out, float32 gradient."""
    x = sn.tensor(distinct(0, (2, 3)).astype(np.float32), requires_grad=True)
    y = SHAPE_OPS[name](x)
    assert y.dtype == np.float32
    y.backward(sn.tensor(np.ones(y.shape, dtype=np.float32)))
    assert x.grad.dtype == np.float32
    assert x.grad.shape == x.shape


DIM_OPS = {
    "transpose": (lambda t, d: t.transpose(0, d), 0),
    "flatten": (lambda t, d: t.flatten(d), 0),
    "squeeze": (lambda t, d: t.squeeze(d), 0),
    "unsqueeze": (lambda t, d: t.unsqueeze(d), 1),  # one more valid dim: the new one
    "permute": (lambda t, d: t.permute(*([d] + list(range(1, t.ndim)))), 0),
    "cat": (lambda t, d: sn.cat([t, t], d), 0),
    "stack": (lambda t, d: sn.stack([t, t], d), 1),
}


@pytest.mark.parametrize("name", sorted(DIM_OPS))
@given(shape=shapes(min_dims=1), data=st.data())
def test_dim_out_of_range_raises_index_error(name, shape, data):
    fn, extra = DIM_OPS[name]
    n = len(shape) + extra
    dim = data.draw(st.one_of(st.integers(n, n + 3), st.integers(-n - 3, -n - 1)), label="dim")
    with pytest.raises(IndexError, match=rf"^{name}: dimension out of range"):
        fn(sn.tensor(normal(0, shape)), dim)


@given(shapes(min_dims=1), st.data())
def test_permute_rejects_a_non_permutation(shape, data):
    n = len(shape)
    if data.draw(st.booleans(), label="wrong length"):
        dims = data.draw(st.lists(st.integers(0, n - 1), max_size=4).filter(lambda d: len(d) != n))
        match = rf"^permute: got {len(dims)} dims"
    else:
        dims = data.draw(st.lists(st.integers(-n, n - 1), min_size=n, max_size=n).filter(
            lambda d: len({i % n for i in d}) < n))  # some dim named twice
        match = r"^permute: dims .* are not a permutation"
    with pytest.raises(ValueError, match=match):
        sn.tensor(normal(0, shape)).permute(*dims)


@given(shapes(min_dims=2), st.data())
def test_cat_of_mismatched_shapes_names_op_and_shapes(shape, data):
    n = len(shape)
    dim = data.draw(st.integers(0, n - 1), label="dim")
    other = data.draw(st.integers(0, n - 1).filter(lambda o: o != dim), label="mismatched dim")
    shape2 = shape[:other] + (shape[other] % 3 + 1,) + shape[other + 1 :]  # a different size there
    a, b = sn.tensor(normal(0, shape)), sn.tensor(normal(1, shape2))
    with pytest.raises(ValueError, match=rf"^cat: .*{re.escape(str(shape))} and {re.escape(str(shape2))}"):
        sn.cat([a, b], dim)


@given(shapes(min_dims=1), st.data())
def test_pad_rejects_odd_or_too_long_tuples(shape, data):
    n = len(shape)
    length = data.draw(st.one_of(st.integers(1, 2 * n + 2).filter(lambda k: k % 2), st.sampled_from([2 * n + 2])))
    pad = tuple(data.draw(st.lists(st.integers(0, 1), min_size=length, max_size=length)))
    with pytest.raises(ValueError, match=r"^pad: padding .* must have an even length of at most"):
        sn.pad(sn.tensor(normal(0, shape)), pad)


@given(shapes(), st.data())
def test_reshape_to_an_incompatible_size_raises(shape, data):
    target = data.draw(
        st.one_of(
            shapes().filter(lambda s: size(s) != size(shape)),
            st.just((-1, -1)),  # only one size can be inferred
        ),
        label="target",
    )
    with pytest.raises(ValueError, match=r"^reshape: "):
        sn.tensor(normal(0, shape)).reshape(target)


@pytest.mark.parametrize(
    "index",
    [np.array([0.0, 1.0]), [0.5], sn.tensor(np.array([1.0]))],
    ids=["float ndarray", "float list", "float Tensor"],
)
def test_float_index_array_raises_index_error(index):
    with pytest.raises(IndexError, match=r"^getitem: index arrays must be integer or boolean"):
        sn.tensor(normal(0, (3, 2)))[index]


@given(shapes(), seeds)
def test_cast_function_first_and_second_order(shape, seed):
    """Cast's backward casts the gradient back; checked in float64 (a float32 round trip would need looser tolerances)."""
    from scratchnet.ops.shape import Cast

    check(lambda t: Cast(np.dtype(np.float64))(t) * t, normal(seed, shape))


# --------------------------------------------------------------------------- malformed input (issue 8)


@pytest.mark.parametrize("op", [sn.cat, sn.stack])
def test_cat_and_stack_refuse_a_single_tensor(op):
    """cat(x) used to iterate over x's rows and join them: a silently wrong result (PyTorch: TypeError)."""
    x = sn.ones(2, 3)
    with pytest.raises(TypeError, match=f"^{op.__name__}: expected a list or tuple of tensors, got Tensor"):
        op(x)
    with pytest.raises(TypeError, match=f"^{op.__name__}: expected a list or tuple"):
        op(t for t in (x, x))


def test_squeeze_with_a_float_dim_names_the_op():
    with pytest.raises(TypeError, match="^squeeze: dim must be an int"):
        sn.ones(1, 2).squeeze(0.0)
    assert sn.ones(1, 2).squeeze(np.int64(0)).shape == (2,)


def test_pad_sizes_must_be_ints():
    x = sn.ones(2, 3)
    with pytest.raises(TypeError, match="^pad: sizes must be ints"):
        sn.pad(x, (1.5, 1))
    with pytest.raises(TypeError, match="^pad: padding must be a tuple of ints"):
        sn.pad(x, 1)


@pytest.mark.parametrize(
    "op",
    [
        lambda x: sn.reshape(x, 2),
        lambda x: sn.flatten(x),
        lambda x: sn.squeeze(x),
        lambda x: sn.unsqueeze(x, 0),
        lambda x: sn.permute(x, 0),
        lambda x: sn.transpose(x, 0, 0),
        lambda x: sn.broadcast_to(x, 2),
        lambda x: sn.expand(x, 2),
        lambda x: sn.pad(x, (1, 1)),
    ],
    ids=["reshape", "flatten", "squeeze", "unsqueeze", "permute", "transpose", "broadcast_to", "expand", "pad"],
)
def test_shape_op_on_a_non_tensor_is_a_type_error_naming_the_op(op, request):
    name = request.node.callspec.id
    with pytest.raises(TypeError, match=f"^{name}: input must be a Tensor"):
        op(np.ones(2))  # used to be AttributeError


def test_expand_errors_name_broadcast_to():
    with pytest.raises(ValueError, match="^broadcast_to: operands could not be broadcast"):
        sn.ones(2, 3).expand(3, 3)  # the op used to call itself "broadcastto"


def test_flatten_of_an_empty_tensor_like_pytorch():
    """flatten reshaped to (..., -1, ...), which NumPy cannot resolve when the size is 0."""
    assert sn.flatten(sn.zeros(0, 0), 0, 0).shape == (0, 0)
    assert sn.flatten(sn.zeros(2, 0, 3), 1).shape == (2, 0)
    assert sn.flatten(sn.zeros(0, 3, 4)).shape == (0,)


def test_padding_by_nothing_works_for_a_0d_tensor():
    """pad(x, ()) of a 0-d tensor raised NumPy's "`pad_width` must be of integral type"."""
    x = sn.tensor(2.0)
    assert sn.pad(x, ()).item() == 2.0 and sn.pad(sn.ones(2), (0, 0)).shape == (2,)


@pytest.mark.parametrize(
    "key",
    [np.array([True]), np.array([False, False, False]), (0, np.array([True, False])), (Ellipsis, np.array([True]))],
    ids=["short", "long", "after-int", "after-ellipsis"],
)
def test_a_boolean_mask_of_the_wrong_length_is_an_index_error(key):
    """x[[True]] on a (2, 3) tensor used to return row 0: the mask became integer indices without a shape check."""
    x = sn.tensor(np.arange(6.0).reshape(2, 3))
    with pytest.raises(IndexError, match="^getitem: boolean index of shape"):
        x[key]
    with pytest.raises(IndexError):
        x.numpy()[key]  # NumPy (and PyTorch) refuse it too


def test_masks_still_index_like_numpy():
    a = np.arange(24.0).reshape(2, 3, 4)
    x = sn.tensor(a)
    for key in (a > 5, (Ellipsis, np.array([True, False, True, True])), (None, np.array([True, False])),
                (0, a[0] > 3), (slice(None), np.array([False, True, True]), 1)):
        np.testing.assert_array_equal(x[key].numpy(), a[key])
    with pytest.raises(IndexError, match="0-d boolean index"):
        x[np.array(True)]


def test_reshape_refuses_negative_sizes_other_than_minus_one():
    """reshape(-2) was taken as reshape(-1) (NumPy's leniency; PyTorch refuses)."""
    with pytest.raises(ValueError, match="^reshape: invalid shape"):
        sn.ones(2, 3).reshape(-2, 3)

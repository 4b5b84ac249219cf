"""Property tests for the reductions: sum, mean, var, amax/amin, max/min, logsumexp.

Hypothesis draws shapes and the op parameters (dim as None / int / tuple,
negative dims, keepdim, correction); values come from a seeded NumPy RNG.
Each op is compared with NumPy in the forward pass and checked against
finite differences to first and second order (``strategies.check``).
"""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import check, distinct, normal, seeds, shapes

import scratchnet as sn


@st.composite
def reduce_args(draw, max_dims=3):
    """(shape, dim, keepdim): dim is None, an int or a tuple of distinct dims, possibly negative.

    A 0-d tensor accepts dim 0 and -1, as in PyTorch.
    """
    shape = draw(shapes(max_dims=max_dims))
    n = len(shape)
    if n == 0:
        dim = draw(st.sampled_from([None, 0, -1]))
    else:
        dim = draw(
            st.one_of(
                st.none(),
                st.integers(-n, n - 1),
                st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True).flatmap(
                    # each axis spelled as i or i - n, in any order
                    lambda axes: st.tuples(*[st.sampled_from([a, a - n]) for a in axes])
                ),
            )
        )
    return shape, dim, draw(st.booleans())


def np_axis(dim, ndim):
    """The NumPy ``axis`` for a PyTorch-style ``dim`` (NumPy rejects axis 0 on a 0-d array)."""
    return None if ndim == 0 else dim


def reduced_count(shape, dim):
    """How many elements each output element is reduced from."""
    if not shape or dim is None:
        return int(np.prod(shape, dtype=np.int64))
    axes = (dim,) if isinstance(dim, int) else dim
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


def np_logsumexp(a, axis, keepdims):
    """Exact reference in float64: the max is subtracted before exp."""
    a = np.asarray(a, dtype=np.float64)
    m = np.max(a, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


# --------------------------------------------------------------------------- sum, mean, var


@given(reduce_args(), seeds)
def test_sum(args, seed):
    shape, dim, keepdim = args
    x = normal(seed, shape)
    expected = np.sum(x, axis=np_axis(dim, x.ndim), keepdims=keepdim)
    y = sn.sum(sn.tensor(x), dim, keepdim)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.numpy(), expected)
    check(lambda t: t.sum(dim, keepdim), x)


@given(reduce_args(), seeds)
def test_mean(args, seed):
    shape, dim, keepdim = args
    x = normal(seed, shape)
    expected = np.mean(x, axis=np_axis(dim, x.ndim), keepdims=keepdim)
    y = sn.mean(sn.tensor(x), dim, keepdim)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.numpy(), expected)
    check(lambda t: t.mean(dim, keepdim), x)


@given(reduce_args(), st.sampled_from(["correction=0", "correction=1", "unbiased=False", "unbiased=True", "default"]),
       seeds)
def test_var(args, spelling, seed):
    """correction=c divides by n - c; unbiased=True/False is correction 1/0; the default is 1."""
    shape, dim, keepdim = args
    kwargs = {
        "correction=0": {"correction": 0},
        "correction=1": {"correction": 1},
        "unbiased=False": {"unbiased": False},
        "unbiased=True": {"unbiased": True},
        "default": {},
    }[spelling]
    ddof = 0 if spelling in ("correction=0", "unbiased=False") else 1
    assume(reduced_count(shape, dim) > ddof)  # n - correction = 0 divides by zero
    x = normal(seed, shape)
    expected = np.var(x, axis=np_axis(dim, x.ndim), ddof=ddof, keepdims=keepdim)
    y = sn.var(sn.tensor(x), dim, keepdim=keepdim, **kwargs)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.numpy(), expected)
    check(lambda t: t.var(dim, keepdim=keepdim, **kwargs), x)


# --------------------------------------------------------------------------- amax, amin, max, min


@pytest.mark.parametrize("name, np_fn", [("amax", np.max), ("amin", np.min)])
@given(args=reduce_args(), seed=seeds)
def test_amax_amin(name, np_fn, args, seed):
    """Distinct values: the extreme is unique, so the function is smooth within eps."""
    shape, dim, keepdim = args
    x = distinct(seed, shape)
    op = getattr(sn, name)
    expected = np_fn(x, axis=np_axis(dim, x.ndim), keepdims=keepdim)
    y = op(sn.tensor(x), dim, keepdim)
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y.numpy(), expected)
    check(lambda t: op(t, dim, keepdim), x)


@pytest.mark.parametrize("name, np_fn, np_arg", [("max", np.max, np.argmax), ("min", np.min, np.argmin)])
@given(shape=shapes(), data=st.data(), keepdim=st.booleans(), seed=seeds)
def test_max_min_with_dim(name, np_fn, np_arg, shape, data, keepdim, seed):
    """max(x, dim) / min(x, dim): a (values, indices) pair; indices are NumPy's argmax/argmin."""
    n = max(len(shape), 1)
    dim = data.draw(st.integers(-n, n - 1), label="dim")
    x = distinct(seed, shape)
    axis = np_axis(dim, x.ndim)
    op = getattr(sn, name)
    values, indices = op(sn.tensor(x), dim, keepdim)
    expected = np_fn(x, axis=axis, keepdims=keepdim)
    assert values.shape == expected.shape
    np.testing.assert_array_equal(values.numpy(), expected)
    expected_idx = np_arg(x, axis=axis, keepdims=keepdim) if x.ndim else np.zeros((), dtype=np.int64)
    assert indices.shape == expected_idx.shape
    np.testing.assert_array_equal(indices.numpy(), expected_idx)
    # the method spelling and keyword arguments give the same pair
    method = getattr(sn.tensor(x), name)(dim=dim, keepdim=keepdim)
    np.testing.assert_array_equal(method.values.numpy(), expected)
    np.testing.assert_array_equal(method.indices.numpy(), expected_idx)
    check(lambda t: op(t, dim, keepdim).values, x)


@pytest.mark.parametrize("name, np_fn", [("max", np.max), ("min", np.min)])
@given(shape=shapes(), seed=seeds)
def test_max_min_without_dim(name, np_fn, shape, seed):
    """max(x) / min(x): the single extreme value as a 0-d tensor."""
    x = distinct(seed, shape)
    op = getattr(sn, name)
    y = op(sn.tensor(x))
    assert y.shape == ()
    assert y.item() == np_fn(x)
    check(op, x)


# --------------------------------------------------------------------------- logsumexp


@given(reduce_args(), seeds)
def test_logsumexp(args, seed):
    shape, dim, keepdim = args
    x = normal(seed, shape)
    expected = np_logsumexp(x, np_axis(dim, x.ndim), keepdim)
    y = sn.logsumexp(sn.tensor(x), dim, keepdim)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.numpy(), expected)
    check(lambda t: t.logsumexp(dim, keepdim), x)


# float32 near 1000 has an ulp of 6e-5, so y itself is only that exact, and the gradient
# exp(x - y) inherits that absolute error: its tolerance is wider than the value's.
@pytest.mark.parametrize("dtype, rtol, grad_tol", [(np.float64, 1e-12, 1e-12), (np.float32, 1e-6, 1e-4)])
@given(args=reduce_args(), seed=seeds)
def test_logsumexp_large_values_are_stable(dtype, rtol, grad_tol, args, seed):
    """|x| ~ 1000 overflows a naive exp; the result and gradient (softmax) must stay finite and exact."""
    shape, dim, keepdim = args
    rng = np.random.default_rng(seed)
    x = (rng.choice([-1000.0, 1000.0], shape) + rng.standard_normal(shape)).astype(dtype)
    axis = np_axis(dim, x.ndim)
    t = sn.tensor(x, requires_grad=True)
    y = sn.logsumexp(t, dim, keepdim)
    assert y.dtype == dtype
    assert np.isfinite(y.numpy()).all()
    expected = np_logsumexp(x, axis, keepdim)
    np.testing.assert_allclose(y.numpy(), expected, rtol=rtol)
    y.backward(sn.tensor(np.ones(y.shape, dtype=dtype)))
    softmax = np.exp(x.astype(np.float64) - np_logsumexp(x, axis, True))
    assert np.isfinite(t.grad.numpy()).all()
    np.testing.assert_allclose(t.grad.numpy(), softmax, rtol=grad_tol, atol=grad_tol)


# --------------------------------------------------------------------------- dtypes and errors

REDUCTIONS = {
    "sum": lambda t: t.sum(0),
    "sum_all": lambda t: t.sum(),
    "mean": lambda t: t.mean((0, 1), keepdim=True),
    "var": lambda t: t.var(-1),
    "var_biased": lambda t: t.var(correction=0),
    "amax": lambda t: t.amax(1),
    "amin": lambda t: t.amin(),
    "max_dim": lambda t: t.max(0).values,
    "min_dim": lambda t: t.min(-1, keepdim=True).values,
    "max": lambda t: t.max(),
    "min": lambda t: t.min(),
    "logsumexp": lambda t: t.logsumexp(1),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_float32_stays_float32(name):
    """No silent upcast: float32 in, float32 out, float32 gradient."""
    x = sn.tensor(distinct(0, (2, 3)).astype(np.float32), requires_grad=True)
    y = REDUCTIONS[name](x)
    assert y.dtype == np.float32
    y.backward(sn.tensor(np.ones(y.shape, dtype=np.float32)))
    assert x.grad.dtype == np.float32
    assert x.grad.shape == x.shape


@pytest.mark.parametrize("dim", [None, 0, (0, 1)])
def test_sum_leaf_grad_can_be_updated_in_place(dim):
    """x.grad is an ordinary array: an in-place update (e.g. gradient clipping) must work.

    Sum's backward broadcasts dy back to x's shape; a leaf's .grad must not be that
    read-only broadcast view.
    """
    x = sn.tensor(normal(0, (2, 3)), requires_grad=True)
    x.sum(dim).backward(sn.tensor(np.ones(np.sum(x.numpy(), axis=dim).shape)))
    with sn.no_grad():
        x.grad *= 0.5
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 0.5))


DIM_OPS = {
    "sum": lambda t, d: sn.sum(t, d),
    "mean": lambda t, d: sn.mean(t, d),
    "var": lambda t, d: sn.var(t, d),
    "amax": lambda t, d: sn.amax(t, d),
    "amin": lambda t, d: sn.amin(t, d),
    "max": lambda t, d: sn.max(t, d),
    "min": lambda t, d: sn.min(t, d),
    "logsumexp": lambda t, d: sn.logsumexp(t, d),
    "argmax": lambda t, d: sn.argmax(t, d),
    "argmin": lambda t, d: sn.argmin(t, d),
}


@pytest.mark.parametrize("name", sorted(DIM_OPS))
@given(shape=shapes(), data=st.data(), as_tuple=st.booleans())
def test_dim_out_of_range_raises_index_error(name, shape, data, as_tuple):
    """Valid dims are [-ndim, ndim) (with ndim counted as 1 for 0-d), as in PyTorch."""
    n = max(len(shape), 1)
    dim = data.draw(st.one_of(st.integers(n, n + 3), st.integers(-n - 3, -n - 1)), label="dim")
    if as_tuple and name in ("sum", "mean", "var", "amax", "amin", "logsumexp"):
        dim = (0, dim)  # a valid dim first: every entry is checked
    x = sn.tensor(normal(0, shape))
    with pytest.raises(IndexError, match=rf"^{name}: dimension out of range"):
        DIM_OPS[name](x, dim)


# --------------------------------------------------------------------------- malformed input (issue 8)


@pytest.mark.parametrize("correction", [1, 2])
def test_var_gradient_with_no_degrees_of_freedom_is_nan_like_pytorch(correction):
    """n == correction used to raise ZeroDivisionError in backward (a Python division by 0)."""
    x = sn.tensor(np.ones(correction), requires_grad=True)
    y = x.var(correction=correction)
    assert np.isnan(y.item())
    y.backward()
    assert np.isnan(x.grad.numpy()).all()


@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_of_an_empty_tensor_names_the_op(op):
    with pytest.raises(ValueError, match=f"^{op}: cannot reduce over an empty dimension"):
        getattr(sn, op)(sn.zeros(0))


def test_logsumexp_over_an_empty_dim_is_minus_inf_like_pytorch():
    """It used to raise NumPy's 'zero-size array to reduction operation maximum'."""
    assert sn.logsumexp(sn.zeros(0), 0).item() == -np.inf
    y = sn.logsumexp(sn.zeros(2, 0, 3), 1, keepdim=True)
    assert y.shape == (2, 1, 3) and (y.numpy() == -np.inf).all()
    assert sn.logsumexp(sn.zeros(2, 0), 0).shape == (0,)


def test_logsumexp_of_integers_is_float32():
    assert sn.logsumexp(sn.tensor([1, 2]), 0).dtype == np.float32


@pytest.mark.parametrize("op", ["sum", "mean", "var", "amax", "logsumexp"])
def test_a_float_dim_is_a_type_error_naming_the_op(op):
    with pytest.raises(TypeError, match=f"^{op}: dim must be an int"):
        getattr(sn, op)(sn.ones(2, 3), 1.0)  # used to be "'float' object is not iterable"


@pytest.mark.parametrize("op", ["sum", "mean", "var", "amax", "amin", "max", "min", "argmax", "argmin"])
def test_a_reduction_of_a_non_tensor_is_a_type_error_naming_the_op(op):
    with pytest.raises(TypeError, match=f"^{op}: input must be a Tensor"):
        getattr(sn, op)([1.0, 2.0])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint32, np.int8, np.bool_])
def test_integer_sums_are_int64_like_pytorch(dtype):
    """A uint8 sum was uint64 (NumPy's rule)."""
    y = sn.tensor(np.array([1, 1, 0], dtype=dtype)).sum()
    assert y.dtype == np.int64 and y.item() == 2


@pytest.mark.parametrize("op", ["sum", "mean", "var", "amax", "amin", "logsumexp"])
def test_an_empty_dim_list_reduces_every_dim_like_pytorch(op):
    """dim=() used to reduce nothing: sum(x, ()) returned x unchanged where PyTorch returns the total."""
    x = sn.tensor(np.arange(6.0).reshape(2, 3))
    assert getattr(sn, op)(x, ()).shape == ()
    assert getattr(sn, op)(x, [], keepdim=True).shape == (1, 1)
    np.testing.assert_allclose(getattr(sn, op)(x, ()).numpy(), getattr(sn, op)(x, (0, 1)).numpy())

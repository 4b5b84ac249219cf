"""linear, leaky_relu, softplus, softmax, log_softmax, dropout: values against NumPy, first and second
derivatives against finite differences, stability for huge logits, dtypes, errors, and PyTorch."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import away_from_zero, check, normal, seeds, shapes, uniform

import scratchnet as sn
import scratchnet.functional as F

# --------------------------------------------------------------------------- linear


@given(
    lead=shapes(min_dims=0, max_dims=2, max_side=2),
    features=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    with_bias=st.booleans(),
    seed=seeds,
)
def test_linear(lead, features, with_bias, seed):
    n_in, n_out = features
    x, w, b = normal(seed, lead + (n_in,)), normal(seed + 1, (n_out, n_in)), normal(seed + 2, (n_out,))
    expected = x @ w.T + (b if with_bias else 0)
    y = F.linear(sn.tensor(x), sn.tensor(w), sn.tensor(b) if with_bias else None)
    assert y.shape == lead + (n_out,)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-15)
    if with_bias:
        check(F.linear, x, w, b)
    else:
        check(F.linear, x, w)


@pytest.mark.parametrize("batch", [1, 5])
def test_linear_is_one_op_and_its_weight_grad_owns_c_order_memory(batch):
    x, w, b = normal(0, (batch, 3)), normal(1, (2, 3)), normal(2, (2,))
    sx, sw, sb = (sn.tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.linear(sx, sw, sb)
    assert y.creator.name == "linear" and y.creator.inputs[0] is sx  # one node, straight on the leaves
    (y * y).sum().backward()
    gy = 2 * (x @ w.T + b)
    np.testing.assert_allclose(sw.grad.numpy(), gy.T @ x, rtol=1e-12)
    np.testing.assert_allclose(sb.grad.numpy(), gy.sum(0), rtol=1e-12)
    np.testing.assert_allclose(sx.grad.numpy(), gy @ w, rtol=1e-12)
    for g in (sw.grad.data, sb.grad.data, sx.grad.data):  # .grad owns its memory, in C order
        assert g.flags.c_contiguous and g.flags.owndata


@pytest.mark.parametrize(
    "x_shape,w_shape,b_shape",
    [((2, 3), (4, 2), None), ((3,), (2, 4), None), ((), (2, 1), None), ((2, 3), (3,), None), ((2, 3), (4, 3), (3,))],
)
def test_linear_shape_errors(x_shape, w_shape, b_shape):
    b = None if b_shape is None else sn.zeros(b_shape)
    with pytest.raises(ValueError, match=r"linear:.*\(" + str(w_shape[0])):
        F.linear(sn.zeros(x_shape), sn.zeros(w_shape), b)


# --------------------------------------------------------------------------- leaky relu, softplus


@given(shape=shapes(), seed=seeds, slope=st.sampled_from([0.01, 0.2, 0.0, -0.5, 1.5]))
def test_leaky_relu(shape, seed, slope):
    x = away_from_zero(seed, shape)  # no kink within eps
    np.testing.assert_allclose(F.leaky_relu(sn.tensor(x), slope).numpy(), np.where(x > 0, x, slope * x), rtol=1e-15)
    check(lambda t: F.leaky_relu(t, slope), x)
    check(lambda t: F.leaky_relu(t * t - 1.0, negative_slope=slope) * t, x)  # nonzero second derivatives


def test_leaky_relu_default_slope_and_gradient_at_zero():
    x = sn.tensor([-2.0, 0.0, 3.0], requires_grad=True)
    y = F.leaky_relu(x)
    np.testing.assert_allclose(y.numpy(), [-0.02, 0.0, 3.0], rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.01, 0.01, 1.0], rtol=1e-6)  # slope at 0, as PyTorch


@pytest.mark.parametrize("size", [6, 40])  # 6x6: NumPy's scalar maximum; 40x40 (19,200 numbers): against an array
@pytest.mark.parametrize("layout", ["C", "channels_last"])
def test_relu_and_leaky_relu_are_exact_at_every_size_and_layout(size, layout):
    """Values and gradients equal the definitions exactly, with NaN, infinities and signed zeros."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, size, size)).astype(np.float32)
    x.reshape(-1)[:6] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45]
    if layout == "channels_last":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    g = rng.standard_normal(x.shape).astype(np.float32)
    for op, value, factor in [
        (F.relu, np.maximum(x, 0), ~(x <= 0)),  # gradient 1 at NaN, as PyTorch
        (lambda t: F.leaky_relu(t, 0.2), np.where(x > 0, x, np.float32(0.2) * x), np.where(x > 0, 1, np.float32(0.2))),
    ]:
        t = sn.tensor(x, requires_grad=True)
        y = op(t)
        (y * sn.tensor(g)).sum().backward()
        np.testing.assert_array_equal(y.numpy(), value)
        np.testing.assert_array_equal(np.signbit(y.numpy()), np.signbit(value))  # -0.0 and 0.0 too
        np.testing.assert_array_equal(t.grad.numpy(), g * factor.astype(np.float32))


def _softplus_values(seed, shape, beta, threshold):
    """beta * x spread over [-4, 4], kept 0.25 away from the threshold (where the formula switches)."""
    z = uniform(seed, shape, -4.0, 4.0)
    z = np.where(np.abs(z - threshold) < 0.25, z + 0.5, z)
    return z / beta


def np_softplus(x, beta, threshold):
    z = beta * x
    return np.where(z > threshold, x, np.log1p(np.exp(z)) / beta)


@given(
    shape=shapes(),
    seed=seeds,
    beta=st.sampled_from([1.0, 0.5, 2.0]),
    threshold=st.sampled_from([20.0, 1.0, -0.5]),
)
def test_softplus(shape, seed, beta, threshold):
    x = _softplus_values(seed, shape, beta, threshold)
    np.testing.assert_allclose(F.softplus(sn.tensor(x), beta, threshold).numpy(), np_softplus(x, beta, threshold),
                               rtol=1e-13)
    check(lambda t: F.softplus(t, beta=beta, threshold=threshold), x)


def test_softplus_is_stable_and_exact_for_huge_inputs():
    x = sn.tensor([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=sn.float64, requires_grad=True)
    for threshold in (20.0, 1e4):  # linear regime, and the log1p formula itself
        y = F.softplus(x, threshold=threshold)
        np.testing.assert_allclose(y.numpy(), [0.0, np.exp(-50.0), np.log(2.0), 50.0, 1000.0], rtol=1e-15)
        (g,) = sn.grad(y.sum(), x, create_graph=True)
        np.testing.assert_allclose(g.numpy(), [0.0, np.exp(-50.0), 0.5, 1.0, 1.0], rtol=1e-15)
        (gg,) = sn.grad(g.sum(), x)
        assert np.isfinite(gg.numpy()).all()
    y = F.softplus(x, beta=-1.0)  # beta < 0: -log(1 + e**-x)
    np.testing.assert_allclose(y.numpy(), [-1000.0, -50.0, -np.log(2.0), -np.exp(-50.0), 0.0], rtol=1e-15)


# --------------------------------------------------------------------------- softmax, log-softmax


@st.composite
def softmax_args(draw):
    shape = draw(shapes(max_dims=3))
    n = len(shape)
    dim = draw(st.integers(-max(n, 1), max(n, 1) - 1))
    return shape, dim


def np_log_softmax(x, dim):
    axis = dim if x.ndim else None
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


@given(args=softmax_args(), seed=seeds, scale=st.sampled_from([1.0, 5.0]))
def test_softmax(args, seed, scale):
    shape, dim = args
    x = normal(seed, shape, scale)
    y = F.softmax(sn.tensor(x), dim)
    np.testing.assert_allclose(y.numpy(), np.exp(np_log_softmax(x, dim)), rtol=1e-12)
    np.testing.assert_allclose(y.numpy().sum(axis=dim if x.ndim else None), 1.0, rtol=1e-12)
    check(lambda t: F.softmax(t, dim), x)


@given(args=softmax_args(), seed=seeds, scale=st.sampled_from([1.0, 5.0]))
def test_log_softmax(args, seed, scale):
    shape, dim = args
    x = normal(seed, shape, scale)
    np.testing.assert_allclose(F.log_softmax(sn.tensor(x), dim).numpy(), np_log_softmax(x, dim), rtol=1e-12,
                               atol=1e-14)
    check(lambda t: F.log_softmax(t, dim=dim), x)


def test_softmax_and_log_softmax_are_exact_for_logits_of_magnitude_1000():
    logits = np.array([[1000.0, 0.0, -1000.0], [-1000.0, -999.0, -1000.0]])
    x = sn.tensor(logits, requires_grad=True)
    log_p = F.log_softmax(x, 1)
    e = np.exp(-1.0)
    lse = np.log1p(2 * e)  # row 2: max -999, shifted logits (-1, 0, -1)
    expected = np.array([[0.0, -1000.0, -2000.0], [-1 - lse, -lse, -1 - lse]])
    np.testing.assert_allclose(log_p.numpy(), expected, rtol=1e-14)
    w = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])
    (g,) = sn.grad((log_p * sn.tensor(w)).sum(), x)
    p = np.exp(expected)
    np.testing.assert_allclose(g.numpy(), w - p * w.sum(axis=1, keepdims=True), rtol=1e-14)
    y = F.softmax(x, -1)
    np.testing.assert_allclose(y.numpy(), p, rtol=1e-14)
    (g,) = sn.grad((y * sn.tensor(w)).sum(), x)
    np.testing.assert_allclose(g.numpy(), p * (w - (p * w).sum(axis=1, keepdims=True)), rtol=1e-14, atol=1e-300)
    assert np.isfinite(g.numpy()).all()


def test_softmax_needs_a_valid_dim():
    with pytest.raises(TypeError, match="softmax: dim"):
        F.softmax(sn.zeros(2, 3), None)
    with pytest.raises(IndexError, match="log_softmax"):
        F.log_softmax(sn.zeros(2, 3), 2)
    with pytest.raises(TypeError, match="softmax.*floating"):
        F.softmax(sn.tensor([1, 2]), 0)


def test_softmax_dtype_argument_casts_first():
    y = F.softmax(sn.tensor([1.0, 2.0]), 0, dtype=sn.float64)
    assert y.dtype == np.float64


# --------------------------------------------------------------------------- dropout


def seeded_dropout(p, seed=0):
    """dropout with the same mask at every call: seed right before drawing."""
    return lambda x: (sn.manual_seed(seed), F.dropout(x, p))[1]


@given(shape=shapes(), seed=seeds, p=st.sampled_from([0.2, 0.5, 0.9]))
def test_dropout(shape, seed, p):
    x = away_from_zero(seed, shape)
    y = seeded_dropout(p, seed)(sn.tensor(x)).numpy()
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / (1 - p), rtol=1e-15)
    np.testing.assert_array_equal(seeded_dropout(p, seed)(sn.tensor(x)).numpy(), y)  # reproducible
    check(seeded_dropout(p, seed), x)
    check(lambda t: seeded_dropout(p, seed)(t * t), x)


def test_dropout_mask_statistics_and_scale():
    sn.manual_seed(123)
    x = sn.ones(200, 100)
    for p in (0.1, 0.5, 0.8):
        y = F.dropout(x, p).numpy()
        assert set(np.unique(y)) <= {0.0, np.float32(1) / np.float32(1 - p)}
        assert abs((y != 0).mean() - (1 - p)) < 0.01  # 20,000 draws: about 5 standard deviations
        assert abs(y.mean() - 1.0) < 0.03  # inverted dropout keeps the expectation


def test_dropout_masks_differ_between_calls_and_follow_manual_seed():
    x = sn.ones(1000)
    sn.manual_seed(7)
    a, b = F.dropout(x).numpy(), F.dropout(x).numpy()
    assert (a != b).any()
    sn.manual_seed(7)
    np.testing.assert_array_equal(F.dropout(x).numpy(), a)


def test_dropout_identity_cases_and_p_one():
    x = sn.tensor([1.0, -2.0, 3.0], requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    y = F.dropout(x, 1.0)
    np.testing.assert_array_equal(y.numpy(), [0.0, 0.0, 0.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_dropout_probability_out_of_range(p):
    with pytest.raises(ValueError, match=r"dropout.*between 0 and 1"):
        F.dropout(sn.ones(3), p)


def test_inplace_is_refused():
    with pytest.raises(ValueError, match="leaky_relu: inplace"):
        F.leaky_relu(sn.ones(3), 0.1, True)
    with pytest.raises(ValueError, match="dropout: inplace"):
        F.dropout(sn.ones(3), inplace=True)


# --------------------------------------------------------------------------- third order


def squared_norm_gradient(fn):
    """x -> d/dx sum(fn(x)**2), recorded: checking it to second order checks fn to third order."""
    def g(x):
        y = fn(x)
        return sn.grad((y * y).sum(), x, create_graph=True)[0]
    return g


THIRD_ORDER = {
    "linear": lambda x: F.linear(x * x, sn.tensor(normal(0, (2, 3))), sn.tensor(normal(1, (2,)))),
    "leaky_relu": lambda x: F.leaky_relu(x * x - 1.0, 0.2) * x,
    "softplus": lambda x: F.softplus(x, 2.0, 3.0),  # beta x is at least 0.4 away from the threshold
    "softmax": lambda x: F.softmax(x, 1),
    "log_softmax": lambda x: F.log_softmax(x, 0),
    "dropout": lambda x: (sn.manual_seed(3), F.dropout(x * x, 0.4))[1],
}


@pytest.mark.parametrize("name", sorted(THIRD_ORDER))
def test_third_derivatives(name):
    x = np.array([[0.5, -1.4, 0.3], [1.3, -0.6, 1.7]])  # x*x - 1 is at least 0.64 away from 0, the kink
    check(squared_norm_gradient(THIRD_ORDER[name]), x)


# --------------------------------------------------------------------------- dtypes

FLOAT32_CASES = {
    "linear": lambda x: F.linear(x, sn.ones(2, 3), sn.ones(2)),
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2),
    "softplus": lambda x: F.softplus(x, beta=2.0, threshold=1.0),
    "softmax": lambda x: F.softmax(x, 1),
    "log_softmax": lambda x: F.log_softmax(x, 0),
    "dropout": lambda x: F.dropout(x, 0.3),
}


@pytest.mark.parametrize("name", sorted(FLOAT32_CASES))
def test_float32_stays_float32_forward_backward_and_double_backward(name):
    fn = FLOAT32_CASES[name]
    x = sn.tensor([[0.5, -1.5, 2.5], [1.0, -0.25, 0.75]], requires_grad=True)
    sn.manual_seed(0)
    y = fn(x)
    assert y.dtype == np.float32
    (g,) = sn.grad((y * y).sum(), x, create_graph=True)
    assert g.dtype == np.float32
    (gg,) = sn.grad(g.sum(), x, allow_unused=True)
    assert gg is None or gg.dtype == np.float32


# --------------------------------------------------------------------------- PyTorch conformance

_R = np.random.default_rng(5)
_X = _R.standard_normal((3, 4))
_X3 = _R.standard_normal((2, 3, 4)) * 3
_W = _R.standard_normal((2, 4))
_B = _R.standard_normal(2)
_Z = np.array([[-1.5, 0.0, 2.0, 0.3], [0.0, -0.2, 25.0, -30.0]])  # exact zeros: the tie rules
_BIG = np.array([[1000.0, 0.0, -1000.0, 3.0], [-1000.0, -999.0, -1000.0, 500.0]])

CONFORMANCE = {
    "linear": ([_X, _W, _B], lambda F, x, w, b: F.linear(x, w, b)),
    "linear_no_bias_3d": ([_X3, _W], lambda F, x, w: F.linear(x, w)),
    "linear_1d": ([_X[0], _W, _B], lambda F, x, w, b: F.linear(x, w, b)),
    "leaky_relu": ([_X3], lambda F, x: F.leaky_relu(x * x - 1, 0.2) * x),
    "leaky_relu_at_zero": ([_Z], lambda F, x: F.leaky_relu(x)),
    "softplus": ([_X3], lambda F, x: F.softplus(x)),
    "softplus_beta_threshold": ([_X3], lambda F, x: F.softplus(x, beta=2.0, threshold=3.0)),
    "softplus_large": ([_Z], lambda F, x: F.softplus(x, 0.5, 10.0)),
    "softmax": ([_X3], lambda F, x: F.softmax(x, dim=1)),
    "softmax_big": ([_BIG], lambda F, x: F.softmax(x, -1)),
    "log_softmax": ([_X3], lambda F, x: F.log_softmax(x, dim=-1)),
    "log_softmax_big": ([_BIG], lambda F, x: F.log_softmax(x, 0)),
    "dropout_eval": ([_X], lambda F, x: F.dropout(x * 2, 0.5, training=False)),
    "dropout_p0": ([_X], lambda F, x: F.dropout(x * 2, 0.0)),
    "dropout_p1": ([_X], lambda F, x: F.dropout(x * 2, 1.0)),
}


@pytest.mark.parametrize("name", sorted(CONFORMANCE))
def test_matches_pytorch(name):
    pytest.importorskip("torch")
    from torch_reference import assert_matches_torch

    arrays, fn = CONFORMANCE[name]
    assert_matches_torch(fn, arrays)


def test_dropout_scales_like_pytorch():
    """The masks come from different generators; the kept values and their gradients must be scaled alike."""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).uniform(1.0, 2.0, (50, 40))
    for p in (0.25, 0.6):
        ours_x = sn.tensor(x, requires_grad=True)
        ours = F.dropout(ours_x, p)
        (ours_g,) = sn.grad(ours.sum(), ours_x)
        theirs_x = torch.tensor(x, requires_grad=True)
        theirs = torch.nn.functional.dropout(theirs_x, p)
        (theirs_g,) = torch.autograd.grad(theirs.sum(), theirs_x)
        for y, g in ((ours.numpy(), ours_g.numpy()), (theirs.detach().numpy(), theirs_g.numpy())):
            kept = y != 0
            np.testing.assert_array_equal(y[kept], x[kept] * (1 / (1 - p)))
            np.testing.assert_array_equal(g, kept * (1 / (1 - p)))


# --------------------------------------------------------------------------- malformed input (issue 8)


@pytest.mark.parametrize("op", [F.softplus, F.leaky_relu])
def test_softplus_and_leaky_relu_refuse_integer_tensors_like_pytorch(op):
    """softplus of int64 [1, 2] used to return [1, 2] (the float result cast back to int): silently wrong."""
    with pytest.raises(TypeError, match=f"^{op.__name__}: needs a floating point tensor"):
        op(sn.tensor([1, 2]))


def test_activation_parameters_must_be_numbers():
    with pytest.raises(TypeError, match="^leaky_relu: negative_slope must be a number"):
        F.leaky_relu(sn.ones(2), "a")
    with pytest.raises(TypeError, match="^softplus: beta must be a number"):
        F.softplus(sn.ones(2), beta=None)


@pytest.mark.parametrize("op", [F.softmax, F.log_softmax])
def test_softmax_of_an_empty_tensor_is_empty_like_pytorch(op):
    """It used to raise NumPy's 'zero-size array to reduction operation maximum'."""
    for shape, dim in (((0,), 0), ((2, 0), 1), ((0, 3), 1), ((0, 3), 0)):
        x = sn.zeros(*shape, requires_grad=True)
        y = op(x, dim)
        assert y.shape == shape and y.dtype == np.float32
        y.sum().backward()
        assert x.grad.shape == shape


@pytest.mark.parametrize(
    "op",
    [F.softmax, F.log_softmax, F.dropout, F.leaky_relu, F.softplus, F.linear],
    ids=lambda f: f.__name__,
)
def test_functional_on_a_non_tensor_is_a_type_error_naming_the_op(op):
    args = {F.softmax: (0,), F.log_softmax: (0,), F.linear: (sn.ones(1, 2),)}.get(op, ())
    with pytest.raises(TypeError, match=f"^{op.__name__}: input must be a Tensor"):
        op(np.ones(2), *args)  # used to be AttributeError ('memoryview' object has no attribute ...)


def test_linear_weight_and_bias_must_be_tensors():
    with pytest.raises(TypeError, match="^linear: weight must be a Tensor"):
        F.linear(sn.ones(2), np.ones((1, 2)))
    with pytest.raises(TypeError, match="^linear: bias must be a Tensor"):
        F.linear(sn.ones(2), sn.ones(1, 2), np.ones(1))


def test_leaky_relu_with_a_slope_beyond_the_dtype_keeps_positive_values():
    """A float16 slope of 65520 overflows to inf, and 0 * inf made leaky_relu(inf) and its gradient NaN."""
    x = sn.tensor(np.array([np.inf, 2.0, -1.0], dtype=np.float16), requires_grad=True)
    y = F.leaky_relu(x, 65520.0)
    assert y.numpy().tolist() == [np.inf, 2.0, -np.inf]
    assert F.leaky_relu(sn.tensor(np.zeros(1, np.float16)), 65520.0).numpy().tolist() == [0.0]  # not 0 * inf
    (y * sn.tensor(np.array([1, 1, 0], dtype=np.float16))).sum().backward()
    assert x.grad.numpy()[:2].tolist() == [1.0, 1.0]


def test_softplus_with_a_beta_beyond_the_dtype_matches_pytorch():
    """beta = 65520 overflows float16: z = 0 * inf made softplus(0) NaN (PyTorch: log(2) / 65520)."""
    x = sn.tensor(np.zeros(2, dtype=np.float16), requires_grad=True)
    y = F.softplus(x, beta=65520.0)
    assert y.dtype == np.float16 and np.allclose(y.numpy(), np.log(2) / 65520, rtol=1e-2)  # a float16 subnormal
    y.sum().backward()
    assert x.grad.dtype == np.float16 and x.grad.numpy().tolist() == [0.5, 0.5]

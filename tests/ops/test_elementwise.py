"""Elementwise ops: values against NumPy, first and second derivatives against finite differences."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import away_from_zero, broadcast_pairs, check, distinct, normal, seeds, shapes, uniform

import scratchnet as sn

# --------------------------------------------------------------------------- binary arithmetic, broadcasting

BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "add_fn": (sn.add, np.add),
    "sub_fn": (sn.sub, np.subtract),
    "mul_fn": (sn.mul, np.multiply),
    "div_fn": (sn.div, np.divide),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(pair=broadcast_pairs(), seed=seeds)
def test_binary_broadcast(name, pair, seed):
    op, ref = BINARY[name]
    a = normal(seed, pair[0])
    b = away_from_zero(seed + 1, pair[1], 0.5, 2.0)  # a divisor far from 0
    out = op(sn.tensor(a), sn.tensor(b))
    np.testing.assert_allclose(out.numpy(), ref(a, b), rtol=1e-12)
    check(op, a, b)


@given(pair=broadcast_pairs(), seed=seeds)
def test_pow_tensor_tensor(pair, seed):
    a = uniform(seed, pair[0], 0.5, 2.0)  # a positive base: log(a) is defined
    b = normal(seed + 1, pair[1])
    np.testing.assert_allclose((sn.tensor(a) ** sn.tensor(b)).numpy(), a**b, rtol=1e-12)
    check(lambda x, y: x**y, a, b)
    check(sn.pow, a, b)


@given(shape=shapes(), seed=seeds, exponent=st.sampled_from([2, 3, -1, 0.5, -1.5, 1.0]))
def test_pow_scalar_exponent(shape, seed, exponent):
    a = uniform(seed, shape, 0.5, 2.0)
    check(lambda x: x**exponent, a)


@given(shape=shapes(), seed=seeds, base=st.sampled_from([2.0, 0.5, np.e]))
def test_pow_scalar_base(shape, seed, base):
    a = normal(seed, shape)
    np.testing.assert_allclose((base ** sn.tensor(a)).numpy(), base**a, rtol=1e-12)
    check(lambda x: base**x, a)


@given(shape=shapes(), seed=seeds, c=st.sampled_from([-2.5, 0.5, 3.0]))
def test_scalar_on_either_side(shape, seed, c):
    """Python numbers work on both sides of every operator."""
    a = away_from_zero(seed, shape, 0.5, 2.0)
    x = sn.tensor(a)
    for got, want in [
        (x + c, a + c), (c + x, c + a), (x - c, a - c), (c - x, c - a),
        (x * c, a * c), (c * x, c * a), (x / c, a / c), (c / x, c / a), (-x, -a),
    ]:
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    check(lambda t: (c - t) * (t + c) / (c / t) - t / c, a)


def test_numpy_array_on_the_left_defers_to_tensor():
    a = np.array([1.0, 2.0])
    x = sn.tensor([3.0, 4.0], dtype=sn.float64, requires_grad=True)
    y = a * x + a - x
    assert isinstance(y, sn.Tensor)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), a - 1)


# --------------------------------------------------------------------------- unary math

UNARY = {
    # name: (scratchnet fn, numpy fn, value maker)
    "neg": (lambda x: -x, np.negative, normal),
    "exp": (sn.exp, np.exp, normal),
    "log": (sn.log, np.log, lambda s, sh: uniform(s, sh, 0.3, 3.0)),
    "sqrt": (sn.sqrt, np.sqrt, lambda s, sh: uniform(s, sh, 0.3, 3.0)),
    "abs": (sn.abs, np.abs, away_from_zero),
    "tanh": (sn.tanh, np.tanh, normal),
    "sigmoid": (sn.sigmoid, lambda a: 1 / (1 + np.exp(-a)), normal),
    "relu": (sn.relu, lambda a: np.maximum(a, 0), away_from_zero),
    "method_exp": (lambda x: x.exp(), np.exp, normal),
    "builtin_abs": (lambda x: abs(x), np.abs, away_from_zero),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(shape=shapes(), seed=seeds)
def test_unary(name, shape, seed):
    op, ref, values = UNARY[name]
    a = values(seed, shape)
    np.testing.assert_allclose(op(sn.tensor(a)).numpy(), ref(a), rtol=1e-12)
    check(op, a)


def test_sigmoid_is_stable_for_huge_inputs():
    x = sn.tensor([-1000.0, -100.0, 0.0, 100.0, 1000.0], requires_grad=True)
    y = sn.sigmoid(x)
    assert np.isfinite(y.numpy()).all()
    np.testing.assert_array_equal(y.numpy(), np.array([0.0, np.exp(-100.0), 0.5, 1.0, 1.0], dtype=np.float32))
    y.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


# --------------------------------------------------------------------------- clamp, maximum, minimum, where


@given(
    shape=shapes(),
    seed=seeds,
    bounds=st.sampled_from([(-0.42, 0.57), (None, 0.33), (-0.27, None), (0.13, 0.13)]),
)
def test_clamp(shape, seed, bounds):
    lo, hi = bounds
    # values on a grid offset from the bounds: no value within eps of a kink
    a = (np.random.default_rng(seed).integers(-10, 10, shape) + 0.5) * 0.1
    np.testing.assert_allclose(sn.clamp(sn.tensor(a), lo, hi).numpy(), np.clip(a, lo, hi))
    check(lambda x: sn.clamp(x, min=lo, max=hi), a)
    check(lambda x: x.clamp(lo, hi) * x, a)


def test_clamp_needs_a_bound():
    with pytest.raises(ValueError, match="clamp"):
        sn.clamp(sn.tensor([1.0]))


@pytest.mark.parametrize("op,ref", [(sn.maximum, np.maximum), (sn.minimum, np.minimum)])
@given(pair=broadcast_pairs(), seed=seeds)
def test_maximum_minimum(op, ref, pair, seed):
    both = distinct(seed, (2,) + np.broadcast_shapes(*pair))  # no ties anywhere
    a = both[0][tuple(slice(0, n) for n in (1,) * (len(both[0].shape) - len(pair[0])) + pair[0])]
    a = a.reshape(pair[0])
    b = both[1][tuple(slice(0, n) for n in (1,) * (len(both[1].shape) - len(pair[1])) + pair[1])]
    b = b.reshape(pair[1])
    np.testing.assert_allclose(op(sn.tensor(a), sn.tensor(b)).numpy(), ref(a, b))
    check(op, a, b)


def test_maximum_splits_the_gradient_at_ties_like_pytorch():
    a = sn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = sn.tensor([1.0, 5.0, 0.0], requires_grad=True)
    sn.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(b.grad.numpy(), [0.5, 1.0, 0.0])


@given(pair=broadcast_pairs(), seed=seeds, cshape_full=st.booleans())
def test_where(pair, seed, cshape_full):
    a, b = normal(seed, pair[0]), normal(seed + 1, pair[1])
    full = np.broadcast_shapes(*pair)
    cond = np.random.default_rng(seed + 2).random(full if cshape_full else full[len(full) // 2:]) > 0.5
    np.testing.assert_allclose(sn.where(sn.tensor(cond), sn.tensor(a), sn.tensor(b)).numpy(), np.where(cond, a, b))
    check(lambda x, y: sn.where(cond, x, y), a, b)
    check(lambda x: sn.where(cond, x * x, 0.0), a)


def test_where_needs_a_boolean_condition():
    with pytest.raises(TypeError, match="where"):
        sn.where(sn.tensor([1.0]), sn.tensor([1.0]), 0.0)


# --------------------------------------------------------------------------- errors, dtypes, comparisons


def test_broadcast_mismatch_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"add.*\(2, 3\).*\(4,\)"):
        sn.zeros(2, 3) + sn.zeros(4)
    with pytest.raises(ValueError, match=r"mul.*\(3,\).*\(2,\)"):
        sn.mul(sn.zeros(3), sn.zeros(2))


@pytest.mark.parametrize("op", [lambda x: x * 2 + 1, lambda x: 1 / (x * x + 1), sn.exp, sn.tanh, sn.sigmoid,
                                lambda x: x**2, lambda x: 2.0**x, lambda x: sn.maximum(x, 0.5), sn.sqrt])
def test_float32_stays_float32_through_forward_and_backward(op):
    x = sn.tensor([0.5, 1.5, 2.5], requires_grad=True)
    y = op(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32
    (g,) = sn.grad(op(x).sum(), x, create_graph=True)
    assert g.dtype == np.float32


def test_mixed_precision_gradients_come_back_in_each_inputs_dtype():
    a = sn.tensor([1.0, 2.0], requires_grad=True)  # float32
    b = sn.tensor(np.array([3.0, 4.0]), requires_grad=True)  # float64
    y = a * b
    assert y.dtype == np.float64
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_allclose(a.grad.numpy(), [3.0, 4.0])


def test_comparisons_are_not_differentiable():
    x = sn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for mask in (x > 1.5, x >= 2, x < 2, x <= 2, x == 2, x != 2, x > sn.tensor([0.0, 5.0, 1.0])):
        assert mask.dtype == bool
        assert not mask.requires_grad and mask.grad_fn is None
    np.testing.assert_array_equal((x > 1.5).numpy(), [False, True, True])


# --------------------------------------------------------------------------- dtypes and bad operands (issue 8)


@pytest.mark.parametrize("int_dtype", [np.int64, np.int32, np.uint8, np.bool_])
@pytest.mark.parametrize("float_dtype", [np.float32, np.float64])
def test_integer_meets_float_in_the_float_dtype_like_pytorch(int_dtype, float_dtype):
    """int64 tensor + float32 tensor used to give float64 (NumPy's rule): a float64 leak into float32 models."""
    i = sn.tensor(np.array([1, 0, 1], dtype=int_dtype))
    f = sn.tensor(np.array([0.5, 1.5, 2.5], dtype=float_dtype), requires_grad=True)
    for y in (i + f, f + i, i * f, f - i, f / (i + 1), sn.maximum(i, f), i @ f):
        assert y.dtype == float_dtype
    (f * i).sum().backward()
    assert f.grad.dtype == float_dtype and f.grad.numpy().tolist() == [1.0, 0.0, 1.0]


def test_binary_op_without_a_tensor_is_a_type_error_naming_the_op():
    for op, name in ((sn.add, "add"), (sn.mul, "mul"), (sn.maximum, "maximum"), (sn.matmul, "matmul")):
        with pytest.raises(TypeError, match=f"^{name}: expected a Tensor operand"):
            op(1.0, [2.0])  # used to be AttributeError: 'list' object has no attribute 'data'


@pytest.mark.parametrize("op", [sn.exp, sn.log, sn.sqrt, sn.tanh, sn.sigmoid])
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_float_functions_of_integers_give_float32_like_pytorch(op, dtype):
    """exp(bool) used to give float16 (2.719) and exp(int64) float64."""
    x = np.array([1, 0, 1], dtype=dtype)
    y = op(sn.tensor(x))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), op(sn.tensor(x.astype(np.float32))).numpy())


@pytest.mark.parametrize("op", [sn.exp, sn.log, sn.sqrt, sn.abs, sn.neg, sn.tanh, sn.sigmoid, sn.relu])
@pytest.mark.parametrize("bad", [[1.0, 2.0], np.ones(2), 1.5, "a"])
def test_unary_op_on_a_non_tensor_is_a_type_error_naming_the_op(op, bad):
    with pytest.raises(TypeError, match=f"^{op.__name__}: input must be a Tensor"):
        op(bad)  # used to be AttributeError ('list' object has no attribute 'data')


def test_where_with_two_numbers_like_pytorch():
    cond = sn.tensor([True, False])
    y = sn.where(cond, 1.0, 2.0)  # used to be AttributeError
    assert y.dtype == np.float32 and y.numpy().tolist() == [1.0, 2.0]
    assert sn.where(cond, 1, 2).dtype == np.int64 and sn.where(cond, 1, 2.5).dtype == np.float32
    with pytest.raises(TypeError, match="^where: condition must be boolean"):
        sn.where(sn.tensor([1, 0]), 1.0, 2.0)


def test_clamp_with_tensor_bounds():
    x = sn.tensor([-2.0, 0.5, 3.0], requires_grad=True)
    y = sn.clamp(x, sn.tensor(0.0), sn.tensor([1.0, 1.0, 2.0]))  # used to be a TypeError about __array_ufunc__
    assert y.numpy().tolist() == [0.0, 0.5, 2.0]
    y.sum().backward()
    assert x.grad.numpy().tolist() == [0.0, 1.0, 0.0]
    with pytest.raises(TypeError, match="^clamp: a min bound that requires grad"):
        sn.clamp(x, sn.tensor(0.0, requires_grad=True))


def test_true_division_of_integers_gives_float32_like_pytorch():
    """int64 / int64 gave float64 (NumPy's rule)."""
    for y in (sn.tensor([1, 2]) / sn.tensor([2, 4]), sn.tensor([1, 2]) / 2, 1 / sn.tensor([True, True])):
        assert y.dtype == np.float32
    assert (sn.tensor([1, 2]) / sn.tensor([2, 4])).numpy().tolist() == [0.5, 0.5]


def test_a_python_int_outside_the_tensors_integer_dtype_is_a_value_error():
    """A uint8 tensor with -1 leaked NumPy 2's OverflowError."""
    x = sn.tensor(np.array([3], dtype=np.uint8))
    for op in (sn.sub, sn.maximum, sn.div):
        with pytest.raises(ValueError, match=f"^{op.__name__}: -1 does not fit the tensor's dtype uint8"):
            op(x, -1)
    assert (x + 1).numpy().tolist() == [4]


def test_abs_and_relu_gradients_at_nan_match_pytorch():
    """abs gave NaN (sign(NaN)) where PyTorch gives 0; relu gave 0 where PyTorch gives 1."""
    x = sn.tensor([float("nan"), -1.0, 0.0, 2.0], requires_grad=True)
    sn.abs(x).sum().backward()
    assert x.grad.numpy().tolist() == [0.0, -1.0, 0.0, 1.0]
    x.grad = None
    sn.relu(x).sum().backward()
    assert x.grad.numpy().tolist() == [1.0, 0.0, 0.0, 1.0]

"""Fuzzing the elementwise ops: any dtype, shape (empty and 0-d too), memory layout and special value.

Results must equal NumPy's on the same values, bit for bit, with PyTorch's dtype rules (integers meeting
floats take the float dtype, float functions of integers are float32); gradients must equal PyTorch's.
"""

import warnings

import numpy as np
import pytest
from fuzzing import (
    FLOAT_DTYPES,
    FUZZ,
    NUMERIC_DTYPES,
    arrays,
    as_tensor,
    attempt,
    float_arrays,
    junk,
    layouts,
    numeric_arrays,
    same,
    shapes,
)
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import scratchnet as sn
import scratchnet.functional as F

torch = pytest.importorskip("torch")

FLOAT_FUNCTIONS = {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "tanh": np.tanh}
UNARY = {**FLOAT_FUNCTIONS, "abs": np.abs, "neg": np.negative, "relu": lambda a: np.maximum(a, 0)}


def quiet(fn, *args):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args)


def sigmoid_reference(a):
    x = a.astype(np.float64)
    with np.errstate(all="ignore"):
        y = np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))
    return y.astype(a.dtype)


@pytest.mark.parametrize("name", sorted(UNARY) + ["sigmoid"])
@FUZZ
@given(a=numeric_arrays(max_side=3), layout=layouts)
def test_unary_ops_equal_numpy(name, a, layout):
    out = attempt(name, quiet, getattr(sn, name), as_tensor(a, layout))
    if name == "neg" and a.dtype == np.bool_:  # NumPy and PyTorch refuse to negate booleans
        assert isinstance(out.error, TypeError)
        return
    assert out.ok, out
    x = a.astype(np.float32) if (name in FLOAT_FUNCTIONS or name == "sigmoid") and a.dtype.kind in "biu" else a
    if name == "sigmoid":
        rtol = {np.float16: 1e-3, np.float32: 1e-6, np.float64: 1e-14}[x.dtype.type]
        same(out.value, sigmoid_reference(x), exact=False, rtol=rtol, atol=0)
    else:
        same(out.value, quiet(UNARY[name], x))


@pytest.mark.parametrize("name", sorted(UNARY) + ["sigmoid"])
@FUZZ
@given(a=float_arrays(max_side=3, dtypes=[np.float32, np.float64]), layout=layouts)
def test_unary_gradients_equal_pytorch(name, a, layout):
    x = as_tensor(a, layout).requires_grad_()
    out = attempt(name, lambda: quiet(lambda: getattr(sn, name)(x).sum().backward()))
    assert out.ok, out
    t = torch.tensor(a, requires_grad=True)
    getattr(torch, name)(t).sum().backward()
    # tanh' = 1 - y^2 and sigmoid' = y (1 - y) cancel where y is near 1: a forward that differs from PyTorch's by
    # one ulp (NumPy's float32 tanh(8.5) is 1 - 2**-23, PyTorch's the correctly rounded 1 - 2**-24) moves the
    # gradient by about eps, i.e. by 100% of a gradient of size eps. So those two get an absolute slack of a few
    # eps, the size of that one-ulp effect; every other gradient is compared relatively only.
    atol = 4 * np.finfo(a.dtype).eps if name in ("tanh", "sigmoid") else 0
    same(x.grad, t.grad.numpy(), exact=False, rtol=1e-5 if a.dtype == np.float32 else 1e-12, atol=atol)


BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "pow": np.power,
          "maximum": np.maximum, "minimum": np.minimum}


def promote(a, b, name):
    """The operands as scratchnet computes with them: PyTorch's int-meets-float and true-division rules."""
    if a.dtype.kind == "f" and b.dtype.kind in "biu":
        b = b.astype(a.dtype)
    elif b.dtype.kind == "f" and a.dtype.kind in "biu":
        a = a.astype(b.dtype)
    elif name == "div" and a.dtype.kind in "biu" and b.dtype.kind in "biu":
        a, b = a.astype(np.float32), b.astype(np.float32)
    return a, b


@st.composite
def operand_pairs(draw):
    """Two arrays whose shapes broadcast (mostly) or do not, of independent dtypes."""
    if draw(st.booleans()):
        sa, sb = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, min_side=0, max_side=3)).input_shapes
    else:
        sa, sb = draw(shapes(max_dims=3, max_side=3)), draw(shapes(max_dims=3, max_side=3))
    a = draw(arrays(draw(st.sampled_from(NUMERIC_DTYPES)), sa))
    b = draw(arrays(draw(st.sampled_from(NUMERIC_DTYPES)), sb))
    return a, b


def broadcasts(a, b):
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("name", sorted(BINARY))
@FUZZ
@given(pair=operand_pairs(), layout_a=layouts, layout_b=layouts)
def test_binary_ops_equal_numpy(name, pair, layout_a, layout_b):
    a, b = pair
    out = attempt(name, quiet, getattr(sn, name), as_tensor(a, layout_a), as_tensor(b, layout_b))
    if not broadcasts(a, b):
        assert not out.ok, out  # ValueError, or TypeError where NumPy refuses the dtypes first (bool - bool)
        return
    x, y = promote(a, b, name)
    try:
        expected = quiet(BINARY[name], x, y)
    except (TypeError, ValueError):  # boolean subtract, integers to negative powers: NumPy refuses, so must we
        assert not out.ok, f"{name} gave {out.value!r}"
        return
    assert out.ok, out
    same(out.value, expected)


scalars = st.one_of(st.floats(), st.integers(-(2**31), 2**31), st.booleans())


def scalar_like(value, like):
    """A Python number as scratchnet turns it into an operand beside ``like`` (the tensor's dtype, as PyTorch)."""
    if isinstance(value, float) and like.dtype.kind in "biu":
        return np.asarray(value, dtype=np.float32)
    if isinstance(value, int) and not isinstance(value, bool) and like.dtype.kind == "b":
        return np.asarray(value, dtype=np.int64)
    return quiet(np.asarray, value, like.dtype) if not isinstance(value, bool) or like.dtype.kind == "b" else (
        np.asarray(value, dtype=like.dtype))


@pytest.mark.parametrize("name", sorted(BINARY))
@FUZZ
@given(a=numeric_arrays(max_dims=2, max_side=3), value=st.one_of(scalars, junk), left=st.booleans())
def test_binary_ops_with_a_python_operand(name, a, value, left):
    fn = getattr(sn, name)
    out = attempt(name, quiet, fn, *((value, sn.tensor(a)) if left else (sn.tensor(a), value)))
    if not isinstance(value, (int, float)):
        return  # junk: a documented error or NumPy's result for an array-like; `attempt` checked the rest
    if isinstance(value, int) and not isinstance(value, bool) and a.dtype.kind in "iu":
        info = np.iinfo(a.dtype)
        if not info.min <= value <= info.max:  # out of the tensor's integer range: NumPy 2 and PyTorch refuse
            assert not out.ok
            return
    c = scalar_like(value, a)
    x, y = promote(*((c, a) if left else (a, c)), name)
    try:
        expected = quiet(BINARY[name], x, y)
    except (TypeError, ValueError, OverflowError):
        assert not out.ok, f"{name} gave {out.value!r}"
        return
    assert out.ok, out
    same(out.value, expected)


@FUZZ
@given(cond=st.one_of(numeric_arrays(max_dims=2, max_side=3), junk), pair=operand_pairs())
def test_where(cond, pair):
    a, b = pair
    out = attempt("where", quiet, sn.where, sn.tensor(cond) if isinstance(cond, np.ndarray) else cond,
                  sn.tensor(a), sn.tensor(b))
    if not isinstance(cond, np.ndarray) or cond.dtype != np.bool_:
        assert not out.ok or np.asarray(cond).dtype == np.bool_
        return
    try:
        np.broadcast_shapes(cond.shape, a.shape, b.shape)
    except ValueError:
        assert isinstance(out.error, ValueError), out
        return
    assert out.ok, out
    x, y = promote(a, b, "where")
    same(out.value, np.where(cond, x, y))


bounds = st.one_of(st.none(), st.floats(), st.integers(-5, 5))


@FUZZ
@given(a=float_arrays(max_side=3), lo=bounds, hi=bounds, layout=layouts)
def test_clamp(a, lo, hi, layout):
    out = attempt("clamp", quiet, sn.clamp, as_tensor(a, layout), lo, hi)
    if lo is None and hi is None:
        assert isinstance(out.error, ValueError)
        return
    assert out.ok, out
    expected = a
    if lo is not None:
        expected = quiet(np.maximum, expected, np.asarray(lo, dtype=a.dtype))
    if hi is not None:
        expected = quiet(np.minimum, expected, np.asarray(hi, dtype=a.dtype))
    same(out.value, expected)


@pytest.mark.parametrize("name", ["leaky_relu", "softplus"])
@FUZZ
@given(a=numeric_arrays(max_side=3), layout=layouts, param=st.one_of(st.floats(-3, 3), junk))
def test_parametric_activations(name, a, layout, param):
    fn = getattr(F, name)
    out = attempt(name, quiet, fn, as_tensor(a, layout), param)
    if a.dtype.kind != "f" or isinstance(param, bool) or not isinstance(param, float):
        assert isinstance(out.error, TypeError), out
        return
    if name == "softplus" and param == 0:
        return  # 1/beta: inf or nan, as in PyTorch
    assert out.ok, out
    t = torch.tensor(a.astype(np.float64))
    expected = (torch.nn.functional.leaky_relu(t, param) if name == "leaky_relu"
                else torch.nn.functional.softplus(t, param)).numpy().astype(a.dtype)
    rtol = {np.float16: 2e-3, np.float32: 2e-6, np.float64: 1e-12}[a.dtype.type]
    same(out.value, expected, exact=False, rtol=rtol, atol=float(np.finfo(a.dtype).tiny))


@FUZZ
@given(a=float_arrays(max_side=3, dtypes=FLOAT_DTYPES), p=st.one_of(st.floats(-0.5, 1.5), junk), layout=layouts)
def test_dropout(a, p, layout):
    x = as_tensor(a, layout)
    out = attempt("dropout", F.dropout, x, p)
    if not isinstance(p, (int, float)) or not 0 <= p <= 1:
        assert isinstance(out.error, (TypeError, ValueError)), out
        return
    assert out.ok, out
    y = out.value.numpy()
    assert y.shape == a.shape and y.dtype == a.dtype
    with np.errstate(all="ignore"):
        # each element is kept, times 1 / (1 - p) in the input's dtype, or dropped: times 0 (inf * 0 = NaN, as in
        # PyTorch; all are dropped for p = 1)
        kept = a * (a.dtype.type(1) / a.dtype.type(1 - p)) if p < 1 else a * 0
        dropped = a * 0

    def equal(u, v):
        return (u == v) | (np.isnan(u) & np.isnan(v))

    assert (equal(y, kept) | equal(y, dropped)).all()

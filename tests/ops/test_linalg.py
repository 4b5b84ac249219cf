"""Matrix product: NumPy's matmul rules (1-D, batched, broadcasting) and its derivatives."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import check, normal, seeds

import scratchnet as sn


@st.composite
def matmul_shapes(draw):
    """Operand shapes for matmul: 1-D or N-D on each side, batch dims that broadcast."""
    n, k, m = (draw(st.integers(1, 3)) for _ in range(3))
    a_vec, b_vec = draw(st.booleans()), draw(st.booleans())
    batch = draw(st.lists(st.integers(1, 3), max_size=2))
    a_batch = [draw(st.sampled_from([d, 1])) for d in batch][draw(st.integers(0, len(batch))):]
    b_batch = [draw(st.sampled_from([d, 1])) for d in batch][draw(st.integers(0, len(batch))):]
    a = (k,) if a_vec else tuple(a_batch) + (n, k)
    b = (k,) if b_vec else tuple(b_batch) + (k, m)
    return a, b


@given(shapes=matmul_shapes(), seed=seeds)
def test_matmul(shapes, seed):
    a, b = normal(seed, shapes[0]), normal(seed + 1, shapes[1])
    for got in (sn.tensor(a) @ sn.tensor(b), sn.matmul(sn.tensor(a), sn.tensor(b))):
        np.testing.assert_allclose(got.numpy(), a @ b, rtol=1e-12, atol=1e-14)
    check(lambda x, y: x @ y, a, b)


@given(shapes=matmul_shapes(), seed=seeds)
def test_matmul_with_a_constant_side(shapes, seed):
    """Only the side that requires grad gets one; the other is a plain array."""
    a, b = normal(seed, shapes[0]), normal(seed + 1, shapes[1])
    check(lambda x: x @ b, a)
    check(lambda y: a @ y, b)


def test_matmul_shape_mismatch_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(4, 5\)"):
        sn.zeros(2, 3) @ sn.zeros(4, 5)
    with pytest.raises(ValueError, match="matmul"):
        sn.zeros(()) @ sn.zeros(3)


def test_matmul_float32_stays_float32():
    a = sn.randn(4, 3, requires_grad=True)
    b = sn.randn(3, 2, requires_grad=True)
    y = a @ b
    assert y.dtype == np.float32
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float32

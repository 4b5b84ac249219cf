"""scratchnet.testing: it must pass right gradients and catch wrong ones with a useful report."""

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.testing import GradcheckError, gradcheck, gradgradcheck, numerical_grad


def x64(*shape, seed=0):
    return sn.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


class WrongScale(sn.Function):
    """y = x**2 with a backward off by a factor on one element."""

    def forward(self, a):
        return a * a

    def backward(self, gy):
        x = self.inputs[0]
        g = gy * x * 2
        bump = np.zeros(x.shape)
        bump[(1,) * x.ndim] = 1.0
        return g + sn.tensor(bump) * gy


class DetachedBackward(sn.Function):
    """y = x**3 whose backward is numerically right but not differentiable (uses x's values as a constant)."""

    def forward(self, a):
        return a**3

    def backward(self, gy):
        return gy * sn.tensor(3 * self.inputs[0].data ** 2)


def test_numerical_grad():
    x = x64(3)
    (g,) = numerical_grad(lambda t: (t * t).sum(), [x])
    np.testing.assert_allclose(g, 2 * x.numpy(), atol=1e-8)
    gw = numerical_grad(lambda t: t * 3, [x], grad_outputs=sn.tensor(np.array([1.0, 2.0, 3.0])))
    np.testing.assert_allclose(gw[0], [3.0, 6.0, 9.0], atol=1e-8)


def test_gradcheck_passes_correct_gradients_with_several_inputs_and_outputs():
    a, b = x64(2, 3), x64(3, seed=1)
    assert gradcheck(lambda p, q: (p * q, (p @ q).exp()), [a, b])
    assert gradcheck(lambda p, q: (p * q).sum(), [a, b], fast_mode=True)
    assert gradcheck(lambda p, k: p * k, [a, 3.0])  # non-Tensor inputs pass through


def test_gradcheck_reports_the_worst_element():
    x = x64(2, 3)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda t: WrongScale()(t), [x])
    msg = str(info.value)
    assert "output 0 (shape (2, 3)) with respect to input 0 (shape (2, 3))" in msg
    assert "d output[1, 1] / d input[1, 1]" in msg
    assert "analytic" in msg and "numeric" in msg and "mismatched elements: 1 of 36" in msg
    assert gradcheck(lambda t: WrongScale()(t), [x], raise_exception=False) is False


def test_fast_mode_catches_a_wrong_gradient():
    x = x64(2, 3)
    with pytest.raises(GradcheckError, match="fast mode.*input 0"):
        gradcheck(lambda t: WrongScale()(t), [x], fast_mode=True)


def test_gradgradcheck_catches_a_backward_that_is_not_differentiable():
    x = x64(4)
    assert gradcheck(lambda t: DetachedBackward()(t), [x])  # first order is fine
    with pytest.raises(GradcheckError, match="input 0"):
        gradgradcheck(lambda t: DetachedBackward()(t), [x])
    assert gradgradcheck(lambda t: t**3, [x])
    assert gradgradcheck(lambda t: t**3, [x], fast_mode=True)


def test_gradcheck_needs_float64_inputs_that_require_grad():
    with pytest.raises(TypeError, match="input 0 is float32.*float64"):
        gradcheck(lambda t: t * 2, [sn.tensor([1.0], requires_grad=True)])
    with pytest.raises(ValueError, match="requires_grad"):
        gradcheck(lambda t: t * 2, [sn.tensor(np.array([1.0]))])


def test_gradcheck_leaves_the_callers_tensors_alone():
    x = x64(3)
    before = x.numpy().copy()
    gradcheck(lambda t: t.exp(), [x])
    np.testing.assert_array_equal(x.numpy(), before)
    assert x.grad is None

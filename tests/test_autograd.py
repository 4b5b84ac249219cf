"""Graph semantics: accumulation, diamonds, grad modes, retain_graph, grad(), higher order, deep chains."""

import gc
import weakref

import numpy as np
import pytest

import scratchnet as sn


def leaf(values, dtype=np.float64):
    return sn.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# --------------------------------------------------------------------------- accumulation and graph shapes


def test_leaf_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 + 2 * np.array([1.0, 2.0]))


def test_diamond_graph_sums_both_paths():
    x = leaf([0.5, -1.5])
    a = x * 2
    b = a.exp()  # x -> a -> b, and a -> c: a is used twice
    c = a * a
    (b + c).sum().backward()
    xv = np.array([0.5, -1.5])
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(2 * xv) + 8 * xv)


def test_same_tensor_used_twice_in_one_op():
    x = leaf([3.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0])


def test_multiple_roots_in_one_backward():
    x = leaf([1.0, 2.0])
    y1 = (x * 2).sum()
    y2 = (x * x).sum()
    sn.backward([y1, y2])
    np.testing.assert_allclose(x.grad.numpy(), 2 + 2 * np.array([1.0, 2.0]))


def test_backward_with_explicit_gradient():
    x = leaf([1.0, 2.0, 3.0])
    y = x * x
    y.backward(sn.tensor(np.array([1.0, 0.0, -1.0])))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 0.0, -6.0])


def test_chain_of_ten_thousand_ops_has_no_recursion_limit():
    x = leaf([1.0])
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001**10_000], rtol=1e-9)
    # and the graph can be freed without recursion either
    ref = weakref.ref(y.creator)
    del y
    gc.collect()
    assert ref() is None


def test_deep_chain_grad_and_create_graph():
    x = leaf([0.3])
    y = x
    for _ in range(10_000):
        y = y + x * 1e-4
    (g,) = sn.grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), [2.0], rtol=1e-9)


# --------------------------------------------------------------------------- grad mode


def test_no_graph_is_recorded_when_nothing_requires_grad():
    x = sn.tensor([1.0, 2.0])
    y = (x * 2).exp().sum()
    assert y.grad_fn is None and not y.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_no_grad_context_and_decorator():
    x = leaf([1.0])
    with sn.no_grad():
        y = x * 2
        assert not sn.is_grad_enabled()
    assert sn.is_grad_enabled()
    assert y.grad_fn is None and not y.requires_grad

    @sn.no_grad()
    def f(t):
        return t * 2

    assert f(x).grad_fn is None
    assert sn.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = leaf([1.0])
    with sn.no_grad():
        with sn.enable_grad():
            y = x * 2
        z = x * 2

        @sn.enable_grad()
        def f(t):
            return t * 3

        w = f(x)
    assert y.requires_grad and z.grad_fn is None and w.requires_grad


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with sn.no_grad():
            1 / 0
    assert sn.is_grad_enabled()


def test_detach_cuts_the_graph_and_shares_data():
    x = leaf([1.0, 2.0])
    y = x * 2
    d = y.detach()
    assert d.grad_fn is None and not d.requires_grad
    assert np.shares_memory(d.data, y.data)
    (d * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])  # no path through d


# --------------------------------------------------------------------------- retain_graph and freeing


def test_second_backward_through_freed_graph_raises():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])


def test_saved_arrays_are_freed_after_backward():
    x = leaf(np.ones(3))
    y = x.exp()
    z = y.sum()
    z.backward()
    assert y.grad_fn.inputs is None and y.grad_fn._out_data is None
    y2 = x.exp()
    z2 = y2.sum()
    z2.backward(retain_graph=True)
    assert y2.grad_fn.inputs is not None


# --------------------------------------------------------------------------- grad()


def test_grad_returns_gradients_without_touching_dot_grad():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    y = (x * w).sum()
    gx, gw = sn.grad(y, [x, w])
    np.testing.assert_allclose(gx.numpy(), [3.0, 4.0])
    np.testing.assert_allclose(gw.numpy(), [1.0, 2.0])
    assert x.grad is None and w.grad is None


def test_grad_of_a_single_tensor_returns_a_tuple():
    x = leaf([2.0])
    result = sn.grad((x * x).sum(), x)
    assert isinstance(result, tuple) and len(result) == 1


def test_grad_with_respect_to_an_intermediate_tensor():
    x = leaf([1.0, 2.0])
    h = x * 3
    y = (h * h).sum()
    gh, gx = sn.grad(y, [h, x])
    np.testing.assert_allclose(gh.numpy(), 2 * np.array([3.0, 6.0]))
    np.testing.assert_allclose(gx.numpy(), 18 * np.array([1.0, 2.0]))


def test_grad_allow_unused():
    x, unused = leaf([1.0]), leaf([1.0])
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match=r"inputs\[1\].*allow_unused=True"):
        sn.grad(y, [x, unused], retain_graph=True)
    gx, gu = sn.grad(y, [x, unused], allow_unused=True)
    assert gu is None
    np.testing.assert_allclose(gx.numpy(), [2.0])


def test_grad_only_runs_the_paths_that_lead_to_the_inputs():
    """d/dx must not compute the weight gradient (gradient penalties rely on this for speed)."""
    calls = []

    class Spy(sn.Function):
        def forward(self, a):
            return a * 1.0

        def backward(self, gy):
            calls.append(1)
            return gy

    x, w = leaf([1.0]), leaf([2.0])
    y = (x * Spy()(w)).sum()
    sn.grad(y, x)
    assert calls == []


def test_grad_outputs_weight_each_output():
    x = leaf([1.0, 2.0])
    y = x * x
    (g,) = sn.grad(y, x, grad_outputs=sn.tensor(np.array([1.0, -1.0])))
    np.testing.assert_allclose(g.numpy(), [2.0, -4.0])


def test_grad_errors():
    x = leaf([1.0, 2.0])
    y = x * x
    with pytest.raises(RuntimeError, match="only for scalar outputs.*shape \\(2,\\)"):
        sn.grad(y, x, retain_graph=True)
    with pytest.raises(ValueError, match=r"grad_outputs\[0\] has shape \(3,\) but output 0 has shape \(2,\)"):
        sn.grad(y, x, grad_outputs=sn.zeros(3, dtype=np.float64), retain_graph=True)
    with pytest.raises(RuntimeError, match=r"inputs\[0\].*does not require grad"):
        sn.grad(y.sum(), sn.tensor([1.0]))


def test_backward_on_a_non_scalar_needs_a_gradient():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="scalar outputs"):
        (x * 2).backward()


# --------------------------------------------------------------------------- higher order


def test_grad_of_grad_and_third_order():
    x = leaf([0.5, -2.0])
    y = (x**4).sum()
    (g1,) = sn.grad(y, x, create_graph=True)
    (g2,) = sn.grad(g1.sum(), x, create_graph=True)
    (g3,) = sn.grad(g2.sum(), x)
    xv = np.array([0.5, -2.0])
    np.testing.assert_allclose(g1.numpy(), 4 * xv**3)
    np.testing.assert_allclose(g2.numpy(), 12 * xv**2)
    np.testing.assert_allclose(g3.numpy(), 24 * xv)


def test_backward_with_create_graph_makes_grad_differentiable():
    x = leaf([1.5])
    (x**3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    g = x.grad
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [9.0])  # d(3x^2)/dx = 6x


def test_gradient_penalty_style_double_backward():
    """||d f/d x||^2 differentiated w.r.t. the weights, as WGAN-GP and R1 do."""
    rng = np.random.default_rng(0)
    w = leaf(rng.standard_normal((3, 2)))
    x = leaf(rng.standard_normal((4, 3)))
    out = ((x @ w).tanh()).sum()
    (gx,) = sn.grad(out, x, create_graph=True)
    penalty = (gx * gx).sum()
    penalty.backward()

    def penalty_of(wv):
        t = np.tanh(x.numpy() @ wv)
        gxv = (1 - t**2) @ wv.T
        return (gxv**2).sum()

    eps, numeric = 1e-6, np.zeros((3, 2))
    for idx in np.ndindex(3, 2):
        wp, wm = w.numpy().copy(), w.numpy().copy()
        wp[idx] += eps
        wm[idx] -= eps
        numeric[idx] = (penalty_of(wp) - penalty_of(wm)) / (2 * eps)
    np.testing.assert_allclose(w.grad.numpy(), numeric, rtol=1e-6, atol=1e-8)


def test_hessian_vector_product():
    x = leaf([1.0, 2.0])
    y = (x[0] ** 2 * x[1] ** 3).sum()
    (g,) = sn.grad(y, x, create_graph=True)
    v = sn.tensor(np.array([1.0, -1.0]))
    (hv,) = sn.grad((g * v).sum(), x)
    a, b = 1.0, 2.0
    hessian = np.array([[2 * b**3, 6 * a * b**2], [6 * a * b**2, 6 * a**2 * b]])
    np.testing.assert_allclose(hv.numpy(), hessian @ np.array([1.0, -1.0]))


# --------------------------------------------------------------------------- requires_grad rules


def test_requires_grad_only_on_floating_tensors():
    with pytest.raises(TypeError, match="floating point"):
        sn.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="floating point"):
        sn.zeros(2, dtype=np.int64, requires_grad=True)
    t = sn.tensor([1, 2])
    with pytest.raises(TypeError, match="int64"):
        t.requires_grad = True


def test_requires_grad_can_only_be_switched_off_on_leaves():
    x = leaf([1.0])
    y = x * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False
    x.requires_grad = False
    assert not (x * 2).requires_grad
    assert x.requires_grad_() is x and x.requires_grad


def test_custom_function_with_wrong_gradient_shape_is_reported():
    class Broken(sn.Function):
        def forward(self, a):
            return a.sum()

        def backward(self, gy):
            return gy  # should be broadcast to the input's shape

    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"backward of broken.*shape \(\).*shape \(2,\)"):
        Broken()(x).backward()

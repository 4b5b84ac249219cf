"""batch_norm: values against NumPy, first and second derivatives (input, weight, bias) against finite
differences, running-statistics updates against hand computation, dtypes, errors, and PyTorch."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import check, normal, seeds, uniform

import scratchnet as sn
import scratchnet.functional as F

# (N, C, *spatial) with at most 12 elements: gradgradcheck cost grows with the square of the size
bn_shapes = st.tuples(
    st.integers(2, 3), st.integers(1, 2), st.sampled_from([(), (2,), (1, 2), (2, 1), (3,)])
).map(lambda t: (t[0], t[1]) + t[2])


def stats_axes(shape):
    return (0,) + tuple(range(2, len(shape)))


def channel_view(v, shape):
    return v.reshape((1, -1) + (1,) * (len(shape) - 2))


def np_batch_norm(x, mean, var, weight, bias, eps):
    y = (x - channel_view(mean, x.shape)) / np.sqrt(channel_view(var, x.shape) + eps)
    if weight is not None:
        y = y * channel_view(weight, x.shape)
    if bias is not None:
        y = y + channel_view(bias, x.shape)
    return y


@given(shape=bn_shapes, seed=seeds, affine=st.sampled_from(["both", "weight", "bias", "none"]),
       eps=st.sampled_from([1e-5, 0.1]))
def test_batch_norm_training(shape, seed, affine, eps):
    x = normal(seed, shape, 2.0) + 1.0
    c = shape[1]
    w = uniform(seed + 1, (c,), 0.5, 2.0) if affine in ("both", "weight") else None
    b = normal(seed + 2, (c,)) if affine in ("both", "bias") else None
    axes = stats_axes(shape)
    expected = np_batch_norm(x, x.mean(axis=axes), x.var(axis=axes), w, b, eps)
    y = F.batch_norm(sn.tensor(x), None, None, None if w is None else sn.tensor(w), None if b is None else sn.tensor(b),
                     training=True, eps=eps)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)
    # first and second derivatives with respect to input, weight and bias (all that are given)
    if affine == "both":
        check(lambda t, tw, tb: F.batch_norm(t, None, None, tw, tb, training=True, eps=eps), x, w, b)
    elif affine == "weight":
        check(lambda t, tw: F.batch_norm(t, None, None, tw, training=True, eps=eps), x, w)
    elif affine == "bias":
        check(lambda t, tb: F.batch_norm(t, None, None, bias=tb, training=True, eps=eps), x, b)
    else:
        check(lambda t: F.batch_norm(t, None, None, training=True, eps=eps), x)


@given(shape=bn_shapes, seed=seeds, training=st.booleans(), momentum=st.sampled_from([0.1, 0.5, 1.0, 0.0]))
def test_running_statistics_update_in_place(shape, seed, training, momentum):
    x = normal(seed, shape, 2.0) + 1.0
    c = shape[1]
    rm0, rv0 = normal(seed + 1, (c,)), uniform(seed + 2, (c,), 0.5, 2.0)
    running_mean, running_var = sn.tensor(rm0), sn.tensor(rv0)
    arrays = running_mean.data, running_var.data
    y = F.batch_norm(sn.tensor(x), running_mean, running_var, training=training, momentum=momentum)
    assert running_mean.data is arrays[0] and running_var.data is arrays[1]  # updated in place
    assert running_mean.grad_fn is None and not running_mean.requires_grad
    axes = stats_axes(shape)
    n = x.size // c
    if training:
        batch_mean = x.sum(axis=axes) / n
        # by hand: the unbiased variance divides the squared deviations by n - 1
        unbiased = ((x - channel_view(batch_mean, shape)) ** 2).sum(axis=axes) / (n - 1)
        np.testing.assert_allclose(running_mean.numpy(), (1 - momentum) * rm0 + momentum * batch_mean, rtol=1e-12)
        np.testing.assert_allclose(running_var.numpy(), (1 - momentum) * rv0 + momentum * unbiased, rtol=1e-12)
        expected = np_batch_norm(x, batch_mean, x.var(axis=axes), None, None, 1e-5)  # the biased variance
    else:
        np.testing.assert_array_equal(running_mean.numpy(), rm0)
        np.testing.assert_array_equal(running_var.numpy(), rv0)
        expected = np_batch_norm(x, rm0, rv0, None, None, 1e-5)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)


@given(shape=bn_shapes, seed=seeds)
def test_batch_norm_eval_uses_running_statistics(shape, seed):
    x = normal(seed, shape)
    c = shape[1]
    rm, rv = normal(seed + 1, (c,)), uniform(seed + 2, (c,), 0.5, 2.0)
    w, b = uniform(seed + 3, (c,), 0.5, 2.0), normal(seed + 4, (c,))
    y = F.batch_norm(sn.tensor(x), sn.tensor(rm), sn.tensor(rv), sn.tensor(w), sn.tensor(b), eps=0.01)
    np.testing.assert_allclose(y.numpy(), np_batch_norm(x, rm, rv, w, b, 0.01), rtol=1e-12, atol=1e-14)
    check(lambda t, tw, tb: F.batch_norm(t, sn.tensor(rm), sn.tensor(rv), tw, tb, False, 0.1, 0.01), x, w, b)


def test_no_running_statistics_means_batch_statistics_also_in_eval():
    x = normal(0, (4, 3))
    y = F.batch_norm(sn.tensor(x), None, None, training=False)
    np.testing.assert_allclose(y.numpy(), np_batch_norm(x, x.mean(0), x.var(0), None, None, 1e-5), rtol=1e-12)


def test_running_statistics_over_several_steps_like_a_training_loop():
    """Three batches, momentum 0.1: the running stats follow the exponential moving average."""
    rng = np.random.default_rng(3)
    running_mean, running_var = sn.zeros(2), sn.ones(2)  # float32, as in a model
    rm, rv = np.zeros(2), np.ones(2)
    for _ in range(3):
        x = rng.standard_normal((5, 2, 3)).astype(np.float32) * 3 + 2
        F.batch_norm(sn.tensor(x, requires_grad=True), running_mean, running_var, training=True)
        xs = x.astype(np.float64).transpose(1, 0, 2).reshape(2, -1)
        rm = 0.9 * rm + 0.1 * xs.mean(1)
        rv = 0.9 * rv + 0.1 * xs.var(1, ddof=1)
    assert running_mean.dtype == np.float32 and running_var.dtype == np.float32
    np.testing.assert_allclose(running_mean.numpy(), rm, rtol=1e-5)
    np.testing.assert_allclose(running_var.numpy(), rv, rtol=1e-5)


def test_running_statistics_update_even_under_no_grad():
    running_mean, running_var = sn.zeros(2, dtype=sn.float64), sn.ones(2, dtype=sn.float64)
    with sn.no_grad():
        F.batch_norm(sn.tensor(np.array([[1.0, 2.0], [3.0, 6.0]])), running_mean, running_var, training=True)
    np.testing.assert_allclose(running_mean.numpy(), [0.2, 0.4])
    np.testing.assert_allclose(running_var.numpy(), [0.9 + 0.1 * 2.0, 0.9 + 0.1 * 8.0])


def test_third_derivatives():
    """d/dx sum(grad**2) checked to second order: batch_norm's third derivatives (input and weight)."""
    x, w, b = normal(5, (3, 2, 2)), uniform(6, (2,), 0.5, 2.0), normal(7, (2,))

    def squared_norm_gradient(t, tw):
        y = F.batch_norm(t, None, None, tw, sn.tensor(b), training=True)
        gx, gw = sn.grad((y * y * y).sum(), [t, tw], create_graph=True)
        return (gx * gx).sum() + (gw * gw).sum()

    check(squared_norm_gradient, x, w)


# --------------------------------------------------------------------------- dtypes and errors


@pytest.mark.parametrize("training", [True, False])
def test_float32_stays_float32(training):
    x = sn.tensor(normal(0, (3, 2, 2)).astype(np.float32), requires_grad=True)
    w = sn.ones(2, requires_grad=True)
    b = sn.zeros(2, requires_grad=True)
    running_mean, running_var = sn.zeros(2), sn.ones(2)
    y = F.batch_norm(x, running_mean, running_var, w, b, training=training)
    assert y.dtype == np.float32 and running_mean.dtype == np.float32
    gx, gw, gb = sn.grad((y * y).sum(), [x, w, b], create_graph=True)
    assert gx.dtype == gw.dtype == gb.dtype == np.float32
    (ggx,) = sn.grad((gx * gx).sum() + (gw * gw).sum(), [x])
    assert ggx.dtype == np.float32


def test_rank_errors():
    for shape in [(3,), ()]:
        with pytest.raises(ValueError, match=r"batch_norm: expected input of shape \(N, C\).*got \(" + ",?".join(
                str(n) for n in shape)):
            F.batch_norm(sn.zeros(shape), None, None, training=True)


@pytest.mark.parametrize("which", ["running_mean", "running_var", "weight", "bias"])
def test_channel_count_errors_name_the_argument_and_shapes(which):
    args = {"running_mean": sn.zeros(3), "running_var": sn.ones(3), "weight": sn.ones(3), "bias": sn.zeros(3)}
    args[which] = sn.zeros(4)
    with pytest.raises(ValueError, match=rf"batch_norm: {which} must have shape \(3,\) for input of shape "
                                         rf"\(2, 3, 5\).*got \(4,\)"):
        F.batch_norm(sn.zeros(2, 3, 5), **args)


def test_running_statistics_both_or_neither():
    with pytest.raises(ValueError, match="batch_norm: running_mean and running_var"):
        F.batch_norm(sn.zeros(2, 3), sn.zeros(3), None, training=True)


def test_one_value_per_channel_cannot_train():
    with pytest.raises(ValueError, match=r"batch_norm: expected more than 1 value per channel.*\(1, 3\)"):
        F.batch_norm(sn.zeros(1, 3), None, None, training=True)
    F.batch_norm(sn.zeros(1, 3), sn.zeros(3), sn.ones(3), training=False)  # fine in eval


# --------------------------------------------------------------------------- PyTorch conformance

_R = np.random.default_rng(11)
_X4 = _R.standard_normal((3, 2, 2, 3)) * 2 + 1
_X2 = _R.standard_normal((5, 3))
_X3 = _R.standard_normal((2, 3, 4))
_W, _B = _R.uniform(0.5, 2.0, 3), _R.standard_normal(3)
_RM, _RV = _R.standard_normal(3), _R.uniform(0.5, 2.0, 3)

CONFORMANCE = {
    "train_4d": ([_X4, _W[:2], _B[:2]], lambda F, x, w, b: F.batch_norm(x, None, None, w, b, training=True)),
    "train_2d": ([_X2, _W, _B], lambda F, x, w, b: F.batch_norm(x, None, None, w, b, True, 0.1, 0.01)),
    "train_3d_no_affine": ([_X3], lambda F, x: F.batch_norm(x, None, None, training=True)),
    "train_weight_only": ([_X3, _W], lambda F, x, w: F.batch_norm(x, None, None, w, training=True)),
    "eval_3d": ([_X3, _RM, _RV, _W, _B], lambda F, x, m, v, w, b: F.batch_norm(x, m, v, w, b, eps=1e-3)),
    "eval_2d_no_affine": ([_X2, _RM, _RV], lambda F, x, m, v: F.batch_norm(x, m, v)),
}


@pytest.mark.parametrize("name", sorted(CONFORMANCE))
def test_matches_pytorch(name):
    pytest.importorskip("torch")
    from torch_reference import assert_matches_torch

    arrays, fn = CONFORMANCE[name]
    const = (1, 2) if name.startswith("eval") else ()  # running statistics are buffers
    assert_matches_torch(fn, arrays, const=const)


@pytest.mark.parametrize("momentum", [0.1, 0.7])
def test_running_statistics_match_pytorch(momentum):
    torch = pytest.importorskip("torch")
    ours = sn.tensor(_RM), sn.tensor(_RV)
    theirs = torch.tensor(_RM), torch.tensor(_RV)
    for x in (_X3, _X3 * 2 - 1):
        F.batch_norm(sn.tensor(x), *ours, training=True, momentum=momentum)
        torch.nn.functional.batch_norm(torch.tensor(x), *theirs, training=True, momentum=momentum)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10)


def test_batch_norm_arguments_must_be_tensors():
    """An ndarray input used to be AttributeError ('memoryview' object has no attribute 'size')."""
    with pytest.raises(TypeError, match="^batch_norm: input must be a Tensor"):
        F.batch_norm(np.ones((2, 3)), None, None, training=True)
    with pytest.raises(TypeError, match="^batch_norm: running_mean must be a Tensor"):
        F.batch_norm(sn.ones(2, 3), np.zeros(3), sn.ones(3))
    with pytest.raises(TypeError, match="^batch_norm: eps must be a number"):
        F.batch_norm(sn.ones(2, 3), None, None, training=True, eps="a")


@pytest.mark.parametrize("needs", [(True, False, False), (False, True, True), (False, True, False), (True, True, True)])
def test_gradients_of_only_some_inputs_match_the_composition(needs):
    """The fused training op returns gradients for exactly the inputs that need them, equal to those of
    normalisation followed by ``* weight + bias`` written out (a GAN's G step freezes D's weights)."""
    shape = (4, 3, 5, 2)
    x, w, b = normal(0, shape, 2.0) + 1.0, uniform(1, (3,), 0.5, 2.0), normal(2, (3,))
    tensors = [sn.tensor(v, requires_grad=r) for v, r in zip((x, w, b), needs)]
    g = sn.tensor(normal(3, shape))
    y = F.batch_norm(*tensors[:1], None, None, *tensors[1:], training=True)
    wanted = [t for t in tensors if t.requires_grad]
    grads = sn.grad((y * g).sum(), wanted)
    # the composition, in float64 with NumPy
    axes = stats_axes(shape)
    x_hat = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + 1e-5)
    gy = g.numpy()
    g_hat = gy * channel_view(w, shape)
    gx = (g_hat - g_hat.mean(axis=axes, keepdims=True)
          - x_hat * (g_hat * x_hat).mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + 1e-5)
    expected = [e for e, r in zip((gx, (gy * x_hat).sum(axis=axes), gy.sum(axis=axes)), needs) if r]
    assert len(grads) == len(expected)
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)

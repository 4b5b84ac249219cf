"""cross_entropy, nll_loss, binary_cross_entropy(_with_logits), mse_loss: values against NumPy formulas,
first and second derivatives against finite differences, stability for logits of magnitude 1000,
dtypes, every error, and PyTorch."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import check, normal, seeds, shapes, uniform

import scratchnet as sn
import scratchnet.functional as F

REDUCTIONS = ["mean", "sum", "none"]

# --------------------------------------------------------------------------- NumPy references


def np_log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def np_class_loss(log_prob, target, weight, ignore_index, reduction, label_smoothing=0.0):
    """PyTorch's nll / cross-entropy with label smoothing, from log-probabilities (class dim 1, or 0 if 1-D)."""
    axis = 1 if log_prob.ndim >= 2 else 0
    lp = np.moveaxis(log_prob, axis, -1)  # target.shape + (C,)
    n_classes = lp.shape[-1]
    w = np.ones(n_classes) if weight is None else weight
    valid = target != ignore_index
    safe = np.where(valid, target, 0)
    target_weight = np.where(valid, w[safe], 0.0)
    nll = -target_weight * np.take_along_axis(lp, safe[..., None], -1)[..., 0]
    smooth = np.where(valid, -(lp * w).sum(-1), 0.0)
    if reduction == "none":
        return (1 - label_smoothing) * nll + label_smoothing / n_classes * smooth
    total = target_weight.sum() if reduction == "mean" else 1.0
    return ((1 - label_smoothing) * nll.sum() + label_smoothing / n_classes * smooth.sum()) / total


def np_reduce(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](loss)


# --------------------------------------------------------------------------- class targets


@st.composite
def class_problems(draw):
    """(input shape, target shape): (C,) / (), (N, C) / (N,), (N, C, d...) / (N, d...); at most 12 inputs."""
    c = draw(st.integers(2, 4))
    kind = draw(st.sampled_from(["unbatched", "batched", "spatial"]))
    if kind == "unbatched":
        return (c,), ()
    n = draw(st.integers(1, 3))
    if kind == "batched":
        return (n, c), (n,)
    spatial = draw(st.sampled_from([(1,), (2,), (2, 1), (1, 2)]))
    n = min(n, 12 // (c * int(np.prod(spatial))))
    return (n, c) + spatial, (n,) + spatial


def class_targets(seed, shape, n_classes, ignore_index, some_ignored):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, n_classes, shape)
    if some_ignored:
        t = np.where(rng.random(shape) < 0.4, ignore_index, t)
        t.reshape(-1)[0] = (ignore_index + 1) % n_classes if ignore_index >= 0 else 0  # one target counts
    return t


@given(
    problem=class_problems(),
    seed=seeds,
    use_weight=st.booleans(),
    ignore=st.sampled_from([None, -100, 1]),
    reduction=st.sampled_from(REDUCTIONS),
    label_smoothing=st.sampled_from([0.0, 0.1, 0.6]),
)
def test_cross_entropy(problem, seed, use_weight, ignore, reduction, label_smoothing):
    shape, target_shape = problem
    axis = 1 if len(shape) >= 2 else 0
    ignore_index = -100 if ignore is None else ignore
    x = normal(seed, shape, 2.0)
    t = class_targets(seed + 1, target_shape, shape[axis], ignore_index, ignore is not None)
    w = uniform(seed + 2, (shape[axis],), 0.5, 2.0) if use_weight else None
    expected = np_class_loss(np_log_softmax(x, axis), t, w, ignore_index, reduction, label_smoothing)
    kwargs = dict(ignore_index=ignore_index, reduction=reduction, label_smoothing=label_smoothing)
    target = sn.tensor(t)
    y = F.cross_entropy(sn.tensor(x), target, None if w is None else sn.tensor(w), **kwargs)
    assert y.shape == np.shape(expected)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-14)
    if use_weight:  # the class weights are differentiable too (PyTorch refuses their gradient)
        check(lambda i, tw: F.cross_entropy(i, target, tw, **kwargs), x, w)
    else:
        check(lambda i: F.cross_entropy(i, target, **kwargs), x)


@given(
    problem=class_problems(),
    seed=seeds,
    use_weight=st.booleans(),
    ignore=st.sampled_from([None, -100, 0]),
    reduction=st.sampled_from(REDUCTIONS),
)
def test_nll_loss(problem, seed, use_weight, ignore, reduction):
    shape, target_shape = problem
    axis = 1 if len(shape) >= 2 else 0
    ignore_index = -100 if ignore is None else ignore
    log_prob = np_log_softmax(normal(seed, shape), axis)
    t = class_targets(seed + 1, target_shape, shape[axis], ignore_index, ignore is not None)
    w = uniform(seed + 2, (shape[axis],), 0.5, 2.0) if use_weight else None
    expected = np_class_loss(log_prob, t, w, ignore_index, reduction)
    target = sn.tensor(t)
    y = F.nll_loss(sn.tensor(log_prob), target, None if w is None else sn.tensor(w), ignore_index=ignore_index,
                   reduction=reduction)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-14)
    if use_weight:
        check(lambda i, tw: F.nll_loss(i * i, target, tw, ignore_index=ignore_index, reduction=reduction), log_prob, w)
    else:
        check(lambda i: F.nll_loss(i * i, target, ignore_index=ignore_index, reduction=reduction), log_prob)


def test_cross_entropy_is_exact_for_logits_of_magnitude_1000():
    logits = np.array([[1000.0, 0.0, -1000.0], [-1000.0, 1000.0, 0.0], [0.0, -1000.0, 1000.0]])
    target = sn.tensor([0, 0, 2])
    x = sn.tensor(logits, requires_grad=True)
    loss = F.cross_entropy(x, target)
    np.testing.assert_array_equal(loss.numpy(), 2000.0 / 3)
    (g,) = sn.grad(loss, x, create_graph=True)
    softmax = np.eye(3)[[0, 1, 2]]  # e**-1000 is 0 in float64
    np.testing.assert_array_equal(g.numpy(), (softmax - np.eye(3)[[0, 0, 2]]) / 3)
    (gg,) = sn.grad((g * g).sum(), x)
    assert np.isfinite(gg.numpy()).all()
    for kwargs in (dict(label_smoothing=0.1), dict(weight=sn.tensor([1.0, 2.0, 3.0], dtype=sn.float64)),
                   dict(reduction="none")):
        loss = F.cross_entropy(x, target, **kwargs)
        (g,) = sn.grad(loss.sum(), x)
        assert np.isfinite(loss.numpy()).all() and np.isfinite(g.numpy()).all()
    # label smoothing: every log-probability enters, -2000 included
    loss = F.cross_entropy(x, target, label_smoothing=0.3, reduction="none")
    np.testing.assert_allclose(loss.numpy(), [0.1 * 3000, 0.7 * 2000 + 0.1 * 3000, 0.1 * 3000], rtol=1e-15)


def test_ignored_targets_contribute_nothing():
    x = sn.tensor(normal(0, (3, 4)), requires_grad=True)
    target = sn.tensor([2, -100, 1])
    (g,) = sn.grad(F.cross_entropy(x, target), x)
    np.testing.assert_array_equal(g.numpy()[1], 0.0)
    full = F.cross_entropy(x[[0, 2]], sn.tensor([2, 1]))
    np.testing.assert_allclose(F.cross_entropy(x, target).numpy(), full.numpy(), rtol=1e-15)
    # all ignored: 'mean' is 0/0 = nan and 'sum' is 0, as in PyTorch
    all_ignored = sn.tensor([-100, -100, -100])
    assert np.isnan(F.cross_entropy(x, all_ignored).item())
    assert F.nll_loss(x, all_ignored, reduction="sum").item() == 0.0


def test_class_targets_never_get_gradients():
    x = sn.tensor(normal(0, (2, 3)), requires_grad=True)
    target = sn.tensor([0, 2])
    F.cross_entropy(x, target).backward()
    assert target.grad is None and not target.requires_grad
    with pytest.raises(TypeError):
        target.requires_grad_()


# --------------------------------------------------------------------------- binary cross-entropy


@st.composite
def shape_and_broadcastable(draw, max_side=2):
    """A shape and a shape that broadcasts to it (dims set to 1, leading dims dropped)."""
    shape = draw(shapes(max_dims=3, max_side=max_side))
    other = tuple(1 if draw(st.booleans()) else n for n in shape)
    return shape, other[draw(st.integers(0, len(other))):]


@given(shapes_=shape_and_broadcastable(), seed=seeds, use_weight=st.booleans(), reduction=st.sampled_from(REDUCTIONS))
def test_binary_cross_entropy(shapes_, seed, use_weight, reduction):
    shape, w_shape = shapes_
    x = uniform(seed, shape, 0.05, 0.95)
    t = uniform(seed + 1, shape, 0.0, 1.0)  # soft targets are allowed, as in PyTorch
    w = uniform(seed + 2, w_shape, 0.5, 2.0)
    loss = -(t * np.log(x) + (1 - t) * np.log(1 - x)) * (w if use_weight else 1.0)
    y = F.binary_cross_entropy(sn.tensor(x), sn.tensor(t), sn.tensor(w) if use_weight else None, reduction=reduction)
    np.testing.assert_allclose(y.numpy(), np_reduce(loss, reduction), rtol=1e-12)
    # gradients with respect to input and target (and weight), first and second order
    if use_weight:
        check(lambda i, tt, tw: F.binary_cross_entropy(i, tt, tw, reduction=reduction), x, t, w)
    else:
        check(lambda i, tt: F.binary_cross_entropy(i, tt, reduction=reduction), x, t)


def test_binary_cross_entropy_clamps_the_log_at_minus_100():
    x = sn.tensor([0.0, 1.0, 0.0, 1.0, 0.5], dtype=sn.float64, requires_grad=True)
    t = sn.tensor([1.0, 0.0, 0.0, 1.0, 1.0], dtype=sn.float64, requires_grad=True)
    loss = F.binary_cross_entropy(x, t, reduction="none")
    np.testing.assert_allclose(loss.numpy(), [100.0, 100.0, 0.0, 0.0, np.log(2.0)], rtol=1e-15)
    gx, gt = sn.grad(loss.sum(), [x, t])
    # PyTorch's rule: (x - t) / max(x (1 - x), eps) with eps = 1e-12 as a float32;
    # d/dt = log(1 - x) - log(x), both logs clamped
    eps = float(np.float32(1e-12))
    np.testing.assert_allclose(gx.numpy(), [-1 / eps, 1 / eps, 0.0, 0.0, -2.0], rtol=1e-15)
    np.testing.assert_allclose(gt.numpy(), [100.0, -100.0, 100.0, -100.0, 0.0], rtol=1e-15)


@given(shapes_=shape_and_broadcastable(), seed=seeds, use_weight=st.booleans(), use_pos_weight=st.booleans(),
       reduction=st.sampled_from(REDUCTIONS))
def test_binary_cross_entropy_with_logits(shapes_, seed, use_weight, use_pos_weight, reduction):
    shape, w_shape = shapes_
    x = normal(seed, shape, 3.0)
    t = uniform(seed + 1, shape, 0.0, 1.0)
    w = uniform(seed + 2, w_shape, 0.5, 2.0)
    pw = uniform(seed + 3, shape[-1:], 0.5, 3.0)  # one per class: the last dim
    p = 1 / (1 + np.exp(-x))
    loss = -((pw if use_pos_weight else 1.0) * t * np.log(p) + (1 - t) * np.log(1 - p)) * (w if use_weight else 1.0)
    y = F.binary_cross_entropy_with_logits(sn.tensor(x), sn.tensor(t), sn.tensor(w) if use_weight else None,
                                           reduction=reduction, pos_weight=sn.tensor(pw) if use_pos_weight else None)
    np.testing.assert_allclose(y.numpy(), np_reduce(loss, reduction), rtol=1e-11)
    arrays = [x, t] + ([w] if use_weight else []) + ([pw] if use_pos_weight else [])

    def fn(i, tt, *rest):
        rest = list(rest)
        tw = rest.pop(0) if use_weight else None
        tp = rest.pop(0) if use_pos_weight else None
        return F.binary_cross_entropy_with_logits(i, tt, tw, reduction=reduction, pos_weight=tp)

    check(fn, *arrays)


def test_binary_cross_entropy_with_logits_is_exact_for_logits_of_magnitude_1000():
    x = sn.tensor([-1000.0, 1000.0, -1000.0, 1000.0, 0.0, -40.0], dtype=sn.float64, requires_grad=True)
    t = sn.tensor([0.0, 1.0, 1.0, 0.0, 0.5, 0.0], dtype=sn.float64, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    np.testing.assert_allclose(loss.numpy(), [0.0, 0.0, 1000.0, 1000.0, np.log(2.0), np.log1p(np.exp(-40.0))],
                               rtol=1e-15)
    gx, gt = sn.grad(loss.sum(), [x, t], create_graph=True)
    np.testing.assert_allclose(gx.numpy(), [0.0, 0.0, -1.0, 1.0, 0.0, 1 / (1 + np.exp(40.0))], rtol=1e-15)
    np.testing.assert_array_equal(gt.numpy(), -x.numpy())
    (gg,) = sn.grad(gx.sum(), x)
    assert np.isfinite(gg.numpy()).all()
    pw = sn.tensor(3.0, dtype=sn.float64)
    loss = F.binary_cross_entropy_with_logits(x, t, pos_weight=pw, reduction="none")
    np.testing.assert_allclose(loss.numpy()[:4], [0.0, 0.0, 3000.0, 1000.0], rtol=1e-15)
    (gx,) = sn.grad(loss.sum(), x)
    np.testing.assert_allclose(gx.numpy()[:4], [0.0, 0.0, -3.0, 1.0], rtol=1e-15)


# --------------------------------------------------------------------------- mse


@given(shape=shapes(max_side=2), seed=seeds, reduction=st.sampled_from(REDUCTIONS))
def test_mse_loss(shape, seed, reduction):
    x, t = normal(seed, shape), normal(seed + 1, shape)
    y = F.mse_loss(sn.tensor(x), sn.tensor(t), reduction=reduction)
    np.testing.assert_allclose(y.numpy(), np_reduce((x - t) ** 2, reduction), rtol=1e-12)
    check(lambda i, tt: F.mse_loss(i, tt, reduction=reduction), x, t)  # the target gets its gradient too


# --------------------------------------------------------------------------- third order

_T3 = sn.tensor(uniform(8, (2, 3), 0.0, 1.0))
THIRD_ORDER = {
    "cross_entropy": lambda x: F.cross_entropy(x, sn.tensor([0, 2]), sn.tensor([1.0, 2.0, 0.5], dtype=sn.float64),
                                               label_smoothing=0.2),
    "nll_loss": lambda x: F.nll_loss(x * x, sn.tensor([1, 2]), reduction="sum"),
    "binary_cross_entropy": lambda x: F.binary_cross_entropy(F.softmax(x, 1), _T3, reduction="none"),
    "binary_cross_entropy_with_logits": lambda x: F.binary_cross_entropy_with_logits(
        x, _T3, pos_weight=sn.tensor([1.0, 2.0, 3.0], dtype=sn.float64)
    ),
    "mse_loss": lambda x: F.mse_loss(x * x, _T3),
}


@pytest.mark.parametrize("name", sorted(THIRD_ORDER))
def test_third_derivatives(name):
    """d/dx sum(loss**2) checked to second order: the losses' third derivatives."""
    def squared_norm_gradient(x):
        y = THIRD_ORDER[name](x)
        return sn.grad((y * y).sum(), x, create_graph=True)[0]

    check(squared_norm_gradient, normal(9, (2, 3)))


# --------------------------------------------------------------------------- dtypes

_P32 = sn.tensor([[0.2, 0.7, 0.4], [0.9, 0.1, 0.5]])
LOSSES_F32 = {
    "cross_entropy": lambda x: F.cross_entropy(x, sn.tensor([2, 0]), sn.tensor([1.0, 2.0, 0.5]), label_smoothing=0.1),
    "nll_loss": lambda x: F.nll_loss(x * x, sn.tensor([1, -100]), reduction="sum"),
    "binary_cross_entropy": lambda x: F.binary_cross_entropy(F.softmax(x, 1), _P32, sn.tensor([1.0, 2.0, 3.0])),
    "binary_cross_entropy_with_logits": lambda x: F.binary_cross_entropy_with_logits(
        x, _P32, pos_weight=sn.tensor([1.0, 2.0, 3.0])
    ),
    "mse_loss": lambda x: F.mse_loss(x * x, _P32, reduction="none"),
}


@pytest.mark.parametrize("name", sorted(LOSSES_F32))
def test_float32_stays_float32(name):
    x = sn.tensor([[0.5, -1.5, 2.5], [1.0, -0.25, 0.75]], requires_grad=True)
    loss = LOSSES_F32[name](x)
    assert loss.dtype == np.float32
    (g,) = sn.grad((loss * loss).sum(), x, create_graph=True)
    assert g.dtype == np.float32
    (gg,) = sn.grad((g * g).sum(), x)
    assert gg.dtype == np.float32


# --------------------------------------------------------------------------- errors

_X = sn.zeros(2, 3)
_PROB = sn.full((2, 3), 0.5)
ALL_LOSSES = {
    "cross_entropy": lambda **kw: F.cross_entropy(_X, sn.tensor([0, 1]), **kw),
    "nll_loss": lambda **kw: F.nll_loss(_X, sn.tensor([0, 1]), **kw),
    "binary_cross_entropy": lambda **kw: F.binary_cross_entropy(_PROB, _PROB, **kw),
    "binary_cross_entropy_with_logits": lambda **kw: F.binary_cross_entropy_with_logits(_X, _PROB, **kw),
    "mse_loss": lambda **kw: F.mse_loss(_X, _PROB, **kw),
}


@pytest.mark.parametrize("name", sorted(ALL_LOSSES))
@pytest.mark.parametrize("reduction", ["avg", "elementwise_mean", None, "MEAN"])
def test_invalid_reduction_lists_the_valid_ones(name, reduction):
    with pytest.raises(ValueError, match=rf"{name}: .* valid values are 'mean', 'sum', 'none'"):
        ALL_LOSSES[name](reduction=reduction)


@pytest.mark.parametrize("fn", [F.cross_entropy, F.nll_loss])
def test_class_target_errors(fn):
    name = fn.__name__
    x = sn.zeros(2, 3)
    with pytest.raises(IndexError, match=rf"{name}: target 3 is out of bounds for 3 classes"):
        fn(x, sn.tensor([0, 3]))
    with pytest.raises(IndexError, match=rf"{name}: target -1 is out of bounds for 3 classes"):
        fn(x, sn.tensor([-1, 0]))
    with pytest.raises(IndexError, match=rf"{name}: target -100 is out of bounds"):
        fn(x, sn.tensor([-100, 0]), ignore_index=0)
    with pytest.raises(TypeError, match=rf"{name}: target must hold integer class indices, got dtype float32"):
        fn(x, sn.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=rf"{name}: expected target of shape \(2,\) for input of shape \(2, 3\), "
                                         r"got \(3,\)"):
        fn(x, sn.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=rf"{name}: expected target of shape \(2, 4\) .* \(2, 3, 4\), got \(2,\)"):
        fn(sn.zeros(2, 3, 4), sn.tensor([0, 1]))
    with pytest.raises(ValueError, match=rf"{name}: weight must have shape \(3,\).*got \(2,\)"):
        fn(x, sn.tensor([0, 1]), sn.ones(2))
    with pytest.raises(ValueError, match=rf"{name}: input must have a class dim"):
        fn(sn.tensor(1.0), sn.tensor(0))
    with pytest.raises(TypeError, match=rf"{name}: target must be a Tensor, got list"):
        fn(x, [0, 1])
    with pytest.raises(TypeError, match=rf"{name}: input must be a floating point tensor"):
        fn(sn.tensor([[1, 2]]), sn.tensor([0]))


@pytest.mark.parametrize("smoothing", [-0.1, 1.5])
def test_label_smoothing_out_of_range(smoothing):
    with pytest.raises(ValueError, match=rf"cross_entropy: label_smoothing must be between 0.0 and 1.0, "
                                         rf"got {smoothing}"):
        F.cross_entropy(sn.zeros(2, 3), sn.tensor([0, 1]), label_smoothing=smoothing)


@pytest.mark.parametrize("fn", [F.binary_cross_entropy, F.binary_cross_entropy_with_logits, F.mse_loss])
def test_elementwise_loss_shape_mismatch(fn):
    with pytest.raises(ValueError, match=rf"{fn.__name__}: target of shape \(3,\) does not match input of shape "
                                         r"\(2, 3\)"):
        fn(sn.full((2, 3), 0.5), sn.full((3,), 0.5))


def test_binary_cross_entropy_errors():
    with pytest.raises(ValueError, match="binary_cross_entropy: all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(sn.tensor([0.5, 1.5]), sn.tensor([1.0, 0.0]))
    with pytest.raises(TypeError, match="binary_cross_entropy: target must be a floating point tensor, "
                                        "got dtype int64"):
        F.binary_cross_entropy(sn.tensor([0.5, 0.5]), sn.tensor([1, 0]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: weight of shape \(3,\) does not broadcast to input "
                                         r"shape \(2,\)"):
        F.binary_cross_entropy(sn.tensor([0.5, 0.5]), sn.tensor([1.0, 0.0]), sn.ones(3))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: pos_weight of shape \(2,\) does not "
                                         r"broadcast to input shape \(2, 3\)"):
        F.binary_cross_entropy_with_logits(sn.zeros(2, 3), sn.zeros(2, 3), pos_weight=sn.ones(2))


# --------------------------------------------------------------------------- PyTorch conformance

_R = np.random.default_rng(21)
_L = _R.standard_normal((4, 3)) * 2
_L4 = _R.standard_normal((2, 3, 2, 2))
_T = np.array([2, 0, -100, 1])
_T4 = np.array([[[0, 2], [1, 1]], [[2, -100], [0, 1]]])
_CW = np.array([0.5, 2.0, 1.5])
_BW = np.array([1.5, 0.5, 2.0, 1.0])
_BIG = np.array([[1000.0, 0.0, -1000.0], [-1000.0, 1000.0, 0.0], [0.0, -1000.0, 1000.0]])
_P = _R.uniform(0.1, 0.9, (3, 4))
_Q = _R.uniform(0.0, 1.0, (3, 4))
_LQ = _R.uniform(0.0, 1.0, (4, 3))  # targets shaped like _L
_EDGE = np.array([0.0, 1.0, 0.0, 1.0, 0.3])
_EDGE_T = np.array([1.0, 0.0, 0.0, 1.0, 0.6])
_LOGITS_BIG = np.array([-1000.0, 1000.0, -1000.0, 1000.0, 0.5, -3.0])
_BIN_T = np.array([0.0, 1.0, 1.0, 0.0, 0.3, 1.0])

CONFORMANCE = {
    "ce": ([_L, _T], lambda F, x, t: F.cross_entropy(x, t)),
    "ce_weight_smoothing": ([_L, _T, _CW], lambda F, x, t, w: F.cross_entropy(x, t, w, label_smoothing=0.2), (2,)),
    "ce_spatial_none": ([_L4, _T4], lambda F, x, t: F.cross_entropy(x, t, reduction="none", label_smoothing=0.1)),
    "ce_spatial_weight_mean": ([_L4, _T4, _CW], lambda F, x, t, w: F.cross_entropy(x, t, w), (2,)),
    "ce_ignore_index_in_range": ([_L, np.array([2, 0, 1, 1])], lambda F, x, t: F.cross_entropy(x, t, ignore_index=1)),
    "ce_unbatched": ([_L[0], np.array(1)], lambda F, x, t: F.cross_entropy(x, t, label_smoothing=0.3)),
    "ce_big_logits": ([_BIG, np.array([0, 0, 2])], lambda F, x, t: F.cross_entropy(x, t)),
    "ce_big_logits_smoothing": (
        [_BIG, np.array([0, 0, 2]), _CW],
        lambda F, x, t, w: F.cross_entropy(x, t, w, reduction="sum", label_smoothing=0.3),
        (2,),
    ),
    "ce_all_ignored_sum": ([_L, np.full(4, -100)], lambda F, x, t: F.cross_entropy(x, t, reduction="sum")),
    "nll_weight_sum": ([_L, _T, _CW], lambda F, x, t, w: F.nll_loss(x * x, t, w, reduction="sum"), (2,)),
    "nll_spatial_weight_mean": ([_L4, _T4, _CW], lambda F, x, t, w: F.nll_loss(x, t, w), (2,)),
    "bce": ([_P, _Q], lambda F, x, t: F.binary_cross_entropy(x, t)),
    "bce_weight_sum": ([_P, _Q, _BW], lambda F, x, t, w: F.binary_cross_entropy(x, t, w, reduction="sum"), (2,)),
    "bce_with_logits": ([_L, _LQ], lambda F, x, t: F.binary_cross_entropy_with_logits(x, t)),
    "bce_with_logits_weights": (
        [_L, _LQ, _CW, _P[0, :3] * 3],
        lambda F, x, t, w, pw: F.binary_cross_entropy_with_logits(x, t, w, reduction="none", pos_weight=pw),
        (2, 3),
    ),
    "bce_with_logits_big": ([_LOGITS_BIG, _BIN_T], lambda F, x, t: F.binary_cross_entropy_with_logits(x, t)),
    "mse": ([_L, _LQ * 4], lambda F, x, t: F.mse_loss(x, t)),
    "mse_none": ([_L, _LQ], lambda F, x, t: F.mse_loss(x * x, t, reduction="none")),
}


@pytest.mark.parametrize("name", sorted(CONFORMANCE))
def test_matches_pytorch(name):
    pytest.importorskip("torch")
    from torch_reference import assert_matches_torch

    arrays, fn, *const = CONFORMANCE[name]
    assert_matches_torch(fn, arrays, const=const[0] if const else ())


def test_binary_cross_entropy_at_0_and_1_matches_pytorch():
    """The clamped logs and PyTorch's 1e-12 guard on the input gradient.

    First order and input only: PyTorch's second derivative uses another guard there, and its target
    gradient leaves the logs unclamped (+-inf at x = 0 or 1), where ours is the derivative of the
    clamped loss that both compute (finite; see test_binary_cross_entropy_clamps_the_log_at_minus_100).
    """
    pytest.importorskip("torch")
    from torch_reference import assert_matches_torch

    assert_matches_torch(lambda F, x, t: F.binary_cross_entropy(x, t, reduction="none"), [_EDGE, _EDGE_T],
                         const=(1,), second_order=False)


def test_all_ignored_mean_is_nan_like_pytorch():
    torch = pytest.importorskip("torch")
    ours = F.cross_entropy(sn.tensor(_L), sn.tensor(np.full(4, -100))).item()
    theirs = torch.nn.functional.cross_entropy(torch.tensor(_L), torch.tensor(np.full(4, -100))).item()
    assert np.isnan(ours) and np.isnan(theirs)


# --------------------------------------------------------------------------- malformed input (issue 8)


def test_pos_weight_and_weight_must_be_tensors():
    """pos_weight=2.0 used to be AttributeError ('float' object has no attribute 'shape')."""
    x, t = sn.zeros(3), sn.ones(3)
    with pytest.raises(TypeError, match="^binary_cross_entropy_with_logits: pos_weight must be a Tensor"):
        F.binary_cross_entropy_with_logits(x, t, pos_weight=2.0)
    with pytest.raises(TypeError, match="^binary_cross_entropy: weight must be a Tensor"):
        F.binary_cross_entropy(x + 0.5, t, weight=np.ones(3))


def test_class_weights_must_be_floating_point():
    """Integer weights used to turn a float32 loss into float64."""
    with pytest.raises(TypeError, match="^cross_entropy: weight must be a floating point tensor"):
        F.cross_entropy(sn.zeros(2, 3), sn.tensor([0, 1]), weight=sn.tensor([1, 1, 1]))


def test_label_smoothing_must_be_a_number():
    with pytest.raises(TypeError, match="^cross_entropy: label_smoothing must be a number"):
        F.cross_entropy(sn.zeros(2, 3), sn.tensor([0, 1]), label_smoothing="0.1")


def test_binary_cross_entropy_refuses_nan_input_like_pytorch():
    with pytest.raises(ValueError, match="^binary_cross_entropy: all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(sn.tensor([0.5, float("nan")]), sn.tensor([1.0, 0.0]))


@pytest.mark.parametrize("fn", [F.binary_cross_entropy, F.binary_cross_entropy_with_logits])
def test_mixed_float32_and_float64_losses_are_computed_in_float64(fn):
    """A float32 target with float64 input computed 1 - t in float32: digits lost inside a float64 result."""
    x = np.array([0.3, 0.6, 0.9])
    t = np.array([0.1, 0.7, 0.35], dtype=np.float32)
    got = fn(sn.tensor(x), sn.tensor(t)).item()
    assert got == fn(sn.tensor(x), sn.tensor(t.astype(np.float64))).item()


@pytest.mark.parametrize("fn", [F.nll_loss, F.cross_entropy])
def test_inputs_without_classes_name_the_loss(fn):
    """With C = 0 and every target ignored, the weights' lookup failed as 'getitem: index 0 is out of bounds'."""
    with pytest.raises(ValueError, match=f"^{fn.__name__}: input of shape \\(0,\\) has no classes"):
        fn(sn.zeros(0), sn.tensor(1), ignore_index=1)
    with pytest.raises(ValueError, match=f"^{fn.__name__}: input of shape \\(2, 0\\) has no classes"):
        fn(sn.zeros(2, 0), sn.tensor([0, 0]))

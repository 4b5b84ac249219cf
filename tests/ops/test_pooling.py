"""max_pool2d and avg_pool2d: values against a direct definition, derivatives, errors, PyTorch."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from strategies import check, distinct, normal, seeds

import scratchnet as sn
import scratchnet.functional as F


@st.composite
def pool_geometry(draw, dilation=True):
    """Kernel, stride (also > kernel), padding up to kernel/2, dilation, ceil_mode, odd and minimal sizes."""
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    hw = tuple(max(1, d[i] * (k[i] - 1) + 1 - 2 * p[i] + draw(st.integers(0, 3))) for i in range(2))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    return dict(x=(n, c) + hw, kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=draw(st.booleans()))


def windows(x, g, pad_fill, beyond_fill=None):
    """Every window's elements, by the definition, as an (N, C, Ho, Wo, kh*kw) array.

    Window positions in the padding read ``pad_fill``; positions past the
    padded input (only reachable with ceil_mode) read ``beyond_fill``.
    """
    (kh, kw), (ph, pw), (dh, dw) = g["kernel_size"], g["padding"], g["dilation"]
    sh, sw = g["stride"] or g["kernel_size"]
    h, w = x.shape[2:]
    out = []
    for size, k, s, p, d in zip((h, w), (kh, kw), (sh, sw), (ph, pw), (dh, dw)):
        span = size + 2 * p - d * (k - 1) - 1
        n = (-(-span // s) if g["ceil_mode"] else span // s) + 1
        if g["ceil_mode"] and (n - 1) * s >= size + p:
            n -= 1
        out.append(n)
    beyond_fill = pad_fill if beyond_fill is None else beyond_fill
    big = np.full(x.shape[:2] + (h + 2 * ph + 2 * sh * kh, w + 2 * pw + 2 * sw * kw), beyond_fill, dtype=float)
    big[:, :, : h + 2 * ph, : w + 2 * pw] = pad_fill
    big[:, :, ph : ph + h, pw : pw + w] = x
    result = np.zeros(x.shape[:2] + tuple(out) + (kh * kw,))
    for a in range(out[0]):
        for b in range(out[1]):
            field = big[:, :, a * sh : a * sh + dh * (kh - 1) + 1 : dh, b * sw : b * sw + dw * (kw - 1) + 1 : dw]
            result[:, :, a, b] = field.reshape(x.shape[:2] + (-1,))
    return result


@settings(max_examples=40)
@given(g=pool_geometry(), seed=seeds)
def test_max_pool2d(g, seed):
    x = distinct(seed, g["x"])  # no ties: the arg-max is unique
    params = {k: v for k, v in g.items() if k != "x"}
    y = F.max_pool2d(sn.tensor(x), **params)
    np.testing.assert_array_equal(y.numpy(), windows(x, g, -np.inf).max(axis=-1))
    assume(np.isfinite(y.numpy()).all())  # a window of padding only gives -inf, as in PyTorch: no derivative
    check(lambda t: F.max_pool2d(t, **params), x)
    check(lambda t: F.max_pool2d(t * t, **params) * t.sum(), x)  # non-zero second derivatives


def test_max_pool2d_pads_with_minus_infinity():
    x = -np.arange(1.0, 17.0).reshape(1, 1, 4, 4)  # all negative: a zero pad would win every border window
    y = F.max_pool2d(sn.tensor(x), 3, stride=2, padding=1)
    np.testing.assert_array_equal(y.numpy(), [[[[-1.0, -2.0], [-5.0, -6.0]]]])


@settings(max_examples=40)
@given(g=pool_geometry(dilation=False), seed=seeds, count_include_pad=st.booleans())
def test_avg_pool2d(g, seed, count_include_pad):
    x = normal(seed, g["x"])
    params = {k: v for k, v in g.items() if k not in ("x", "dilation")}
    params["count_include_pad"] = count_include_pad
    y = F.avg_pool2d(sn.tensor(x), **params)
    # the divisor counts window positions inside the padded input (or inside the input only)
    ones = np.ones(g["x"])
    divisor = windows(ones, g, 1.0 if count_include_pad else 0.0, 0.0).sum(axis=-1)
    expected = windows(x, g, 0.0).sum(axis=-1) / divisor
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12)
    check(lambda t: F.avg_pool2d(t, **params), x)
    check(lambda t: F.avg_pool2d(t * t, **params), x)


def test_avg_pool2d_divisor_override():
    x = normal(0, (1, 1, 4, 4))
    y = F.avg_pool2d(sn.tensor(x), 2, divisor_override=3)
    np.testing.assert_allclose(y.numpy(), x.reshape(1, 1, 2, 2, 2, 2).sum(axis=(3, 5)) / 3)


@pytest.mark.parametrize("fn", [F.max_pool2d, F.avg_pool2d])
def test_float32_stays_float32(fn):
    x = sn.randn(2, 3, 7, 7, requires_grad=True)
    y = fn(x, 3, 2, 1)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("fn", [F.max_pool2d, F.avg_pool2d])
@pytest.mark.parametrize(
    "args,match",
    [
        (((1, 1, 4, 4), 0), r"must be positive, got \(0, 0\)"),
        (((1, 1, 4, 4), 2, -1), r"must be positive, got \(2, 2\), \(-1, -1\)"),
        (((1, 1, 4, 4), 2, 2, 2), r"padding must be between 0 and half the kernel size \(2, 2\), got \(2, 2\)"),
        (((1, 1, 2, 2), 5, 1, 1), "kernel 5 .* larger than the padded input size 2"),
        (((1, 4, 4), 2), r"4-D input .* got shape \(1, 4, 4\)"),
    ],
)
def test_bad_input_gets_a_clear_value_error(fn, args, match):
    shape, *rest = args
    with pytest.raises(ValueError, match=match):
        fn(sn.zeros(*shape), *rest)


@settings(max_examples=30)
@given(g=pool_geometry(), seed=seeds, count_include_pad=st.booleans())
def test_pooling_matches_pytorch(g, seed, count_include_pad):
    torch = pytest.importorskip("torch")
    x = distinct(seed, g["x"])
    params = {k: v for k, v in g.items() if k != "x"}
    assume(np.isfinite(F.max_pool2d(sn.tensor(x), **params).numpy()).all())
    avg_params = {k: v for k, v in params.items() if k != "dilation"}
    cases = [(F.max_pool2d, torch.nn.functional.max_pool2d, params)]
    if g["dilation"] == (1, 1):
        avg_params["count_include_pad"] = count_include_pad
        cases.append((F.avg_pool2d, torch.nn.functional.avg_pool2d, avg_params))
    for ours, theirs, kw in cases:
        xs, xt = sn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ys, yt = ours(xs * xs, **kw), theirs(xt * xt, **kw)
        np.testing.assert_allclose(ys.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        gout = normal(seed + 1, ys.shape)
        (gs,) = sn.grad((ys * sn.tensor(gout)).sum(), xs, create_graph=True)
        (gt,) = torch.autograd.grad((yt * torch.tensor(gout)).sum(), xt, create_graph=True)
        np.testing.assert_allclose(gs.numpy(), gt.detach().numpy(), rtol=1e-10, atol=1e-12)
        (hs,) = sn.grad((gs * gs).sum(), xs)
        (ht,) = torch.autograd.grad((gt * gt).sum(), xt)
        np.testing.assert_allclose(hs.numpy(), ht.numpy(), rtol=1e-10, atol=1e-12)


def test_max_pool_ties_send_the_gradient_to_the_first_maximum_only():
    """In each 2x2 window the gradient goes to the first (row-major) element holding the maximum, as in
    PyTorch; windows whose maximum is only at the last offset get it there."""
    x = np.array([[0.0, 0.0, 1.0, 5.0],
                  [0.0, 0.0, 5.0, 5.0],
                  [2.0, 7.0, 3.0, 1.0],
                  [7.0, 7.0, 2.0, 9.0]])[None, None]
    t = sn.tensor(x, requires_grad=True)
    y = F.max_pool2d(t, 2)
    np.testing.assert_array_equal(y.numpy()[0, 0], [[0.0, 5.0], [7.0, 9.0]])
    (y * sn.tensor(np.array([[1.0, 2.0], [3.0, 4.0]])[None, None])).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy()[0, 0], [[1.0, 0.0, 0.0, 2.0],
                                                         [0.0, 0.0, 0.0, 0.0],
                                                         [0.0, 3.0, 0.0, 0.0],
                                                         [0.0, 0.0, 0.0, 4.0]])

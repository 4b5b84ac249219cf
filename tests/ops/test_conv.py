"""conv2d and conv_transpose2d: values, first and second derivatives, gradient penalties, errors, PyTorch."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import check, normal, seeds

import scratchnet as sn
import scratchnet.functional as F
from scratchnet.testing import gradcheck


@st.composite
def conv_geometry(draw, max_batch=2, max_channels=2):
    """Shapes and parameters: stride > kernel, padding up to kernel/2, dilation, non-square kernels,
    odd sizes, batch 1, 1x1 kernels, and kernels equal to the padded input (extra = 0)."""
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    h = dh * (kh - 1) + 1 - 2 * ph + draw(st.integers(0, 3))
    w = dw * (kw - 1) + 1 - 2 * pw + draw(st.integers(0, 3))
    n, c, o = draw(st.integers(1, max_batch)), draw(st.integers(1, max_channels)), draw(st.integers(1, 3))
    return dict(x=(n, c, max(h, 1), max(w, 1)), w=(o, c, kh, kw), stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw))


def reference_conv2d(x, w, stride, padding, dilation):
    """Direct definition: y[n,o,h,w] = sum_{c,i,j} w[o,c,i,j] x_pad[n,c,h*s+i*d,w*s+j*d]."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    o, _, kh, kw = w.shape
    ho = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    wo = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((x.shape[0], o, ho, wo))
    for n in range(x.shape[0]):
        for a in range(ho):
            for b in range(wo):
                field = xp[n, :, a * sh : a * sh + dh * (kh - 1) + 1 : dh, b * sw : b * sw + dw * (kw - 1) + 1 : dw]
                y[n, :, a, b] = np.tensordot(w, field, axes=3)
    return y


@settings(max_examples=30)
@given(g=conv_geometry(), seed=seeds, with_bias=st.booleans())
def test_conv2d(g, seed, with_bias):
    x, w, b = normal(seed, g["x"]), normal(seed + 1, g["w"]), normal(seed + 2, g["w"][:1])
    kw = dict(stride=g["stride"], padding=g["padding"], dilation=g["dilation"])
    y = F.conv2d(sn.tensor(x), sn.tensor(w), sn.tensor(b) if with_bias else None, **kw)
    expected = reference_conv2d(x, w, **kw) + (b.reshape(1, -1, 1, 1) if with_bias else 0)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-12)
    if with_bias:
        check(lambda t, k, c: F.conv2d(t, k, c, **kw), x, w, b)
    else:
        check(lambda t, k: F.conv2d(t, k, **kw), x, w)


@settings(max_examples=30)
@given(g=conv_geometry(), seed=seeds, data=st.data())
def test_conv_transpose2d_is_the_adjoint_of_conv2d(g, seed, data):
    """<conv_transpose2d(z, w), u> == <z, conv2d(u, w)> for every u of the right shape."""
    x_shape, w_shape = g["x"], g["w"]
    kw = dict(stride=g["stride"], padding=g["padding"], dilation=g["dilation"])
    u = normal(seed, x_shape)
    w = normal(seed + 1, w_shape)
    y = F.conv2d(sn.tensor(u), sn.tensor(w), **kw)
    z = normal(seed + 2, y.shape)
    # output_padding recovers sizes the conv's floor division dropped
    oph = x_shape[2] - ((y.shape[2] - 1) * kw["stride"][0] - 2 * kw["padding"][0] + kw["dilation"][0] * (w_shape[2] - 1) + 1)
    opw = x_shape[3] - ((y.shape[3] - 1) * kw["stride"][1] - 2 * kw["padding"][1] + kw["dilation"][1] * (w_shape[3] - 1) + 1)
    if not (oph < max(kw["stride"][0], kw["dilation"][0]) and opw < max(kw["stride"][1], kw["dilation"][1])):
        return  # not reachable with a legal output_padding
    t = F.conv_transpose2d(sn.tensor(z), sn.tensor(w), None, kw["stride"], kw["padding"], (oph, opw), 1, kw["dilation"])
    assert t.shape == x_shape
    np.testing.assert_allclose((t.numpy() * u).sum(), (z * y.numpy()).sum(), rtol=1e-10, atol=1e-12)
    bias = normal(seed + 3, (w_shape[1],))
    check(
        lambda a, k, c: F.conv_transpose2d(a, k, c, kw["stride"], kw["padding"], (oph, opw), 1, kw["dilation"]),
        z, w, bias,
    )


def reference_conv_transpose2d(z, w, stride, padding, output_padding):
    """Direct definition: every input pixel scatters z[n, i, y, x] * w[i, o, a, b] to (y*s + a - p, x*s + b - p)."""
    (sh, sw), (ph, pw), (oph, opw) = stride, padding, output_padding
    n, _, h, wd = z.shape
    _, o, kh, kw = w.shape
    hout, wout = (h - 1) * sh - 2 * ph + kh + oph, (wd - 1) * sw - 2 * pw + kw + opw
    y = np.zeros((n, o, hout + 2 * ph + kh, wout + 2 * pw + kw))
    for a in range(kh):
        for b in range(kw):
            scattered = np.einsum("nihw,io->nohw", z, w[:, :, a, b])
            y[:, :, a : a + sh * (h - 1) + 1 : sh, b : b + sw * (wd - 1) + 1 : sw] += scattered
    return y[:, :, ph : ph + hout, pw : pw + wout]


@pytest.mark.parametrize(
    "kernel, stride, padding, output_padding, size",
    [
        (4, 2, 1, 0, 7),  # the DCGAN's layers: each output phase has the input's size, so col2im adds whole blocks
        (4, 2, 1, 0, 14),
        (3, 1, 1, 0, 5),  # a "same" conv's input gradient, the same path
        (2, 2, 0, 0, 3),
        (4, 2, 1, 1, 4),  # phases one row larger than the input: col2im adds windows instead
        (3, 2, 0, 1, 4),
        (5, 3, 2, 2, 3),
        (1, 1, 0, 0, 3),
    ],
)
@pytest.mark.parametrize("channels", [(3, 2), (2, 1), (1, 3)])
def test_conv_transpose2d_matches_its_definition(kernel, stride, padding, output_padding, size, channels):
    i_ch, o_ch = channels
    z, w = normal(0, (2, i_ch, size, size + 1)), normal(1, (i_ch, o_ch, kernel, kernel))
    y = F.conv_transpose2d(sn.tensor(z), sn.tensor(w), None, stride, padding, output_padding)
    expected = reference_conv_transpose2d(z, w, (stride, stride), (padding, padding), (output_padding, output_padding))
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12, atol=1e-12)


def channels_last(a):
    return sn.tensor(np.ascontiguousarray(a.transpose(0, 2, 3, 1))).permute(0, 3, 1, 2)


def is_channels_last(t):
    a = t.numpy()
    return a.transpose(0, 2, 3, 1).flags.c_contiguous


def test_conv_ops_return_channels_last_memory_and_take_any_layout():
    """The conv ops return (N, C, H, W) tensors with (N, H, W, C) memory (ops/conv.py says why): inputs in
    C order, channels-last or strided give the same numbers, per sample as in a batch, and exact gradients."""
    x, w = normal(0, (5, 3, 7, 6)), normal(1, (4, 3, 3, 2))
    kw = dict(stride=(2, 1), padding=(1, 1), dilation=(1, 2))
    ref = reference_conv2d(x, w, **kw)
    wide = np.zeros((5, 3, 7, 12))
    wide[..., ::2] = x
    for xt in (sn.tensor(x), channels_last(x), sn.tensor(wide)[..., ::2]):
        y = F.conv2d(xt, sn.tensor(w), **kw)
        assert is_channels_last(y)
        np.testing.assert_allclose(y.numpy(), ref, rtol=1e-12, atol=1e-12)
    z, wt = normal(2, (5, 3, 4, 2)), normal(3, (3, 2, 3, 3))
    kt = dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), dilation=(1, 2))
    batched = F.conv_transpose2d(channels_last(z), sn.tensor(wt), **kt)
    assert is_channels_last(batched)
    alone = np.concatenate([F.conv_transpose2d(sn.tensor(z[i : i + 1]), sn.tensor(wt), **kt).numpy() for i in range(5)])
    np.testing.assert_allclose(batched.numpy(), alone, rtol=1e-13, atol=1e-13)
    check(lambda a, k: F.conv_transpose2d(a, k, **kt), z, wt)


@pytest.mark.parametrize("transposed", [False, True])
def test_conv_bias_is_part_of_the_conv_op(transposed):
    """The bias is added inside the conv op (in place, spread over an image): one graph node, the output
    still channels-last, the values and all three gradients those of conv + bias; a float64 bias on a
    float32 conv promotes as a separate add would."""
    x, w, b = normal(0, (3, 4, 5, 5)), normal(1, (4, 2, 3, 3) if transposed else (2, 4, 3, 3)), normal(2, (2,))
    conv = F.conv_transpose2d if transposed else F.conv2d
    tensors = [sn.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = conv(*tensors, stride=2, padding=1)
    op = "ConvTranspose2d" if transposed else "Conv2d"
    assert type(y.creator).__name__ == op and len(y.creator.inputs) == 3  # one node, no add after it
    assert is_channels_last(y)
    plain = conv(sn.tensor(x), sn.tensor(w), stride=2, padding=1).numpy()
    np.testing.assert_allclose(y.numpy(), plain + b.reshape(1, -1, 1, 1), rtol=1e-13, atol=1e-13)
    dy = normal(3, y.shape)
    gx, gw, gb = sn.grad(y, tensors, grad_outputs=sn.tensor(dy))
    np.testing.assert_allclose(gb.numpy(), dy.sum(axis=(0, 2, 3)), rtol=1e-13)
    check(lambda a, k, c: conv(a, k, c, stride=2, padding=1), x, w, b)
    mixed = conv(sn.tensor(x.astype(np.float32)), sn.tensor(w.astype(np.float32)), sn.tensor(b), stride=2, padding=1)
    assert mixed.dtype == np.float64


def test_layers_after_a_conv_keep_channels_last_memory_and_the_same_numbers():
    """Batch norm, ReLU and max-pool on a conv's channels-last output return channels-last arrays with the
    values of the C-order computation, and flattening's gradient comes back channels-last (a C-order
    copy of the activations going in), so the layers in between never mix the two layouts."""
    x = normal(0, (4, 3, 8, 8))
    weight, bias = normal(1, (3,)), normal(2, (3,))

    def run(xt):
        xt.requires_grad_(True)
        h = F.batch_norm(xt, None, None, sn.tensor(weight), sn.tensor(bias), training=True)
        pooled = F.max_pool2d(F.relu(h), 2)
        flat = pooled.reshape(4, -1)
        (flat * sn.tensor(normal(3, flat.shape))).sum().backward()
        return h, pooled, xt.grad

    h_ref, pooled_ref, grad_ref = run(sn.tensor(x))
    h, pooled, grad = run(channels_last(x))
    assert is_channels_last(h) and is_channels_last(pooled)
    np.testing.assert_allclose(h.numpy(), h_ref.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(pooled.numpy(), pooled_ref.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad.numpy(), grad_ref.numpy(), rtol=1e-12, atol=1e-12)
    leaf, gy = channels_last(pooled.numpy()).requires_grad_(True), sn.tensor(normal(4, (4, 48)))
    (g,) = sn.grad(leaf.reshape(4, -1), leaf, grad_outputs=gy)
    assert is_channels_last(g)
    np.testing.assert_array_equal(g.numpy(), gy.numpy().reshape(4, 3, 4, 4))


def test_padding_valid_and_same():
    x = normal(0, (1, 2, 5, 6))
    for k in [(3, 3), (2, 4), (1, 1)]:
        w = normal(1, (3, 2) + k)
        y = F.conv2d(sn.tensor(x), sn.tensor(w), padding="same")
        assert y.shape == (1, 3, 5, 6)
        assert F.conv2d(sn.tensor(x), sn.tensor(w), padding="valid").shape == F.conv2d(sn.tensor(x), sn.tensor(w)).shape
        check(lambda a, b: F.conv2d(a, b, padding="same"), x, w)


def test_gradient_penalty_through_a_conv_discriminator_is_exact():
    """R1 / WGAN-GP: d/dweights of ||d D(x) / dx||^2 needs second derivatives through conv and pooling."""
    rng = np.random.default_rng(0)
    x = sn.tensor(rng.standard_normal((2, 1, 6, 6)), requires_grad=True)

    def penalty(w1, w2, wt):
        h = sn.tanh(F.conv2d(x, w1, stride=2, padding=1))
        h = F.avg_pool2d(sn.sigmoid(F.conv_transpose2d(h, wt, stride=2, padding=1)), 2)
        d = F.conv2d(h, w2).sum()
        (gx,) = sn.grad(d, x, create_graph=True)
        return (gx * gx).sum()

    weights = [rng.standard_normal(s) * 0.5 for s in [(3, 1, 3, 3), (1, 2, 3, 3), (3, 2, 4, 4)]]
    inputs = [sn.tensor(w, requires_grad=True) for w in weights]
    assert gradcheck(penalty, inputs, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: F.conv2d(sn.zeros(1, 3, 5, 5), sn.zeros(2, 4, 3, 3)), r"input has 3 channels but weight \(2, 4, 3, 3\) expects 4"),
        (lambda: F.conv2d(sn.zeros(1, 1, 2, 2), sn.zeros(1, 1, 3, 3)), "kernel 3 .* larger than the padded input height 2"),
        (lambda: F.conv2d(sn.zeros(1, 1, 5, 5), sn.zeros(1, 1, 3, 3), stride=0), r"stride must be positive, got \(0, 0\)"),
        (lambda: F.conv2d(sn.zeros(1, 1, 5, 5), sn.zeros(1, 1, 3, 3), padding=-1), r"padding must be non-negative, got \(-1, -1\)"),
        (lambda: F.conv2d(sn.zeros(1, 5, 5), sn.zeros(1, 1, 3, 3)), r"4-D input .* got shape \(1, 5, 5\)"),
        (lambda: F.conv2d(sn.zeros(1, 2, 5, 5), sn.zeros(2, 1, 3, 3), groups=2), "groups"),
        (lambda: F.conv2d(sn.zeros(1, 1, 5, 5), sn.zeros(2, 1, 3, 3), sn.zeros(3)), r"bias must have shape \(2,\)"),
        (lambda: F.conv_transpose2d(sn.zeros(1, 2, 3, 3), sn.zeros(3, 1, 3, 3)), "input has 2 channels"),
        (lambda: F.conv_transpose2d(sn.zeros(1, 1, 3, 3), sn.zeros(1, 1, 3, 3), stride=2, output_padding=2), "output_padding"),
        (lambda: F.conv_transpose2d(sn.zeros(1, 1, 1, 1), sn.zeros(1, 1, 1, 1), padding=1), "leaves no output"),
    ],
)
def test_bad_input_gets_a_clear_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_float32_stays_float32():
    x = sn.randn(2, 3, 8, 8, requires_grad=True)
    w = sn.randn(4, 3, 3, 3, requires_grad=True)
    wt = sn.randn(4, 2, 4, 4, requires_grad=True)
    y = F.conv_transpose2d(F.conv2d(x, w, padding=1), wt, stride=2, padding=1)
    assert y.dtype == np.float32 and y.shape == (2, 2, 16, 16)
    y.sum().backward()
    assert x.grad.dtype == w.grad.dtype == wt.grad.dtype == np.float32


# --------------------------------------------------------------------------- PyTorch conformance


@settings(max_examples=25)
@given(g=conv_geometry(max_batch=3, max_channels=3), seed=seeds)
def test_conv2d_and_transpose_match_pytorch(g, seed):
    torch = pytest.importorskip("torch")
    kw = dict(stride=g["stride"], padding=g["padding"], dilation=g["dilation"])
    x, w, b = normal(seed, g["x"]), normal(seed + 1, g["w"]), normal(seed + 2, g["w"][:1])
    xs, ws, bs = (sn.tensor(a, requires_grad=True) for a in (x, w, b))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ys, yt = F.conv2d(xs, ws, bs, **kw), torch.nn.functional.conv2d(xt, wt, bt, **kw)
    np.testing.assert_allclose(ys.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    gout = normal(seed + 3, ys.shape)
    # first derivatives, then a second-order quantity (the squared input gradient) differentiated again
    gs = sn.grad((ys * sn.tensor(gout)).sum(), [xs, ws, bs], create_graph=True)
    gt = torch.autograd.grad((yt * torch.tensor(gout)).sum(), [xt, wt, bt], create_graph=True)
    for a, t in zip(gs, gt):
        np.testing.assert_allclose(a.numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)
    hs = sn.grad((gs[0] * gs[0]).sum() + (gs[1] * gs[1]).sum(), [xs, ws])
    ht = torch.autograd.grad((gt[0] * gt[0]).sum() + (gt[1] * gt[1]).sum(), [xt, wt], allow_unused=True)
    for a, t in zip(hs, ht):
        np.testing.assert_allclose(a.numpy(), t.numpy(force=True) if t is not None else 0, rtol=1e-10, atol=1e-12)
    # transposed convolution with the same geometry, weight (in=O, out=C), where it has an output
    sizes = [(n - 1) * s - 2 * p + d * (k - 1) + 1 for n, s, p, d, k in zip(ys.shape[2:], *kw.values(), g["w"][2:])]
    if min(sizes) <= 0:
        return
    z = normal(seed + 4, ys.shape)
    ts = F.conv_transpose2d(sn.tensor(z), sn.tensor(w), None, kw["stride"], kw["padding"], 0, 1, kw["dilation"])
    tt = torch.nn.functional.conv_transpose2d(torch.tensor(z), torch.tensor(w), None, kw["stride"], kw["padding"], 0, 1, kw["dilation"])
    np.testing.assert_allclose(ts.numpy(), tt.numpy(), rtol=1e-10, atol=1e-12)

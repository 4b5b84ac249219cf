"""The layers: shapes, default init, train/eval behaviour, errors, and PyTorch conformance on copied weights."""

import math

import numpy as np
import pytest

import scratchnet as sn
import scratchnet.nn as nn
from scratchnet.testing import gradcheck, gradgradcheck


def small_cnn():
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.LeakyReLU(0.2),
        nn.MaxPool2d(2),
        nn.ConvTranspose2d(4, 3, 4, stride=2, padding=1),
        nn.Tanh(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(3 * 3 * 3, 5),
        nn.Softplus(),
        nn.BatchNorm1d(5),
        nn.Dropout(0.3),
        nn.Sigmoid(),
    )


# --------------------------------------------------------------------------- construction and init


@pytest.mark.parametrize(
    "layer,shapes",
    [
        (nn.Linear(3, 5), {"weight": (5, 3), "bias": (5,)}),
        (nn.Linear(3, 5, bias=False), {"weight": (5, 3)}),
        (nn.Conv2d(3, 8, (3, 2)), {"weight": (8, 3, 3, 2), "bias": (8,)}),
        (nn.ConvTranspose2d(3, 8, 4), {"weight": (3, 8, 4, 4), "bias": (8,)}),
        (nn.BatchNorm2d(6), {"weight": (6,), "bias": (6,)}),
        (nn.BatchNorm1d(6, affine=False), {}),
    ],
)
def test_parameter_shapes_follow_pytorch_layouts(layer, shapes):
    assert {k: tuple(p.shape) for k, p in layer.named_parameters()} == shapes
    assert all(p.dtype == np.float32 and p.requires_grad for p in layer.parameters())


@pytest.mark.parametrize(
    "layer,fan_in",
    [(nn.Linear(200, 300), 200), (nn.Conv2d(20, 30, 3), 180), (nn.ConvTranspose2d(30, 20, 3), 180)],
)
def test_default_init_is_uniform_one_over_sqrt_fan_in(layer, fan_in):
    bound = 1 / math.sqrt(fan_in)
    for p in (layer.weight, layer.bias):
        assert p.numpy().min() >= -bound and p.numpy().max() <= bound
    w = layer.weight.numpy()
    assert w.max() > 0.99 * bound and w.min() < -0.99 * bound  # spans the interval
    np.testing.assert_allclose(layer.weight.numpy().std(), bound / math.sqrt(3), rtol=0.05)


def test_init_is_reproducible_under_manual_seed():
    sn.manual_seed(7)
    a = nn.Conv2d(3, 4, 3).weight.numpy().copy()
    sn.manual_seed(7)
    b = nn.Conv2d(3, 4, 3).weight.numpy()
    np.testing.assert_array_equal(a, b)


def test_batch_norm_buffers_and_state_dict_keys():
    bn = nn.BatchNorm2d(3)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    np.testing.assert_array_equal(bn.running_var.numpy(), np.ones(3, dtype=np.float32))
    assert bn.num_batches_tracked.dtype == np.int64
    plain = nn.BatchNorm1d(3, affine=False, track_running_stats=False)
    assert list(plain.state_dict()) == []


# --------------------------------------------------------------------------- behaviour


def test_batch_norm_train_then_eval():
    sn.manual_seed(0)
    bn = nn.BatchNorm2d(2, momentum=0.5)
    x = sn.randn(4, 2, 3, 3) * 3 + 1
    y = bn(x).numpy()
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, atol=1e-3)
    xv = x.numpy()
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.5 * xv.mean(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.5 + 0.5 * xv.var(axis=(0, 2, 3), ddof=1), rtol=1e-5)
    assert int(bn.num_batches_tracked.item()) == 1
    bn.eval()
    mean, var = bn.running_mean.numpy(), bn.running_var.numpy()
    expected = (xv - mean.reshape(1, 2, 1, 1)) / np.sqrt(var.reshape(1, 2, 1, 1) + 1e-5)
    np.testing.assert_allclose(bn(x).numpy(), expected, rtol=1e-5, atol=1e-6)
    assert int(bn.num_batches_tracked.item()) == 1  # eval does not count


def test_batch_norm_momentum_none_is_a_cumulative_average():
    bn = nn.BatchNorm1d(2, momentum=None)
    batches = [sn.randn(5, 2) for _ in range(3)]
    for b in batches:
        bn(b)
    means = np.stack([b.numpy().mean(axis=0) for b in batches])
    np.testing.assert_allclose(bn.running_mean.numpy(), means.mean(axis=0), rtol=1e-5, atol=1e-6)


def test_dropout_only_in_training():
    layer = nn.Dropout(0.5)
    x = sn.ones(1000)
    y = layer(x).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0} and 0.4 < (y == 0).mean() < 0.6
    layer.eval()
    assert layer(x) is x or np.array_equal(layer(x).numpy(), x.numpy())


# --------------------------------------------------------------------------- errors


def test_conv_errors_name_the_layer_and_the_values():
    conv = nn.Conv2d(3, 8, 3)
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8, kernel_size=\(3, 3\).*expected input with 3 channels, got 4"):
        conv(sn.zeros(1, 4, 5, 5))
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8.*4-D input.*got shape \(3, 5, 5\)"):
        conv(sn.zeros(3, 5, 5))
    with pytest.raises(ValueError, match="kernel 3 .* larger than the padded input"):
        conv(sn.zeros(1, 3, 2, 2))
    with pytest.raises(ValueError, match=r"must be positive, got \(0, 0\)"):
        nn.Conv2d(3, 8, 0)
    with pytest.raises(ValueError, match=r"must be positive.*\(0, 1\)"):
        nn.Conv2d(3, 8, 3, stride=(0, 1))
    with pytest.raises(ValueError, match=r"padding must be non-negative, got \(-1, -1\)"):
        nn.Conv2d(3, 8, 3, padding=-1)
    with pytest.raises(ValueError, match=r"ConvTranspose2d\(3, 2.*expected input with 3 channels, got 2"):
        nn.ConvTranspose2d(3, 2, 3)(sn.zeros(1, 2, 4, 4))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(4.*expected 4D input, got shape \(2, 4\)"):
        nn.BatchNorm2d(4)(sn.zeros(2, 4))
    with pytest.raises(ValueError, match=r"Linear\(in_features=3.*last dim 3, got shape \(2, 4\)"):
        nn.Linear(3, 2)(sn.zeros(2, 4))


# --------------------------------------------------------------------------- whole-model derivatives


def test_a_whole_conv_net_passes_gradcheck_and_gradgradcheck():
    sn.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2), nn.ConvTranspose2d(2, 1, 2, stride=2),
        nn.Flatten(), nn.Linear(16, 2),
    ).double()
    x = sn.tensor(np.random.default_rng(0).standard_normal((2, 1, 4, 4)), requires_grad=True)
    params = list(model.parameters())

    def f(x, *ps):
        return model(x)

    assert gradcheck(f, [x] + params)
    assert gradgradcheck(f, [x])


# --------------------------------------------------------------------------- PyTorch conformance


def grad_or_zeros(p):
    """A parameter's gradient as NumPy, or zeros where the loss does not reach it (either side may leave None)."""
    g = p.grad
    if g is None:
        return np.zeros(tuple(p.shape))
    return g.detach().numpy() if hasattr(g, "detach") and not isinstance(g, sn.Tensor) else g.numpy()


def torch_twin(torch):
    tnn = torch.nn
    return tnn.Sequential(
        tnn.Conv2d(2, 4, 3, padding=1),
        tnn.BatchNorm2d(4),
        tnn.LeakyReLU(0.2),
        tnn.MaxPool2d(2),
        tnn.ConvTranspose2d(4, 3, 4, stride=2, padding=1),
        tnn.Tanh(),
        tnn.AvgPool2d(2),
        tnn.Flatten(),
        tnn.Linear(3 * 3 * 3, 5),
        tnn.Softplus(),
        tnn.BatchNorm1d(5),
        tnn.Dropout(0.3),
        tnn.Sigmoid(),
    )


def test_repr_and_state_dict_keys_match_pytorch():
    torch = pytest.importorskip("torch")
    ours, theirs = small_cnn(), torch_twin(torch)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for k, v in theirs.state_dict().items():
        assert ours.state_dict()[k].shape == tuple(v.shape), k


@pytest.mark.parametrize("train", [True, False])
def test_same_weights_give_the_same_numbers_as_pytorch(train):
    torch = pytest.importorskip("torch")
    theirs = torch_twin(torch).double()
    ours = small_cnn().double()
    # PyTorch weights into scratchnet as plain NumPy arrays, as a user would copy them
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    ours.train(train)
    theirs.train(train)
    ours[11].p = theirs[11].p = 0.0  # dropout's masks come from different generators
    x = np.random.default_rng(0).standard_normal((4, 2, 6, 6))
    xs, xt = sn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ys, yt = ours(xs), theirs(xt)
    np.testing.assert_allclose(ys.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = np.random.default_rng(1).standard_normal(ys.shape)
    (ys * sn.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    their_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(grad_or_zeros(p), grad_or_zeros(their_params[name]), rtol=1e-9, atol=1e-12, err_msg=name)
    their_state = theirs.state_dict()
    for name, v in ours.state_dict().items():  # running statistics updated alike
        np.testing.assert_allclose(v, their_state[name].numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_r1_penalty_through_a_conv_discriminator_matches_pytorch():
    """gamma/2 * E||grad_x D(x)||^2 and its weight gradients: second derivatives through every layer."""
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    theirs = tnn.Sequential(
        tnn.Conv2d(1, 4, 4, 2, 1), tnn.LeakyReLU(0.2), tnn.Conv2d(4, 8, 4, 2, 1), tnn.LeakyReLU(0.2),
        tnn.Flatten(), tnn.Linear(8 * 2 * 2, 1),
    ).double()
    ours = nn.Sequential(
        nn.Conv2d(1, 4, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(4, 8, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(8 * 2 * 2, 1),
    ).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((3, 1, 8, 8))
    xs, xt = sn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (gs,) = sn.grad(ours(xs).sum(), xs, create_graph=True)
    (gt,) = torch.autograd.grad(theirs(xt).sum(), xt, create_graph=True)
    ps = 5.0 * (gs * gs).reshape(3, -1).sum(1).mean()
    pt = 5.0 * (gt * gt).reshape(3, -1).sum(1).mean()
    np.testing.assert_allclose(ps.item(), pt.item(), rtol=1e-10)
    ps.backward()
    pt.backward()
    their_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(grad_or_zeros(p), grad_or_zeros(their_params[name]), rtol=1e-9, atol=1e-12, err_msg=name)


# --------------------------------------------------------------------------- malformed constructor arguments (issue 8)


@pytest.mark.parametrize(
    "make,error,message",
    [
        (lambda: nn.Linear(2.5, 2), TypeError, "^Linear: in_features must be an int"),
        (lambda: nn.Linear(3, -1), ValueError, "^Linear: out_features must be at least 0"),
        (lambda: nn.Conv2d(3, 2, 2.5), TypeError, "^Conv2d: kernel_size must be an int or a pair of ints"),
        (lambda: nn.Conv2d(3, 2, 3, stride=1.5), TypeError, "^Conv2d: stride must be an int"),
        (lambda: nn.Conv2d("3", 2, 3), TypeError, "^Conv2d: in_channels must be an int"),
        (lambda: nn.Conv2d(3, 0, 3), ValueError, "^Conv2d: out_channels must be at least 1"),
        (lambda: nn.Conv2d(3, 2, 3, padding="full"), ValueError, "^Conv2d: invalid padding string 'full'"),
        (lambda: nn.Conv2d(3, 2, 3, stride=2, padding="same"), ValueError, "^Conv2d: padding='same' is not supported"),
        (lambda: nn.ConvTranspose2d(3, 2, (2, 2, 2)), ValueError, "^ConvTranspose2d: kernel_size must be an int or a pair"),
        (lambda: nn.BatchNorm1d(3.0), TypeError, "^BatchNorm1d: num_features must be an int"),
        (lambda: nn.Dropout("0.5"), TypeError, "^Dropout: p must be a number"),
    ],
    ids=["linear-float", "linear-negative", "conv-kernel-2.5", "conv-stride-1.5", "conv-str-channels",
         "conv-zero-channels", "conv-padding-full", "conv-same-strided", "convT-kernel-3", "bn-float", "dropout-str"],
)
def test_layer_constructors_check_their_arguments(make, error, message):
    """Conv2d(3, 2, 2.5) used to build a 2x2 kernel silently and padding='full' failed only in forward."""
    with pytest.raises(error, match=message):
        make()

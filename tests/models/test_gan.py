"""GAN models and losses: shapes, parameter counts, DCGAN init, build_gan, loss values, the gradient
penalties against finite differences and PyTorch, and that a few steps train the discriminator."""

import math
import warnings

import numpy as np
import pytest

import scratchnet as sn
import scratchnet.functional as F
import scratchnet.nn as nn
from scratchnet.models import gan
from scratchnet.testing import gradcheck

ATOL, RTOL = 1e-6, 1e-4  # float64 central differences, as in tests/strategies.py


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def has(model, *types):
    return any(isinstance(m, types) for m in model.modules())


# --------------------------------------------------------------------------- models


def test_mlp_shapes_and_parameter_counts():
    G, D = gan.MLPGenerator(), gan.MLPDiscriminator()
    x = G(sn.randn(5, 100))
    assert x.shape == (5, 1, 28, 28) and x.dtype == np.float32
    assert np.abs(x.numpy()).max() <= 1  # tanh
    assert D(x).shape == (5,)
    # Linear 100->256 and 256->512 have no bias (batch norm follows), each BN has scale and shift
    assert n_params(G) == (100 * 256 + 2 * 256) + (256 * 512 + 2 * 512) + (512 * 784 + 784) == 560_400
    assert n_params(D) == (784 * 512 + 512) + (512 * 256 + 256) + (256 + 1) == 533_505
    small = gan.MLPGenerator(latent_dim=8, image_shape=(2, 3, 4))
    assert small(sn.randn(3, 8)).shape == (3, 2, 3, 4)
    assert gan.MLPDiscriminator(image_shape=(2, 3, 4))(sn.randn(3, 2, 3, 4)).shape == (3,)


def test_dcgan_shapes_and_parameter_counts():
    G, D = gan.DCGANGenerator(), gan.DCGANDiscriminator()
    x = G(sn.randn(3, 100))
    assert x.shape == (3, 1, 28, 28)
    assert np.abs(x.numpy()).max() <= 1
    assert D(x).shape == (3,)
    # Linear 100->6272 (no bias) + BN1d(6272); ConvT 128->64 4x4 (no bias) + BN2d(64); ConvT 64->1 4x4 + bias
    assert n_params(G) == (100 * 6272 + 2 * 6272) + (128 * 64 * 16 + 2 * 64) + (64 * 1 * 16 + 1) == 771_969
    # Conv 1->64 4x4 + bias; Conv 64->128 4x4 (no bias) + BN2d(128); Linear 6272->1 + bias
    assert n_params(D) == (1 * 64 * 16 + 64) + (64 * 128 * 16 + 2 * 128) + (6272 + 1) == 138_689
    # without batch norm the second conv has its bias: 128 instead of BN's 256
    plain = gan.DCGANDiscriminator(batch_norm=False)
    assert n_params(plain) == (1 * 64 * 16 + 64) + (64 * 128 * 16 + 128) + (6272 + 1) == 138_561
    assert not has(plain, nn.BatchNorm2d)
    # same state-dict keys apart from the batch norm's own (an Identity holds its slot)
    keys, plain_keys = set(D.state_dict()), set(plain.state_dict())
    assert keys - plain_keys == {k for k in keys if k.startswith("net.3.")}
    assert plain_keys - keys == {"net.2.bias"}
    G3, D3 = gan.DCGANGenerator(latent_dim=16, channels=3), gan.DCGANDiscriminator(channels=3)
    assert G3(sn.randn(2, 16)).shape == (2, 3, 28, 28) and D3(sn.randn(2, 3, 28, 28)).shape == (2,)


def test_dcgan_init_statistics():
    sn.manual_seed(0)
    G, D = gan.DCGANGenerator(), gan.DCGANDiscriminator()
    for model in (G, D):
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                w = m.weight.numpy()  # the smallest has 1,024 entries: sample std within ~4.5 sigma
                assert abs(w.std() - 0.02) < 0.002 and abs(w.mean()) < 0.002, (m, w.mean(), w.std())
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                w = m.weight.numpy()  # 64 to 6,272 entries
                assert abs(w.std() - 0.02) < 0.006 and abs(w.mean() - 1) < 0.006, (m, w.mean(), w.std())
            else:
                continue
            if m.bias is not None:
                assert not m.bias.numpy().any()
    # drawn from scratchnet's seeded generator: same seed, same weights
    sn.manual_seed(0)
    again = gan.DCGANGenerator().state_dict()
    for k, v in G.state_dict().items():
        np.testing.assert_array_equal(again[k], v)
    sn.manual_seed(1)
    assert not np.array_equal(gan.DCGANGenerator().state_dict()["net.0.weight"], again["net.0.weight"])


def test_mlp_models_keep_pytorch_default_init():
    sn.manual_seed(0)
    for model in (gan.MLPGenerator(), gan.MLPDiscriminator()):
        for m in model.modules():
            if isinstance(m, nn.Linear):
                bound = 1 / math.sqrt(m.in_features)  # U(-1/sqrt(fan_in), 1/sqrt(fan_in))
                w = m.weight.numpy()
                assert np.abs(w).max() <= bound and abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
            elif isinstance(m, nn.BatchNorm1d):
                assert (m.weight.numpy() == 1).all() and not m.bias.numpy().any()


def test_same_numbers_as_pytorch_with_the_same_weights():
    """The four architectures, written in PyTorch layer by layer: equal outputs with copied weights."""
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    theirs = {
        "mlp_g": tnn.Sequential(
            tnn.Linear(100, 256, bias=False), tnn.BatchNorm1d(256), tnn.LeakyReLU(0.2),
            tnn.Linear(256, 512, bias=False), tnn.BatchNorm1d(512), tnn.LeakyReLU(0.2),
            tnn.Linear(512, 784), tnn.Tanh(), tnn.Unflatten(1, (1, 28, 28))),
        "mlp_d": tnn.Sequential(
            tnn.Flatten(), tnn.Linear(784, 512), tnn.LeakyReLU(0.2), tnn.Dropout(0.3),
            tnn.Linear(512, 256), tnn.LeakyReLU(0.2), tnn.Dropout(0.3), tnn.Linear(256, 1)),
        "dcgan_g": tnn.Sequential(
            tnn.Linear(100, 6272, bias=False), tnn.BatchNorm1d(6272), tnn.ReLU(), tnn.Unflatten(1, (128, 7, 7)),
            tnn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), tnn.BatchNorm2d(64), tnn.ReLU(),
            tnn.ConvTranspose2d(64, 1, 4, 2, 1), tnn.Tanh()),
        "dcgan_d": tnn.Sequential(
            tnn.Conv2d(1, 64, 4, 2, 1), tnn.LeakyReLU(0.2), tnn.Conv2d(64, 128, 4, 2, 1, bias=False),
            tnn.BatchNorm2d(128), tnn.LeakyReLU(0.2), tnn.Flatten(), tnn.Linear(6272, 1)),
    }  # fmt: skip
    ours = {"mlp_g": gan.MLPGenerator(), "mlp_d": gan.MLPDiscriminator(), "dcgan_g": gan.DCGANGenerator(),
            "dcgan_d": gan.DCGANDiscriminator()}
    rng = np.random.default_rng(0)
    z, x = rng.standard_normal((4, 100)), rng.standard_normal((4, 1, 28, 28))
    for name, model in ours.items():
        model.double().load_state_dict({"net." + k: v.numpy() for k, v in theirs[name].double().state_dict().items()})
        if name.endswith("_d"):  # dropout off; the generators stay in training mode (batch statistics)
            model.eval(), theirs[name].eval()
        inp = z if name.endswith("_g") else x
        mine = model(sn.tensor(inp)).numpy()
        expected = theirs[name](torch.tensor(inp)).detach().numpy()
        np.testing.assert_allclose(mine, expected.reshape(mine.shape), rtol=1e-10, atol=1e-12, err_msg=name)


# --------------------------------------------------------------------------- build_gan


@pytest.mark.parametrize("arch", gan.ARCHS)
@pytest.mark.parametrize("loss", gan.LOSSES)
def test_build_gan(arch, loss):
    G, D = gan.build_gan(arch, loss, latent_dim=16)
    assert G.latent_dim == 16
    if arch == "mlp":
        assert isinstance(G, gan.MLPGenerator) and isinstance(D, gan.MLPDiscriminator)
        assert has(D, nn.Dropout) == (loss != "wgan-gp")
    else:
        assert isinstance(G, gan.DCGANGenerator) and isinstance(D, gan.DCGANDiscriminator)
    # gradient-penalty critics need per-sample outputs: no batch norm (the MLP discriminator never has one)
    assert has(D, nn.BatchNorm1d, nn.BatchNorm2d) == (arch == "dcgan" and loss == "bce")
    assert D(G(sn.randn(2, 16))).shape == (2,)


def test_build_gan_errors_and_constants():
    with pytest.raises(ValueError, match="'mlp', 'dcgan'"):
        gan.build_gan("resnet", "bce")
    with pytest.raises(ValueError, match="'bce', 'wgan-gp', 'r1'"):
        gan.build_gan("mlp", "hinge")
    assert gan.ARCHS == ("mlp", "dcgan") and gan.LOSSES == ("bce", "wgan-gp", "r1")
    assert set(gan.OPTIMIZER_SETTINGS) == set(gan.N_CRITIC) == set(gan.LOSSES)
    assert gan.OPTIMIZER_SETTINGS["wgan-gp"] == dict(lr=1e-4, betas=(0.5, 0.9)) and gan.N_CRITIC["wgan-gp"] == 5


# --------------------------------------------------------------------------- losses


def softplus(x):
    return np.log1p(np.exp(x))


def test_loss_values_by_hand():
    real, fake = np.array([2.0, -0.5, 0.3]), np.array([-1.0, 1.5])
    r, f = sn.tensor(real, requires_grad=True), sn.tensor(fake, requires_grad=True)
    # -log s(x) = softplus(-x);  -log(1 - s(x)) = softplus(x)
    cases = [
        (gan.d_loss_bce(r, f), softplus(-real).mean() + softplus(fake).mean()),
        (gan.g_loss_bce(f), softplus(-fake).mean()),
        (gan.d_loss_wgan(r, f), fake.mean() - real.mean()),
        (gan.g_loss_wgan(f), -fake.mean()),
    ]
    for loss, expected in cases:
        assert loss.shape == () and loss.requires_grad
        np.testing.assert_allclose(loss.item(), expected, rtol=1e-12)
    # gradients: d/dx softplus(-x) = -(1 - s(x)), so the generator's pull is strongest where D rejects
    (gf,) = sn.grad(gan.g_loss_bce(f), f)
    np.testing.assert_allclose(gf.numpy(), -(1 - 1 / (1 + np.exp(-fake))) / 2, rtol=1e-12)
    for fn, args in [(gan.d_loss_bce, (r, f)), (gan.g_loss_bce, (f,)), (gan.d_loss_wgan, (r, f)),
                     (gan.g_loss_wgan, (f,))]:
        assert gradcheck(fn, args, atol=ATOL, rtol=RTOL)


def test_penalties_in_closed_form():
    """Linear D(x) = x.w + c: grad_x D = w everywhere. Quadratic D(x) = |x|^2 / 2: grad_x D = x."""
    w = np.array([0.3, -1.2, 0.5, 2.0])
    real = np.random.default_rng(0).standard_normal((6, 4))
    fake = np.random.default_rng(1).standard_normal((6, 4))
    wt = sn.tensor(w)

    def linear(x):
        return (x * wt).sum(1) + 0.7

    def quadratic(x):
        return (x * x).sum(1) / 2

    r, f = sn.tensor(real), sn.tensor(fake)
    norm = np.linalg.norm(w)
    np.testing.assert_allclose(gan.gradient_penalty(linear, r, f).item(), 10 * (norm - 1) ** 2, rtol=1e-12)
    np.testing.assert_allclose(gan.gradient_penalty(linear, r, f, weight=2.0).item(), 2 * (norm - 1) ** 2,
                               rtol=1e-12)
    np.testing.assert_allclose(gan.r1_penalty(linear, r).item(), 5 * norm**2, rtol=1e-12)
    np.testing.assert_allclose(gan.r1_penalty(linear, r, gamma=1.0).item(), 0.5 * norm**2, rtol=1e-12)
    np.testing.assert_allclose(gan.r1_penalty(quadratic, r).item(), 5 * (real**2).sum(1).mean(), rtol=1e-12)
    # eps ~ U(0, 1) per sample from the seeded generator, on the input's device and dtype
    sn.manual_seed(5)
    value = gan.gradient_penalty(quadratic, r, f).item()
    sn.manual_seed(5)
    eps = sn.rand(6, 1, dtype=np.float64).numpy()
    x_hat = eps * real + (1 - eps) * fake
    np.testing.assert_allclose(value, 10 * ((np.linalg.norm(x_hat, axis=1) - 1) ** 2).mean(), rtol=1e-12)
    sn.manual_seed(5)
    assert gan.gradient_penalty(quadratic, r, f).item() == value
    assert gan.gradient_penalty(quadratic, r, f).item() != value  # a new eps each call


def tiny_d(W1, b1, W2, b2):
    """A smooth 2-layer MLP on 4-d inputs: D(x) = tanh(x W1^T + b1) W2^T + b2, outputs (N,)."""
    return lambda x: F.linear(F.tanh(F.linear(x, W1, b1)), W2, b2).reshape(x.shape[0])


def tiny_weights(seed):
    rng = np.random.default_rng(seed)
    shapes = [(5, 4), (5,), (1, 5), (1,)]
    return [sn.tensor(rng.standard_normal(s) * 0.7, requires_grad=True) for s in shapes]


def test_penalties_against_finite_differences():
    """Both penalties as functions of D's weights and of the real input (float64, exact second order)."""
    rng = np.random.default_rng(0)
    real = sn.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    fake = sn.tensor(rng.standard_normal((3, 4)))

    def gp(x, *weights):
        sn.manual_seed(7)  # the same eps for every evaluation
        return gan.gradient_penalty(tiny_d(*weights), x, fake)

    def r1(x, *weights):
        return gan.r1_penalty(tiny_d(*weights), x, gamma=3.0)

    for fn in (gp, r1):
        assert gradcheck(fn, [real, *tiny_weights(1)], atol=ATOL, rtol=RTOL)


def test_penalties_train_d_only_and_leave_inputs_alone():
    weights = tiny_weights(2)
    D = tiny_d(*weights)
    real = sn.randn(3, 4, dtype=np.float64)
    z = sn.randn(3, 4, dtype=np.float64, requires_grad=True)
    fake = z * 2  # a stand-in for G(z): the penalty must not reach G
    (gan.gradient_penalty(D, real, fake) + gan.r1_penalty(D, real)).backward()
    assert z.grad is None and real.grad is None and not real.requires_grad
    assert all(w.grad is not None for w in weights[:3])
    assert weights[3].grad is None  # b2 shifts D but not its gradient


def test_penalties_warn_about_batch_norm():
    D = gan.MLPDiscriminator(image_shape=(4,), dropout=0.0)
    D_bn = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 1), nn.Flatten(0))
    x = sn.randn(5, 4)
    for penalty in (lambda d: gan.r1_penalty(d, x), lambda d: gan.gradient_penalty(d, x, x)):
        with pytest.warns(UserWarning, match="batch norm"):
            penalty(D_bn)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            penalty(D)
            penalty(D_bn.eval())  # running statistics: per-sample again
        D_bn.train()


def torch_conv_pair(torch):
    """A tiny conv critic in both frameworks with the same float64 weights: 1x8x8 -> 4x4x4 -> 4x2x2 -> 1."""
    tnn = torch.nn
    torch.manual_seed(0)
    theirs = tnn.Sequential(tnn.Conv2d(1, 4, 3, 2, 1), tnn.LeakyReLU(0.2), tnn.Conv2d(4, 4, 3, 2, 1), tnn.Tanh(),
                            tnn.Flatten(), tnn.Linear(16, 1)).double()
    ours = nn.Sequential(nn.Conv2d(1, 4, 3, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(4, 4, 3, 2, 1), nn.Tanh(),
                         nn.Flatten(), nn.Linear(16, 1)).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def assert_same_grads(ours, theirs):
    mine = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        if p.grad is None:  # the last bias moves D, not its input gradient: no gradient in either
            assert mine[name].grad is None, name
            continue
        np.testing.assert_allclose(mine[name].grad.numpy(), p.grad.numpy(), rtol=1e-10, atol=1e-14, err_msg=name)


def test_r1_penalty_same_as_pytorch():
    torch = pytest.importorskip("torch")
    ours, theirs = torch_conv_pair(torch)
    real = np.random.default_rng(0).standard_normal((5, 1, 8, 8))

    value = gan.r1_penalty(lambda x: ours(x).reshape(x.shape[0]), sn.tensor(real), gamma=4.0)
    value.backward()

    x = torch.tensor(real, requires_grad=True)
    (g,) = torch.autograd.grad(theirs(x).sum(), x, create_graph=True)
    expected = 4.0 / 2 * g.pow(2).reshape(5, -1).sum(1).mean()
    expected.backward()
    np.testing.assert_allclose(value.item(), expected.item(), rtol=1e-10)
    assert_same_grads(ours, theirs)


def test_gradient_penalty_same_as_pytorch():
    torch = pytest.importorskip("torch")
    ours, theirs = torch_conv_pair(torch)
    rng = np.random.default_rng(0)
    real, fake = rng.standard_normal((5, 1, 8, 8)), rng.standard_normal((5, 1, 8, 8))

    sn.manual_seed(3)
    value = gan.gradient_penalty(lambda x: ours(x).reshape(x.shape[0]), sn.tensor(real), sn.tensor(fake))
    value.backward()
    sn.manual_seed(3)
    eps = sn.rand(5, 1, 1, 1, dtype=np.float64).numpy()  # the eps the penalty drew

    # Gulrajani et al.'s reference, in PyTorch
    x_hat = torch.tensor(eps * real + (1 - eps) * fake, requires_grad=True)
    (g,) = torch.autograd.grad(theirs(x_hat).sum(), x_hat, create_graph=True)
    expected = 10.0 * ((g.reshape(5, -1).norm(2, dim=1) - 1) ** 2).mean()
    expected.backward()
    np.testing.assert_allclose(value.item(), expected.item(), rtol=1e-10)
    assert_same_grads(ours, theirs)


# --------------------------------------------------------------------------- training


def d_loss(loss, D, real, fake):
    """The discriminator's objective as the demo trains it."""
    if loss == "wgan-gp":
        return gan.d_loss_wgan(D(real), D(fake)) + gan.gradient_penalty(D, real, fake)
    bce = gan.d_loss_bce(D(real), D(fake))
    return bce + gan.r1_penalty(D, real) if loss == "r1" else bce


@pytest.mark.parametrize("loss", gan.LOSSES)
def test_a_few_steps_teach_d_to_separate_two_blobs(loss):
    """Real images ~ N(+0.5, 0.3^2), a fixed generator's images ~ N(-0.5, 0.3^2), 4x4 pixels; D as build_gan
    makes it for this loss (dropout but for wgan-gp), with the demo's Adam settings."""
    sn.manual_seed(0)
    D = gan.MLPDiscriminator(image_shape=(1, 4, 4), dropout=0.0 if loss == "wgan-gp" else 0.3)
    opt = sn.optim.Adam(D.parameters(), **gan.OPTIMIZER_SETTINGS[loss])
    real = 0.5 + 0.3 * sn.randn(32, 1, 4, 4)
    fake = -0.5 + 0.3 * sn.randn(32, 1, 4, 4)

    def objective():
        D.eval()  # no dropout, so before and after are comparable
        value = d_loss(loss, D, real, fake).item()
        D.train()
        return value

    before = objective()
    for _ in range(25):
        value = d_loss(loss, D, real, fake)
        opt.zero_grad()
        value.backward()
        opt.step()
    after = objective()
    assert after < before - 0.1, (before, after)
    with sn.no_grad():
        D.eval()
        assert D(real).numpy().min() > D(fake).numpy().max()  # separated


@pytest.mark.parametrize("arch", gan.ARCHS)
@pytest.mark.parametrize("loss", gan.LOSSES)
def test_one_training_step_of_each_gan(arch, loss):
    """One D step and one G step as the demo runs them: finite losses, every parameter gets a gradient."""
    sn.manual_seed(0)
    G, D = gan.build_gan(arch, loss, latent_dim=8)
    real = sn.rand(4, 1, 28, 28) * 2 - 1
    fake = G(sn.randn(4, 8))
    d_value = d_loss(loss, D, real, fake.detach())
    D.zero_grad()
    d_value.backward()
    assert np.isfinite(d_value.item()) and all(p.grad is not None for p in D.parameters())
    assert all(p.grad is None for p in G.parameters())
    g_value = gan.g_loss_wgan(D(fake)) if loss == "wgan-gp" else gan.g_loss_bce(D(fake))
    g_value.backward()
    assert np.isfinite(g_value.item()) and all(p.grad is not None for p in G.parameters())
    assert d_value.dtype == g_value.dtype == np.float32

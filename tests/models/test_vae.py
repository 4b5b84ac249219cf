"""VAE models and objectives: shapes and names, the KL term against Monte Carlo, the reparameterisation's
gradients against finite differences, the IWAE estimate (k = 1 is the ELBO's single-sample estimate;
batching changes nothing; it grows with k), training steps, bad input, and PyTorch with the same weights."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import check, normal, seeds, uniform

import scratchnet as sn
from scratchnet import data
from scratchnet.models import MLPVAE, ConvVAE, vae
from scratchnet.testing import gradcheck, gradgradcheck

ATOL, RTOL = 1e-6, 1e-4  # float64 central differences, as in tests/strategies.py


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def f64(a, requires_grad=False):
    return sn.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def tiny(arch):
    """A small float64 VAE for gradient checks: MLP on 1x3x4 images or conv on 1x4x4, latent 3."""
    sn.manual_seed(0)
    model = MLPVAE(3, hidden=5, image_shape=(1, 3, 4)) if arch == "mlp" else ConvVAE(3, image_size=4)
    return model.double()


# --------------------------------------------------------------------------- models


def test_shapes_names_and_parameter_counts():
    mlp, conv = vae.build_vae("mlp"), vae.build_vae("conv", latent_dim=16)
    assert isinstance(mlp, MLPVAE) and isinstance(conv, ConvVAE) and conv.latent_dim == 16
    # PyTorch's example: fc1 784->400, fc21 and fc22 400->20, fc3 20->400, fc4 400->784
    assert list(mlp.state_dict()) == [f"fc{i}.{p}" for i in ("1", "21", "22", "3", "4") for p in ("weight", "bias")]
    assert n_params(mlp) == (784 * 400 + 400) + 2 * (400 * 20 + 20) + (20 * 400 + 400) + (400 * 784 + 784) == 652_824
    # conv 1->32 and 32->64 (4x4), two heads 3136->16, Linear 16->3136, transposed convs 64->32 and 32->1 (4x4)
    assert n_params(conv) == ((16 * 32 + 32) + (32 * 64 * 16 + 64) + 2 * (3136 * 16 + 16) + (16 * 3136 + 3136)
                              + (64 * 32 * 16 + 32) + (32 * 16 + 1)) == 220_385  # fmt: skip
    for model in (mlp, conv):
        x = sn.rand(3, 1, 28, 28)
        mu, logvar = model.encode(x)
        assert mu.shape == logvar.shape == (3, model.latent_dim)
        assert model.decode(mu).shape == (3, 1, 28, 28)
        logits, mu2, _ = model(x)
        assert logits.shape == (3, 1, 28, 28) and logits.dtype == np.float32
        np.testing.assert_array_equal(mu2.numpy(), mu.numpy())
    assert ConvVAE(2, channels=3, image_size=8)(sn.rand(2, 3, 8, 8))[0].shape == (
        2,
        3,
        8,
        8,
    )


def test_forward_with_fixed_noise_decodes_mu_plus_scaled_noise():
    model = vae.build_vae("mlp", 4)
    x, eps = sn.rand(2, 1, 28, 28), sn.randn(2, 4)
    logits, mu, logvar = model(x, eps)
    z = mu.numpy() + eps.numpy() * np.exp(0.5 * logvar.numpy())
    np.testing.assert_allclose(logits.numpy(), model.decode(sn.tensor(z)).numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "make,message",
    [
        (
            lambda: vae.build_vae("resnet", 20),
            "unknown arch 'resnet'; valid archs are 'mlp', 'conv'",
        ),
        (
            lambda: vae.build_vae("mlp", 0),
            "latent_dim must be a positive integer, got 0",
        ),
        (
            lambda: vae.build_vae("conv", -3),
            "latent_dim must be a positive integer, got -3",
        ),
        (lambda: MLPVAE(2.5), "latent_dim must be a positive integer, got 2.5"),
        (lambda: ConvVAE(4, image_size=30), "image_size must be a multiple of 4"),
        (
            lambda: vae.loss(MLPVAE(2), sn.rand(1, 1, 28, 28), beta=-0.5),
            "beta must be >= 0, got -0.5",
        ),
        (
            lambda: vae.iwae_log_likelihood(MLPVAE(2), sn.rand(1, 1, 28, 28), k=0),
            "k must be a positive integer",
        ),
    ],
)
def test_bad_input_is_refused(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


# --------------------------------------------------------------------------- the terms of the loss


@given(seeds, st.integers(1, 3), st.integers(1, 5))
def test_kl_matches_a_monte_carlo_estimate(seed, n, latent):
    """E_q[log q(z|x) - log p(z)] from 100,000 draws of z (NumPy's, not ours) against the closed form."""
    mu, logvar = normal(seed, (n, latent), 1.5), uniform(seed + 1, (n, latent), -3, 2)
    closed = vae.kl_divergence(f64(mu), f64(logvar)).numpy()
    e = np.random.default_rng(seed + 2).standard_normal((100_000, n, latent))
    z = mu + e * np.exp(0.5 * logvar)
    # log q(z|x) - log p(z); the 2 pi constants cancel
    log_q_minus_log_p = (-0.5 * e**2 - 0.5 * logvar + 0.5 * z**2).sum(-1)
    mc, se = log_q_minus_log_p.mean(0), log_q_minus_log_p.std(0) / math.sqrt(len(e))
    assert closed.shape == (n,)
    assert np.all(np.abs(mc - closed) <= 5 * se + 1e-12), (mc, closed, se)


def test_kl_is_zero_at_the_prior_and_positive_elsewhere():
    assert vae.kl_divergence(sn.zeros(2, 3), sn.zeros(2, 3)).numpy().tolist() == [
        0.0,
        0.0,
    ]
    mu, logvar = f64([[0.5, 0, 0], [0, 0, 0]]), f64([[0, 0, 0], [0, -1, 1]])
    # 1/2 mu^2 for the first row; 1/2 (e^-1 - 1 + 1) + 1/2 (e - 1 - 1) for the second
    np.testing.assert_allclose(
        vae.kl_divergence(mu, logvar).numpy(),
        [0.125, 0.5 * (math.exp(-1) + math.exp(1) - 2)],
    )


def test_reconstruction_loss_is_the_summed_bce():
    rng = np.random.default_rng(0)
    logits, x = rng.standard_normal((3, 1, 4, 4)) * 3, rng.uniform(0, 1, (3, 1, 4, 4))
    p = 1 / (1 + np.exp(-logits))
    expected = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(3, -1).sum(1)
    np.testing.assert_allclose(vae.reconstruction_loss(f64(logits), f64(x)).numpy(), expected, rtol=1e-12)


def test_the_loss_is_recon_plus_beta_kl():
    model, x = (
        vae.build_vae("mlp", 5).double(),
        f64(np.random.default_rng(0).uniform(0, 1, (4, 1, 28, 28))),
    )
    eps = f64(np.random.default_rng(1).standard_normal((4, 5)))
    recon, kl = vae.elbo_terms(model, x, eps)
    for beta in (0.0, 1.0, 4.0):
        terms = vae.loss(model, x, beta, eps)
        assert terms.recon.item() == pytest.approx(recon.numpy().mean(), rel=1e-12)
        assert terms.kl.item() == pytest.approx(kl.numpy().mean(), rel=1e-12)
        assert terms.loss.item() == pytest.approx(recon.numpy().mean() + beta * kl.numpy().mean(), rel=1e-12)


# --------------------------------------------------------------------------- reparameterisation and gradients


def test_reparameterization_draws_have_the_right_mean_and_standard_deviation():
    """std = exp(logvar / 2), not exp(logvar): the slip two well-known libraries made."""
    sn.manual_seed(0)
    mu, logvar = (
        sn.tensor([[1.0, -2.0, 0.0]]).expand(200_000, 3),
        sn.tensor([[0.0, 2.0, -3.0]]).expand(200_000, 3),
    )
    z = vae.reparameterize(mu, logvar).numpy()
    np.testing.assert_allclose(z.mean(0), [1, -2, 0], atol=0.02)
    np.testing.assert_allclose(z.std(0), np.exp(0.5 * np.array([0.0, 2.0, -3.0])), rtol=0.01)


@given(seeds, st.integers(1, 3), st.integers(1, 4))
def test_reparameterization_gradients_match_finite_differences(seed, n, latent):
    """With the noise fixed, z and a loss built on it (KL + a smooth function of z) are deterministic
    functions of (mu, logvar): first and second derivatives against central differences."""
    eps = f64(normal(seed, (n, latent)))
    mu, logvar = normal(seed + 1, (n, latent)), uniform(seed + 2, (n, latent), -2, 1)
    check(lambda m, lv: vae.reparameterize(m, lv, eps), mu, logvar)
    check(
        lambda m, lv: ((vae.reparameterize(m, lv, eps) - 0.3) ** 2).sum() + vae.kl_divergence(m, lv).sum(),
        mu,
        logvar,
    )


@pytest.mark.parametrize("arch", vae.ARCHS)
def test_elbo_gradients_through_the_model_match_finite_differences(arch):
    """The per-image ELBO terms, with the noise fixed, differentiated with respect to the image."""
    model = tiny(arch)
    shape = (2, 1, 3, 4) if arch == "mlp" else (2, 1, 4, 4)
    rng = np.random.default_rng(0)
    x, eps = (
        f64(rng.uniform(0.1, 0.9, shape), requires_grad=True),
        f64(rng.standard_normal((2, 3))),
    )

    def terms(x):
        return vae.elbo_terms(model, x, eps)

    assert gradcheck(terms, [x], atol=ATOL, rtol=RTOL)
    assert gradgradcheck(terms, [x], atol=ATOL, rtol=RTOL)


# --------------------------------------------------------------------------- the IWAE estimate


def mc_elbo(model, x, eps):
    """log p(x|z) + log N(z; 0, I) - log N(z; mu, sigma^2) at z = mu + eps sigma, written out in NumPy."""
    mu, logvar = (t.numpy() for t in model.encode(x))
    z = mu + eps * np.exp(0.5 * logvar)
    logits = model.decode(sn.tensor(z)).numpy().reshape(len(z), -1)
    t = x.numpy().reshape(len(z), -1)
    # t log sigmoid(l) + (1 - t) log(1 - sigmoid(l)) = t l - log(1 + e^l)
    log_px_z = (t * logits - np.logaddexp(0, logits)).sum(1)
    log_pz = (-0.5 * z**2 - 0.5 * math.log(2 * math.pi)).sum(1)
    log_qz = (-0.5 * (z - mu) ** 2 / np.exp(logvar) - 0.5 * logvar - 0.5 * math.log(2 * math.pi)).sum(1)
    return log_px_z + log_pz - log_qz


@pytest.mark.parametrize("arch", vae.ARCHS)
def test_iwae_with_one_sample_is_the_elbo_estimate_on_the_same_noise(arch):
    model = vae.build_vae(arch, 4).double()
    x = vae.binarize(f64(np.random.default_rng(0).uniform(0, 1, (5, 1, 28, 28))))
    estimate = vae.iwae_log_likelihood(model, x, k=1, rng=np.random.default_rng(7)).numpy()
    eps = np.random.default_rng(7).standard_normal((5, 1, 4))[:, 0]  # the same draws
    np.testing.assert_allclose(estimate, mc_elbo(model, x, eps), rtol=1e-12)
    # ... and the same as -(recon + KL) with the KL estimated from that one sample instead of in closed form
    recon, _ = vae.elbo_terms(model, x, f64(eps))
    mu, logvar = (t.numpy() for t in model.encode(x))
    log_p_minus_log_q = (-0.5 * (mu + eps * np.exp(0.5 * logvar)) ** 2 + 0.5 * eps**2 + 0.5 * logvar).sum(1)
    np.testing.assert_allclose(estimate, -recon.numpy() + log_p_minus_log_q, rtol=1e-12)


@pytest.mark.parametrize("k,batch", [(7, 3), (7, 7), (7, 20), (7, 1000)])
def test_iwae_in_batches_is_the_same_estimate(k, batch):
    """Whatever the batch (images per pass or samples per pass), the noise is drawn image by image in
    the same order, so the estimate is the same as in one pass."""
    model = vae.build_vae("mlp", 4).double()
    x = vae.binarize(f64(np.random.default_rng(0).uniform(0, 1, (5, 1, 28, 28))))
    one_pass = vae.iwae_log_likelihood(model, x, k=k, batch=10**6, rng=np.random.default_rng(3)).numpy()
    batched = vae.iwae_log_likelihood(model, x, k=k, batch=batch, rng=np.random.default_rng(3)).numpy()
    np.testing.assert_allclose(batched, one_pass, rtol=1e-12)
    # the log-mean-exp of the weights, done stably (the weights themselves are ~e^-500 here)
    eps = np.random.default_rng(3).standard_normal((5, k, 4))
    log_w = vae.log_importance_weights(model, x, f64(eps)).numpy()
    assert log_w.max() < -300
    m = log_w.max(1)
    np.testing.assert_allclose(one_pass, m + np.log(np.exp(log_w - m[:, None]).mean(1)), rtol=1e-12)


def test_iwae_grows_with_k_on_a_trained_model():
    sn.manual_seed(0)
    train, test = (
        data.load_dataset("mnist10k", "train"),
        data.load_dataset("mnist10k", "test"),
    )
    model = MLPVAE(8, hidden=128)
    opt = sn.optim.Adam(model.parameters(), lr=2e-3)
    loader = data.DataLoader(train.subset(range(0, 8000, 8)), 50, shuffle=True, seed=0)
    for _ in range(4):
        for x, _ in loader:
            terms = vae.loss(model, x)
            opt.zero_grad()
            terms.loss.backward()
            opt.step()
    x = vae.binarize(sn.tensor(test.images[::10, None] / np.float32(255)), np.random.default_rng(0))
    estimates = [
        vae.iwae_log_likelihood(model, x, k, rng=np.random.default_rng(k)).numpy().mean() for k in (1, 10, 100)
    ]
    # about -198.5, -192.8, -191.4
    assert estimates[0] + 3 < estimates[1] < estimates[2], estimates


# --------------------------------------------------------------------------- training


@pytest.mark.parametrize("arch", vae.ARCHS)
def test_a_few_steps_lower_the_loss(arch):
    sn.manual_seed(0)
    model = vae.build_vae(arch, 8)
    images = data.load_dataset("mnist10k", "train").images[::200, None]  # 40 images
    x = sn.tensor(images / np.float32(255))
    opt = sn.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(10):
        terms = vae.loss(model, x)
        opt.zero_grad()
        terms.loss.backward()
        opt.step()
        losses.append(terms.loss.item())
        assert math.isclose(terms.loss.item(), terms.recon.item() + terms.kl.item(), rel_tol=1e-5)
    assert losses[-1] < 0.8 * losses[0], losses  # 0.44 (mlp) and 0.67 (conv)


def test_binarize():
    x = sn.tensor(np.array([[0.0, 1.0, 0.25]], dtype=np.float32)).expand(100_000, 3)
    b = vae.binarize(x, np.random.default_rng(0)).numpy()
    assert b.dtype == np.float32 and set(np.unique(b)) <= {0.0, 1.0}
    assert b[:, 0].max() == 0 and b[:, 1].min() == 1 and abs(b[:, 2].mean() - 0.25) < 0.005
    sn.manual_seed(0)
    a = vae.binarize(x).numpy()
    sn.manual_seed(0)
    # without rng: scratchnet's seeded generator
    np.testing.assert_array_equal(vae.binarize(x).numpy(), a)


# --------------------------------------------------------------------------- PyTorch


def torch_twins(torch):
    """The two architectures written in PyTorch, with our module names (so the state dicts map 1:1)."""
    tnn = torch.nn

    class MLP(tnn.Module):  # PyTorch's examples/vae/main.py
        def __init__(self):
            super().__init__()
            self.fc1, self.fc21, self.fc22 = (
                tnn.Linear(784, 400),
                tnn.Linear(400, 20),
                tnn.Linear(400, 20),
            )
            self.fc3, self.fc4 = tnn.Linear(20, 400), tnn.Linear(400, 784)

        def encode(self, x):
            h = torch.relu(self.fc1(x.view(-1, 784)))
            return self.fc21(h), self.fc22(h)

        def decode(self, z):
            return self.fc4(torch.relu(self.fc3(z))).view(-1, 1, 28, 28)

    class Conv(tnn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = tnn.Sequential(
                tnn.Conv2d(1, 32, 4, 2, 1),
                tnn.ReLU(),
                tnn.Conv2d(32, 64, 4, 2, 1),
                tnn.ReLU(),
                tnn.Flatten(),
            )
            self.fc_mu, self.fc_logvar = tnn.Linear(3136, 20), tnn.Linear(3136, 20)
            self.decoder = tnn.Sequential(tnn.Linear(20, 3136), tnn.ReLU(), tnn.Unflatten(1, (64, 7, 7)),
                                          tnn.ConvTranspose2d(64, 32, 4, 2, 1), tnn.ReLU(),
                                          tnn.ConvTranspose2d(32, 1, 4, 2, 1))  # fmt: skip

        def encode(self, x):
            h = self.encoder(x)
            return self.fc_mu(h), self.fc_logvar(h)

        def decode(self, z):
            return self.decoder(z)

    return {"mlp": MLP, "conv": Conv}


@pytest.mark.parametrize("arch", vae.ARCHS)
def test_same_loss_and_gradients_as_pytorch_with_the_same_weights(arch):
    torch = pytest.importorskip("torch")
    theirs = torch_twins(torch)[arch]().double()
    ours = vae.build_vae(arch, 20).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(0)
    x, eps = rng.uniform(0, 1, (4, 1, 28, 28)), rng.standard_normal((4, 20))
    terms = vae.loss(ours, sn.tensor(x), beta=2.0, eps=sn.tensor(eps))
    terms.loss.backward()
    # the PyTorch example's loss: BCE summed over pixels, KL = -1/2 sum(1 + logvar - mu^2 - exp(logvar))
    tx = torch.tensor(x)
    mu, logvar = theirs.encode(tx)
    logits = theirs.decode(mu + torch.tensor(eps) * torch.exp(0.5 * logvar))
    recon = torch.nn.functional.binary_cross_entropy_with_logits(logits, tx, reduction="sum") / 4
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / 4
    (recon + 2.0 * kl).backward()
    for mine, expected in ((terms.recon, recon), (terms.kl, kl)):
        assert mine.item() == pytest.approx(expected.item(), rel=1e-12)
    grads = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(
            grads[name].grad.numpy(),
            p.grad.numpy(),
            rtol=1e-9,
            atol=1e-12,
            err_msg=name,
        )

"""Generative adversarial networks: MLP and DCGAN generators and discriminators, and their losses.

A generator G maps noise z ~ N(0, I) of size ``latent_dim`` to an image in [-1, 1] (tanh);
a discriminator D maps an image to one real number per sample, a logit (BCE) or a score
(Wasserstein critic). Training alternates ``N_CRITIC[loss]`` steps of D with one step of G.

    arch    generator                                   discriminator
    mlp     z -> 256 -> 512 -> 784, BN + LeakyReLU      784 -> 512 -> 256 -> 1, LeakyReLU + dropout
    dcgan   z -> 128x7x7 -> 64x14x14 -> Cx28x28         Cx28x28 -> 64x14x14 -> 128x7x7 -> 1
            (transposed convs 4x4 stride 2, BN + ReLU)  (convs 4x4 stride 2, [BN] + LeakyReLU)

    loss     D minimises                                  G minimises
    bce      -log s(D(x)) - log(1 - s(D(G(z))))            -log s(D(G(z)))   (non-saturating)
    wgan-gp  D(G(z)) - D(x) + 10 (||grad D(x_hat)|| - 1)^2   -D(G(z))
    r1       bce + 10/2 ||grad D(x)||^2                    -log s(D(G(z)))

Means over the batch throughout; s is the sigmoid. A layer followed by batch norm has no bias
(the normalisation subtracts the batch mean, so a bias would be cancelled exactly).
Gradient penalties differentiate D's output with respect to its input, so they need D's output
for each sample to depend on that sample alone: the critics of 'wgan-gp' and 'r1' have no
batch norm (``build_gan`` takes care of it).
"""

import math
import warnings

from .. import functional as F
from .. import nn
from ..autograd import grad
from ..creation import ones_like, rand, zeros_like

ARCHS = ("mlp", "dcgan")
LOSSES = ("bce", "wgan-gp", "r1")

# Adam settings per loss: beta1 = 0.5 (Radford et al. 2015) damps momentum against the moving
# target of the other network; WGAN-GP uses lr 1e-4 and beta2 = 0.9 (Gulrajani et al. 2017).
# lr 5e-4 rather than DCGAN's 2e-4: with ~3,000 steps (25 epochs of mnist10k) it gets further in
# the same time (PyTorch twin, 20 epochs: classifier score 6.35 vs 5.9, FID 171 vs ~225).
OPTIMIZER_SETTINGS = {
    "bce": dict(lr=5e-4, betas=(0.5, 0.999)),
    "wgan-gp": dict(lr=1e-4, betas=(0.5, 0.9)),
    "r1": dict(lr=5e-4, betas=(0.5, 0.999)),
}
# Discriminator steps per generator step: a Wasserstein critic must be near-optimal for its
# score difference to estimate the distance, so it trains 5 times as often.
N_CRITIC = {"bce": 1, "wgan-gp": 5, "r1": 1}


# --------------------------------------------------------------------------- MLP


class MLPGenerator(nn.Module):
    """z (N, latent_dim) -> Linear 256, BN, LeakyReLU(0.2) -> Linear 512, BN, LeakyReLU(0.2)
    -> Linear prod(image_shape), tanh -> (N, *image_shape). PyTorch's default init."""

    def __init__(self, latent_dim=100, image_shape=(1, 28, 28)):
        super().__init__()
        self.latent_dim = latent_dim
        self.image_shape = tuple(image_shape)
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 256, bias=False), nn.BatchNorm1d(256), nn.LeakyReLU(0.2),
            nn.Linear(256, 512, bias=False), nn.BatchNorm1d(512), nn.LeakyReLU(0.2),
            nn.Linear(512, math.prod(self.image_shape)), nn.Tanh(),
            nn.Unflatten(1, self.image_shape),
        )  # fmt: skip

    def forward(self, z):
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """x (N, *image_shape) -> flatten -> Linear 512, LeakyReLU(0.2), dropout -> Linear 256,
    LeakyReLU(0.2), dropout -> Linear 1 -> logits (N,). ``dropout=0`` leaves the dropout out
    (a Wasserstein critic should be a deterministic function). PyTorch's default init."""

    def __init__(self, image_shape=(1, 28, 28), dropout=0.3):
        super().__init__()
        self.image_shape = tuple(image_shape)

        def drop():
            return nn.Dropout(dropout) if dropout else nn.Identity()

        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(math.prod(self.image_shape), 512), nn.LeakyReLU(0.2), drop(),
            nn.Linear(512, 256), nn.LeakyReLU(0.2), drop(),
            nn.Linear(256, 1),
        )  # fmt: skip

    def forward(self, x):
        return self.net(x).reshape(x.shape[0])


# --------------------------------------------------------------------------- DCGAN


def dcgan_init_(module):
    """DCGAN's initialisation (Radford et al. 2015): conv, transposed-conv and linear weights
    ~ N(0, 0.02), batch-norm scales ~ N(1, 0.02), all biases 0. Drawn from scratchnet's seeded
    generator, so ``manual_seed`` makes it reproducible. Returns ``module``."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
        else:
            continue
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    return module


class DCGANGenerator(nn.Module):
    """z (N, latent_dim) -> Linear 128*7*7, BN, ReLU -> (N, 128, 7, 7)
    -> ConvTranspose2d(128, 64, 4, 2, 1), BN, ReLU      (N, 64, 14, 14)
    -> ConvTranspose2d(64, channels, 4, 2, 1), tanh     (N, channels, 28, 28).

    A 4x4 transposed conv with stride 2 and padding 1 doubles the size exactly:
    (H - 1) * 2 - 2 * 1 + 4 = 2H."""

    def __init__(self, latent_dim=100, channels=1):
        super().__init__()
        self.latent_dim = latent_dim
        self.channels = channels
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 128 * 7 * 7, bias=False), nn.BatchNorm1d(128 * 7 * 7), nn.ReLU(),
            nn.Unflatten(1, (128, 7, 7)),
            nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
            nn.ConvTranspose2d(64, channels, 4, 2, 1), nn.Tanh(),
        )  # fmt: skip
        dcgan_init_(self)

    def forward(self, z):
        return self.net(z)


class DCGANDiscriminator(nn.Module):
    """x (N, channels, 28, 28) -> Conv2d(channels, 64, 4, 2, 1), LeakyReLU(0.2)   (N, 64, 14, 14)
    -> Conv2d(64, 128, 4, 2, 1), [BN], LeakyReLU(0.2)                               (N, 128, 7, 7)
    -> flatten -> Linear(128*7*7, 1) -> logits (N,).

    ``batch_norm=False`` for gradient-penalty critics: batch norm makes each output depend on
    the whole batch, so the gradient of sum_i D(x_i) with respect to x_i is no longer the
    per-sample gradient the penalty is defined on. The unused slot holds an Identity, so the
    state-dict keys are the same with and without it (apart from the batch norm's own)."""

    def __init__(self, channels=1, batch_norm=True):
        super().__init__()
        self.channels = channels
        self.batch_norm = batch_norm
        self.net = nn.Sequential(
            nn.Conv2d(channels, 64, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(64, 128, 4, 2, 1, bias=not batch_norm), nn.BatchNorm2d(128) if batch_norm else nn.Identity(),
            nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(128 * 7 * 7, 1),
        )  # fmt: skip
        dcgan_init_(self)

    def forward(self, x):
        return self.net(x).reshape(x.shape[0])


def build_gan(arch, loss, latent_dim=100):
    """(generator, discriminator) for ``arch`` in ARCHS and ``loss`` in LOSSES, for 1x28x28 images.

    'wgan-gp' and 'r1' penalise D's input gradient sample by sample, so their critics have no
    batch norm; the WGAN-GP critic has no dropout either (the paper's critic is deterministic).
    The R1 MLP discriminator keeps its dropout: that acts on each sample separately."""
    if arch not in ARCHS:
        raise ValueError(f"build_gan: unknown arch {arch!r}; valid archs are {', '.join(map(repr, ARCHS))}")
    if loss not in LOSSES:
        raise ValueError(f"build_gan: unknown loss {loss!r}; valid losses are {', '.join(map(repr, LOSSES))}")
    if arch == "mlp":
        return MLPGenerator(latent_dim), MLPDiscriminator(dropout=0.0 if loss == "wgan-gp" else 0.3)
    return DCGANGenerator(latent_dim), DCGANDiscriminator(batch_norm=loss == "bce")


# --------------------------------------------------------------------------- losses


def d_loss_bce(real_logits, fake_logits):
    """The discriminator's cross-entropy: mean(-log s(real)) + mean(-log(1 - s(fake))),
    i.e. BCE-with-logits against 1 for real and 0 for fake (stable for any logit)."""
    real = F.binary_cross_entropy_with_logits(real_logits, ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, zeros_like(fake_logits))
    return real + fake


def g_loss_bce(fake_logits):
    """Non-saturating generator loss: mean(-log s(D(G(z)))), BCE-with-logits against 1.

    The minimax form, mean(log(1 - s(D(G(z))))), has the same fixed point but a vanishing
    gradient when D confidently rejects the fakes, which is exactly the case early in training;
    -log s has its largest gradient there (Goodfellow et al. 2014)."""
    return F.binary_cross_entropy_with_logits(fake_logits, ones_like(fake_logits))


def d_loss_wgan(real_scores, fake_scores):
    """Wasserstein critic loss: mean(D(fake)) - mean(D(real)). Minimising it maximises the score
    gap, which estimates the Wasserstein-1 distance when D is 1-Lipschitz (the penalty's job)."""
    return fake_scores.mean() - real_scores.mean()


def g_loss_wgan(fake_scores):
    """Wasserstein generator loss: -mean(D(G(z))), raise the critic's score of the fakes."""
    return -fake_scores.mean()


def _warn_if_batch_norm(D, fn):
    """Batch norm in training mode mixes the samples of a batch: the penalty would be wrong, silently."""
    if isinstance(D, nn.Module) and any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and m.training
                                        for m in D.modules()):
        warnings.warn(
            f"{fn}: D has batch norm in training mode, so each output depends on the whole batch and "
            "the input gradient is not per sample; use a critic without batch norm "
            "(e.g. DCGANDiscriminator(batch_norm=False))",
            stacklevel=3,
        )


def _input_gradient(D, x):
    """grad_x sum_i D(x_i), itself differentiable (create_graph): for a D without cross-sample
    layers, row i is the gradient of D(x_i) with respect to x_i. ``x`` must require grad."""
    (g,) = grad(D(x).sum(), x, create_graph=True)
    return g.reshape(x.shape[0], -1)


def _as_input(x):
    """``x`` itself when it already requires grad (the penalty then differentiates through it),
    else a detached leaf copy that requires grad: the caller's tensor is never modified."""
    return x if x.requires_grad else x.detach().requires_grad_()


def gradient_penalty(D, real, fake, weight=10.0):
    """WGAN-GP penalty (Gulrajani et al. 2017): weight * mean_i (||grad_x D(x_hat_i)||_2 - 1)^2.

    x_hat_i = eps_i real_i + (1 - eps_i) fake_i with eps_i ~ U(0, 1) per sample (from scratchnet's
    seeded generator, on real's device): the optimal critic has gradient norm 1 on the lines
    between real and fake samples, so that is where the constraint is enforced, softly.
    ``fake`` is detached: the penalty trains D only. ``D``: any callable returning (N,) scores;
    differentiable with respect to D's parameters (and ``real`` if it requires grad)."""
    _warn_if_batch_norm(D, "gradient_penalty")
    n = real.shape[0]
    eps = rand(n, *[1] * (real.ndim - 1), dtype=real.dtype, device=real.device)
    x_hat = _as_input(eps * real + (1 - eps) * fake.detach())
    norm = (_input_gradient(D, x_hat) ** 2).sum(1).sqrt()
    return weight * ((norm - 1) ** 2).mean()


def r1_penalty(D, real, gamma=10.0):
    """R1 penalty (Mescheder et al. 2018): gamma / 2 * mean_i ||grad_x D(real_i)||^2.

    Penalising D's gradient on real data only keeps D from growing steep around the data, which
    makes GAN training converge locally (it stabilises the non-saturating BCE game). ``real`` is
    used through a detached copy that requires grad unless it requires grad itself."""
    _warn_if_batch_norm(D, "r1_penalty")
    x = _as_input(real)
    return gamma / 2 * (_input_gradient(D, x) ** 2).sum(1).mean()


"""Variational autoencoders (Kingma & Welling 2014): MLP and convolutional, beta, the two terms of the
ELBO, and an importance-weighted estimate of the log-likelihood (Burda et al. 2016).

The encoder maps an image x to a diagonal Gaussian q(z|x) = N(mu, diag(exp(logvar))); the decoder maps
a latent z to one logit per pixel, the Bernoulli distribution p(x|z). Per image:

    z      = mu + eps * exp(logvar / 2),  eps ~ N(0, I)            (reparameterisation: std = exp(logvar / 2))
    recon  = -log p(x|z) = sum over pixels of BCE(logits, x)      (x in [0, 1]; grey levels allowed)
    KL     = KL(q(z|x) || N(0, I)) = 1/2 sum_j (mu_j^2 + exp(logvar_j) - 1 - logvar_j)     (closed form)
    loss   = recon + beta * KL                                    (beta = 1: the negative ELBO)

    arch   encoder                                        decoder
    mlp    784 -> 400, ReLU -> (mu, logvar), 20 each       20 -> 400, ReLU -> 784 logits
           (fc1, then fc21 and fc22: PyTorch's example)   (fc3, fc4)
    conv   Cx28x28 -> 32x14x14 -> 64x7x7 -> (mu, logvar)   z -> 64x7x7 -> 32x14x14 -> Cx28x28 logits
           (convs 4x4 stride 2, ReLU; two Linear heads)   (Linear, ReLU; transposed convs 4x4 stride 2)

The negative ELBO bounds -log p(x) from above; beta > 1 (the beta-VAE, Higgins et al. 2017) buys a code
closer to the prior with worse reconstructions. The IWAE bound with k samples z_i ~ q(z|x),

    log p(x) >= log 1/k sum_i w_i,   log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x),

is the ELBO's single-sample estimate at k = 1, grows with k and tends to log p(x); k = 1000 is the usual
test log-likelihood estimate, on binarised images (p(x|z) is a probability only for x in {0, 1}).
"""

import math
from collections import namedtuple

from .. import functional as F
from .. import nn
from ..autograd import no_grad
from ..creation import rand_like, randn, randn_like, tensor
from ..ops import cat, logsumexp

ARCHS = ("mlp", "conv")
LOG_2PI = math.log(2 * math.pi)

VAELoss = namedtuple("VAELoss", ["loss", "recon", "kl"])
VAELoss.__doc__ = "Batch means per image: loss = recon + beta * kl (a Tensor each; loss is what to minimise)."


def _check_latent(latent_dim, who):
    if isinstance(latent_dim, bool) or int(latent_dim) != latent_dim or latent_dim < 1:
        raise ValueError(f"{who}: latent_dim must be a positive integer, got {latent_dim!r}")
    return int(latent_dim)


# --------------------------------------------------------------------------- the ELBO's pieces


def reparameterize(mu, logvar, eps=None):
    """z = mu + eps * exp(logvar / 2): a draw from N(mu, diag(exp(logvar))) written as a differentiable
    function of (mu, logvar), so gradients flow through the sampling. exp(logvar / 2) is the standard
    deviation (using exp(logvar) there is a known bug). ``eps`` (broadcastable with mu) fixes the
    noise; by default it is drawn from scratchnet's seeded generator, in mu's dtype and device."""
    if eps is None:
        eps = randn_like(mu)
    return mu + eps * (0.5 * logvar).exp()


def kl_divergence(mu, logvar):
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) per row, in closed form (no sampling noise):
    1/2 sum_j (mu_j^2 + exp(logvar_j) - 1 - logvar_j), summed over the last dim. (N, L) -> (N,)."""
    return 0.5 * (mu * mu + logvar.exp() - 1 - logvar).sum(-1)


def reconstruction_loss(logits, x):
    """-log p(x|z) per image: the binary cross-entropy of every pixel, summed over all dims but the
    first, from logits (stable for any logit). (N, ...) -> (N,). x may hold grey levels in [0, 1]."""
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return bce.reshape(bce.shape[0], -1).sum(1)


def elbo_terms(model, x, eps=None):
    """(recon, kl) per image, shape (N,) each: the negative ELBO is recon + kl. ``eps``: see reparameterize."""
    logits, mu, logvar = model(x, eps)
    return reconstruction_loss(logits, x), kl_divergence(mu, logvar)


def loss(model, x, beta=1.0, eps=None):
    """VAELoss(loss, recon, kl): batch means of the per-image terms, loss = recon + beta * kl.

    A mean over the batch, not a sum (PyTorch's example sums): the learning rate then does not depend
    on the batch size. The loss itself stays a per-image sum over pixels, so it reads in nats per image."""
    if not beta >= 0:
        raise ValueError(f"vae.loss: beta must be >= 0, got {beta!r}")
    recon, kl = elbo_terms(model, x, eps)
    recon, kl = recon.mean(), kl.mean()
    return VAELoss(recon + beta * kl, recon, kl)


# --------------------------------------------------------------------------- likelihood estimate


def log_importance_weights(model, x, eps):
    """log w[n, i] = log p(x_n|z_ni) + log p(z_ni) - log q(z_ni|x_n) with z_ni = mu_n + eps[n, i] * std_n.

    ``eps`` is (N, k, L); the result (N, k). Every density is a full log-density, constants included:
    log p(z) = log N(z; 0, I) and log q(z|x) = log N(z; mu, diag(exp(logvar))), where (z - mu) / std is
    eps itself. Differentiable (the IWAE objective); the decoder sees N * k latents at once."""
    n, k, latent = eps.shape
    mu, logvar = model.encode(x)
    z = reparameterize(mu.unsqueeze(1), logvar.unsqueeze(1), eps)  # (N, k, L)
    logits = model.decode(z.reshape(n * k, latent))
    target = x.unsqueeze(1).expand(n, k, *x.shape[1:]).reshape(n * k, *x.shape[1:])
    log_px_z = -reconstruction_loss(logits, target).reshape(n, k)
    log_pz = -0.5 * (z * z + LOG_2PI).sum(-1)
    log_qz = -0.5 * (eps * eps + logvar.unsqueeze(1) + LOG_2PI).sum(-1)
    return log_px_z + log_pz - log_qz


def _normal(shape, like, rng):
    """Standard normal noise in like's dtype and device, from ``rng`` (a NumPy Generator) or scratchnet's."""
    if rng is None:
        return randn(*shape, dtype=like.dtype, device=like.device)
    return tensor(rng.standard_normal(shape).astype(like.dtype), device=like.device)


@no_grad()
def iwae_log_likelihood(model, x, k=1000, batch=1000, rng=None):
    """Per-image estimates of log p(x), shape (N,): log-mean-exp over k importance samples of
    log p(x|z) + log p(z) - log q(z|x) (see log_importance_weights), the IWAE bound.

    The mean of k weights is taken in log space, logsumexp(log w) - log k, with the max subtracted:
    the weights themselves (around e**-100 per image) would underflow. At most ``batch`` latents are
    decoded at once, whatever k, so memory stays bounded (and the work stays in cache: on one CPU core
    1,000 at a time is 2-3 times faster than 10,000). Noise from ``rng`` (a NumPy Generator, for
    estimates that do not disturb the training stream) or scratchnet's seeded generator. No graph is
    recorded: this is an evaluation. Use binarised x (see binarize) for a likelihood."""
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"iwae_log_likelihood: k must be a positive integer, got {k!r}")
    if isinstance(batch, bool) or int(batch) != batch or batch < 1:
        raise ValueError(f"iwae_log_likelihood: batch must be a positive integer, got {batch!r}")
    images = max(1, batch // k)  # per pass; if k > batch: one image, in several passes
    per_pass = min(k, batch)
    estimates = []
    for lo in range(0, x.shape[0], images):
        xs = x[lo : lo + images]
        log_w = []
        for i in range(0, k, per_pass):
            eps = _normal((xs.shape[0], min(per_pass, k - i), model.latent_dim), xs, rng)
            log_w.append(log_importance_weights(model, xs, eps))
        estimates.append(logsumexp(cat(log_w, dim=1), dim=1) - math.log(k))
    return cat(estimates)


def binarize(x, rng=None):
    """Stochastic binarisation: each pixel is 1 with probability x (in [0, 1]), else 0; same dtype.
    Uniform noise from ``rng`` (a NumPy Generator) or scratchnet's seeded generator."""
    if rng is None:
        u = rand_like(x)
    else:
        u = tensor(rng.random(x.shape).astype(x.dtype), device=x.device)
    return (u < x).to(x.dtype)


# --------------------------------------------------------------------------- models


class _VAE(nn.Module):
    """forward(x, eps=None) -> (logits, mu, logvar): encode, sample z by reparameterisation, decode."""

    def forward(self, x, eps=None):
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar, eps)), mu, logvar


class MLPVAE(_VAE):
    """PyTorch's example VAE: x -> flatten -> fc1 (784 -> 400), ReLU -> fc21 = mu, fc22 = logvar (400 -> 20);
    z -> fc3 (20 -> 400), ReLU -> fc4 (400 -> 784) -> logits (N, *image_shape). Same layer names,
    so its state dict loads 1:1; PyTorch's default init."""

    def __init__(self, latent_dim=20, hidden=400, image_shape=(1, 28, 28)):
        super().__init__()
        self.latent_dim = _check_latent(latent_dim, "MLPVAE")
        self.image_shape = tuple(image_shape)
        pixels = math.prod(self.image_shape)
        self.fc1 = nn.Linear(pixels, hidden)
        self.fc21 = nn.Linear(hidden, self.latent_dim)
        self.fc22 = nn.Linear(hidden, self.latent_dim)
        self.fc3 = nn.Linear(self.latent_dim, hidden)
        self.fc4 = nn.Linear(hidden, pixels)

    def encode(self, x):
        h = F.relu(self.fc1(x.reshape(x.shape[0], -1)))
        return self.fc21(h), self.fc22(h)

    def decode(self, z):
        return self.fc4(F.relu(self.fc3(z))).reshape(z.shape[0], *self.image_shape)


class ConvVAE(_VAE):
    """x (N, C, S, S) -> Conv2d(C, 32, 4, 2, 1), ReLU -> Conv2d(32, 64, 4, 2, 1), ReLU   (N, 64, S/4, S/4)
    -> flatten -> fc_mu, fc_logvar (Linear to latent_dim each);
    z -> Linear(latent_dim, 64 * (S/4)^2), ReLU -> (N, 64, S/4, S/4)
    -> ConvTranspose2d(64, 32, 4, 2, 1), ReLU -> ConvTranspose2d(32, C, 4, 2, 1) -> logits (N, C, S, S).

    A 4x4 conv with stride 2 and padding 1 halves the size, (S + 2 - 4) / 2 + 1 = S / 2, and the
    transposed conv doubles it back, (S - 1) * 2 - 2 + 4 = 2S. PyTorch's default init."""

    def __init__(self, latent_dim=20, channels=1, image_size=28):
        super().__init__()
        self.latent_dim = _check_latent(latent_dim, "ConvVAE")
        if image_size % 4:
            raise ValueError(f"ConvVAE: image_size must be a multiple of 4 (two stride-2 convs), got {image_size}")
        self.channels, self.image_size = channels, image_size
        s = image_size // 4
        self.encoder = nn.Sequential(
            nn.Conv2d(channels, 32, 4, 2, 1), nn.ReLU(),
            nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(),
            nn.Flatten(),
        )  # fmt: skip
        self.fc_mu = nn.Linear(64 * s * s, self.latent_dim)
        self.fc_logvar = nn.Linear(64 * s * s, self.latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(self.latent_dim, 64 * s * s), nn.ReLU(), nn.Unflatten(1, (64, s, s)),
            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(32, channels, 4, 2, 1),
        )  # fmt: skip

    def encode(self, x):
        h = self.encoder(x)
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z):
        return self.decoder(z)


def build_vae(arch, latent_dim=20):
    """The VAE of ``arch`` in ARCHS ('mlp' or 'conv') for 1x28x28 images with ``latent_dim`` latents."""
    if arch not in ARCHS:
        raise ValueError(f"build_vae: unknown arch {arch!r}; valid archs are {', '.join(map(repr, ARCHS))}")
    latent_dim = _check_latent(latent_dim, "build_vae")
    return MLPVAE(latent_dim) if arch == "mlp" else ConvVAE(latent_dim)

"""Train a variational autoencoder on handwritten digits (or Fashion-MNIST) and look at its latent space.

    python demos/vae.py                          # MLP VAE (784-400-20), mnist10k, 10 epochs
    python demos/vae.py --arch conv              # the convolutional VAE
    python demos/vae.py --latent 2               # a 2-D latent space, drawn as a map
    python demos/vae.py --beta 4                 # a beta-VAE: a code closer to the prior

Writes to --out: metrics.json, losses.png (the loss and its two terms per epoch), reconstructions.png
(test images above their reconstructions), samples.png (decoded draws from the prior),
interpolation.png (straight lines in latent space between two test images), with --latent 2 also
latent_map.png (decoded images on a grid of z) and latent_means.png (the test images' mu by class),
and checkpoint.npz (resume with --resume).

The numbers: training pixels are grey levels in [0, 1], not binarised. The loss per image is the
binary cross-entropy summed over the pixels plus beta times the KL divergence, averaged over the
batch; the test loss is its mean over the test images, with the model in eval mode and the same
noise every epoch (seed EVAL_SEED), so it is reproducible. The IWAE estimate of -log p(x) (--iwae-k
importance samples per image) is on the test images binarised once with seed BINARIZE_SEED, so
every run is scored on the same 0/1 images.
"""

import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from _common import (
    base_parser,
    check_args,
    image_grid,
    load_checkpoint,
    load_data,
    plot_curves,
    progress,
    pyplot,
    save_checkpoint,
    write_graph,
    write_json,
)

import scratchnet as sn
from scratchnet import data
from scratchnet.models import vae

EVAL_SEED = 1  # noise of the test loss
BINARIZE_SEED = 2  # the binarised test images of the IWAE estimate
IWAE_SEED = 3  # its importance samples
SAMPLE_SEED = 4  # the prior draws in samples.png
TERMS = ("loss", "recon", "kl")
LABELS = {
    "loss": "loss per image (nats)",
    "recon": "reconstruction: summed BCE",
    "kl": "KL(q(z|x) || N(0, I))",
}


def parse_args(argv=None):
    parser = base_parser(__doc__.splitlines()[0], out="runs/vae", epochs=10, batch_size=128, lr=1e-3)
    parser.add_argument("--arch", default="mlp", choices=vae.ARCHS, help="encoder and decoder")
    parser.add_argument("--latent", type=int, default=20, help="size of the latent code z")
    parser.add_argument("--beta", type=float, default=1.0, help="weight of the KL term (1: the ELBO)")
    parser.add_argument(
        "--iwae-k",
        type=int,
        default=1000,
        help="importance samples per test image for the log-likelihood estimate (0: skip it)",
    )
    args = parser.parse_args(argv)
    check_args(parser, args)
    if args.latent < 1:
        parser.error(f"--latent must be at least 1, got {args.latent}")
    if not args.beta >= 0:
        parser.error(f"--beta must be >= 0, got {args.beta}")
    if args.iwae_k < 0:
        parser.error(f"--iwae-k must be >= 0 (0 skips the estimate), got {args.iwae_k}")
    return parser, args


@sn.no_grad()
def evaluate(model, batches, beta):
    """Mean loss, recon and KL per image over batches of images, in eval mode, with fixed noise."""
    model.eval()
    rng = np.random.Generator(np.random.PCG64(EVAL_SEED))
    recon_sum = kl_sum = 0.0
    n = 0
    for x in batches:
        noise = rng.standard_normal((x.shape[0], model.latent_dim), dtype=np.float32)
        recon, kl = vae.elbo_terms(model, x, sn.tensor(noise))
        recon_sum += recon.sum().item()
        kl_sum += kl.sum().item()
        n += x.shape[0]
    model.train()
    return {
        "loss": (recon_sum + beta * kl_sum) / n,
        "recon": recon_sum / n,
        "kl": kl_sum / n,
    }


def main(argv=None):
    parser, args = parse_args(argv)
    train_set, test_set = load_data(parser, args)
    # pixels in [0, 1], grey levels (not binarised)
    train_loader = data.DataLoader(train_set, args.batch_size, shuffle=True, seed=args.seed)
    test_loader = data.DataLoader(test_set, 500)
    model = vae.build_vae(args.arch, args.latent)
    optimizer = sn.optim.Adam(model.parameters(), lr=args.lr)
    config = {
        "model": "VAE",
        "arch": args.arch,
        "latent": args.latent,
        "beta": args.beta,
        "data": args.data,
    }
    history, start_epoch, step, seconds = [], 0, 0, 0.0
    if args.resume:
        state = load_checkpoint(parser, args, config)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        train_loader.load_state_dict(state["loader"])
        # the reparameterisation noise continues where it stopped
        sn.backend.set_rng_state(state["rng"])
        history, start_epoch, seconds = (
            state["history"],
            state["epoch"],
            state["seconds"],
        )
        step = state.get("step", 0)  # optimizer steps so far (not in checkpoints older than issue 8)
        print(f"resuming after epoch {start_epoch} from {args.out}/checkpoint.npz")

    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"{args.arch} VAE (latent {args.latent}, beta {args.beta:g}) on {args.data}: {len(train_set)} train / "
        f"{len(test_set)} test images; {n_params:,} parameters; backend {args.backend}"
    )
    for epoch in range(start_epoch, args.epochs):
        started = time.perf_counter()
        sums, seen = dict.fromkeys(TERMS, 0.0), 0
        bar = progress(train_loader, f"epoch {epoch + 1}/{args.epochs}")
        for x, _ in bar:
            step += 1
            terms = vae.loss(model, x, args.beta)
            write_graph(args, terms.loss, model)
            optimizer.zero_grad()
            terms.loss.backward()
            optimizer.step()
            n = x.shape[0]
            seen += n
            for name, value in zip(TERMS, terms):
                sums[name] += value.item() * n
            stop_if_diverged(sums["loss"], seen, epoch, args)
            bar.set_postfix({name: f"{sums[name] / seen:.2f}" for name in TERMS}, refresh=False)
        test = evaluate(model, (x for x, _ in test_loader), args.beta)
        seconds += time.perf_counter() - started
        history.append(
            {
                "epoch": epoch + 1,
                **{f"train_{k}": v / seen for k, v in sums.items()},
                **{f"test_{k}": v for k, v in test.items()},
                "seconds": seconds,
            }
        )
        bar.write(
            f"epoch {epoch + 1}: train loss {sums['loss'] / seen:.2f} (recon {sums['recon'] / seen:.2f}, "
            f"KL {sums['kl'] / seen:.2f}) | test loss {test['loss']:.2f} (recon {test['recon']:.2f}, "
            f"KL {test['kl']:.2f}) | {seconds:.0f} s"
        )
        save_checkpoint(
            args,
            config,
            model=model.state_dict(),
            optimizer=optimizer.state_dict(),
            loader=train_loader.state_dict(),
            rng=sn.backend.get_rng_state(),
            history=history,
            epoch=epoch + 1,
            step=step,
            seconds=seconds,
        )

    report(args, model, test_set, test_loader, history, n_params, seconds)


def stop_if_diverged(loss_sum, seen, epoch, args):
    """A NaN or infinite loss ends the run, naming the epoch; the last checkpoint stays."""
    if not math.isfinite(loss_sum):
        kept = (
            f"the last good checkpoint (epoch {epoch}) is kept at {args.out}/checkpoint.npz"
            if epoch
            else "no checkpoint was written yet"
        )
        sys.exit(
            f"vae.py: the loss became {loss_sum} after {seen} images of epoch {epoch + 1}: training "
            f"diverged; {kept}. Try a smaller --lr or another --seed."
        )


# --------------------------------------------------------------------------- metrics and pictures


def binarized(test_set):
    """The test images binarised once, with a fixed seed: pixel = 1 with probability grey level / 255."""
    x = sn.tensor(test_set.images[:, None] / np.float32(255))
    return vae.binarize(x, np.random.Generator(np.random.PCG64(BINARIZE_SEED)))


def iwae_nll(model, x, k, batch=100):
    """Mean -log p(x) over the images x by the IWAE bound with k samples (nats per image)."""
    model.eval()
    rng = np.random.Generator(np.random.PCG64(IWAE_SEED))
    log_px = []
    for i in progress(range(0, x.shape[0], batch), f"IWAE, k={k}"):
        log_px.append(vae.iwae_log_likelihood(model, x[i : i + batch], k, rng=rng).numpy())
    model.train()
    return -float(np.concatenate(log_px).astype(np.float64).mean())


def report(args, model, test_set, test_loader, history, n_params, seconds):
    out = Path(args.out)
    test = evaluate(model, (x for x, _ in test_loader), args.beta)
    result = {
        "dataset": args.data,
        "arch": args.arch,
        "latent": args.latent,
        "beta": args.beta,
        "backend": args.backend,
        "seed": args.seed,
        "epochs": len(history),
        "batch_size": args.batch_size,
        "lr": args.lr,
        "parameters": n_params,
        "train_seconds": round(seconds, 1),
        "test_images": len(test_set),
        "test_loss": test["loss"],
        "test_recon": test["recon"],
        "test_kl": test["kl"],
        "eval_seed": EVAL_SEED,
    }
    if args.iwae_k:
        started = time.perf_counter()
        x = binarized(test_set)
        elbo = evaluate(model, (x[i : i + 500] for i in range(0, x.shape[0], 500)), 1.0)
        result.update(
            binarized_test_loss=elbo["loss"],
            iwae_k=args.iwae_k,
            iwae_nll=iwae_nll(model, x, args.iwae_k),
            iwae_seconds=round(time.perf_counter() - started, 1),
            binarize_seed=BINARIZE_SEED,
            iwae_seed=IWAE_SEED,
        )
    result["history"] = history
    write_json(out / "metrics.json", result)
    if history:
        plot_curves(
            out / "losses.png",
            history,
            [(LABELS[name], [f"train_{name}", f"test_{name}"]) for name in TERMS],
            f"{args.arch} VAE (latent {args.latent}, beta {args.beta:g}) on {args.data}",
        )
    pictures(out, model, test_set, args)
    iwae = ""
    if args.iwae_k:
        iwae = (
            f"; on binarised test images: -ELBO {result['binarized_test_loss']:.2f}, "
            f"IWAE (k={args.iwae_k}) -log p(x) {result['iwae_nll']:.2f}"
        )
    print(
        f"test loss {test['loss']:.2f} per image (recon {test['recon']:.2f}, KL {test['kl']:.2f}){iwae}; "
        f"{seconds:.0f} s of training; wrote {out}/metrics.json and the pictures"
    )


@sn.no_grad()
def decoded(model, z):
    """Bernoulli means sigmoid(decode(z)) as images (N, H, W) in [0, 1]."""
    logits = model.decode(sn.tensor(np.asarray(z, dtype=np.float32)))
    return logits.sigmoid().numpy()[:, 0]


@sn.no_grad()
def posterior_means(model, images, batch=500):
    """mu of q(z|x) for uint8 images (N, H, W)."""
    mu = []
    for i in range(0, len(images), batch):
        x = sn.tensor(images[i : i + batch, None] / np.float32(255))
        mu.append(model.encode(x)[0].numpy())
    return np.concatenate(mu)


def pictures(out, model, test_set, args):
    model.eval()
    name = f"{args.arch} VAE, latent {args.latent}"
    spread = np.linspace(0, len(test_set) - 1, min(30, len(test_set))).astype(int)
    images = test_set.images[spread] / 255.0
    rec = decoded(model, posterior_means(model, test_set.images[spread]))
    rows = [block[i : i + 10] for i in range(0, len(spread), 10) for block in (images, rec)]
    image_grid(
        out / "reconstructions.png",
        np.concatenate(rows),
        title=f"{name}: test images (odd rows) above their reconstructions from the posterior mean",
    )
    z = np.random.Generator(np.random.PCG64(SAMPLE_SEED)).standard_normal((64, args.latent))
    image_grid(
        out / "samples.png",
        decoded(model, z),
        ncols=8,
        title=f"{name}: decoded draws z ~ N(0, I)",
    )
    interpolation(out / "interpolation.png", model, test_set, name)
    if args.latent == 2:
        latent_map(out / "latent_map.png", model, name)
        latent_means(out / "latent_means.png", model, test_set, name)
    model.train()


def interpolation(path, model, test_set, name, rows=6, steps=8):
    """Each row: a test image, decoded points on the line between its mu and another's, that other image."""
    picks = np.linspace(0, len(test_set) - 1, 2 * rows).astype(int)
    # pairs from opposite ends: different classes when the data is stored by class
    a, b = picks[:rows], picks[rows:][::-1]
    mu = posterior_means(model, test_set.images[np.concatenate([a, b])])
    t = np.linspace(0, 1, steps)[None, :, None]
    z = (mu[:rows, None] * (1 - t) + mu[rows:, None] * t).reshape(rows * steps, -1)
    path_images = decoded(model, z).reshape(rows, steps, *test_set.images.shape[1:])
    grid = np.concatenate(
        [
            test_set.images[a, None] / 255.0,
            path_images,
            test_set.images[b, None] / 255.0,
        ],
        axis=1,
    )
    image_grid(
        path,
        grid.reshape(-1, *grid.shape[2:]),
        ncols=steps + 2,
        title=f"{name}: from one test image to another along the line between their posterior means",
    )


def latent_map(path, model, name, n=20):
    """Decoded images on an n x n grid of z at the normal distribution's quantiles 0.05 .. 0.95 (as in
    Kingma & Welling's figure 4): equal steps of prior probability mass, not of distance."""
    q = np.array([statistics.NormalDist().inv_cdf(p) for p in np.linspace(0.05, 0.95, n)])
    # row by row from the top, so z2 decreases down the picture
    z = np.stack(np.meshgrid(q, q[::-1]), axis=-1).reshape(-1, 2)
    images = decoded(model, z)
    h, w = images.shape[1:]
    mosaic = images.reshape(n, n, h, w).transpose(0, 2, 1, 3).reshape(n * h, n * w)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 7.5))
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1, extent=(-0.5, n - 0.5, n - 0.5, -0.5))
    ticks = range(0, n, 3)
    ax.set_xticks(ticks, [f"{q[i]:.2f}" for i in ticks])
    ax.set_yticks(ticks, [f"{q[::-1][i]:.2f}" for i in ticks])
    ax.set_xlabel("z1")
    ax.set_ylabel("z2")
    ax.set_title(
        f"{name}: decoded images on a grid of z (normal quantiles 0.05 .. 0.95)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def latent_means(path, model, test_set, name):
    """The posterior mean of every test image, coloured by class, over the prior's +-3 sigma."""
    mu = posterior_means(model, test_set.images)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8.5, 6.5))
    cmap = plt.get_cmap("tab10")
    for c, label in enumerate(test_set.classes):
        pts = mu[test_set.labels == c]
        ax.scatter(pts[:, 0], pts[:, 1], s=4, color=cmap(c % 10), label=label, alpha=0.7)
    ax.set_xlabel("mu1")
    ax.set_ylabel("mu2")
    lo, hi = np.minimum(mu.min(0) - 0.2, -3), np.maximum(mu.max(0) + 0.2, 3)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.grid(alpha=0.3)
    ax.legend(markerscale=3, fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.set_title(f"{name}: posterior means of the {len(mu)} test images", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()

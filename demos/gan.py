"""Train a GAN on handwritten digits and measure how good its samples are.

    python demos/gan.py                               # DCGAN, non-saturating loss, mnist10k
    python demos/gan.py --arch mlp                    # the MLP GAN
    python demos/gan.py --loss wgan-gp                # WGAN-GP (5 critic steps per generator step)
    python demos/gan.py --loss r1                     # non-saturating loss + R1 penalty on real data

Writes to --out: samples/epoch_NNN.png (the same noise every epoch), losses.png,
interpolation.png (walks between latent points), metrics.json and checkpoint.npz.

The numbers: a CNN classifier trained by demos/cnn.py on the same data
(--classifier, else runs/cnn/checkpoint.npz, else one is trained first) gives
features and class probabilities for 2,000 generated images: the Frechet
distance (FID with the CNN's features) to 2,000 test images, beside the same
distance from 2,000 real training images (the floor a perfect generator
reaches), the classifier score (the Inception Score with that CNN; at most 10)
and the class histogram.
"""

import math
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
    save_checkpoint,
    write_graph,
    write_json,
)

import scratchnet as sn
from scratchnet import data, metrics
from scratchnet.models import CNN, gan

SAMPLES = 2000  # generated and real images per metric


def parse_args(argv=None):
    parser = base_parser(__doc__.splitlines()[0], out="runs/gan", epochs=None, batch_size=64, lr=None)
    parser.add_argument("--arch", default="dcgan", choices=gan.ARCHS, help="generator and discriminator")
    parser.add_argument("--loss", default="bce", choices=gan.LOSSES, help="GAN loss")
    parser.add_argument("--latent", type=int, default=100, help="size of the noise vector z")
    parser.add_argument("--classifier", default=None,
                        help="CNN checkpoint from demos/cnn.py for the metrics (default: runs/cnn/checkpoint.npz "
                             "if it was trained on --data, else one is trained into OUT/classifier)")
    args = parser.parse_args(argv)
    if args.epochs is None:  # DCGAN: ~7 minutes of training on 2 CPU cores; MLP GAN: ~4 minutes
        args.epochs = {"dcgan": 25, "mlp": 60}[args.arch]
    check_args(parser, args)
    if args.latent < 1:
        parser.error(f"--latent must be at least 1, got {args.latent}")
    return parser, args


def to_unit(x):
    """Generator output in [-1, 1] as images in [0, 1], shape (N, H, W)."""
    return np.clip((x.numpy()[:, 0] + 1) / 2, 0, 1)


@sn.no_grad()
def generate(G, z, batch=500):
    G.eval()
    out = np.concatenate([G(z[i : i + batch]).numpy() for i in range(0, len(z), batch)])
    G.train()
    return out


def main(argv=None):
    parser, args = parse_args(argv)
    train_set, test_set = load_data(parser, args)
    to_signed = data.transforms.Normalize(0.5, 0.5)  # pixels in [-1, 1], as tanh outputs
    loader = data.DataLoader(train_set, args.batch_size, shuffle=True, drop_last=True, seed=args.seed,
                             transform=to_signed)
    G, D = gan.build_gan(args.arch, args.loss, args.latent)
    settings = dict(gan.OPTIMIZER_SETTINGS[args.loss])
    if args.lr is not None:
        settings["lr"] = args.lr
    opt_g, opt_d = sn.optim.Adam(G.parameters(), **settings), sn.optim.Adam(D.parameters(), **settings)
    n_critic = gan.N_CRITIC[args.loss]
    config = {"model": "GAN", "arch": args.arch, "loss": args.loss, "latent": args.latent, "data": args.data}
    fixed_z = sn.tensor(np.random.default_rng(args.seed).standard_normal((64, args.latent)).astype(np.float32))

    history, start_epoch, step, seconds = [], 0, 0, 0.0
    if args.resume:
        state = load_checkpoint(parser, args, config)
        G.load_state_dict(state["generator"])
        D.load_state_dict(state["discriminator"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        loader.load_state_dict(state["loader"])
        sn.backend.set_rng_state(state["rng"])
        history, start_epoch, step, seconds = state["history"], state["epoch"], state["step"], state["seconds"]
        print(f"resuming after epoch {start_epoch} from {args.out}/checkpoint.npz")

    samples_dir = Path(args.out) / "samples"
    samples_dir.mkdir(parents=True, exist_ok=True)
    print(f"{args.arch} GAN, {args.loss} loss, on {args.data}: {len(train_set)} images; generator "
          f"{sum(p.numel() for p in G.parameters()):,} and discriminator {sum(p.numel() for p in D.parameters()):,} "
          f"parameters; backend {args.backend}")
    for epoch in range(start_epoch, args.epochs):
        started = time.perf_counter()
        d_sum = g_sum = 0.0
        d_count = g_count = 0
        bar = progress(loader, f"epoch {epoch + 1}/{args.epochs}")
        for real, _ in bar:
            step += 1
            n = real.shape[0]
            with sn.no_grad():
                fake = G(sn.randn(n, args.latent))
            d_loss = discriminator_loss(args.loss, D, real, fake)
            write_graph(args, d_loss, D.named_parameters("D"))
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            d_value = d_loss.item()
            stop_if_diverged(d_value, "discriminator", step, epoch, args)
            d_sum, d_count = d_sum + d_value, d_count + 1
            if step % n_critic == 0:
                fake = G(sn.randn(n, args.latent))
                D.requires_grad_(False)  # G's step needs D's input gradient only, not its weight gradients
                g_loss = gan.g_loss_bce(D(fake)) if args.loss != "wgan-gp" else gan.g_loss_wgan(D(fake))
                write_graph(args, g_loss, [*G.named_parameters("G"), *D.named_parameters("D")], name="graph_g")
                opt_g.zero_grad()
                g_loss.backward()
                opt_g.step()
                D.requires_grad_(True)
                g_value = g_loss.item()
                stop_if_diverged(g_value, "generator", step, epoch, args)
                g_sum, g_count = g_sum + g_value, g_count + 1
            bar.set_postfix(d=f"{d_sum / d_count:.3f}", g=f"{g_sum / max(g_count, 1):.3f}", refresh=False)
        seconds += time.perf_counter() - started
        history.append({"epoch": epoch + 1, "d_loss": d_sum / d_count, "g_loss": g_sum / max(g_count, 1),
                        "seconds": seconds})
        image_grid(samples_dir / f"epoch_{epoch + 1:03d}.png", to_unit(sn.tensor(generate(G, fixed_z))), ncols=8,
                   title=f"{args.arch} GAN ({args.loss}), epoch {epoch + 1}")
        bar.write(f"epoch {epoch + 1}: D loss {d_sum / d_count:.4f}, G loss {g_sum / max(g_count, 1):.4f} | "
                  f"{seconds:.0f} s")
        save_checkpoint(args, config, generator=G.state_dict(), discriminator=D.state_dict(),
                        opt_g=opt_g.state_dict(), opt_d=opt_d.state_dict(), loader=loader.state_dict(),
                        rng=sn.backend.get_rng_state(), history=history, epoch=epoch + 1, step=step,
                        seconds=seconds)

    report(parser, args, G, train_set, test_set, history, seconds)


def discriminator_loss(loss, D, real, fake):
    if loss == "wgan-gp":
        return gan.d_loss_wgan(D(real), D(fake)) + gan.gradient_penalty(D, real, fake)
    d_loss = gan.d_loss_bce(D(real), D(fake))
    return d_loss + gan.r1_penalty(D, real) if loss == "r1" else d_loss


def stop_if_diverged(value, network, step, epoch, args):
    """A NaN or infinite loss ends the run, naming the step and the network; the last checkpoint stays."""
    if not math.isfinite(value):
        kept = f"the last good checkpoint (epoch {epoch}) is kept at {args.out}/checkpoint.npz" if epoch else (
            "no checkpoint was written yet")
        sys.exit(f"gan.py: the {network}'s loss became {value} at step {step} (epoch {epoch + 1}): training "
                 f"diverged; {kept}. Try a smaller --lr or another --seed.")


# --------------------------------------------------------------------------- metrics and pictures


def _trained_on(path, dataset):
    """True if ``path`` holds a CNN demo checkpoint trained on ``dataset``."""
    try:
        config = sn.load(path).get("config", {}) if path.exists() else {}
    except ValueError:
        return False
    return config.get("model") == "CNN" and config.get("data") == dataset


def load_classifier(parser, args):
    """The CNN for the metrics: --classifier, else runs/cnn (if trained on --data), else train one now."""
    path = Path(args.classifier) if args.classifier else Path("runs/cnn/checkpoint.npz")
    if not args.classifier and not _trained_on(path, args.data):
        path = Path(args.out) / "classifier" / "checkpoint.npz"
        if not _trained_on(path, args.data):
            print(f"no CNN classifier for {args.data} yet: training one with demos/cnn.py into {path.parent}")
            import cnn

            cnn.main(["--data", args.data, "--out", str(path.parent), "--seed", str(args.seed),
                      "--backend", args.backend] + (["--data-dir", args.data_dir] if args.data_dir else []))
    try:
        state = sn.load(path)
    except (FileNotFoundError, ValueError) as e:
        parser.error(f"--classifier: {e}")
    config = state.get("config", {})
    if config.get("model") != "CNN" or config.get("data") != args.data:
        parser.error(f"--classifier {path}: a checkpoint of model {config.get('model')!r} trained on "
                     f"{config.get('data')!r}; the metrics need the CNN demo's model trained on {args.data!r}")
    model = CNN(**{k: v for k, v in config.items() if k not in ("model", "data")})
    model.load_state_dict(state["model"])
    return model.eval(), state["normalize"], path


@sn.no_grad()
def classify(model, images, mean_std):
    """(features, class probabilities) for images in [0, 1], shape (N, H, W), normalised as the CNN saw them."""
    mean, std = mean_std
    feats, probs = [], []
    for i in range(0, len(images), 500):
        x = sn.tensor(((images[i : i + 500] - mean) / std)[:, None].astype(np.float32))
        f = model.features(x)
        feats.append(f.numpy())
        probs.append(metrics.softmax_probabilities(model.head(f).numpy()))
    return np.concatenate(feats), np.concatenate(probs)


def spread(dataset, n):
    """n images spread evenly over a dataset (all classes; it may be stored class by class)."""
    idx = np.unique(np.linspace(0, len(dataset) - 1, min(n, len(dataset))).astype(int))
    return dataset.images[idx] / 255.0


def report(parser, args, G, train_set, test_set, history, seconds):
    out = Path(args.out)
    classifier, mean_std, classifier_path = load_classifier(parser, args)
    z = sn.tensor(np.random.default_rng(args.seed + 1).standard_normal((SAMPLES, args.latent)).astype(np.float32))
    generated = to_unit(sn.tensor(generate(G, z)))
    f_gen, p_gen = classify(classifier, generated, mean_std)
    f_test, p_test = classify(classifier, spread(test_set, SAMPLES), mean_std)
    f_train, _ = classify(classifier, spread(train_set, SAMPLES), mean_std)
    classes = list(train_set.classes)
    histogram = metrics.class_histogram(p_gen.argmax(axis=1), len(classes))
    result = {
        "dataset": args.data, "arch": args.arch, "loss": args.loss, "backend": args.backend, "seed": args.seed,
        "epochs": len(history), "train_seconds": round(seconds, 1), "samples": SAMPLES,
        "classifier": str(classifier_path),
        "fid": metrics.frechet_distance(f_gen, f_test),
        "fid_real_train_vs_test": metrics.frechet_distance(f_train, f_test),
        "classifier_score": metrics.classifier_score(p_gen),
        "classifier_score_real_test": metrics.classifier_score(p_test),
        "class_histogram": dict(zip(classes, histogram.tolist())),
        "smallest_class_fraction": float(histogram.min() / histogram.sum()),
        "history": history,
    }
    result["fid_ratio_to_floor"] = result["fid"] / max(result["fid_real_train_vs_test"], 1e-12)
    write_json(out / "metrics.json", result)
    if history:
        plot_curves(out / "losses.png", history, [("loss", ["d_loss", "g_loss"])],
                    f"{args.arch} GAN ({args.loss}) on {args.data}")
    interpolation(out / "interpolation.png", G, args)
    print(f"FID {result['fid']:.2f} (real train vs test: {result['fid_real_train_vs_test']:.2f}), classifier score "
          f"{result['classifier_score']:.2f} (real: {result['classifier_score_real_test']:.2f}), smallest class "
          f"{result['smallest_class_fraction']:.1%}; wrote {out}/metrics.json, losses.png, interpolation.png, samples/")


def interpolation(path, G, args, rows=6, steps=10):
    """Each row walks in a straight line between two random latent points."""
    rng = np.random.default_rng(args.seed + 2)
    ends = rng.standard_normal((rows, 2, args.latent)).astype(np.float32)
    t = np.linspace(0, 1, steps, dtype=np.float32)[None, :, None]
    z = (ends[:, :1] * (1 - t) + ends[:, 1:] * t).reshape(rows * steps, args.latent)
    image_grid(path, to_unit(sn.tensor(generate(G, sn.tensor(z)))), ncols=steps,
               title="latent interpolation: each row walks from one z to another")


if __name__ == "__main__":
    main()

"""Draw the README's side-by-side GAN figure: 36 samples from each run's final generator.

    python tools/gan_figure.py docs/images/gan_side_by_side.png runs/gan_dcgan_bce runs/gan_mlp_bce ...

Each folder is a demos/gan.py --out folder (checkpoint.npz and metrics.json); every panel uses the same
noise (seed 0) and is titled with the run's arch, loss, epochs and classifier score.
"""

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import scratchnet as sn  # noqa: E402
from scratchnet.models import gan  # noqa: E402


def samples(run, n=36):
    state, metrics = sn.load(run / "checkpoint.npz"), json.loads((run / "metrics.json").read_text())
    config = state["config"]
    G, _ = gan.build_gan(config["arch"], config["loss"], config["latent"])
    G.load_state_dict(state["generator"])
    z = sn.tensor(np.random.default_rng(0).standard_normal((n, config["latent"])).astype(np.float32))
    with sn.no_grad():
        x = G.eval()(z).numpy()[:, 0]
    side = int(n**0.5)
    grid = ((x + 1) / 2).clip(0, 1).reshape(side, side, 28, 28).transpose(0, 2, 1, 3).reshape(side * 28, side * 28)
    title = (f"{config['arch']}, {config['loss']}, {metrics['epochs']} epochs\n"
             f"score {metrics['classifier_score']:.2f}, FID {metrics['fid']:.0f}")
    return grid, title


def main(out, *runs):
    fig, axes = plt.subplots(1, len(runs), figsize=(3.2 * len(runs), 3.9))
    for ax, run in zip(np.atleast_1d(axes), runs):
        grid, title = samples(Path(run))
        ax.imshow(grid, cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out, dpi=80, bbox_inches="tight")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])

"""What every demo shares: the command line, backend and seed, progress bars, checkpoints, JSON and plots.

Plotting imports matplotlib (with the file-only Agg backend) inside the
functions that draw, so the demos' training code never depends on it.
"""

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

# demos/ is run as a script folder; make `import scratchnet` work from a source checkout too
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import scratchnet as sn  # noqa: E402
from scratchnet import data  # noqa: E402


def base_parser(description, *, out, epochs, batch_size, lr):
    """The options every demo has, with the demo's own defaults."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", default="mnist10k", choices=data.DATASETS, help="dataset")
    p.add_argument("--data-dir", default=None, help="folder holding the dataset's IDX files (else the usual places)")
    p.add_argument("--epochs", type=int, default=epochs, help="training epochs")
    p.add_argument("--batch-size", type=int, default=batch_size, help="samples per step")
    p.add_argument("--lr", type=float, default=lr, help="learning rate" + ("" if lr else " (default: the model's own)"))
    p.add_argument("--backend", default="numpy", choices=sn.backend.BACKENDS, help="numpy (CPU) or cupy (GPU)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw")
    p.add_argument("--out", default=out, help="folder for metrics.json, the PNGs and the checkpoint")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    p.add_argument("--limit", type=int, default=None, help="use only the first N train and test images (smoke tests)")
    p.add_argument("--graph", action="store_true", help="write the first training step's graph to OUT/graph.dot, .txt")
    return p


def check_args(parser, args):
    """Turn bad values and an unusable backend into argparse errors (exit 2 with the reason)."""
    for name in ("epochs", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.lr is not None and args.lr <= 0:
        parser.error(f"--lr must be positive, got {args.lr}")
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit must be at least 1, got {args.limit}")
    try:
        sn.backend.use(args.backend)
    except RuntimeError as e:
        parser.error(f"--backend {args.backend}: {e}")
    sn.manual_seed(args.seed)
    sn.backend.retain_freed_memory()  # big temporaries reuse freed memory: no page faults, ~1.3x faster conv steps
    Path(args.out).mkdir(parents=True, exist_ok=True)


def load_data(parser, args):
    """(train, test) datasets, or an argparse error saying what is missing and where it looked."""
    try:
        train = data.load_dataset(args.data, "train", data_dir=args.data_dir)
        test = data.load_dataset(args.data, "test", data_dir=args.data_dir)
    except (FileNotFoundError, ValueError, OSError) as e:
        parser.error(f"--data {args.data}: {e}")
    if args.limit:  # evenly spaced, so every class is in (the bundled data is stored class by class)
        train, test = (d.subset(np.unique(np.linspace(0, len(d) - 1, min(args.limit, len(d))).astype(int)))
                       for d in (train, test))
    return train, test


def progress(iterable, desc):
    """A tqdm progress bar on stderr (plain lines when stderr is not a terminal)."""
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, leave=True, dynamic_ncols=True, mininterval=0.5 if sys.stderr.isatty() else 5)


def write_graph(args, loss, params, name="graph"):
    """With --graph, write the graph behind ``loss`` to OUT/<name>.dot and OUT/<name>.txt, once per run.

    Call it before ``loss.backward()`` (which frees the graph); later calls with the same name do nothing,
    so the training loop can call it every step. Render the DOT with ``dot -Tsvg graph.dot -o graph.svg``.
    """
    written = vars(args).setdefault("_graphs_written", set())
    if not args.graph or name in written:
        return
    written.add(name)
    out = Path(args.out)
    params = dict(params.named_parameters() if hasattr(params, "named_parameters") else params)
    (out / f"{name}.dot").write_text(sn.viz.graph(loss, params))
    (out / f"{name}.txt").write_text(sn.viz.outline(loss, params))
    print(f"wrote {out}/{name}.dot and {name}.txt (draw it with: dot -Tsvg {out}/{name}.dot -o {out}/{name}.svg)")


# --------------------------------------------------------------------------- checkpoints and JSON


def checkpoint_path(args):
    return Path(args.out) / "checkpoint.npz"


def save_checkpoint(args, config, **state):
    """Model, optimizer, schedule, loader and RNG state plus the config that built the model (atomic write)."""
    sn.save({"config": config, **state}, checkpoint_path(args))


def load_checkpoint(parser, args, config):
    """The checkpoint in --out, after checking it was made for the same model configuration."""
    path = checkpoint_path(args)
    if not path.exists():
        parser.error(f"--resume: no checkpoint at {path}")
    try:
        state = sn.load(path)
    except ValueError as e:
        parser.error(f"--resume: {e}")
    if not isinstance(state, dict) or state.get("config") != config:
        parser.error(
            f"--resume: the checkpoint at {path} was made for a different model: {state.get('config')} "
            f"(this run builds {config})"
        )
    return state


def write_json(path, obj):
    """Write JSON atomically: a temporary file in the same folder, then a rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private (0600); metrics.json is for everyone
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


# --------------------------------------------------------------------------- plots


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(path, history, panels, title):
    """One panel per (ylabel, [history keys]) with a line per key, against the epoch."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6))
    axes = [axes] if len(panels) == 1 else axes
    epochs = [h["epoch"] for h in history]
    for ax, (ylabel, keys) in zip(axes, panels):
        for key in keys:
            ax.plot(epochs, [h[key] for h in history], marker="o", ms=3, label=key.replace("_", " "))
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def image_grid(path, images, titles=None, colors=None, ncols=10, title=None, cmap="gray"):
    """Images (N, H, W) in [0, 1] on a grid, each with an optional title in an optional color."""
    plt = pyplot()
    n = len(images)
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * 0.9, nrows * (1.05 if titles else 0.9)), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            ax.imshow(images[k], cmap=cmap, vmin=0, vmax=1)
            if titles:
                ax.set_title(titles[k], fontsize=8, color=colors[k] if colors else "black", pad=2)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

"""Train the CNN classifier on handwritten digits (or Fashion-MNIST) and show what it learned.

    python demos/cnn.py                          # mnist10k, bundled: about two minutes on 2 CPU cores
    python demos/cnn.py --data fashion-mnist     # needs the dataset (see the README)
    python demos/cnn.py --backend cupy           # on an NVIDIA GPU

Writes to --out: metrics.json (test accuracy and more), curves.png (loss and
accuracy per epoch), predictions.png (test digits with predicted labels,
mistakes in red), confusion.png, and checkpoint.npz (resume with --resume).

The recipe: a LeNet-style net with batch norm and dropout, random shifts of
up to 2 pixels as augmentation, AdamW with a cosine learning-rate schedule.
"""

import time

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
import scratchnet.functional as F
from scratchnet import data, metrics
from scratchnet.models import CNN


def parse_args(argv=None):
    parser = base_parser(__doc__.splitlines()[0], out="runs/cnn", epochs=12, batch_size=64, lr=2e-3)
    parser.add_argument("--dropout", type=float, default=0.3, help="dropout before the last layer")
    parser.add_argument("--no-augment", action="store_true", help="train without random shifts")
    args = parser.parse_args(argv)
    check_args(parser, args)
    if not 0 <= args.dropout < 1:
        parser.error(f"--dropout must be in [0, 1), got {args.dropout}")
    return parser, args


@sn.no_grad()
def evaluate(model, loader):
    """(mean loss, accuracy, predictions) over a whole loader, in eval mode."""
    model.eval()
    total, preds = 0.0, []
    for x, y in loader:
        logits = model(x)
        total += F.cross_entropy(logits, y, reduction="sum").item()
        preds.append(logits.argmax(dim=1).numpy())
    preds = np.concatenate(preds)
    labels = loader.dataset.labels[: len(preds)]
    return total / len(preds), metrics.accuracy(preds, labels), preds


def main(argv=None):
    parser, args = parse_args(argv)
    train_set, test_set = load_data(parser, args)
    pixels = train_set.images.astype(np.float32) / 255
    mean_std = [float(pixels.mean()), float(pixels.std())]  # saved with the model: users of it need them
    normalize = data.transforms.Normalize(*mean_std)
    augment = [] if args.no_augment else [data.transforms.RandomShift(2)]
    train_loader = data.DataLoader(train_set, args.batch_size, shuffle=True, seed=args.seed,
                                   transform=data.transforms.Compose(augment + [normalize]))
    test_loader = data.DataLoader(test_set, 500, transform=normalize)

    size = train_set.images.shape[-1]
    model = CNN(num_classes=len(train_set.classes), dropout=args.dropout, image_size=size)
    config = {"model": "CNN", **model.config, "data": args.data}
    optimizer = sn.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = sn.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs * len(train_loader))
    history, start_epoch, step, seconds = [], 0, 0, 0.0
    if args.resume:
        state = load_checkpoint(parser, args, config)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        train_loader.load_state_dict(state["loader"])
        sn.backend.set_rng_state(state["rng"])  # dropout masks continue where they stopped
        history, start_epoch, seconds = state["history"], state["epoch"], state["seconds"]
        step = state.get("step", schedule.last_epoch)  # optimizer steps so far (older checkpoints: the schedule's)
        print(f"resuming after epoch {start_epoch} from {args.out}/checkpoint.npz")

    n_params = sum(p.numel() for p in model.parameters())
    print(f"{args.data}: {len(train_set)} train / {len(test_set)} test images; {n_params:,} parameters; "
          f"backend {args.backend}")
    for epoch in range(start_epoch, args.epochs):
        started = time.perf_counter()
        model.train()
        seen = correct = 0
        loss_sum = 0.0
        bar = progress(train_loader, f"epoch {epoch + 1}/{args.epochs}")
        for x, y in bar:
            step += 1
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            write_graph(args, loss, model)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            n = len(y)
            seen += n
            loss_sum += loss.item() * n
            correct += int((logits.argmax(dim=1) == y).numpy().sum())
            bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.4f}", refresh=False)
        test_loss, test_acc, _ = evaluate(model, test_loader)
        seconds += time.perf_counter() - started
        history.append({"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_accuracy": correct / seen,
                        "test_loss": test_loss, "test_accuracy": test_acc, "seconds": seconds})
        bar.write(f"epoch {epoch + 1}: train loss {loss_sum / seen:.4f} acc {correct / seen:.4f} | "
                  f"test loss {test_loss:.4f} acc {test_acc:.4f} | {seconds:.0f} s")
        save_checkpoint(args, config, model=model.state_dict(), optimizer=optimizer.state_dict(),
                        schedule=schedule.state_dict(), loader=train_loader.state_dict(),
                        rng=sn.backend.get_rng_state(), normalize=mean_std, history=history,
                        epoch=epoch + 1, step=step, seconds=seconds)

    test_loss, test_acc, preds = evaluate(model, test_loader)
    report(args, train_set, test_set, preds, history, test_loss, test_acc, n_params, seconds)


def report(args, train_set, test_set, preds, history, test_loss, test_acc, n_params, seconds):
    """metrics.json and the three pictures."""
    out = args.out
    labels = test_set.labels[: len(preds)]
    classes = list(test_set.classes)
    confusion = metrics.confusion_matrix(preds, labels, len(classes))
    per_class = {c: float(confusion[i, i] / max(confusion[i].sum(), 1)) for i, c in enumerate(classes)}
    write_json(f"{out}/metrics.json", {
        "dataset": args.data, "backend": args.backend, "seed": args.seed, "epochs": len(history),
        "train_images": len(train_set), "test_images": len(test_set), "parameters": n_params,
        "test_accuracy": test_acc, "test_loss": test_loss, "train_seconds": round(seconds, 1),
        "per_class_accuracy": per_class, "confusion_matrix": confusion.tolist(), "history": history,
    })
    if history:
        plot_curves(f"{out}/curves.png", history, [("loss", ["train_loss", "test_loss"]),
                                                  ("accuracy", ["train_accuracy", "test_accuracy"])],
                    f"CNN on {args.data}")
    wrong = np.flatnonzero(preds != labels)[:20]  # mistakes first (marked red), then an even spread
    spread = np.linspace(0, len(preds) - 1, min(len(preds), 60 - len(wrong))).astype(int)
    show = np.unique(np.concatenate([spread, wrong]))[:60]
    titles = [classes[preds[i]] if preds[i] == labels[i] else f"{classes[preds[i]]} ({classes[labels[i]]})"
              for i in show]
    colors = ["black" if preds[i] == labels[i] else "red" for i in show]
    image_grid(f"{out}/predictions.png", test_set.images[show] / 255.0, titles, colors,
               title=f"test images: predicted label (true label if wrong, in red); accuracy {test_acc:.2%}")
    plot_confusion(f"{out}/confusion.png", confusion, classes, args.data)
    print(f"test accuracy {test_acc:.4f} ({int(round(test_acc * len(preds)))}/{len(preds)}), "
          f"{seconds:.0f} s of training; wrote {out}/metrics.json, curves.png, predictions.png, confusion.png")


def plot_confusion(path, confusion, classes, dataset):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    ax.imshow(np.log1p(confusion), cmap="Blues")
    for i in range(len(classes)):
        for j in range(len(classes)):
            if confusion[i, j]:
                ax.text(j, i, str(confusion[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if i == j else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=45 if max(map(len, classes)) > 2 else 0, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"confusion matrix, {dataset} test set")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()

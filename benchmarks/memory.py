"""Peak memory (RSS) of one CNN training epoch on mnist10k: scratchnet beside PyTorch.

One epoch of the CNN demo's training on the bundled mnist10k training split (8,000 images): the
demo's model (scratchnet.models.CNN(dropout=0.3); its PyTorch twin from train_step.py), Adam(2e-3),
cross-entropy, batch 64, and the demo's data pipeline (scratchnet's DataLoader, shuffled, random
shifts of up to 2 pixels, normalised by the training set's mean and std; PyTorch gets each batch
through torch.from_numpy). Each measurement runs in a fresh Python subprocess, so one library's
allocations and caches cannot pollute the other's; the subprocesses of the two libraries take turns.

A subprocess reads its peak resident set size (VmHWM from /proc/self/status on Linux; not
ru_maxrss, which Linux carries over from the parent process, see ``peak_rss_mib``) once after
the imports and the data loading (the baseline) and once after the epoch (the peak); the table shows both, the increase (peak - baseline: what the training itself
needs, the model, optimizer state, activations and gradients) and the epoch's wall time, as
medians over --repeats subprocesses per library, and the ratio scratchnet / PyTorch.

    python benchmarks/memory.py                      # full epoch, 3 subprocesses per library
    python benchmarks/memory.py --limit 640          # a quick check on 640 images (10 batches)
    python benchmarks/memory.py --batches 64,256 --json memory.json

CPU only (the RSS of the host process). NumPy's BLAS threads come from OMP_NUM_THREADS /
OPENBLAS_NUM_THREADS (inherited by the subprocesses); --threads sets PyTorch's.
"""

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

# The subprocesses must not import torch unless they measure it, so this module imports neither
# _harness (it imports torch) nor train_step at the top; the parent imports _harness in main().
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing
import scratchnet as sn

SCRATCHNET, TORCH = "scratchnet", "torch"
LR = 2e-3  # demos/cnn.py's learning rate
DROPOUT = 0.3  # and its dropout


def peak_rss_mib():
    """This process's peak resident set size so far, in MiB.

    Linux: VmHWM of /proc/self/status, the high-water mark of this process's own address space.
    Not ``getrusage(RUSAGE_SELF).ru_maxrss``: Linux carries ru_maxrss over fork and execve, so a
    subprocess started by a parent holding 230 MiB (this script with torch imported) reports at
    least 230 MiB from its first instruction. Elsewhere: ru_maxrss (KiB on Linux, bytes on macOS)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def mean_std(images, chunk=500):
    """Mean and std of the pixels in [0, 1], a chunk at a time: no full float copy of the images
    (it would raise the peak RSS before the baseline is read)."""
    total = total_sq = 0.0
    for i in range(0, len(images), chunk):
        block = images[i : i + chunk].astype(np.float64) / 255
        total, total_sq = total + block.sum(), total_sq + (block**2).sum()
    n = images.size
    mean = total / n
    return mean, (total_sq / n - mean**2) ** 0.5


def child(lib, batch, limit, threads):
    """Run one epoch with ``lib`` in this (fresh) process; print a JSON line with the measurements."""
    import time

    from scratchnet import data

    torch = None
    if lib == TORCH:
        import torch

        if threads is not None:
            torch.set_num_threads(threads)
    train = data.load_dataset("mnist10k", "train")
    if limit:  # evenly spaced, so every class is in (the bundled data is stored class by class)
        train = train.subset(np.unique(np.linspace(0, len(train) - 1, min(limit, len(train))).astype(int)))
    transform = data.transforms.Compose(
        [data.transforms.RandomShift(2), data.transforms.Normalize(*mean_std(train.images))]
    )
    loader = data.DataLoader(train, batch, shuffle=True, seed=0, transform=transform)
    baseline = peak_rss_mib()

    start = time.perf_counter()
    if lib == SCRATCHNET:
        from scratchnet import functional as F
        from scratchnet.models import CNN

        sn.manual_seed(0)
        model = CNN(dropout=DROPOUT)
        opt = sn.optim.Adam(model.parameters(), lr=LR)
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    else:
        from train_step import TorchCNN

        torch.manual_seed(0)
        model = TorchCNN(dropout=DROPOUT)
        opt = torch.optim.Adam(model.parameters(), lr=LR)
        for x, y in loader:
            loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x.numpy())), torch.from_numpy(y.numpy()))
            opt.zero_grad()
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - start
    peak = peak_rss_mib()
    print(json.dumps({"baseline_mib": baseline, "peak_mib": peak, "increase_mib": peak - baseline,
                      "epoch_s": seconds, "images": len(train), "steps": len(loader)}))  # fmt: skip


def run_child(lib, batch, args):
    command = [sys.executable, str(Path(__file__).resolve()), "--child", lib, "--batch", str(batch)]
    command += ["--limit", str(args.limit)] if args.limit else []
    command += ["--threads", str(args.threads)] if args.threads is not None else []
    command += ["--malloc", args.malloc]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"memory.py: the {lib} subprocess failed (exit {done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def child_main(argv):
    """The subprocess's entry point: only the standard library, NumPy and scratchnet are loaded."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", choices=(SCRATCHNET, TORCH), required=True)
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--malloc", choices=("retain", "system"), default="system")
    args = parser.parse_args(argv)
    if args.malloc == "retain":
        sn.backend.retain_freed_memory()
    child(args.child, args.batch, args.limit, args.threads)


def main(argv=None):
    from _harness import Setup, Table, check_counts, parser_for, ratio, write_json

    parser = parser_for(
        __doc__, repeats=3, batches="64", device=False, warmup_option=False, repeats_help="fresh processes per library"
    )
    parser.add_argument("--limit", type=int, default=0, help="train on this many images only (default: all 8,000)")
    args = parser.parse_args(argv)
    check_counts(parser, args)
    if args.limit < 0:
        parser.error(f"--limit must be at least 0, got {args.limit}")

    setup = Setup(args)
    print(
        f"one CNN training epoch on mnist10k, peak RSS (MiB) of fresh processes, median of {args.repeats} per library"
    )
    print(setup.describe())
    if setup.note:
        print(f"({setup.note})")
    table = Table([("measure", 24), ("batch", 5), ("images", 6), ("scratchnet", 10), ("pytorch", 8), ("ratio", 6)])
    rows = [
        ("baseline_mib", "after imports + data"),
        ("peak_mib", "peak after the epoch"),
        ("increase_mib", "increase (peak - base)"),
        ("epoch_s", "epoch time (s)"),
    ]
    results = []
    for batch in args.batches:
        runs = {lib: [] for lib in setup.libs}
        for r in range(args.repeats):
            for lib in setup.libs if r % 2 == 0 else reversed(setup.libs):
                runs[lib].append(run_child(lib, batch, args))
        medians = {lib: {key: statistics.median(run[key] for run in runs[lib]) for key, _ in rows} for lib in runs}
        images = runs[SCRATCHNET][0]["images"]
        for key, label in rows:
            ours, theirs = medians[SCRATCHNET][key], medians.get(TORCH, {}).get(key)
            table.row(label, batch, images, ours, theirs, ratio(ours, theirs))
        results.append({"batch": batch, "images": images, "medians": medians, "runs": runs})
    if args.json:
        write_json(args.json, "memory", args, setup, results)


if __name__ == "__main__":
    if "--child" in sys.argv:
        child_main(sys.argv[1:])
    else:
        main()

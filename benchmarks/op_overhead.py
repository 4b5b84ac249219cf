"""Per-op overhead on tiny tensors: the cost of autograd bookkeeping, not of arithmetic.

A chain of 50 ops (25 x `y = y * w; y = y + x`) on 2x2 float32 tensors, timed
forward only, forward + backward, and forward under no_grad; scratchnet and
PyTorch (when importable) alternate so machine drift hits both. Prints
microseconds per op and the ratio scratchnet / PyTorch (medians).

    python benchmarks/op_overhead.py [--repeats 15] [--iters 200]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing
import scratchnet as sn

try:
    import torch
except ImportError:  # the comparison is optional
    torch = None

OPS = 51  # 50 in the chain + the final sum


def make_chain(lib):
    if lib == "torch":
        x = torch.ones((2, 2), requires_grad=True)
        w = (torch.ones((2, 2)) * 0.5).requires_grad_()
        no_grad = torch.no_grad
    else:
        x = sn.tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)
        w = sn.tensor(np.full((2, 2), 0.5, dtype=np.float32), requires_grad=True)
        no_grad = sn.no_grad

    def forward():
        y = x
        for _ in range(25):
            y = y * w
            y = y + x
        return y.sum()

    def forward_backward():
        forward().backward()

    def forward_no_grad():
        with no_grad():
            forward()

    return {"forward": forward, "forward+backward": forward_backward, "no_grad forward": forward_no_grad}


def time_per_op(fn, iters):
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - start) / iters / OPS * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--iters", type=int, default=200)
    args = parser.parse_args()
    libs = ["scratchnet"] + (["torch"] if torch is not None else [])
    if torch is not None:
        torch.set_num_threads(2)
    chains = {lib: make_chain(lib) for lib in libs}
    results = {lib: {name: [] for name in chains[lib]} for lib in libs}
    for lib in libs:  # warm-up
        for fn in chains[lib].values():
            time_per_op(fn, 20)
    for _ in range(args.repeats):
        for name in chains["scratchnet"]:
            for lib in libs:
                results[lib][name].append(time_per_op(chains[lib][name], args.iters))

    print(f"per-op overhead, 2x2 float32, {OPS}-op chain, median of {args.repeats} runs (us per op)")
    print(f"{'workload':<18} {'scratchnet':>11} {'pytorch':>9} {'ratio':>7}")
    for name in chains["scratchnet"]:
        ours = statistics.median(results["scratchnet"][name])
        if torch is not None:
            theirs = statistics.median(results["torch"][name])
            print(f"{name:<18} {ours:>11.2f} {theirs:>9.2f} {ours / theirs:>7.2f}")
        else:
            print(f"{name:<18} {ours:>11.2f} {'-':>9} {'-':>7}")
    if torch is None:
        print("(torch is not installed: no comparison)")


if __name__ == "__main__":
    main()

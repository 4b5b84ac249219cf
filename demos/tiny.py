"""Train a tiny two-layer network on two interleaved spirals and print the loss falling.

A stand-in main job until the CNN demo exists: everything here is the engine
core alone (tensors, autograd, a hand-written SGD step), so it also shows how
little a training loop needs.

    python demos/tiny.py [--steps 2000] [--lr 0.3] [--hidden 64] [--seed 0]
"""

import argparse
import math
import time

import numpy as np

import scratchnet as sn


def spirals(n_per_class, seed):
    """Two spirals in the plane, labels 0 and 1."""
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.uniform(0.05, 1.0, n_per_class)) * 3 * math.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (3 * math.pi)
    x = np.concatenate([arm, -arm]) + rng.normal(0, 0.02, (2 * n_per_class, 2))
    y = np.concatenate([np.zeros(n_per_class), np.ones(n_per_class)])
    return x.astype(np.float32), y.astype(np.float32)


def init_params(hidden):
    """Weights in PyTorch's Linear layout (out, in) and its default U(-1/sqrt(in), 1/sqrt(in)) init."""

    def uniform(shape, fan_in):
        bound = 1 / math.sqrt(fan_in)
        return (sn.rand(*shape) * (2 * bound) - bound).detach().requires_grad_()

    return [uniform((hidden, 2), 2), uniform((hidden,), 2), uniform((1, hidden), hidden), uniform((1,), hidden)]


def forward(params, x):
    w1, b1, w2, b2 = params
    h = sn.tanh(x @ w1.T + b1)
    return (h @ w2.T + b2).reshape(-1)  # logits


def bce_with_logits(logits, target):
    """mean(max(z, 0) - z*t + log(1 + exp(-|z|))): never overflows."""
    return (sn.relu(logits) - logits * target + sn.log(1 + sn.exp(-sn.abs(logits)))).mean()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--lr", type=float, default=0.3)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    sn.manual_seed(args.seed)
    x_np, y_np = spirals(200, args.seed)
    x, y = sn.tensor(x_np), sn.tensor(y_np)
    params = init_params(args.hidden)
    momentum = [sn.zeros_like(p) for p in params]

    start = time.perf_counter()
    for step in range(args.steps + 1):
        loss = bce_with_logits(forward(params, x), y)
        for p in params:
            p.grad = None
        loss.backward()
        with sn.no_grad():  # SGD with momentum 0.9, in place
            for p, m in zip(params, momentum):
                m *= 0.9
                m += p.grad
                p -= args.lr * m
        if step % (args.steps // 10) == 0:
            with sn.no_grad():
                accuracy = ((forward(params, x) > 0).numpy() == (y_np > 0.5)).mean()
            print(f"step {step:4d}   loss {loss.item():.4f}   accuracy {accuracy:6.1%}")
    print(f"done in {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()

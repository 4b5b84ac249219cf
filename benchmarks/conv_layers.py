"""Convolution layers of the demos, forward + backward: scratchnet, PyTorch, and the bare GEMMs.

For each conv / transposed-conv layer shape of the demos, float32, no bias, at batch 64:

    cnn.conv1     conv2d            1 -> 32,  3x3, stride 1, padding 1, on 28x28   (before the first pool)
    cnn.conv2     conv2d           32 -> 64,  3x3, stride 1, padding 1, on 14x14   (after it)
    dcgan.D.conv1 conv2d            1 -> 64,  4x4, stride 2, padding 1, on 28x28
    dcgan.D.conv2 conv2d           64 -> 128, 4x4, stride 2, padding 1, on 14x14
    dcgan.G.up1   conv_transpose2d 128 -> 64, 4x4, stride 2, padding 1, on 7x7
    dcgan.G.up2   conv_transpose2d  64 -> 1,  4x4, stride 2, padding 1, on 14x14

one timed run = y = conv(x, w), then the gradients of y . dy for a fixed dy: the output, the input
gradient and the weight gradient (``grad``, so no ``.grad`` is written). x and dy come to scratchnet in
channels-last memory, the layout its layers pass between them; PyTorch gets C-order NCHW, its default.
Beside it, the BLAS ceiling: the three matrix products such a
layer needs, done by NumPy (CuPy on --device cuda) on arrays of the same sizes, with
K = C*kh*kw and M = N*Ho*Wo of the direct convolution:

    forward      (O, K) @ (K, M)        y = W cols
    weight grad  (O, M) @ (M, K)        dW = dy cols^T
    input grad   (K, O) @ (O, M)        dcols = W^T dy   (then col2im)

A transposed convolution is the input gradient of the direct convolution going the other way
(from its output size back to its input size), so it needs the same three products, with
O = its in_channels, C = its out_channels and M = N*H*W of its input. The columns: milliseconds
(medians, scratchnet, PyTorch and the GEMMs taking turns), GFLOP of the three products (2*O*K*M
each), and the ratios scratchnet / GEMMs (how far above the BLAS floor) and scratchnet / PyTorch.

    python benchmarks/conv_layers.py
    python benchmarks/conv_layers.py --batches 16,64,256 --repeats 30 --json conv_layers.json
    python benchmarks/conv_layers.py --device cuda            # scratchnet on CuPy, PyTorch on CUDA

NumPy's BLAS threads come from OMP_NUM_THREADS / OPENBLAS_NUM_THREADS; --threads sets PyTorch's.
"""

import numpy as np
from _harness import SCRATCHNET, TORCH, Setup, Table, alternate, check_counts, parser_for, ratio, torch, write_json

import scratchnet as sn
from scratchnet import functional as F

GEMM = "gemm"

# name, transposed, in_channels, out_channels, kernel, stride, padding, input size
LAYERS = [
    ("cnn.conv1", False, 1, 32, 3, 1, 1, 28),
    ("cnn.conv2", False, 32, 64, 3, 1, 1, 14),
    ("dcgan.D.conv1", False, 1, 64, 4, 2, 1, 28),
    ("dcgan.D.conv2", False, 64, 128, 4, 2, 1, 14),
    ("dcgan.G.up1", True, 128, 64, 4, 2, 1, 7),
    ("dcgan.G.up2", True, 64, 1, 4, 2, 1, 14),
]


def output_size(transposed, size, k, s, p):
    return (size - 1) * s - 2 * p + k if transposed else (size + 2 * p - k) // s + 1


def gemm_sizes(transposed, cin, cout, k, size, out, batch):
    """(O, K, M) of the direct convolution behind the layer."""
    if transposed:  # the direct conv maps (cout, out x out) -> (cin, size x size)
        return cin, cout * k * k, batch * size * size
    return cout, cin * k * k, batch * out * out


def channels_last(setup, a):
    """(N, C, H, W) values with (N, H, W, C) memory, as a scratchnet tensor."""
    return setup.to_sn(a.transpose(0, 2, 3, 1)).permute(0, 3, 1, 2)


def make_cases(setup, layer, batch):
    _, transposed, cin, cout, k, s, p, size = layer
    out = output_size(transposed, size, k, s, p)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, cin, size, size)).astype(np.float32)
    w_shape = (cin, cout, k, k) if transposed else (cout, cin, k, k)
    w = (rng.standard_normal(w_shape) / np.sqrt(cin * k * k)).astype(np.float32)
    dy = rng.standard_normal((batch, cout, out, out)).astype(np.float32)

    # x and dy in the memory layout they have between scratchnet's layers: channels-last (what its
    # conv ops return, see scratchnet/ops/conv.py); PyTorch gets its own default, C-order NCHW
    sx, sw, sdy = channels_last(setup, x).requires_grad_(), setup.to_sn(w).requires_grad_(), channels_last(setup, dy)
    sn_conv = F.conv_transpose2d if transposed else F.conv2d

    def sn_run():
        sn.grad(sn_conv(sx, sw, stride=s, padding=p), (sx, sw), grad_outputs=sdy)

    cases = {SCRATCHNET: sn_run}
    if setup.torch is not None:
        tx, tw, tdy = setup.to_torch(x).requires_grad_(), setup.to_torch(w).requires_grad_(), setup.to_torch(dy)
        t_conv = torch.nn.functional.conv_transpose2d if transposed else torch.nn.functional.conv2d

        def torch_run():
            torch.autograd.grad(t_conv(tx, tw, stride=s, padding=p), (tx, tw), grad_outputs=tdy)

        cases[TORCH] = torch_run

    o, kk, m = gemm_sizes(transposed, cin, cout, k, size, out, batch)
    xp = setup.xp
    weights = xp.asarray(rng.standard_normal((o, kk)).astype(np.float32))
    cols = xp.asarray(rng.standard_normal((kk, m)).astype(np.float32))
    grad_out = xp.asarray(rng.standard_normal((o, m)).astype(np.float32))

    def gemm_run():
        weights @ cols  # forward
        grad_out @ cols.T  # weight gradient
        weights.T @ grad_out  # input gradient (columns, before col2im)

    cases[GEMM] = gemm_run
    kind = "convT" if transposed else "conv"
    shape = f"{kind} {cin}->{cout} {k}x{k} s{s} p{p} {size}x{size}"
    return cases, shape, 3 * 2 * o * kk * m / 1e9, (o, kk, m)


def main(argv=None):
    parser = parser_for(__doc__, repeats=15, warmup=3, batches="64")
    args = parser.parse_args(argv)
    check_counts(parser, args)
    setup = Setup(args)
    print(
        f"conv layers, forward + backward (output, input and weight gradients), float32, no bias; "
        f"median of {args.repeats} runs after {args.warmup} warm-up (ms)"
    )
    print(setup.describe())
    if setup.note:
        print(f"({setup.note})")
    syncs = {lib: setup.sync(lib) for lib in setup.libs}
    syncs[GEMM] = setup.sync(SCRATCHNET)
    table = Table(
        [("layer", 13), ("shape", 28, "<"), ("batch", 5), ("GFLOP", 5), ("scratchnet", 10), ("pytorch", 7),
         ("gemm", 7), ("sn/gemm", 7), ("sn/torch", 8)]
    )  # fmt: skip
    results = []
    for batch in args.batches:
        for layer in LAYERS:
            cases, shape, gflop, (o, kk, m) = make_cases(setup, layer, batch)
            medians = alternate(cases, args.repeats, args.warmup, syncs, args.settle)
            ours, theirs, gemm = medians[SCRATCHNET], medians.get(TORCH), medians[GEMM]
            table.row(layer[0], shape, batch, gflop, ours, theirs, gemm, ratio(ours, gemm), ratio(ours, theirs))
            results.append(
                {
                    "layer": layer[0], "shape": shape, "batch": batch, "gemm_O_K_M": [o, kk, m], "gflop": gflop,
                    "scratchnet_ms": ours, "torch_ms": theirs, "gemm_ms": gemm,
                    "ratio_gemm": ratio(ours, gemm), "ratio_torch": ratio(ours, theirs),
                }
            )  # fmt: skip
    if args.json:
        write_json(args.json, "conv_layers", args, setup, results)


if __name__ == "__main__":
    main()

"""Same inputs, same numbers: values, gradients and second derivatives against PyTorch.

Optional: skipped where torch is not installed (CI installs the CPU build, so it runs there).
Everything is float64, so agreement is to rounding error.
"""

import numpy as np
import pytest

import scratchnet as sn

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
A = RNG.standard_normal((2, 3, 4))
B = RNG.standard_normal((3, 4))
POS = RNG.uniform(0.5, 2.0, (2, 3, 4))
MAT = RNG.standard_normal((2, 4, 5))
VEC = RNG.standard_normal(4)
# ties on purpose: PyTorch's rules for splitting the gradient must hold too
TIES = np.array([[1.0, 3.0, 3.0, -1.0], [2.0, 2.0, 2.0, 0.5], [0.0, -4.0, 0.0, -4.0]])

# name: (inputs, function written once for both libraries; `m` is the module: sn or torch)
CASES = {
    "add_broadcast": ([A, B], lambda m, a, b: a + b),
    "sub_scalar_left": ([A], lambda m, a: 2.5 - a),
    "mul_div": ([A, POS], lambda m, a, p: a * p / (p + 1)),
    "rdiv": ([POS], lambda m, p: 3.0 / p),
    "pow_tensor": ([POS, A], lambda m, p, a: p**a),
    "pow_scalar": ([A], lambda m, a: a**3),
    "rpow": ([A], lambda m, a: 2.0**a),
    "neg_exp_log_sqrt": ([POS], lambda m, p: m.sqrt(m.log(m.exp(-p) + 1.0))),
    "abs": ([A], lambda m, a: m.abs(a)),
    "abs_at_zero": ([TIES], lambda m, t: m.abs(t)),
    "clamp": ([A], lambda m, a: m.clamp(a, min=-0.5, max=0.5)),
    "clamp_at_bounds": ([TIES], lambda m, t: m.clamp(t, min=0.0, max=2.0)),
    "maximum_ties": ([TIES, TIES.T[::-1].T.copy()], lambda m, a, b: m.maximum(a, b)),
    "minimum": ([A, B], lambda m, a, b: m.minimum(a, b)),
    "where": ([A, B], lambda m, a, b: m.where(a > 0, a * b, b)),
    "tanh_sigmoid_relu": ([A], lambda m, a: m.tanh(a) + m.sigmoid(a) * m.relu(a)),
    "relu_at_zero": ([TIES], lambda m, t: m.relu(t)),
    "matmul_batched": ([MAT, RNG.standard_normal((5, 3))], lambda m, a, b: a @ b),
    "matmul_vec": ([MAT, VEC], lambda m, a, v: v @ a),
    "sum_dim": ([A], lambda m, a: a.sum(dim=(0, 2), keepdim=True)),
    "mean_dim": ([A], lambda m, a: a.mean(dim=-1)),
    "var_unbiased": ([A], lambda m, a: a.var(dim=1)),
    "var_biased": ([A], lambda m, a: a.var(dim=(0, 2), correction=0, keepdim=True)),
    "max_full_ties": ([TIES], lambda m, t: t.max()),
    "amax_ties": ([TIES], lambda m, t: m.amax(t, dim=1)),
    "amin_ties": ([TIES], lambda m, t: m.amin(t, dim=0, keepdim=True)),
    "max_dim_values": ([A], lambda m, a: a.max(dim=1).values),
    "min_dim_values": ([A], lambda m, a: m.min(a, dim=-1, keepdim=True)[0]),
    "logsumexp": ([A * 300], lambda m, a: m.logsumexp(a, dim=1)),
    "reshape_permute": ([A], lambda m, a: a.permute(2, 0, 1).reshape(4, -1) * 2),
    "transpose_flatten": ([A], lambda m, a: m.flatten(a.transpose(0, 2), 1)),
    "squeeze_unsqueeze": ([A[:, :1]], lambda m, a: a.squeeze(1).unsqueeze(-1) * 3),
    "expand": ([B[:1]], lambda m, b: b.expand(2, 3, -1) * 1.5),
    "cat_stack": ([A, A[:, :2]], lambda m, a, b: m.stack([m.cat([a, b], dim=1)] * 2, dim=-1)),
    "pad": ([A], lambda m, a: m.nn.functional.pad(a, (1, 2, -1, 1), value=0.5) if m is torch else sn.pad(a, (1, 2, -1, 1), value=0.5)),
    "getitem_basic": ([A], lambda m, a: a[1, ::2, None, -1]),
    "getitem_repeats": ([A], lambda m, a: a[:, [0, 2, 0, 0]] * 2),
    "getitem_mask": ([A], lambda m, a: a[a > 0.3]),
}


def run(lib, fn, arrays):
    """Value, first and second derivatives of sum(fn(*inputs) * w) with a fixed weight w."""
    if lib == "torch":
        xs = [torch.tensor(a, requires_grad=True) for a in arrays]
        out = fn(torch, *xs)
        w = torch.tensor(np.random.default_rng(1).standard_normal(tuple(out.shape)))
        grads = torch.autograd.grad((out * w).sum(), xs, create_graph=True, allow_unused=True)
        live = [g for g in grads if g is not None and g.requires_grad]
        total = sum((g * g).sum() for g in live) if live else None
        second = torch.autograd.grad(total, xs, allow_unused=True) if total is not None else [None] * len(xs)
        as_np = lambda t: None if t is None else t.detach().numpy(force=True)  # force: ZeroTensor grads
    else:
        xs = [sn.tensor(a, requires_grad=True) for a in arrays]
        out = fn(sn, *xs)
        w = sn.tensor(np.random.default_rng(1).standard_normal(tuple(out.shape)))
        grads = sn.grad((out * w).sum(), xs, create_graph=True, allow_unused=True)
        live = [g for g in grads if g is not None and g.requires_grad]
        total = sum((g * g).sum() for g in live) if live else None
        second = sn.grad(total, xs, allow_unused=True) if total is not None else [None] * len(xs)
        as_np = lambda t: None if t is None else t.numpy()
    return as_np(out), [as_np(g) for g in grads], [as_np(g) for g in second]


def same(ours, theirs, what):
    if theirs is None or ours is None:  # one side may report an unused input as None, the other as zeros
        other = theirs if ours is None else ours
        assert other is None or not np.any(other), what
        return
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs torch {theirs.shape}"
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12, err_msg=what)


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_pytorch(name):
    arrays, fn = CASES[name]
    ours = run("sn", fn, arrays)
    theirs = run("torch", fn, arrays)
    same(ours[0], theirs[0], f"{name}: value")
    for i, (a, b) in enumerate(zip(ours[1], theirs[1])):
        same(a, b, f"{name}: gradient of input {i}")
    for i, (a, b) in enumerate(zip(ours[2], theirs[2])):
        same(a, b, f"{name}: second derivative of input {i}")


def test_max_with_dim_returns_values_and_indices_like_pytorch():
    ours = sn.tensor(A).max(dim=2)
    theirs = torch.tensor(A).max(dim=2)
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    values, indices = sn.tensor(A).min(1, keepdim=True)
    np.testing.assert_array_equal(indices.numpy(), torch.tensor(A).min(1, keepdim=True).indices.numpy())


def test_default_dtypes_like_pytorch():
    assert str(sn.tensor([1.5]).dtype) == str(torch.tensor([1.5]).dtype).replace("torch.", "")
    assert str(sn.tensor([1]).dtype) == str(torch.tensor([1]).dtype).replace("torch.", "")
    assert str(sn.arange(3).dtype) == str(torch.arange(3).dtype).replace("torch.", "")
    assert str(sn.arange(0.0, 1.0, 0.5).dtype) == str(torch.arange(0.0, 1.0, 0.5).dtype).replace("torch.", "")
    assert str(sn.full((1,), 2).dtype) == str(torch.full((1,), 2).dtype).replace("torch.", "")

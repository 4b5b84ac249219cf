"""Run one function in scratchnet and in PyTorch: value, gradients and second derivatives, side by side.

Imported by the functional tests' conformance cases; torch is imported only
when a comparison runs (each test calls ``pytest.importorskip("torch")`` first).
Everything is float64, so agreement is to rounding error.
"""

import numpy as np

import scratchnet as sn
import scratchnet.functional as snF

RTOL = 1e-10
ATOL = 1e-12


def derivatives(lib, fn, arrays, const=()):
    """(value, gradients of sum(out * w), gradients of sum(g * g) over those gradients) of
    ``fn(F, *inputs)``, with ``F`` the library's functional module.

    Float arrays become inputs that require grad, except the positions in
    ``const``; integer arrays (class targets) never do. ``w`` is fixed random.
    """
    if lib == "torch":
        import torch
        import torch.nn.functional as F

        tensor, grad, as_np = torch.tensor, torch.autograd.grad, lambda t: t.detach().numpy(force=True)
    else:
        F, tensor, grad, as_np = snF, sn.tensor, sn.grad, lambda t: t.numpy()
    xs = [tensor(np.array(a)) for a in arrays]
    diff = [x for i, (x, a) in enumerate(zip(xs, arrays)) if np.asarray(a).dtype.kind == "f" and i not in const]
    for x in diff:
        x.requires_grad_(True)
    out = fn(F, *xs)
    w = tensor(np.random.default_rng(1).standard_normal(tuple(out.shape)))
    grads = grad((out * w).sum(), diff, create_graph=True, allow_unused=True)
    live = [g for g in grads if g is not None and g.requires_grad]
    second = [None] * len(diff)
    if live:
        second = grad(sum((g * g).sum() for g in live), diff, allow_unused=True)
    to_np = lambda t: None if t is None else as_np(t)  # noqa: E731
    return to_np(out), [to_np(g) for g in grads], [to_np(g) for g in second]


def _same(ours, theirs, what):
    if ours is None or theirs is None:  # one side may give None for an unused input, the other zeros
        other = theirs if ours is None else ours
        assert other is None or not np.any(other), what
        return
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs torch {theirs.shape}"
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL, err_msg=what)


def assert_matches_torch(fn, arrays, const=(), second_order=True):
    """Value, gradients and (if ``second_order``) second derivatives of ``fn`` agree with PyTorch."""
    ours = derivatives("sn", fn, arrays, const)
    theirs = derivatives("torch", fn, arrays, const)
    _same(ours[0], theirs[0], "value")
    for i, (a, b) in enumerate(zip(ours[1], theirs[1])):
        _same(a, b, f"gradient of differentiable input {i}")
    if second_order:
        for i, (a, b) in enumerate(zip(ours[2], theirs[2])):
            _same(a, b, f"second derivative of differentiable input {i}")

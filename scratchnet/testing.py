"""Check gradients against finite differences: the tools our own tests use, public for yours.

``gradcheck(fn, inputs)`` builds the full Jacobian of ``fn`` twice, once from
autograd (one backward pass per output element) and once by central
differences in float64, ``(f(x + eps) - f(x - eps)) / (2 eps)`` per input
element, and compares them element by element with
``|analytic - numeric| <= atol + rtol * |numeric|``. ``fast_mode=True``
compares a single number per input instead, ``v^T J u`` for random unit
vectors ``u`` and ``v``, which is cheap for large inputs.
``gradgradcheck`` runs the same check on the gradient function itself, i.e.
on second derivatives.

On failure they raise ``GradcheckError`` saying which output and input, the
worst element's index, the analytic and numeric values and the error.
"""

import numpy as np

from . import autograd
from .backend import array_module
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Autograd's gradient disagrees with finite differences."""


def _outputs(fn, inputs):
    out = fn(*inputs)
    return (out,) if isinstance(out, Tensor) else tuple(out)


def _diff_inputs(inputs, caller):
    """Indices of the inputs to differentiate: Tensors with requires_grad, which must be float64."""
    idx = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not idx:
        raise ValueError(f"{caller}: no input is a Tensor with requires_grad=True; nothing to check")
    for i in idx:
        if inputs[i].dtype != np.float64:
            raise TypeError(
                f"{caller}: input {i} is {inputs[i].dtype}; finite differences need float64 "
                "(pass x.double(), and make the function compute in float64)"
            )
    return idx


def _fresh(inputs):
    """Copies of the inputs (new leaves), so perturbing them never touches the caller's data."""
    out = []
    for x in inputs:
        if isinstance(x, Tensor):
            out.append(Tensor(x.data.copy(), requires_grad=x.requires_grad))
        else:
            out.append(x)
    return out


def _flat_outputs(fn, inputs):
    with autograd.enable_grad():
        outs = _outputs(fn, inputs)
    return [np.array(_host(o.data), dtype=np.float64).ravel() for o in outs]  # copies: outputs may alias inputs


def _host(a):
    return a if isinstance(a, (np.ndarray, np.generic)) else a.get()


def numerical_jacobians(fn, inputs, eps=1e-6):
    """J[k][i]: d(output k)/d(input i) by central differences, shape (output size, input size)."""
    inputs = _fresh(inputs)
    idx = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    base = _flat_outputs(fn, inputs)
    jac = [[np.zeros((b.size, inputs[i].data.size)) for i in idx] for b in base]
    for col, i in enumerate(idx):
        flat = inputs[i].data.reshape(-1)  # a view: perturbing it perturbs the input
        for j in range(flat.size):
            orig = flat[j].item()
            flat[j] = orig + eps
            plus = _flat_outputs(fn, inputs)
            flat[j] = orig - eps
            minus = _flat_outputs(fn, inputs)
            flat[j] = orig
            for k in range(len(base)):
                jac[k][col][:, j] = (plus[k] - minus[k]) / (2 * eps)
    return jac


def numerical_grad(fn, inputs, grad_outputs=None, eps=1e-6):
    """d(sum_k <fn(inputs)_k, grad_outputs_k>)/d(input) by central differences, for each input
    with requires_grad (a NumPy float64 array each). ``grad_outputs`` may be omitted for a
    function with one scalar output."""
    jac = numerical_jacobians(fn, inputs, eps)
    idx = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if grad_outputs is None:
        if len(jac) != 1 or jac[0][0].shape[0] != 1:
            raise ValueError("numerical_grad: grad_outputs is needed unless fn has one scalar output")
        grad_outputs = [np.ones(1)]
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    v = [np.asarray(_host(g.data if isinstance(g, Tensor) else g), dtype=np.float64).ravel() for g in grad_outputs]
    return tuple(
        sum(v[k] @ jac[k][col] for k in range(len(jac))).reshape(inputs[i].shape) for col, i in enumerate(idx)
    )


def analytical_jacobians(fn, inputs):
    """J[k][i] as computed by autograd: one backward pass per output element."""
    inputs = _fresh(inputs)
    idx = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    diff = [inputs[i] for i in idx]
    outs = _outputs(fn, inputs)
    jac = []
    for k, out in enumerate(outs):
        rows = [np.zeros((out.data.size, x.data.size)) for x in diff]
        if out.requires_grad:
            xp = array_module(out.data)
            for j in range(out.data.size):
                onehot = xp.zeros(out.data.size, dtype=out.dtype)
                onehot[j] = 1
                grads = autograd.grad(
                    out, diff, Tensor(onehot.reshape(out.shape)), retain_graph=True, allow_unused=True
                )
                for col, g in enumerate(grads):
                    if g is not None:
                        _check_grad_type(g, diff[col], idx[col])
                        rows[col][j] = _host(g.data).ravel()
        jac.append(rows)
    return jac


def _check_grad_type(g, x, i):
    if g.shape != x.shape or g.dtype != x.dtype:
        raise GradcheckError(
            f"gradient for input {i} has shape {tuple(g.shape)} and dtype {g.dtype}, "
            f"but the input has shape {tuple(x.shape)} and dtype {x.dtype}"
        )


def _index(flat, shape):
    return tuple(int(n) for n in np.unravel_index(flat, shape)) if shape else ()


def _compare(analytic, numeric, atol, rtol, what):
    """None if close, else a message describing the worst element."""
    excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    bad = excess > 0
    if not bad.any() and np.isfinite(analytic).all():
        return None
    if not np.isfinite(analytic).all():
        excess = np.where(np.isfinite(analytic), excess, np.inf)
        bad = excess > 0
    worst = np.unravel_index(np.argmax(excess), excess.shape)
    a, n = float(analytic[worst]), float(numeric[worst])
    return what(worst) + (
        f"  analytic: {a!r}   numeric: {n!r}   |difference|: {abs(a - n):.6g}   "
        f"allowed: atol + rtol*|numeric| = {atol + rtol * abs(n):.6g}\n"
        f"  mismatched elements: {int(bad.sum())} of {bad.size}"
    )


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=False, raise_exception=True):
    """Compare autograd's gradients of ``fn(*inputs)`` with central differences.

    ``inputs`` is a sequence; the Tensors among them with ``requires_grad=True``
    (float64) are checked. ``fn`` returns a Tensor or a tuple of Tensors.
    Returns True, or raises ``GradcheckError`` (returns False when
    ``raise_exception=False``).
    """
    inputs = tuple(inputs)
    idx = _diff_inputs(inputs, "gradcheck")
    try:
        if fast_mode:
            _fast_check(fn, inputs, idx, eps, atol, rtol)
        else:
            _full_check(fn, inputs, idx, eps, atol, rtol)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def _full_check(fn, inputs, idx, eps, atol, rtol):
    numeric = numerical_jacobians(fn, inputs, eps)
    analytic = analytical_jacobians(fn, inputs)
    outs = _outputs(fn, _fresh(inputs))
    for k, out in enumerate(outs):
        for col, i in enumerate(idx):
            x = inputs[i]

            def where(worst, k=k, i=i, x=x, out=out):
                return (
                    f"gradcheck: Jacobian mismatch for output {k} (shape {tuple(out.shape)}) with respect to "
                    f"input {i} (shape {tuple(x.shape)})\n"
                    f"  worst element: d output{list(_index(worst[0], out.shape))} / "
                    f"d input{list(_index(worst[1], x.shape))}\n"
                )

            msg = _compare(analytic[k][col], numeric[k][col], atol, rtol, where)
            if msg:
                raise GradcheckError(msg)


def _fast_check(fn, inputs, idx, eps, atol, rtol):
    rng = np.random.default_rng(0)
    work = _fresh(inputs)
    outs = _outputs(fn, work)
    vs = []
    for out in outs:
        v = rng.standard_normal(out.data.size)
        vs.append(v / max(np.linalg.norm(v), 1e-300))
    # analytic: (J^T v) . u from one backward pass
    diff = [work[i] for i in idx]
    live = [(o, v) for o, v in zip(outs, vs) if o.requires_grad]
    if live:
        grads = autograd.grad(
            [o for o, _ in live],
            diff,
            [Tensor(array_module(o.data).asarray(v.reshape(o.shape))) for o, v in live],
            allow_unused=True,
        )
    else:
        grads = [None] * len(diff)
    for col, i in enumerate(idx):
        x = inputs[i]
        u = rng.standard_normal(x.data.size)
        u /= max(np.linalg.norm(u), 1e-300)
        g = grads[col]
        if g is not None:
            _check_grad_type(g, x, i)
        analytic = 0.0 if g is None else float(_host(g.data).ravel() @ u)
        # numeric: directional derivative along u, projected on v
        probe = _fresh(inputs)
        base = probe[i].data.copy()
        ud = array_module(base).asarray(u.reshape(x.shape))
        probe[i].data = base + eps * ud
        plus = _flat_outputs(fn, probe)
        probe[i].data = base - eps * ud
        minus = _flat_outputs(fn, probe)
        numeric = sum(float(v @ ((p - m) / (2 * eps))) for v, p, m in zip(vs, plus, minus))

        def where(worst, i=i, x=x):
            return f"gradcheck (fast mode): v^T J u mismatch for input {i} (shape {tuple(x.shape)})\n"

        msg = _compare(np.array([analytic]), np.array([numeric]), atol, rtol, where)
        if msg:
            raise GradcheckError(msg)


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=False,
                  raise_exception=True):
    """Check second derivatives: ``gradcheck`` on the map (inputs, grad_outputs) -> input gradients.

    The gradients are computed with ``create_graph=True``, so this checks the
    backward pass of every op ``fn`` uses. ``grad_outputs`` (random float64 by
    default) are inputs of the checked map too, as in PyTorch.
    """
    inputs = tuple(inputs)
    idx = _diff_inputs(inputs, "gradgradcheck")
    outs = [o for o in _outputs(fn, _fresh(inputs)) if o.requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(1)
        grad_outputs = [
            Tensor(array_module(o.data).asarray(rng.standard_normal(o.shape)), requires_grad=True) for o in outs
        ]
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    grad_outputs = list(grad_outputs)
    n = len(inputs)

    def first_derivatives(*args):
        xs, gs = args[:n], args[n:]
        live = [o for o in _outputs(fn, xs) if o.requires_grad]
        diff = [xs[i] for i in idx]
        grads = autograd.grad(live, diff, list(gs), create_graph=True, allow_unused=True)
        return tuple(
            g if g is not None else Tensor(array_module(x.data).zeros_like(x.data)) for g, x in zip(grads, diff)
        )

    return gradcheck(first_derivatives, inputs + tuple(grad_outputs), eps, atol, rtol, fast_mode, raise_exception)

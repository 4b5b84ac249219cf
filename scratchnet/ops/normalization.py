"""Batch normalisation with PyTorch's semantics (``F.batch_norm``).

Statistics are taken per channel (dim 1) over every other dim. In training the
input is normalised with the batch mean and the *biased* batch variance, and
the running statistics are updated in place with the *unbiased* variance:
``running = (1 - momentum) * running + momentum * batch``. In evaluation the
running statistics are used. Then ``y = x_hat * weight + bias``.

The normalisation with batch statistics is one ``Function`` (its backward is
the classic closed form, written with differentiable ops); the affine part
and the evaluation mode are plain compositions of existing ops. Training with
both weight and bias (every BatchNorm layer) runs as ``BatchNorm``, one op for
normalisation and affine part together, because that is fewer passes over the
activations.
"""

import numbers

import numpy as np

from ..autograd import Function, is_grad_enabled
from ..backend import array_module
from ..tensor import Tensor
from ._helpers import check_tensor, float_sum, is_channels_last, to_channels_last
from .reduction import mean, var
from .reduction import sum as sum_over
from .shape import reshape


class BatchNormalize(Function):
    """x_hat = (x - mean) / sqrt(var + eps), mean and biased var over ``axes`` (all dims but 1);
    dx = (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)) / sqrt(var + eps).

    The backward takes x_hat from the output (graph-connected) and, when it is
    itself being recorded (``create_graph``), recomputes 1/sqrt(var + eps)
    from x with differentiable ops so that second derivatives see how the
    variance depends on x; otherwise it reuses the saved value.
    """

    __slots__ = ("axes", "eps", "batch_mean", "batch_var", "inv_std")
    saved = ("inv_std",)
    uses_output = True
    name = "batch_norm"

    def __init__(self, axes, eps):
        self.axes = axes
        self.eps = eps

    def forward(self, a):
        xp = array_module(a)
        count = a.dtype.type(a.size // a.shape[1])
        self.batch_mean = float_sum(a, self.axes, keepdims=True) / count
        centered = a - self.batch_mean
        self.batch_var = float_sum(centered * centered, self.axes, keepdims=True) / count
        self.inv_std = (1 / xp.sqrt(self.batch_var + self.eps)).astype(a.dtype, copy=False)
        return centered * self.inv_std

    def backward(self, gy):
        x_hat = self.output()
        if is_grad_enabled():  # create_graph: inv_std as a function of x
            inv_std = (var(self.inputs[0], self.axes, correction=0, keepdim=True) + self.eps) ** -0.5
        else:
            inv_std = Tensor(self.inv_std)
        g_mean = mean(gy, self.axes, keepdim=True)
        proj = mean(gy * x_hat, self.axes, keepdim=True)
        return (gy - g_mean - x_hat * proj) * inv_std


class BatchNorm(Function):
    """Training-mode batch norm and its affine part as one op, for inputs (x, weight, bias):

        y = (x - mean) * s + bias,   s = weight / sqrt(var + eps)   (per channel; mean, biased var over ``axes``)
        dbias = sum(dy),   dweight = sum(dy * x_hat),   x_hat = (x - mean) / sqrt(var + eps)
        dx = s * (dy - mean(dy) - x_hat * mean(dy * x_hat))

    The same numbers as ``BatchNormalize`` followed by ``* weight + bias``, in fewer passes over the
    activations: that composition makes ~7 output-sized arrays forward and ~11 backward, this 4 and 6
    (a conv layer's activations are megabytes: the passes, not the arithmetic, are the cost). The
    backward saves (x - mean), not x_hat, and works on arrays; under ``create_graph`` it is built from
    ``BatchNormalize`` and differentiable ops instead, so second derivatives see every dependence.
    """

    __slots__ = ("axes", "eps", "batch_mean", "batch_var", "inv_std", "centered", "scale")
    saved = ("inv_std", "centered", "scale")
    name = "batch_norm"

    def __init__(self, axes, eps):
        self.axes = axes
        self.eps = eps

    def forward(self, x, weight, bias):
        xp = array_module(x)
        count = x.dtype.type(x.size // x.shape[1])
        stat_shape = tuple(n if i == 1 else 1 for i, n in enumerate(x.shape))
        self.batch_mean = float_sum(x, self.axes, keepdims=True) / count
        centered = self.centered = x - _spread(self.batch_mean, x)
        self.batch_var = float_sum(centered * centered, self.axes, keepdims=True) / count
        self.inv_std = (1 / xp.sqrt(self.batch_var + self.eps)).astype(x.dtype, copy=False)
        self.scale = weight.reshape(stat_shape) * self.inv_std
        y = centered * _spread(self.scale, x)
        y += _spread(bias.reshape(stat_shape), x)
        return y

    def backward(self, gy):
        x, weight, bias = self.inputs
        if is_grad_enabled():  # create_graph: the composition, differentiable in x, weight and gy
            stat_shape = tuple(n if i == 1 else 1 for i, n in enumerate(x.shape))
            normalize = BatchNormalize(self.axes, self.eps)
            x_hat = normalize(x)
            gx = normalize.backward(gy * reshape(weight, stat_shape)) if self.needs[0] else None
            gw = sum_over(gy * x_hat, self.axes) if self.needs[1] else None
            gb = sum_over(gy, self.axes) if self.needs[2] else None
            return gx, gw, gb
        g = gy.data
        count = g.dtype.type(g.size // g.shape[1])
        g_sum = float_sum(g, self.axes, keepdims=True)
        g_dot = float_sum(g * self.centered, self.axes, keepdims=True)  # sum(dy * (x - mean))
        gx = gw = gb = None
        if self.needs[0]:
            gx = g * _spread(self.scale, g)
            gx -= self.centered * _spread(self.scale * self.inv_std * self.inv_std * g_dot / count, g)
            gx -= _spread(self.scale * g_sum / count, g)
            gx = Tensor(gx)
        if self.needs[1]:
            gw = Tensor((g_dot * self.inv_std).reshape(weight.shape).astype(weight.dtype, copy=False))
        if self.needs[2]:
            gb = Tensor(g_sum.reshape(bias.shape).astype(bias.dtype, copy=False))
        return gx, gw, gb


def _spread(v, like):
    """A per-channel (1, C, 1, ...) NumPy array repeated over the spatial dims of ``like`` (N, C, H, W),
    as an operand for ``like``-sized arithmetic. NumPy's loop then runs over a contiguous operand
    instead of one that repeats each value H*W times, ~1.7x faster: (64, 32, 28, 28) minus a channel
    vector 0.18 ms spread, 0.31 ms not. The copy is one sample's size, in ``like``'s memory order: for a
    channels-last ``like`` (what the conv ops return) the unspread vector would make NumPy's inner
    loop C numbers long, 3x slower still. (CuPy's kernels need no help.)"""
    if not isinstance(v, np.ndarray) or like.ndim < 3 or like.shape[0] == 1:
        return v
    spread = np.broadcast_to(v, (1,) + like.shape[1:])
    return to_channels_last(spread) if is_channels_last(like) else spread.copy()


def _affine(x_hat, weight, bias, stat_shape):
    """x_hat * weight + bias, per channel, either of them optional."""
    y = x_hat
    if weight is not None:
        y = y * reshape(weight, stat_shape)
    if bias is not None:
        y = y + reshape(bias, stat_shape)
    return y


def _shape(t):
    return None if t is None else tuple(t.shape)


def _check(input, running_mean, running_var, weight, bias):
    check_tensor(input, "input", "batch_norm")
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None:
            check_tensor(t, name, "batch_norm")
    if input.ndim < 2:
        raise ValueError(
            f"batch_norm: expected input of shape (N, C), (N, C, L) or (N, C, H, W), got {tuple(input.shape)}"
        )
    if input.dtype.kind != "f":
        raise TypeError(f"batch_norm: needs a floating point input, got {input.dtype}")
    if (running_mean is None) != (running_var is None):
        raise ValueError(
            f"batch_norm: running_mean and running_var must both be given or both be None, got shapes "
            f"{_shape(running_mean)} and {_shape(running_var)}"
        )
    channels = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (channels,):
            raise ValueError(
                f"batch_norm: {name} must have shape ({channels},) for input of shape {tuple(input.shape)} "
                f"with {channels} channels, got {tuple(t.shape)}"
            )


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalise each channel (dim 1) of ``input`` (N, C, *), then scale by ``weight`` and shift by ``bias``.

    ``training=True`` (or no running statistics): batch mean and biased batch
    variance, and ``running_mean``/``running_var`` (if given) are updated in
    place with the unbiased variance and ``momentum``. ``training=False``: the
    running statistics are used.
    """
    _check(input, running_mean, running_var, weight, bias)
    if not isinstance(momentum, numbers.Real):
        raise TypeError(f"batch_norm: momentum must be a number, got {momentum!r}")
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise TypeError(f"batch_norm: eps must be a number, got {eps!r}")
    axes = (0,) + tuple(range(2, input.ndim))
    stat_shape = tuple(n if i == 1 else 1 for i, n in enumerate(input.shape))
    if training or running_mean is None:
        count = input.data.size // input.shape[1]
        if training and count <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, got input of shape "
                f"{tuple(input.shape)}"
            )
        if weight is not None and bias is not None:
            normalize = BatchNorm(axes, eps)
            y = normalize(input, weight, bias)
        else:
            normalize = BatchNormalize(axes, eps)
            y = _affine(normalize(input), weight, bias, stat_shape)
        if training and running_mean is not None:
            m = float(momentum)
            batch_mean = normalize.batch_mean.reshape(-1)
            unbiased_var = normalize.batch_var.reshape(-1) * (count / (count - 1))
            for running, batch in ((running_mean, batch_mean), (running_var, unbiased_var)):
                r = running.data
                r[...] = (1 - m) * r + m * batch.astype(r.dtype, copy=False)
    else:
        a = input.data
        xp = array_module(a)
        mu = running_mean.data.astype(a.dtype, copy=False).reshape(stat_shape)
        inv_std = 1 / xp.sqrt(running_var.data.astype(a.dtype, copy=False).reshape(stat_shape) + eps)
        y = _affine((input - Tensor(mu)) * Tensor(inv_std.astype(a.dtype, copy=False)), weight, bias, stat_shape)
    return y

"""Batch normalisation with PyTorch's semantics (``F.batch_norm``).

Statistics are taken per channel (dim 1) over every other dim. In training the
input is normalised with the batch mean and the *biased* batch variance, and
the running statistics are updated in place with the *unbiased* variance:
``running = (1 - momentum) * running + momentum * batch``. In evaluation the
running statistics are used. Then ``y = x_hat * weight + bias``.

The normalisation with batch statistics is one ``Function`` (its backward is
the classic closed form, written with differentiable ops); the affine part
and the evaluation mode are plain compositions of existing ops.
"""

import numbers

from ..autograd import Function, is_grad_enabled
from ..backend import array_module
from ..tensor import Tensor
from ._helpers import check_tensor
from .reduction import mean, var
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
        self.batch_mean = a.mean(axis=self.axes, keepdims=True)
        centered = a - self.batch_mean
        self.batch_var = (centered * centered).mean(axis=self.axes, keepdims=True)
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
        normalize = BatchNormalize(axes, eps)
        x_hat = normalize(input)
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
        x_hat = (input - Tensor(mu)) * Tensor(inv_std.astype(a.dtype, copy=False))
    y = x_hat
    if weight is not None:
        y = y * reshape(weight, stat_shape)
    if bias is not None:
        y = y + reshape(bias, stat_shape)
    return y

"""Reductions: sum, mean, var, max/min, logsumexp (PyTorch's ``dim``/``keepdim``).

A reduction's backward first gives the upstream gradient back the reduced
dims as size 1 (``_expand``), then broadcasts it over the input, weighted by
how much each element moved the result.
"""

from collections import namedtuple

import numpy as np

from ..autograd import Function
from ..backend import array_module
from ..tensor import Tensor
from ._helpers import check_tensor, float_sum, keepdim_shape, normalize_dim, normalize_dims
from .elementwise import exp, float_input, maximum, minimum
from .shape import broadcast_to, reshape


class _Reduction(Function):
    __slots__ = ("axes", "keepdims")

    def __init__(self, axes, keepdims):
        self.axes = axes
        self.keepdims = keepdims

    def _expand(self, gy):
        """dy reshaped to keepdim form and broadcast to the input's shape."""
        shape = self.inputs[0].shape
        return broadcast_to(reshape(gy, keepdim_shape(shape, self.axes)), shape)

    def _count(self):
        return self._count_of(self.inputs[0].shape)

    def _count_of(self, shape):
        n = 1
        for a in self.axes:
            n *= shape[a]
        return n


class Sum(_Reduction):
    """y = sum of x over axes;  dx = dy broadcast back. Integers and bools sum to int64, as in PyTorch."""

    def forward(self, a):
        if a.dtype.kind in "biu":  # NumPy would give uint64 for unsigned input
            return a.sum(axis=self.axes, keepdims=self.keepdims, dtype=np.int64)
        return float_sum(a, self.axes, self.keepdims)

    def backward(self, gy):
        return self._expand(gy)


class Mean(_Reduction):
    """y = sum(x) / n;  dx = dy / n broadcast back."""

    def forward(self, a):
        if a.dtype in (np.float32, np.float64):
            return float_sum(a, self.axes, self.keepdims) / a.dtype.type(self._count_of(a.shape))
        return a.mean(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        return self._expand(gy) / self._count()


class Var(_Reduction):
    """y = sum((x - mean)**2) / (n - correction);  dx = dy * 2 (x - mean) / (n - correction)."""

    __slots__ = ("correction",)

    def __init__(self, axes, keepdims, correction):
        super().__init__(axes, keepdims)
        self.correction = correction

    def forward(self, a):
        return a.var(axis=self.axes, ddof=self.correction, keepdims=self.keepdims)

    def backward(self, gy):
        x = self.inputs[0]
        centered = x - mean(x, self.axes, keepdim=True)
        dof = self._count() - self.correction
        scale = 2 / dof if dof > 0 else float("inf")  # the forward divides by max(dof, 0): inf, nan at 0/0
        return self._expand(gy) * centered * scale


class Amax(_Reduction):
    """y = max of x over axes;  dx = dy split evenly among the elements equal to the max."""

    uses_output = True

    def forward(self, a):
        return a.max(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        x = self.inputs[0].data
        y = self._out_data.reshape(keepdim_shape(x.shape, self.axes))
        hit = x == y
        weight = hit / hit.sum(axis=self.axes, keepdims=True)
        return self._expand(gy) * Tensor(weight.astype(gy.dtype))


class Amin(Amax):
    """y = min of x over axes;  dx = dy split evenly among the elements equal to the min."""

    def forward(self, a):
        return a.min(axis=self.axes, keepdims=self.keepdims)


class ValueAtIndex(Function):
    """y = x at ``index`` along ``axis`` (max/min with a dim);  dx = dy at that index, 0 elsewhere."""

    __slots__ = ("axis", "index", "keepdims")
    saved = ("index",)

    def __init__(self, axis, index, keepdims):
        self.axis = axis
        self.index = index  # keepdims form
        self.keepdims = keepdims

    def forward(self, a):
        y = array_module(a).take_along_axis(a, self.index, axis=self.axis)
        return y if self.keepdims else y.squeeze(self.axis)

    def backward(self, gy):
        x = self.inputs[0].data
        xp = array_module(x)
        positions = xp.arange(x.shape[self.axis]).reshape([-1 if i == self.axis else 1 for i in range(x.ndim)])
        onehot = Tensor((positions == self.index).astype(gy.dtype))
        g = reshape(gy, keepdim_shape(x.shape, (self.axis,)))
        return g * onehot


class LogSumExp(_Reduction):
    """y = log(sum(exp(x))), computed as m + log(sum(exp(x - m))) with m = max(x);  dx = dy * exp(x - y)."""

    uses_output = True

    def forward(self, a):
        xp = array_module(a)
        if any(a.shape[i] == 0 for i in self.axes):  # log of an empty sum: -inf (max has no identity)
            kept = keepdim_shape(a.shape, self.axes)
            shape = kept if self.keepdims else [n for i, n in enumerate(a.shape) if i not in self.axes]
            return xp.full(shape, -xp.inf, dtype=a.dtype)
        m = a.max(axis=self.axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)  # all -inf (or inf) stays exact
        y = xp.log(xp.exp(a - m).sum(axis=self.axes, keepdims=True)) + m
        return y if self.keepdims else y.reshape([n for i, n in enumerate(a.shape) if i not in self.axes])

    def backward(self, gy):
        x = self.inputs[0]
        y = reshape(self.output(), keepdim_shape(x.shape, self.axes))
        return self._expand(gy) * exp(x - y)


# --------------------------------------------------------------------------- public functions


def sum(input, dim=None, keepdim=False):
    """Sum over ``dim`` (an int, a tuple, or None for all dims)."""
    check_tensor(input, "input", "sum")
    return Sum(normalize_dims(dim, input.ndim, "sum"), keepdim)(input)


def mean(input, dim=None, keepdim=False):
    """Mean over ``dim`` (an int, a tuple, or None for all dims)."""
    check_tensor(input, "input", "mean")
    if input.dtype.kind not in "fc":
        raise TypeError(f"mean: needs a floating point tensor, got {input.dtype}")
    return Mean(normalize_dims(dim, input.ndim, "mean"), keepdim)(input)


def var(input, dim=None, *, correction=1, keepdim=False, unbiased=None):
    """Variance over ``dim``; ``correction=1`` (Bessel's, the default) divides by n - 1, 0 by n."""
    check_tensor(input, "input", "var")
    if unbiased is not None:
        correction = 1 if unbiased else 0
    if isinstance(correction, bool) or not isinstance(correction, (int, np.integer)):
        raise TypeError(f"var: correction must be an int, got {correction!r}")
    if input.dtype.kind not in "fc":
        raise TypeError(f"var: needs a floating point tensor, got {input.dtype}")
    return Var(normalize_dims(dim, input.ndim, "var"), keepdim, correction)(input)


def _check_nonempty(input, axes, op):
    if any(input.shape[a] == 0 for a in axes) or (input.size == 0 and not axes):
        raise ValueError(f"{op}: cannot reduce over an empty dimension (input shape {tuple(input.shape)})")


def amax(input, dim=None, keepdim=False):
    """Max over ``dim``; the gradient is shared evenly among tied maxima."""
    check_tensor(input, "input", "amax")
    axes = normalize_dims(dim, input.ndim, "amax")
    _check_nonempty(input, axes, "amax")
    return Amax(axes, keepdim)(input)


def amin(input, dim=None, keepdim=False):
    """Min over ``dim``; the gradient is shared evenly among tied minima."""
    check_tensor(input, "input", "amin")
    axes = normalize_dims(dim, input.ndim, "amin")
    _check_nonempty(input, axes, "amin")
    return Amin(axes, keepdim)(input)


MaxMin = namedtuple("MaxMin", ["values", "indices"])


def _index_along(input, dim, op, caller):
    """(axis, arg-max/arg-min along it with keepdims); a 0-d input counts as one element."""
    axis = normalize_dim(dim, input.ndim, caller)
    _check_nonempty(input, (axis,) if input.ndim else (), caller)
    x = input.data if input.ndim else input.data.reshape(1)
    return axis, (x.argmax if op == "max" else x.argmin)(axis=axis, keepdims=True)


def _extreme_along(input, dim, keepdim, op):
    axis, index = _index_along(input, dim, op, op)
    if input.ndim == 0:
        return MaxMin(input, Tensor(index.reshape(())))
    values = ValueAtIndex(axis, index, keepdim)(input)
    return MaxMin(values, Tensor(index if keepdim else index.squeeze(axis)))


def max(input, dim=None, keepdim=False):
    """``max(x)``: the largest value; ``max(x, dim)``: a (values, indices) pair, as in PyTorch;
    ``max(x, other)``: the elementwise maximum."""
    check_tensor(input, "input", "max")
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    if dim is None:
        return amax(input)
    return _extreme_along(input, dim, keepdim, "max")


def min(input, dim=None, keepdim=False):
    """``min(x)``: the smallest value; ``min(x, dim)``: a (values, indices) pair, as in PyTorch;
    ``min(x, other)``: the elementwise minimum."""
    check_tensor(input, "input", "min")
    if isinstance(dim, Tensor):
        return minimum(input, dim)
    if dim is None:
        return amin(input)
    return _extreme_along(input, dim, keepdim, "min")


def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(x))) over ``dim``, stable for large |x|; -inf over an empty dim (log 0), as PyTorch."""
    input = float_input(input, "logsumexp")
    return LogSumExp(normalize_dims(dim, input.ndim, "logsumexp"), keepdim)(input)


def _arg(input, dim, keepdim, op, caller):
    check_tensor(input, "input", caller)
    if dim is None:
        _check_nonempty(input, (), caller)
        return Tensor(array_module(input.data).asarray((input.data.argmax if op == "max" else input.data.argmin)()))
    axis, index = _index_along(input, dim, op, caller)
    if input.ndim == 0:
        return Tensor(index.reshape(()))
    return Tensor(index if keepdim else index.squeeze(axis))


def argmax(input, dim=None, keepdim=False):
    """Index of the max (flattened when ``dim`` is None); not differentiable."""
    return _arg(input, dim, keepdim, "max", "argmax")


def argmin(input, dim=None, keepdim=False):
    """Index of the min (flattened when ``dim`` is None); not differentiable."""
    return _arg(input, dim, keepdim, "min", "argmin")

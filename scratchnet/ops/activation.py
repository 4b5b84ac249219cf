"""Activations, softmax, dropout and the linear layer's function (``torch.nn.functional`` names).

Each backward is written with differentiable ops, so every function here can
be differentiated to any order. Softmax and log-softmax subtract the max
before ``exp``, so logits of any magnitude give finite values and exact
gradients.
"""

import numbers

import numpy as np

from ..autograd import Function, is_grad_enabled
from ..backend import array_module, device_of, generator, to_device
from ..tensor import Tensor
from ._helpers import check_tensor, normalize_dims
from .elementwise import exp, sigmoid, where
from .linalg import matmul, matmul_arrays
from .reduction import sum as sum_over
from .shape import reshape, transpose


def _float_tensor(input, fn):
    check_tensor(input, "input", fn)
    if input.dtype.kind != "f":
        raise TypeError(f"{fn}: needs a floating point tensor, got {input.dtype}")


def _number(value, name, fn):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{fn}: {name} must be a number, got {value!r}")
    return float(value)


def _no_inplace(inplace, fn):
    if inplace:
        raise ValueError(
            f"{fn}: inplace=True is not supported (scratchnet has no in-place ops on the graph); "
            "use the returned tensor instead"
        )


# --------------------------------------------------------------------------- linear


def linear(input, weight, bias=None):
    """y = x @ W^T + b, with W of shape (out_features, in_features) as in PyTorch.

    ``input`` is (*, in_features) with any number of leading dims (or just
    (in_features,)); ``bias`` is (out_features,). Several leading dims are
    flattened into one, so the product is a single matrix multiply.
    """
    check_tensor(input, "input", "linear")
    check_tensor(weight, "weight", "linear")
    if bias is not None:
        check_tensor(bias, "bias", "linear")
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {tuple(weight.shape)}")
    out_features, in_features = weight.shape
    if input.ndim == 0 or input.shape[-1] != in_features:
        raise ValueError(
            f"linear: input of shape {tuple(input.shape)} does not end in in_features = {in_features} "
            f"of weight shape {tuple(weight.shape)}"
        )
    if bias is not None and tuple(bias.shape) != (out_features,):
        raise ValueError(
            f"linear: bias must have shape ({out_features},) for weight of shape {tuple(weight.shape)}, "
            f"got {tuple(bias.shape)}"
        )
    lead = input.shape[:-1]
    x = reshape(input, (-1, in_features)) if len(lead) != 1 else input
    y = Linear()(x, weight) if bias is None else Linear()(x, weight, bias)
    return reshape(y, lead + (out_features,)) if len(lead) != 1 else y


class Linear(Function):
    """y = x @ W^T + b, for x (N, in), W (out, in) (PyTorch's layout) and an optional b (out,);
    dx = dy @ W,  dW = dy^T @ x,  db = the sum of dy over the batch.

    One op where ``matmul(x, transpose(W)) + b`` records three. And dW comes out of its product as an
    (out, in) C-order array, which becomes W's ``.grad`` as it is: the transpose's gradient was a
    transposed view of ``x^T @ dy``, which ``.grad`` had to copy (1.6 MB for the CNN's dense layer, every
    step). The backward is built from differentiable ops, recorded only under ``create_graph``."""

    name = "linear"

    def forward(self, x, w, b=None):
        y = matmul_arrays(x, w.T)
        if b is not None:
            if b.dtype == y.dtype:
                y += b  # y is this op's own new array
            else:
                y = y + b  # NumPy's type promotion, as the separate add had
        return y

    def backward(self, gy):
        x, w = self.inputs[:2]
        gx = matmul(gy, w) if self.needs[0] else None
        gw = matmul(transpose(gy, 0, 1), x) if self.needs[1] else None  # (out, in), C order
        if len(self.inputs) == 2:
            return gx, gw
        return gx, gw, sum_over(gy, 0) if self.needs[2] else None


# --------------------------------------------------------------------------- leaky relu, softplus


class LeakyReLU(Function):
    """y = x if x > 0 else slope * x;  dx = dy if x > 0 else slope * dy  (slope at x = 0, as PyTorch).

    Both pick with arithmetic instead of ``where``, exactly (a term times 0 plus the other): on random
    signs ``where`` mispredicts branches and is about 5x slower than the whole op.
    """

    __slots__ = ("slope",)
    name = "leaky_relu"

    def __init__(self, slope):
        self.slope = slope

    def forward(self, a):
        xp = array_module(a)
        if not abs(self.slope) <= float(np.finfo(a.dtype).max):  # the slope overflows the dtype: 0 * inf would be NaN
            return xp.where(a > 0, a, (a.astype(np.float64) * self.slope).astype(a.dtype))
        if 0 < self.slope <= 1:  # max(x, slope * x) picks x for x > 0 and slope * x below: 2 passes, not 4
            return xp.maximum(a, a * a.dtype.type(self.slope))
        return xp.maximum(a, 0) + xp.minimum(a, 0) * self.slope

    def backward(self, gy):
        x = self.inputs[0].data
        xp = array_module(x)
        if not abs(self.slope) <= float(np.finfo(gy.dtype).max):
            return gy * Tensor(xp.where(x > 0, 1, self.slope).astype(gy.dtype))
        if 0 < self.slope <= 1:  # max(1 or 0, slope): the factor in one pass
            if isinstance(x, np.ndarray) and x.size >= 4096:  # against an array of slopes: see ReLU.forward
                factor = np.full_like(gy.data, self.slope)
                np.maximum(factor, x > 0, out=factor)
                if not is_grad_enabled():  # no create_graph: dy times the factor in place, no third array
                    factor *= gy.data
                    return Tensor(factor)
                return gy * Tensor(factor)
            return gy * Tensor(xp.maximum(x > 0, gy.dtype.type(self.slope)))
        positive = (x > 0).astype(gy.dtype)
        return gy * Tensor(positive + (1 - positive) * self.slope)  # 1 where x > 0, else slope


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """max(x, 0) + negative_slope * min(x, 0)."""
    _no_inplace(inplace, "leaky_relu")
    _float_tensor(input, "leaky_relu")
    return LeakyReLU(_number(negative_slope, "negative_slope", "leaky_relu"))(input)


class Softplus(Function):
    """y = log(1 + e**(beta x)) / beta, computed as (max(z, 0) + log1p(e**-|z|)) / beta with z = beta x
    (no overflow); y = x where z > threshold (PyTorch's linear regime; threshold None: never).
    dx = dy * sigmoid(beta x), or dy where z > threshold."""

    __slots__ = ("beta", "threshold")

    def __init__(self, beta, threshold):
        self.beta = beta
        self.threshold = threshold

    def _wide(self, dtype):
        """float64 when beta or the threshold overflow ``dtype`` (float16 and beta = 65520: 0 * inf = NaN)."""
        big = float(np.finfo(dtype).max)
        fits = abs(self.beta) <= big and (self.threshold is None or abs(self.threshold) <= big)
        return dtype if fits else np.dtype(np.float64)

    def forward(self, a):
        xp = array_module(a)
        a_in = a.astype(self._wide(a.dtype), copy=False)
        z = a_in * self.beta
        y = (xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))) / self.beta
        if self.threshold is not None:
            y = xp.where(z > self.threshold, a_in, y)
        return y.astype(a.dtype, copy=False)

    def backward(self, gy):
        x = self.inputs[0]
        wide = self._wide(x.dtype)
        if wide != x.dtype:
            x = x.to(wide)
        slope = sigmoid(x * self.beta)
        if self.threshold is not None:
            slope = where(x.data * self.beta > self.threshold, 1.0, slope)
        return gy * slope.to(gy.dtype)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (as PyTorch)."""
    _float_tensor(input, "softplus")
    return Softplus(_number(beta, "beta", "softplus"), _number(threshold, "threshold", "softplus"))(input)


# --------------------------------------------------------------------------- softmax, log-softmax


class Softmax(Function):
    """y = e**(x - m) / sum(e**(x - m)) along the axis, m = max(x) there (stable for any |x|);
    dx = y * (dy - sum(dy * y))."""

    __slots__ = ("axes",)
    uses_output = True

    def __init__(self, axes):
        self.axes = axes

    def forward(self, a):
        xp = array_module(a)
        if a.size == 0:  # nothing to normalise (and max has no identity)
            return xp.empty_like(a)
        e = xp.exp(a - a.max(axis=self.axes, keepdims=True))
        return e / e.sum(axis=self.axes, keepdims=True)

    def backward(self, gy):
        y = self.output()
        return y * (gy - sum_over(gy * y, self.axes, keepdim=True))


class LogSoftmax(Function):
    """y = x - logsumexp(x) along the axis, as (x - m) - log(sum(e**(x - m))) with m = max(x);
    dx = dy - e**y * sum(dy)  (e**y is the softmax)."""

    __slots__ = ("axes",)
    uses_output = True
    name = "log_softmax"

    def __init__(self, axes):
        self.axes = axes

    def forward(self, a):
        xp = array_module(a)
        if a.size == 0:
            return xp.empty_like(a)
        shifted = a - a.max(axis=self.axes, keepdims=True)
        return shifted - xp.log(xp.exp(shifted).sum(axis=self.axes, keepdims=True))

    def backward(self, gy):
        return gy - exp(self.output()) * sum_over(gy, self.axes, keepdim=True)


def _softmax_args(input, dim, dtype, fn):
    check_tensor(input, "input", fn)
    if dim is None:
        raise TypeError(f"{fn}: dim must be given (PyTorch's implicit choice of dim is deprecated)")
    if dtype is not None:
        input = input.to(dtype)
    if input.dtype.kind != "f":
        raise TypeError(f"{fn}: needs a floating point tensor, got {input.dtype}")
    return input, normalize_dims(dim, input.ndim, fn)


def softmax(input, dim, *, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim`` (``dtype``: cast the input first, as PyTorch)."""
    input, axes = _softmax_args(input, dim, dtype, "softmax")
    return Softmax(axes)(input)


def log_softmax(input, dim, *, dtype=None):
    """x - logsumexp(x) along ``dim``: exact for logits of any magnitude."""
    input, axes = _softmax_args(input, dim, dtype, "log_softmax")
    return LogSoftmax(axes)(input)


# --------------------------------------------------------------------------- dropout


class Dropout(Function):
    """y = x * mask, with mask = keep / (1 - p) drawn in the forward;  dx = dy * mask."""

    __slots__ = ("mask",)
    saved = ("mask",)

    def __init__(self, mask):
        self.mask = mask

    def forward(self, a):
        return a * self.mask

    def backward(self, gy):
        return gy * Tensor(self.mask)


def dropout(input, p=0.5, training=True, inplace=False):
    """Inverted dropout: each element is zeroed with probability ``p`` and the kept ones scaled by
    1 / (1 - p), so the expectation is unchanged. ``training=False`` or ``p=0`` return ``input``.

    The mask comes from scratchnet's seeded generator, the same stream on
    every backend (``scratchnet.manual_seed`` makes it reproducible).
    """
    _no_inplace(inplace, "dropout")
    check_tensor(input, "input", "dropout")
    if not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    a = input.data
    if a.dtype.kind != "f":
        raise TypeError(f"dropout: needs a floating point tensor, got {a.dtype}")
    xp = array_module(a)
    if p == 1:
        mask = xp.zeros(a.shape, dtype=a.dtype)
    else:
        # drawn on the host from scratchnet's one generator (see backend.generator); on a GPU only the
        # one-byte keep mask is copied over
        u = generator().random(a.shape, dtype=np.float64 if a.dtype == np.float64 else np.float32)
        keep = xp.asarray(to_device(np.asarray(u >= p), device_of(a)))  # asarray: NumPy gives a scalar for 0-d
        mask = keep.astype(a.dtype) / a.dtype.type(1 - p)
    return Dropout(mask)(input)

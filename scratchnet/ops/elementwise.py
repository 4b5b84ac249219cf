"""Elementwise ops: arithmetic, exp/log, clamp, maximum, where, activations.

Binary ops broadcast like NumPy; their gradients are summed back to each
input's shape with ``sum_to``. Every backward is written with the same
differentiable ops, so it can be differentiated again.
"""

import numpy as np

from ..autograd import Function, is_grad_enabled
from ..backend import array_module
from ..tensor import Tensor
from ._helpers import check_tensor, constant, pair
from .shape import sum_to


def _mask(condition, like):
    """A boolean array as a constant 0/1 Tensor of ``like``'s dtype."""
    return Tensor(condition.astype(like.dtype))


# --------------------------------------------------------------------------- arithmetic


class Add(Function):
    """y = a + b;  da = dy,  db = dy."""

    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        a, b = self.inputs
        return (
            sum_to(gy, a.shape) if self.needs[0] else None,
            sum_to(gy, b.shape) if self.needs[1] else None,
        )


class Sub(Function):
    """y = a - b;  da = dy,  db = -dy."""

    def forward(self, a, b):
        return a - b

    def backward(self, gy):
        a, b = self.inputs
        return (
            sum_to(gy, a.shape) if self.needs[0] else None,
            sum_to(-gy, b.shape) if self.needs[1] else None,
        )


class Mul(Function):
    """y = a * b;  da = dy * b,  db = dy * a."""

    def forward(self, a, b):
        return a * b

    def backward(self, gy):
        a, b = self.inputs
        return (
            sum_to(gy * b, a.shape) if self.needs[0] else None,
            sum_to(gy * a, b.shape) if self.needs[1] else None,
        )


class Div(Function):
    """y = a / b;  da = dy / b,  db = -dy * a / b**2."""

    def forward(self, a, b):
        return a / b

    def backward(self, gy):
        a, b = self.inputs
        ga = gy / b
        return (
            sum_to(ga, a.shape) if self.needs[0] else None,
            sum_to(-ga * a / b, b.shape) if self.needs[1] else None,
        )


class Neg(Function):
    """y = -x;  dx = -dy."""

    def forward(self, a):
        return -a

    def backward(self, gy):
        return -gy


class Pow(Function):
    """y = a ** b;  da = dy * b * a**(b-1),  db = dy * y * log(a)."""

    uses_output = True

    def forward(self, a, b):
        return a**b

    def backward(self, gy):
        a, b = self.inputs
        ga = gb = None
        if self.needs[0]:
            ga = sum_to(gy * b * a ** (b - 1), a.shape)
        if self.needs[1]:
            gb = sum_to(gy * self.output() * log(a), b.shape)
        return ga, gb


def add(input, other):
    return Add()(*pair(input, other, "add"))


def sub(input, other):
    return Sub()(*pair(input, other, "sub"))


def mul(input, other):
    return Mul()(*pair(input, other, "mul"))


def div(input, other):
    """True division; integers and bools on both sides give float32, as in PyTorch (NumPy: float64)."""
    a, b = pair(input, other, "div")
    if a.data.dtype.kind in "biu" and b.data.dtype.kind in "biu":
        a, b = float_input(a, "div"), float_input(b, "div")
    return Div()(a, b)


def neg(input):
    check_tensor(input, "input", "neg")
    return Neg()(input)


def pow(input, exponent):
    return Pow()(*pair(input, exponent, "pow"))


# --------------------------------------------------------------------------- exp, log and friends


class Exp(Function):
    """y = e**x;  dx = dy * y."""

    uses_output = True

    def forward(self, a):
        return array_module(a).exp(a)

    def backward(self, gy):
        return gy * self.output()


class Log(Function):
    """y = ln x;  dx = dy / x."""

    def forward(self, a):
        return array_module(a).log(a)

    def backward(self, gy):
        return gy / self.inputs[0]


class Sqrt(Function):
    """y = sqrt(x);  dx = dy / (2 y)."""

    uses_output = True

    def forward(self, a):
        return array_module(a).sqrt(a)

    def backward(self, gy):
        return gy / (self.output() * 2)


class Abs(Function):
    """y = |x|;  dx = dy * sign(x)  (0 at x = 0 and at NaN, as PyTorch)."""

    def forward(self, a):
        return array_module(a).abs(a)

    def backward(self, gy):
        x = self.inputs[0].data
        return gy * Tensor((x > 0).astype(gy.dtype) - (x < 0).astype(gy.dtype))


def float_input(input, op):
    """``input``, checked to be a Tensor; integers and bools become float32 (as PyTorch's default dtype)."""
    check_tensor(input, "input", op)
    if input.data.dtype.kind in "biu":
        return Tensor(input.data.astype(np.float32))
    return input


def exp(input):
    return Exp()(float_input(input, "exp"))


def log(input):
    return Log()(float_input(input, "log"))


def sqrt(input):
    return Sqrt()(float_input(input, "sqrt"))


def abs(input):
    check_tensor(input, "input", "abs")
    return Abs()(input)


# --------------------------------------------------------------------------- clamp, maximum, minimum, where


class Clamp(Function):
    """y = min(max(x, lo), hi);  dx = dy where lo <= x <= hi, else 0 (as PyTorch)."""

    __slots__ = ("lo", "hi")

    def __init__(self, lo, hi):
        self.lo = lo
        self.hi = hi

    def forward(self, a):
        return array_module(a).clip(a, self.lo, self.hi)

    def backward(self, gy):
        x = self.inputs[0].data
        if self.lo is None:
            inside = x <= self.hi
        elif self.hi is None:
            inside = x >= self.lo
        else:
            inside = (x >= self.lo) & (x <= self.hi)
        return gy * _mask(inside, gy)


def clamp(input, min=None, max=None):
    """Limit values to [min, max]; either bound may be None, a number or a Tensor that needs no gradient."""
    check_tensor(input, "input", "clamp")
    bounds = []
    for name, bound in (("min", min), ("max", max)):
        if isinstance(bound, Tensor):
            if bound.requires_grad:
                raise TypeError(f"clamp: a {name} bound that requires grad is not supported; use maximum/minimum")
            bound = bound.data
        bounds.append(bound)
    min, max = bounds
    if min is None and max is None:
        raise ValueError("clamp: at least one of 'min' and 'max' must be given")
    return Clamp(min, max)(input)


class _Extremum(Function):
    """Elementwise max (or min) of two tensors.

    The gradient goes to the larger (smaller) input; at a tie it is split in
    half between both, as PyTorch does.
    """

    def forward(self, a, b):
        xp = array_module(a)
        return xp.maximum(a, b) if self.name == "maximum" else xp.minimum(a, b)

    def backward(self, gy):
        a, b = self.inputs
        pick_a = (a.data > b.data) if self.name == "maximum" else (a.data < b.data)
        weight = pick_a + 0.5 * (a.data == b.data)
        wa = _mask(weight, gy)
        return (
            sum_to(gy * wa, a.shape) if self.needs[0] else None,
            sum_to(gy * (1 - wa), b.shape) if self.needs[1] else None,
        )


class Maximum(_Extremum):
    name = "maximum"


class Minimum(_Extremum):
    name = "minimum"


def maximum(input, other):
    return Maximum()(*pair(input, other, "maximum"))


def minimum(input, other):
    return Minimum()(*pair(input, other, "minimum"))


class Where(Function):
    """y = a where cond else b;  da = dy where cond (else 0),  db = dy where not cond."""

    __slots__ = ("cond",)
    saved = ("cond",)

    def __init__(self, cond):
        self.cond = cond

    def forward(self, a, b):
        return array_module(a).where(self.cond, a, b)

    def backward(self, gy):
        a, b = self.inputs
        zero = constant(0, gy)
        return (
            sum_to(Where(self.cond)(gy, zero), a.shape) if self.needs[0] else None,
            sum_to(Where(self.cond)(zero, gy), b.shape) if self.needs[1] else None,
        )


def _scalar(value, xp):
    """A Python number as a 0-d Tensor of PyTorch's default dtype for it (bool, int64, float32)."""
    if isinstance(value, bool):
        return Tensor(xp.asarray(value))
    if isinstance(value, int):
        return Tensor(xp.asarray(value, dtype=np.int64))
    if isinstance(value, float):
        return Tensor(xp.asarray(value, dtype=np.float32))
    return Tensor(xp.asarray(value))


def where(condition, input, other):
    """Pick from ``input`` where ``condition`` is true, else from ``other`` (all broadcast).

    ``input`` and ``other`` may both be Python numbers (floats give float32, as in PyTorch).
    """
    if isinstance(condition, Tensor):
        cond = condition.data
    else:
        like = input if isinstance(input, Tensor) else other
        cond = array_module(like.data).asarray(condition) if isinstance(like, Tensor) else np.asarray(condition)
    if cond.dtype != bool:
        raise TypeError(f"where: condition must be boolean, got {cond.dtype}")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        input = _scalar(input, array_module(cond))
    input, other = pair(input, other, "where")
    return Where(cond)(input, other)


# --------------------------------------------------------------------------- activations


class Tanh(Function):
    """y = tanh x;  dx = dy * (1 - y**2)."""

    uses_output = True

    def forward(self, a):
        return array_module(a).tanh(a)

    def backward(self, gy):
        y = self.output()
        return gy * (1 - y * y)


class Sigmoid(Function):
    """y = 1 / (1 + e**-x), computed from e**-|x| so it never overflows;  dx = dy * y * (1 - y)."""

    uses_output = True

    def forward(self, a):
        xp = array_module(a)
        e = xp.exp(-xp.abs(a))
        pos = (a >= 0).astype(a.dtype)  # arithmetic, not where(): no branch per element
        return (pos + (1 - pos) * e) / (1 + e)

    def backward(self, gy):
        y = self.output()
        return gy * y * (1 - y)


class ReLU(Function):
    """y = max(x, 0);  dx = dy where x > 0 (and where x is NaN, as PyTorch), else 0."""

    name = "relu"

    def forward(self, a):
        if isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.size >= 4096:
            # NumPy 2.4 runs maximum against a scalar without its vector loop; against an array of zeros
            # it is faster from a few thousand numbers on (800k float32s: 0.12 ms, allocation included,
            # against 0.24)
            zeros = np.zeros_like(a)
            return np.maximum(a, zeros, out=zeros)
        return array_module(a).maximum(a, 0)

    def backward(self, gy):
        keep = ~(self.inputs[0].data <= 0)  # x > 0 or NaN
        if is_grad_enabled():  # create_graph: dy times a constant 0/1, recorded
            return gy * _mask(keep, gy)
        # a float times a bool keeps the float's dtype: no 0/1 float array is made
        return Tensor(array_module(keep).asarray(gy.data * keep))


def tanh(input):
    return Tanh()(float_input(input, "tanh"))


def sigmoid(input):
    return Sigmoid()(float_input(input, "sigmoid"))


def relu(input):
    check_tensor(input, "input", "relu")
    return ReLU()(input)

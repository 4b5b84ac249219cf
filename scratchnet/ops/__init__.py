"""Differentiable primitives, one file per family.

Each op is a ``Function`` subclass (forward on arrays, backward on Tensors,
math in its docstring) plus a lower-case function that checks arguments and
applies it.
"""

from .elementwise import (
    abs,
    add,
    clamp,
    div,
    exp,
    log,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    relu,
    sigmoid,
    sqrt,
    sub,
    tanh,
    where,
)
from .linalg import matmul
from .reduction import amax, amin, argmax, argmin, logsumexp, max, mean, min, sum, var
from .shape import (
    broadcast_to,
    cat,
    expand,
    flatten,
    getitem,
    pad,
    permute,
    reshape,
    squeeze,
    stack,
    sum_to,
    transpose,
    unsqueeze,
)

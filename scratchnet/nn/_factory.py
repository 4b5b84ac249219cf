"""Making a layer's parameters: empty tensors of the right dtype and device, filled by ``init``."""

import math
import numbers

import numpy as np

from .. import backend
from ..tensor import Tensor
from . import init
from .parameter import Parameter


def check_size(value, name, who, minimum=0):
    """``value`` as an int >= ``minimum``: TypeError naming the layer for 2.5 or "3", ValueError for -1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{who}: {name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{who}: {name} must be at least {minimum}, got {value}")
    return int(value)


def int_pair(value, name, who):
    """An int or a pair of ints as a tuple of two ints (2.5 is a TypeError, not 2)."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2:
        raise ValueError(f"{who}: {name} must be an int or a pair of ints, got {value!r}")
    if any(isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in pair):
        raise TypeError(f"{who}: {name} must be an int or a pair of ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def new_parameter(*shape, device=None, dtype=None):
    """An uninitialised (zero) Parameter; layers fill it in ``reset_parameters``, as PyTorch does."""
    dtype = np.dtype(np.float32 if dtype is None else dtype)
    if device is None:
        array = backend.xp().zeros(shape, dtype=dtype)
    else:
        array = backend.to_device(np.zeros(shape, dtype=dtype), device)
    return Parameter(array)


def new_buffer(array, device=None):
    """A buffer Tensor on the current backend (or ``device``)."""
    return Tensor(backend.on_current_device(array) if device is None else backend.to_device(array, device))


def default_init(module):
    """PyTorch's default for Linear and Conv: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    PyTorch spells the weight's part as ``kaiming_uniform_(a=sqrt(5))``; fan_in
    is the weight's dim 1 times its kernel size (for ConvTranspose2d that is
    out_channels * kh * kw, as in PyTorch).
    """
    init.kaiming_uniform_(module.weight, a=math.sqrt(5))
    if module.bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(module.weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(module.bias, -bound, bound)

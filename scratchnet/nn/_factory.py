"""Making a layer's parameters: empty tensors of the right dtype and device, filled by ``init``."""

import numpy as np

from .. import backend
from ..tensor import Tensor
from .parameter import Parameter


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

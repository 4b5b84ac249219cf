"""Small helpers shared by the op families: argument checks, constants, dims, broadcasting."""

import operator

import numpy as np

from ..backend import array_module
from ..tensor import Tensor


def constant(value, like):
    """Wrap a Python number or array as a constant Tensor on ``like``'s device.

    Python numbers take ``like``'s dtype (as in PyTorch, ``x * 2`` keeps x
    float32); a float with an integer tensor gives float32.
    """
    if isinstance(value, Tensor):
        return value
    a = like.data
    xp = array_module(a)
    if isinstance(value, (bool, int, float)):
        dtype = a.dtype
        if isinstance(value, float) and dtype.kind in "biu":
            dtype = np.float32
        elif isinstance(value, int) and not isinstance(value, bool) and dtype.kind == "b":
            dtype = np.int64
        return Tensor(xp.asarray(value, dtype=dtype))
    return Tensor(xp.asarray(value))


def _operand(value, like, op):
    """``constant(value, like)``; a Python int outside ``like``'s integer dtype (-1 with uint8) is a ValueError."""
    try:
        return constant(value, like)
    except OverflowError as e:
        raise ValueError(f"{op}: {value!r} does not fit the tensor's dtype {like.dtype} ({e})") from None


def pair(a, b, op="binary op"):
    """Both operands of a binary op as Tensors (one of them must already be one).

    As in PyTorch, an integer or bool tensor meeting a floating point one takes its dtype
    (NumPy would turn int64 with float32 into float64).
    """
    if not isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            raise TypeError(f"{op}: expected a Tensor operand, got {type(a).__name__} and {type(b).__name__}")
        a = _operand(a, b, op)
    elif not isinstance(b, Tensor):
        b = _operand(b, a, op)
    ka, kb = a.data.dtype.kind, b.data.dtype.kind
    if ka != kb:
        if ka == "f" and kb in "biu":
            b = Tensor(b.data.astype(a.data.dtype))
        elif kb == "f" and ka in "biu":
            a = Tensor(a.data.astype(b.data.dtype))
    return a, b


def normalize_dim(dim, ndim, op):
    """A dim in [-ndim, ndim) as a non-negative int; IndexError otherwise (PyTorch's rule)."""
    lo = -max(ndim, 1)
    hi = max(ndim, 1) - 1
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    if not lo <= dim <= hi:
        raise IndexError(f"{op}: dimension out of range (expected to be in range of [{lo}, {hi}], but got {dim})")
    return int(dim) % max(ndim, 1)


def normalize_dims(dim, ndim, op):
    """``dim`` (None, int or sequence) as a sorted tuple of non-negative axes; None and () mean all (PyTorch's rule)."""
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        dim = (dim,)
    elif not isinstance(dim, (tuple, list)):
        raise TypeError(f"{op}: dim must be an int or a sequence of ints, got {type(dim).__name__}")
    axes = tuple(normalize_dim(d, ndim, op) for d in dim)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: dim {tuple(dim)} names a dimension twice")
    if ndim == 0:
        return ()
    return tuple(sorted(axes))


def keepdim_shape(shape, axes):
    """``shape`` with the reduced ``axes`` kept as size 1."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def shape_arg(shape, op):
    """Accept ``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` alike; sizes must be integers (2.5 is an error,
    not 2, as in PyTorch)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    try:
        return tuple(operator.index(s) for s in shape)
    except TypeError:
        raise TypeError(f"{op}: sizes must be ints, got {tuple(shape)!r}") from None


def check_tensor(x, what, op):
    """TypeError naming ``op`` unless ``x`` is a Tensor (a list or a NumPy array is not one)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {what} must be a Tensor, got {type(x).__name__}")


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def float_sum(a, axes, keepdims=False):
    """``a.sum(axis=axes, keepdims=keepdims)``, by ``einsum`` where that runs the faster loop.

    NumPy's ``sum`` over several axes, or over the last axis of a 4-D array, runs its inner loop over
    short rows; ``einsum`` streams the array once. For the per-channel sums of a batch norm over
    (N, H, W) of a (64, 32, 28, 28) float32 array: 0.07 ms against 0.23, and as accurate (both add
    float32 in partial sums: ~3e-7 relative error against float64 over 1.6M elements). ``sum`` stays
    faster when the innermost axis is kept (sums over the batch of an (N, F) matrix), and is used
    there, for other dtypes (float16 would accumulate in float16) and on CuPy.
    """
    axes = tuple(axes)
    if (
        not isinstance(a, np.ndarray)
        or a.dtype not in (np.float32, np.float64)
        or a.ndim < 2
        or a.ndim - 1 not in axes
        or not a.flags.c_contiguous
    ):
        return a.sum(axis=axes, keepdims=keepdims)
    letters = _LETTERS[: a.ndim]
    y = np.einsum(f"{letters}->{''.join(c for i, c in enumerate(letters) if i not in axes)}", a)
    return y.reshape(keepdim_shape(a.shape, axes)) if keepdims else y

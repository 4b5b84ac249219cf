"""Making tensors: ``tensor()`` from data, and the factories (zeros, randn, arange...).

Defaults follow PyTorch: Python floats become float32, Python ints int64,
while NumPy/CuPy arrays keep their dtype (float64 stays float64). New tensors
go to the current backend's device unless ``device`` says otherwise.
"""

import math
import numbers

import numpy as np

from . import backend
from .ops._helpers import check_tensor, shape_arg
from .tensor import Tensor

float16 = np.float16
float32 = np.float32
float64 = np.float64
int32 = np.int32
int64 = np.int64
bool_ = np.bool_


def _or(dtype, default):
    return default if dtype is None else dtype


def _finish(array, requires_grad):
    t = Tensor(array)
    if requires_grad:
        t.requires_grad = True  # checks the dtype
    return t


def _module(device):
    """(array module, backend name) for ``device`` (None: the current backend)."""
    if device is None:
        name = backend.current()
    else:
        name = backend.parse_device(device)[0]
    if name == "numpy":
        return np, name
    return backend._import_cupy(), name


def _place(array, device):
    return backend.on_current_device(array) if device is None else backend.to_device(array, device)


def _check_dtype(dtype, op, what="data of type"):
    """TypeError unless ``dtype`` is one a Tensor can hold: bool, (unsigned) integers, float16/32/64."""
    if dtype.kind not in "biuf" or (dtype.kind == "f" and dtype.itemsize > 8):
        raise TypeError(
            f"{op}: cannot make a tensor from {what} {dtype}; scratchnet tensors hold bool, integer, "
            "float16, float32 or float64 values"
        )


def _as_dtype(dtype, op):
    """``np.dtype(dtype)``, checked; TypeError naming ``op`` for anything else."""
    try:
        dtype = np.dtype(dtype)
    except (TypeError, ValueError, SyntaxError):  # np.dtype("0:") is a ValueError, np.dtype(",") a SyntaxError
        raise TypeError(f"{op}: {dtype!r} is not a dtype") from None
    _check_dtype(dtype, op, "dtype")
    return dtype


def tensor(data, dtype=None, requires_grad=False, device=None):
    """A new leaf tensor holding a copy of ``data`` (a number, nested list, array or Tensor).

    Complex, string, object, date and structured data raise ``TypeError``; ragged lists ``ValueError``.
    """
    if dtype is not None:
        dtype = _as_dtype(dtype, "tensor")
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, (np.ndarray, np.generic)) or hasattr(data, "__cuda_array_interface__"):
        _check_dtype(data.dtype, "tensor")
        array = _place(data, device).copy()
        if isinstance(array, np.generic):
            array = np.asarray(array)
    else:
        try:
            array = np.asarray(data)
        except (ValueError, OverflowError) as e:
            raise ValueError(f"tensor: cannot make a tensor from {type(data).__name__}: {e}") from None
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        _check_dtype(array.dtype, "tensor", f"{type(data).__name__} data of type")
        array = _place(array, device)
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    return _finish(array, requires_grad)


def _size(size, fn):
    size = shape_arg(size, fn)
    if any(s < 0 for s in size):
        raise ValueError(f"{fn}: sizes must be non-negative, got {size}")
    return size


def zeros(*size, dtype=None, requires_grad=False, device=None):
    xp, _ = _module(device)
    return _finish(xp.zeros(_size(size, "zeros"), dtype=_as_dtype(_or(dtype, np.float32), "zeros")), requires_grad)


def ones(*size, dtype=None, requires_grad=False, device=None):
    xp, _ = _module(device)
    return _finish(xp.ones(_size(size, "ones"), dtype=_as_dtype(_or(dtype, np.float32), "ones")), requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False, device=None):
    """A tensor of ``size`` filled with ``fill_value`` (dtype inferred from it, as in PyTorch)."""
    if not isinstance(fill_value, (numbers.Real, np.bool_)):
        raise TypeError(f"full: fill_value must be a number, got {type(fill_value).__name__}")
    if dtype is None:
        dtype = np.bool_ if isinstance(fill_value, bool) else np.int64 if isinstance(fill_value, int) else np.float32
    xp, _ = _module(device)
    try:
        array = xp.full(_size((size,), "full"), fill_value, dtype=_as_dtype(dtype, "full"))
    except OverflowError:  # 2**63 for int64, -1 for uint8
        raise ValueError(f"full: fill_value {fill_value!r} does not fit dtype {np.dtype(dtype)}") from None
    return _finish(array, requires_grad)


def _like(input, fill, dtype, requires_grad, op):
    check_tensor(input, "input", op)
    xp = backend.array_module(input.data)
    return _finish(fill(xp, input.data, _as_dtype(_or(dtype, input.dtype), op)), requires_grad)


def zeros_like(input, dtype=None, requires_grad=False):
    return _like(input, lambda xp, a, d: xp.zeros(a.shape, dtype=d), dtype, requires_grad, "zeros_like")


def ones_like(input, dtype=None, requires_grad=False):
    return _like(input, lambda xp, a, d: xp.ones(a.shape, dtype=d), dtype, requires_grad, "ones_like")


def full_like(input, fill_value, dtype=None, requires_grad=False):
    return _like(input, lambda xp, a, d: xp.full(a.shape, fill_value, dtype=d), dtype, requires_grad, "full_like")


def _random(kind, size, dtype, requires_grad, device):
    dtype = _as_dtype(_or(dtype, np.float32), kind)
    if dtype.kind != "f":
        raise TypeError(f"{kind}: needs a floating point dtype, got {dtype}")
    array = backend.random_array("uniform" if kind == "rand" else "normal", size, dtype,
                                 backend.default_device() if device is None else device)
    return _finish(array, requires_grad)


def rand(*size, dtype=None, requires_grad=False, device=None):
    """Uniform samples in [0, 1) from the backend's seeded generator (see ``manual_seed``)."""
    return _random("rand", _size(size, "rand"), dtype, requires_grad, device)


def randn(*size, dtype=None, requires_grad=False, device=None):
    """Standard normal samples from the backend's seeded generator (see ``manual_seed``)."""
    return _random("randn", _size(size, "randn"), dtype, requires_grad, device)


def rand_like(input, dtype=None, requires_grad=False):
    check_tensor(input, "input", "rand_like")
    return _random("rand", input.shape, _or(dtype, input.dtype), requires_grad, input.device)


def randn_like(input, dtype=None, requires_grad=False):
    check_tensor(input, "input", "randn_like")
    return _random("randn", input.shape, _or(dtype, input.dtype), requires_grad, input.device)


def arange(start, end=None, step=1, dtype=None, requires_grad=False, device=None):
    """Values from ``start`` up to (not including) ``end``; int64 for ints, else float32."""
    if end is None:
        start, end = 0, start
    for name, value in (("start", start), ("end", end), ("step", step)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"arange: {name} must be a number, got {type(value).__name__}")
        if not math.isfinite(value):
            raise ValueError(f"arange: {name} must be finite, got {value}")
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (start, end, step))
        dtype = np.int64 if ints else np.float32
    dtype = _as_dtype(dtype, "arange")
    count = np.ceil((end - start) / step)
    if not count < np.iinfo(np.intp).max:  # a step like 5e-324 (int(inf) would raise OverflowError)
        raise ValueError(f"arange: the range from {start} to {end} by {step} holds too many values")
    n = max(int(count), 0)
    values = start + step * np.arange(n, dtype=np.float64 if dtype.kind == "f" else np.int64)
    return _finish(_place(values.astype(dtype), device), requires_grad)

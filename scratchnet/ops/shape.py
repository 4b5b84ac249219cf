"""Shape ops: reshape, permute, broadcast/sum_to, cat, stack, pad, indexing, casts.

None of these change values, so every backward is another shape op applied to
the gradient: reshape back, permute back, sum back over broadcast dims, slice
the pieces of a concatenation, scatter-add into the indexed positions.
"""

import numpy as np

from ..autograd import Function
from ..backend import array_module, device_of, to_device
from ..tensor import Tensor
from ._helpers import check_tensor, float_sum, is_channels_last, normalize_dim, shape_arg, to_channels_last


# --------------------------------------------------------------------------- reshape and permute


class Reshape(Function):
    """y = x viewed with a new shape;  dx = dy reshaped back.

    A gradient takes the memory layout of the array it is the gradient of: flattening a conv's
    channels-last (N, C, H, W) output copies it into C order, and reshaping the gradient back gives a
    C-order array, so that one is copied into channels-last memory (``channels_last``). Otherwise
    every elementwise op of the backward below would mix the two layouts (NumPy then strides through
    one of them) and the next conv would copy it anyway."""

    __slots__ = ("shape", "channels_last")

    def __init__(self, shape, channels_last=False):
        self.shape = shape
        self.channels_last = channels_last

    def forward(self, a):
        y = a.reshape(self.shape)
        return to_channels_last(y) if self.channels_last else y

    def backward(self, gy):
        x = self.inputs[0]
        if is_channels_last(x.data) and not is_channels_last(gy.data):
            return Reshape(x.shape, channels_last=True)(gy)
        return reshape(gy, x.shape)


def reshape(input, *shape):
    """Same data, new shape (one size may be -1). ``view`` is the same op here."""
    check_tensor(input, "input", "reshape")
    shape = shape_arg(shape, "reshape")
    if any(n < -1 for n in shape):  # NumPy would take any negative size as the unknown one
        raise ValueError(f"reshape: invalid shape {shape} (sizes must be >= 0, or -1 for one unknown size)")
    if shape == input.shape:
        return input
    return Reshape(shape)(input)


def flatten(input, start_dim=0, end_dim=-1):
    """Merge dims ``start_dim..end_dim`` into one; a 0-d tensor becomes shape (1,)."""
    check_tensor(input, "input", "flatten")
    shape = input.shape
    if not shape:
        return reshape(input, (1,))
    s = normalize_dim(start_dim, len(shape), "flatten")
    e = normalize_dim(end_dim, len(shape), "flatten")
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    merged = 1
    for n in shape[s : e + 1]:
        merged *= n
    return reshape(input, shape[:s] + (merged,) + shape[e + 1 :])  # not -1: empty tensors flatten too


def squeeze(input, dim=None):
    """Drop size-1 dims (all, or just ``dim``; a dim whose size is not 1 is left alone, as in PyTorch)."""
    check_tensor(input, "input", "squeeze")
    shape = input.shape
    if dim is None:
        return reshape(input, tuple(n for n in shape if n != 1))
    if not isinstance(dim, (int, np.integer, tuple, list)):
        raise TypeError(f"squeeze: dim must be an int or a sequence of ints, got {type(dim).__name__}")
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    axes = {normalize_dim(d, len(shape), "squeeze") for d in dims}
    return reshape(input, tuple(n for i, n in enumerate(shape) if not (i in axes and n == 1)))


def unsqueeze(input, dim):
    """Insert a size-1 dim at position ``dim`` (in [-ndim-1, ndim])."""
    check_tensor(input, "input", "unsqueeze")
    shape = input.shape
    d = normalize_dim(dim, len(shape) + 1, "unsqueeze")
    return reshape(input, shape[:d] + (1,) + shape[d:])


class Permute(Function):
    """y = x with its axes reordered;  dx = dy with the inverse order."""

    __slots__ = ("axes",)

    def __init__(self, axes):
        self.axes = axes

    def forward(self, a):
        return a.transpose(self.axes)

    def backward(self, gy):
        return Permute(tuple(np.argsort(self.axes)))(gy)


def permute(input, *dims):
    """Reorder dims: ``y.shape[i] == x.shape[dims[i]]``."""
    check_tensor(input, "input", "permute")
    dims = shape_arg(dims, "permute")
    n = input.ndim
    if len(dims) != n:
        raise ValueError(f"permute: got {len(dims)} dims {dims} for a tensor with {n} dims")
    axes = tuple(normalize_dim(d, n, "permute") for d in dims)
    if sorted(axes) != list(range(n)):
        raise ValueError(f"permute: dims {dims} are not a permutation of 0..{n - 1}")
    if axes == tuple(range(n)):
        return input
    return Permute(axes)(input)


def transpose(input, dim0, dim1):
    """Swap two dims."""
    check_tensor(input, "input", "transpose")
    n = input.ndim
    axes = list(range(n))
    d0, d1 = normalize_dim(dim0, n, "transpose"), normalize_dim(dim1, n, "transpose")
    if d0 == d1:  # also every valid pair on a 0-d tensor
        return input
    axes[d0], axes[d1] = axes[d1], axes[d0]
    return permute(input, axes)


# --------------------------------------------------------------------------- broadcasting


class BroadcastTo(Function):
    """y = x repeated along broadcast dims;  dx = dy summed back to x's shape."""

    name = "broadcast_to"

    __slots__ = ("shape",)

    def __init__(self, shape):
        self.shape = shape

    def forward(self, a):
        return array_module(a).broadcast_to(a, self.shape)

    def backward(self, gy):
        return sum_to(gy, self.inputs[0].shape)


class SumTo(Function):
    """y = x summed down to ``shape`` (the reverse of broadcasting);  dx = dy broadcast back."""

    name = "sum_to"

    __slots__ = ("shape",)

    def __init__(self, shape):
        self.shape = shape

    def forward(self, a):
        lead = a.ndim - len(self.shape)
        axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(self.shape) if n == 1 and a.shape[lead + i] != 1)
        y = float_sum(a, axes, keepdims=True)
        return y.reshape(self.shape) if lead else y

    def backward(self, gy):
        return broadcast_to(gy, self.inputs[0].shape)


def broadcast_to(input, *shape):
    """Broadcast to ``shape`` (NumPy rules); the gradient is summed back."""
    check_tensor(input, "input", "broadcast_to")
    shape = shape_arg(shape, "broadcast_to")
    if shape == input.shape:
        return input
    return BroadcastTo(shape)(input)


def expand(input, *sizes):
    """PyTorch's expand: broadcast, with -1 meaning 'keep this dim's size'."""
    check_tensor(input, "input", "expand")
    sizes = shape_arg(sizes, "expand")
    lead = len(sizes) - input.ndim
    if lead < 0:
        raise ValueError(f"expand: got {len(sizes)} sizes {sizes} for a tensor of shape {tuple(input.shape)}")
    shape = tuple(input.shape[i - lead] if (n == -1 and i >= lead) else n for i, n in enumerate(sizes))
    return broadcast_to(input, shape)


def sum_to(input, shape):
    """Sum ``input`` down to ``shape``: the gradient rule of every broadcasting op."""
    if not isinstance(input, Tensor):
        check_tensor(input, "input", "sum_to")
    if input.shape == shape:
        return input
    return SumTo(tuple(shape))(input)


# --------------------------------------------------------------------------- joining and padding


class Cat(Function):
    """y = the inputs joined along ``axis``;  each dx is its slice of dy."""

    __slots__ = ("axis",)

    def __init__(self, axis):
        self.axis = axis

    def forward(self, *arrays):
        return array_module(arrays[0]).concatenate(arrays, axis=self.axis)

    def backward(self, gy):
        grads, start = [], 0
        lead = (slice(None),) * self.axis
        for x, need in zip(self.inputs, self.needs):
            n = x.shape[self.axis]
            grads.append(gy[lead + (slice(start, start + n),)] if need else None)
            start += n
        return tuple(grads)


def _tensor_list(tensors, op):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expected a list or tuple of tensors, got {type(tensors).__name__}")
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty sequence of tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: element {i} is a {type(t).__name__}, not a Tensor")
    return tensors


def cat(tensors, dim=0):
    """Join tensors along an existing dim; all other dims must match."""
    tensors = _tensor_list(tensors, "cat")
    axis = normalize_dim(dim, tensors[0].ndim, "cat")
    if tensors[0].ndim == 0:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated")
    return Cat(axis)(*tensors)


class Stack(Function):
    """y = the inputs stacked along a new ``axis``;  dx_i = dy[..., i, ...]."""

    __slots__ = ("axis",)

    def __init__(self, axis):
        self.axis = axis

    def forward(self, *arrays):
        return array_module(arrays[0]).stack(arrays, axis=self.axis)

    def backward(self, gy):
        lead = (slice(None),) * self.axis
        return tuple(gy[lead + (i,)] if need else None for i, need in enumerate(self.needs))


def stack(tensors, dim=0):
    """Join equally shaped tensors along a new dim."""
    tensors = _tensor_list(tensors, "stack")
    axis = normalize_dim(dim, tensors[0].ndim + 1, "stack")
    return Stack(axis)(*tensors)


class Pad(Function):
    """Constant padding; negative amounts crop.

    y = x with ``widths[i] = (before, after)`` added around axis i; the
    gradient of padding by w is padding dy by -w (cropping what was added,
    adding zeros where x was cropped).
    """

    __slots__ = ("widths", "value")

    def __init__(self, widths, value):
        self.widths = widths
        self.value = value

    def forward(self, a):
        crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(self.widths, a.shape))
        a = a[crop]
        grow = tuple((max(lo, 0), max(hi, 0)) for lo, hi in self.widths)
        return array_module(a).pad(a, grow, mode="constant", constant_values=self.value)

    def backward(self, gy):
        return Pad(tuple((-lo, -hi) for lo, hi in self.widths), 0)(gy)


def pad(input, pad, mode="constant", value=0.0):
    """``F.pad``: ``pad = (left, right, top, bottom, ...)`` from the last dim backwards."""
    check_tensor(input, "input", "pad")
    if mode != "constant":
        raise ValueError(f"pad: mode {mode!r} is not supported; only 'constant' is")
    if not isinstance(pad, (tuple, list)):
        raise TypeError(f"pad: padding must be a tuple of ints, got {type(pad).__name__}")
    pad = shape_arg((tuple(pad),), "pad")
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(
            f"pad: padding {pad} must have an even length of at most 2 * ndim = {2 * input.ndim} "
            f"for a tensor of shape {tuple(input.shape)}"
        )
    widths = [(0, 0)] * input.ndim
    for k in range(len(pad) // 2):
        widths[input.ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    for (lo, hi), n in zip(widths, input.shape):
        if n + lo + hi < 0 or -lo > n or -hi > n:
            raise ValueError(f"pad: padding {pad} crops more than the size of a dim of shape {tuple(input.shape)}")
    if not any(lo or hi for lo, hi in widths):  # nothing to do (and NumPy cannot pad a 0-d array at all)
        return input
    return Pad(tuple(widths), value)(input)


# --------------------------------------------------------------------------- indexing


def _normalize_key(key, xp, shape):
    """Turn Tensors and lists in an index into arrays, and boolean masks into integer indices.

    Integer arrays make later scatter-add one code path: ``x[mask]`` and
    ``x[mask.nonzero()]`` select the same elements. A mask must have the shape
    of the dims it indexes (NumPy and PyTorch check that; the integer indices
    made from a shorter mask would silently pick elements).
    """
    if not isinstance(key, tuple):
        key = (key,)
    parts = []
    for k in key:
        if isinstance(k, Tensor):
            k = k.data
        if isinstance(k, list) or (hasattr(k, "dtype") and not isinstance(k, np.integer)):
            k = xp.asarray(k)
            if k.dtype != bool and k.dtype.kind not in "iu":
                raise IndexError(f"getitem: index arrays must be integer or boolean, got {k.dtype}")
            if k.dtype == bool and k.ndim == 0:
                raise IndexError("getitem: a 0-d boolean index is not supported; index with a boolean array")
        parts.append(k)
    is_mask = [hasattr(k, "dtype") and k.dtype == bool for k in parts]
    used = sum(k.ndim if m else 0 if (k is None or k is Ellipsis) else 1 for k, m in zip(parts, is_mask))
    out, dim = [], 0
    for k, mask in zip(parts, is_mask):
        if k is Ellipsis:
            dim += max(len(shape) - used, 0)
        elif mask:
            dims = tuple(shape[dim : dim + k.ndim])
            if k.shape != dims:
                raise IndexError(
                    f"getitem: boolean index of shape {k.shape} does not match the indexed dims {dims} "
                    f"of the tensor of shape {tuple(shape)}"
                )
            out.extend(k.nonzero())
            dim += k.ndim
            continue
        elif k is not None:
            dim += 1
        out.append(k)
    return tuple(out)


def _is_advanced(key):
    return any(hasattr(k, "dtype") and not isinstance(k, np.integer) for k in key)


class GetItem(Function):
    """y = x[key];  dx = zeros with dy scatter-added at ``key`` (repeated indices add up)."""

    __slots__ = ("key",)
    saved = ("key",)

    def __init__(self, key):
        self.key = key

    def forward(self, a):
        return a[self.key]

    def backward(self, gy):
        return IndexAdd(self.key, self.inputs[0].shape)(gy)


class IndexAdd(Function):
    """y = zeros(shape) with x added at ``key``: the gradient of ``x[key]``;  dx = dy[key]."""

    __slots__ = ("key", "shape")
    saved = ("key",)

    def __init__(self, key, shape):
        self.key = key
        self.shape = shape

    def forward(self, g):
        xp = array_module(g)
        out = xp.zeros(self.shape, dtype=g.dtype)
        if not _is_advanced(self.key):
            out[self.key] = g  # basic indexing hits each element once
        elif xp is np:
            np.add.at(out, self.key, g)
        else:
            import cupyx

            cupyx.scatter_add(out, self.key, g)
        return out

    def backward(self, ggx):
        return GetItem(self.key)(ggx)


def getitem(input, key):
    """``x[key]`` with ints, slices, None, Ellipsis, integer arrays and boolean masks."""
    check_tensor(input, "input", "getitem")
    return GetItem(_normalize_key(key, array_module(input.data), input.shape))(input)


# --------------------------------------------------------------------------- dtype and device


class Cast(Function):
    """y = x converted to ``dtype``;  dx = dy converted back."""

    __slots__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, a):
        return a.astype(self.dtype)

    def backward(self, gy):
        return Cast(self.inputs[0].dtype)(gy)


class ToDevice(Function):
    """y = x copied to ``device``;  dx = dy copied back to x's device."""

    __slots__ = ("device",)

    def __init__(self, device):
        self.device = device

    def forward(self, a):
        return to_device(a, self.device)

    def backward(self, gy):
        return ToDevice(device_of(self.inputs[0].data))(gy)

"""2-D max and average pooling over (N, C, H, W), by a loop over kernel offsets.

For kernel offset (i, j) the window elements it picks form one strided slice
of the padded input, ``x_pad[:, :, i*d : i*d + s*(Ho-1) + 1 : s, j*d : ... : s]``
(shape (N, C, Ho, Wo)), so pooling is kh*kw elementwise passes over
output-sized arrays: no im2col copy.

Both poolings are linear maps of their input once the choice is fixed
(average: weights 1/divisor; max: the arg-max of each window), so each has a
*gather* (forward) and a *scatter* (its adjoint, the backward), and the
backward of one is the other: derivatives of any order come for free.
"""

import numbers
from collections import namedtuple

from ..autograd import Function
from ..backend import array_module
from ..tensor import Tensor
from ._helpers import is_channels_last
from .conv import _pair

Window = namedtuple("Window", "kernel stride padding dilation in_hw out_hw extra")


def _offsets(win):
    """(k, slices) for every kernel offset: the strided slice of the padded input it reads."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = win.kernel, win.stride, win.dilation, win.out_hw
    for i in range(kh):
        for j in range(kw):
            yield i * kw + j, (
                slice(None),
                slice(None),
                slice(i * dh, i * dh + sh * (ho - 1) + 1, sh),
                slice(j * dw, j * dw + sw * (wo - 1) + 1, sw),
            )


def _lowest(x):
    """The padding of max pooling: -inf, or the smallest value of an integer (False for bool) dtype."""
    xp = array_module(x)
    if x.dtype.kind == "f":
        return -xp.inf
    return xp.iinfo(x.dtype).min if x.dtype.kind in "iu" else False


def _pad(x, win, value):
    (ph, pw), (eh, ew) = win.padding, win.extra
    if not (ph or pw or eh or ew):
        return x
    h, w = x.shape[2:]
    out = array_module(x).full_like(x, value, shape=(*x.shape[:2], h + 2 * ph + eh, w + 2 * pw + ew))  # x's memory order
    out[:, :, ph : ph + h, pw : pw + w] = x
    return out


def _crop(x_pad, win):
    (ph, pw), (h, w) = win.padding, win.in_hw
    return x_pad[:, :, ph : ph + h, pw : pw + w]


def _gather(x, win, weight):
    """y = sum over offsets k of weight(k) * x_pad[slice k]."""
    x_pad = _pad(x, win, 0)
    y = None
    for k, sl in _offsets(win):
        term = x_pad[sl] * weight(k)
        y = term if y is None else y + term
    return y


def _tiles(win):
    """True when the windows tile the input exactly (stride = kernel, no padding or dilation, sizes divisible)."""
    return (win.stride == win.kernel and win.padding == (0, 0) and win.dilation == (1, 1)
            and all(n * k == size for n, k, size in zip(win.out_hw, win.kernel, win.in_hw)))


def _scatter(g, win, weight):
    """The adjoint of _gather: x_pad[slice k] += weight(k) * g for every offset k, then crop the padding."""
    xp = array_module(g)
    (ph, pw), (eh, ew), (h, w) = win.padding, win.extra, win.in_hw
    if _tiles(win):  # each input element is in exactly one window: write, don't add
        (kh, kw), (ho, wo) = win.kernel, win.out_hw
        n, c = g.shape[:2]
        if is_channels_last(g):  # (N, Ho, kh, Wo, kw, C) memory, seen as (N, C, Ho, kh, Wo, kw): the result stays channels-last
            out = xp.empty((n, ho, kh, wo, kw, c), dtype=g.dtype).transpose(0, 5, 1, 2, 3, 4)
        else:
            out = xp.empty((n, c, ho, kh, wo, kw), dtype=g.dtype)
        for k, _ in _offsets(win):
            xp.multiply(g, weight(k), out=out[:, :, :, k // kw, :, k % kw])
        return out.reshape(g.shape[:2] + (h, w))
    x_pad = xp.zeros_like(g, shape=g.shape[:2] + (h + 2 * ph + eh, w + 2 * pw + ew))  # g's memory order
    for k, sl in _offsets(win):
        x_pad[sl] += weight(k) * g
    return _crop(x_pad, win)


# --------------------------------------------------------------------------- max pooling


class MaxPool2d(Function):
    """y = the max of each window (padding counts as -inf);  dx = dy sent to each window's arg-max.

    The forward is a running ``maximum`` over the kernel offsets (NaN
    propagates, as in PyTorch); only a backward pass works out where each
    maximum came from.
    """

    __slots__ = ("win",)
    uses_output = True

    def __init__(self, win):
        self.win = win

    def forward(self, x):
        xp = array_module(x)
        x_pad = _pad(x, self.win, _lowest(x))
        slices = [sl for _, sl in _offsets(self.win)]
        if len(slices) == 1:
            return x_pad[slices[0]].copy(order="K")
        y = xp.maximum(x_pad[slices[0]], x_pad[slices[1]])  # a new array in x's memory order
        for sl in slices[2:]:
            xp.maximum(y, x_pad[sl], out=y)
        return y

    def backward(self, gy):
        return MaxPoolScatter(self.win, _argmax_masks(self.inputs[0].data, self._out_data, self.win))(gy)


def _argmax_masks(x, y, win):
    """One boolean mask per kernel offset: where that offset holds its window's first maximum."""
    xp = array_module(x)
    x_pad = _pad(x, win, _lowest(x))
    nan = xp.isnan(y) if x.dtype.kind == "f" else None
    has_nan = nan is not None and bool(nan.any())
    offsets = list(_offsets(win))
    found = None
    masks = []
    for k, sl in offsets:
        if k == len(offsets) - 1 and found is not None and not has_nan:
            masks.append(~found)  # every window holds its maximum somewhere: where no earlier offset did, here
            break
        v = x_pad[sl]
        hit = v == y
        if has_nan:  # a NaN window's gradient goes to its first NaN
            hit |= nan & xp.isnan(v)
        if found is None:
            found = hit.copy(order="K")
        else:
            hit &= ~found
            found |= hit
        masks.append(hit)
    return masks


class MaxPoolScatter(Function):
    """dx of max pooling: g added at each window's arg-max;  its own backward gathers from there."""

    __slots__ = ("win", "masks")
    saved = ("masks",)

    def __init__(self, win, masks):
        self.win = win
        self.masks = masks

    def forward(self, g):
        return _scatter(g, self.win, lambda k: self.masks[k])

    def backward(self, gg):
        return MaxPoolGather(self.win, self.masks)(gg)


class MaxPoolGather(Function):
    """y = x read at each window's (fixed) arg-max;  its backward scatters back there."""

    __slots__ = ("win", "masks")
    saved = ("masks",)

    def __init__(self, win, masks):
        self.win = win
        self.masks = masks

    def forward(self, x):
        return _gather(x, self.win, lambda k: self.masks[k])

    def backward(self, gy):
        return MaxPoolScatter(self.win, self.masks)(gy)


# --------------------------------------------------------------------------- average pooling


class AvgPool2d(Function):
    """y = sum of each window / divisor;  dx = dy / divisor scattered over each window."""

    __slots__ = ("win", "inv")

    def __init__(self, win, inv):
        self.win = win
        self.inv = inv  # 1 / divisor: a number, or an (Ho, Wo) array

    def forward(self, x):
        return _gather(x, self.win, lambda k: 1) * self._inv(x)

    def backward(self, gy):
        return AvgPoolScatter(self.win, self.inv)(gy)

    def _inv(self, like):
        return self.inv if isinstance(self.inv, float) else self.inv.astype(like.dtype, copy=False)


class AvgPoolScatter(AvgPool2d):
    """dx of average pooling (its adjoint); its own backward is average pooling again."""

    def forward(self, g):
        return _scatter(g * self._inv(g), self.win, lambda k: 1)

    def backward(self, gg):
        return AvgPool2d(self.win, self.inv)(gg)


# --------------------------------------------------------------------------- public functions


def _window(op, input, kernel_size, stride, padding, dilation, ceil_mode):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim != 4:
        raise ValueError(f"{op}: expected a 4-D input (N, C, H, W), got shape {tuple(input.shape)}")
    if 0 in input.shape[2:]:  # windows of padding only (avg: 1 / 0); PyTorch refuses these too
        raise ValueError(f"{op}: expected an input with non-empty H and W, got shape {tuple(input.shape)}")
    kernel = _pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None or stride == () else _pair(stride, "stride", op)
    padding, dilation = _pair(padding, "padding", op), _pair(dilation, "dilation", op)
    if min(kernel) <= 0 or min(stride) <= 0 or min(dilation) <= 0:
        raise ValueError(
            f"{op}: kernel_size, stride and dilation must be positive, got {kernel}, {stride} and {dilation}"
        )
    if min(padding) < 0 or any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ValueError(f"{op}: padding must be between 0 and half the kernel size {kernel}, got {padding}")
    out, extra = [], []
    for size, k, s, p, d in zip(input.shape[2:], kernel, stride, padding, dilation):
        span = size + 2 * p - d * (k - 1) - 1
        if span < 0:
            raise ValueError(
                f"{op}: kernel {k} (dilation {d}) is larger than the padded input size {size} + 2*{p}"
            )
        n = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (n - 1) * s >= size + p:  # the last window must start inside the input or left padding
            n -= 1
        out.append(n)
        extra.append(max(0, (n - 1) * s + d * (k - 1) + 1 - (size + 2 * p)))
    return Window(kernel, stride, padding, dilation, tuple(input.shape[2:]), tuple(out), tuple(extra))


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over each window, as ``torch.nn.functional.max_pool2d`` (padding counts as -inf)."""
    if return_indices:
        raise ValueError("max_pool2d: return_indices=True is not supported")
    win = _window("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode)
    return MaxPool2d(win)(input)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over each window, as ``torch.nn.functional.avg_pool2d``.

    The divisor is the window's size clipped to the padded input
    (``count_include_pad=True``, the default) or to the input itself, unless
    ``divisor_override`` is given.
    """
    win = _window("avg_pool2d", input, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None:
        if isinstance(divisor_override, bool) or not isinstance(divisor_override, numbers.Integral):
            raise TypeError(f"avg_pool2d: divisor_override must be an int, got {divisor_override!r}")
        if divisor_override <= 0:
            raise ValueError(f"avg_pool2d: divisor_override must be positive, got {divisor_override}")
        inv = 1.0 / divisor_override
    else:
        inv = _inverse_divisor(win, count_include_pad, array_module(input.data))
    return AvgPool2d(win, inv)(input)


def _inverse_divisor(win, count_include_pad, xp):
    """1 / (number of counted elements) for every output position, as a number when all are equal."""
    counts = []
    for size, k, s, p, n in zip(win.in_hw, win.kernel, win.stride, win.padding, win.out_hw):
        start = xp.arange(n) * s  # in padded coordinates
        lo, hi = (0, size + 2 * p) if count_include_pad else (p, p + size)
        counts.append(xp.minimum(start + k, hi) - xp.maximum(start, lo))
    divisor = counts[0][:, None] * counts[1][None, :]
    if bool((divisor == divisor.flat[0]).all()):
        return 1.0 / float(divisor.flat[0])
    return 1.0 / divisor.astype(xp.float64)

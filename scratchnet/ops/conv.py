"""2-D convolution and transposed convolution by im2col / col2im and one GEMM.

Shapes (PyTorch's layouts):
    conv2d:            x (N, C, H, W),  weight (O, C, kh, kw)  ->  y (N, O, Ho, Wo)
    conv_transpose2d:  z (N, I, H, W),  weight (I, O, kh, kw)  ->  y (N, O, Ho, Wo)
    Ho = (H + 2p - d(kh - 1) - 1) // s + 1           for conv2d
    Ho = (H - 1)s - 2p + d(kh - 1) + output_padding + 1   for conv_transpose2d

im2col turns every receptive field into a column: for kernel offset (i, j)
the input pixels it meets are the strided slice
``x_pad[:, :, i*d : i*d + s*(Ho-1) + 1 : s, j*d : ... : s]``, so a strided
*view* of shape (C, kh, kw, N, Ho, Wo) holds all of them; one contiguous copy
makes it a (C*kh*kw, N*Ho*Wo) matrix and the convolution is one matrix product
with the (O, C*kh*kw) weight. col2im is the adjoint: add each kernel offset's
rows back into its strided slice.

Three Functions close the loop for derivatives of any order, since each is
linear in each of its inputs and the adjoint of one is another:
    conv2d(x, w):             dx = conv_transpose2d(dy, w),  dw = conv2d_weight(x, dy)
    conv_transpose2d(z, w):   dz = conv2d(dy, w),            dw = conv2d_weight(dy, z)
    conv2d_weight(x, g):      dx = conv_transpose2d(g, dW),  dg = conv2d(x, dW)
"""

import numbers
from collections import namedtuple

from ..autograd import Function
from ..backend import array_module
from ..tensor import Tensor
from .shape import reshape

Geometry = namedtuple("Geometry", "stride padding dilation")


def _pair(value, name, op):
    """An int or a pair of ints, as a tuple of two ints (1.5 or True is a TypeError, never truncated)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
        a, b = value
    else:
        a = b = value
    if any(isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in (a, b)):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    return int(a), int(b)


def _zero_pad(x, ph, pw):
    """x (N, C, H, W) with ph rows and pw columns of zeros on each side: one allocation and one copy
    (``xp.pad`` does the same work through several Python-level steps, which shows on small inputs)."""
    n, c, h, w = x.shape
    out = array_module(x).zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    out[:, :, ph : ph + h, pw : pw + w] = x
    return out


def _im2col(x, kernel, out_hw, geo):
    """(C*kh*kw, N*Ho*Wo) matrix of receptive fields of x (N, C, H, W): a strided view, one copy."""
    xp = array_module(x)
    (kh, kw), (ho, wo) = kernel, out_hw
    (sh, sw), (ph, pw), (dh, dw) = geo
    if ph or pw:
        x = _zero_pad(x, ph, pw)
    n, c = x.shape[:2]
    s_n, s_c, s_h, s_w = x.strides
    view = xp.lib.stride_tricks.as_strided(
        x, shape=(c, kh, kw, n, ho, wo), strides=(s_c, s_h * dh, s_w * dw, s_n, s_h * sh, s_w * sw)
    )
    return xp.ascontiguousarray(view).reshape(c * kh * kw, n * ho * wo)


def _col2im(cols, out_shape, kernel, in_hw, geo, batch_last):
    """Adjoint of _im2col: cols (kh, kw, C, N, H, W), or (kh, kw, C, H, W, N) with ``batch_last``,
    added into an (N, C, Hout, Wout) image.

    Kernel offsets lead, so each offset's block ``cols[i, j]`` is contiguous. Each block is added
    into a strided slice (every s-th row and column), and NumPy's cost there is per contiguous run,
    so with ``batch_last`` the blocks are (C, H, W, N) and the runs are N long instead of W (7 or 14
    in the demos, N = 64): the DCGAN's 4x4 stride-2 col2im takes ~4 ms instead of ~7.
    """
    xp = array_module(cols)
    (sh, sw), (ph, pw), (dh, dw) = geo
    (kh, kw), (h, w), (hout, wout) = kernel, in_hw, out_shape
    c, n = cols.shape[2], (cols.shape[5] if batch_last else cols.shape[3])
    hw = (hout + 2 * ph, wout + 2 * pw)
    full = xp.zeros((c, *hw, n) if batch_last else (c, n, *hw), dtype=cols.dtype)
    rows = (slice(None),) * (1 if batch_last else 2)  # the axes before H and W: C, or C and N
    for i in range(kh):
        for j in range(kw):
            at = (*rows, slice(i * dh, i * dh + sh * (h - 1) + 1, sh), slice(j * dw, j * dw + sw * (w - 1) + 1, sw))
            full[at] += cols[i, j]
    if batch_last:
        return xp.ascontiguousarray(full[:, ph : ph + hout, pw : pw + wout].transpose(3, 0, 1, 2))
    return xp.ascontiguousarray(full[:, :, ph : ph + hout, pw : pw + wout].transpose(1, 0, 2, 3))


def _conv_out(size, k, s, p, d):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


class Conv2d(Function):
    """y[n, o] = sum over c, i, j of w[o, c, i, j] * x_pad[n, c, h*s + i*d, w*s + j*d].

    The im2col matrix is kept for backward: the weight gradient multiplies by the same matrix,
    so building it again would copy the receptive fields twice. (It is freed with the graph, and
    dropped at once when no graph is recorded.)"""

    __slots__ = ("geo", "cols")
    saved = ("cols",)

    def __init__(self, geo):
        self.geo = geo

    def forward(self, x, w):
        (o, _, kh, kw), (n, _, h, wd) = w.shape, x.shape
        (sh, sw), (ph, pw), (dh, dw) = self.geo
        ho, wo = _conv_out(h, kh, sh, ph, dh), _conv_out(wd, kw, sw, pw, dw)
        cols = self.cols = _im2col(x, (kh, kw), (ho, wo), self.geo)
        y = w.reshape(o, cols.shape[0]) @ cols  # (O, N*Ho*Wo): the one GEMM (no -1: O may be 0)
        # contiguous NCHW: later elementwise ops keep their input's memory order, so a transposed
        # view here would make every op downstream stride through memory
        return array_module(y).ascontiguousarray(y.reshape(o, n, ho, wo).transpose(1, 0, 2, 3))

    def backward(self, gy):
        x, w = self.inputs
        gx = gw = None
        if self.needs[0]:
            gx = ConvTranspose2d(self.geo, _output_padding(x.shape, gy.shape, w.shape, self.geo))(gy, w)
        if self.needs[1]:
            gw = Conv2dWeight(self.geo, w.shape[2:], self.cols)(x, gy)
        return gx, gw


def _output_padding(x_shape, y_shape, w_shape, geo):
    """The output_padding that makes conv_transpose2d map y's size back to x's exactly."""
    (sh, sw), (ph, pw), (dh, dw) = geo
    kh, kw = w_shape[2:]
    oph = x_shape[2] - ((y_shape[2] - 1) * sh - 2 * ph + dh * (kh - 1) + 1)
    opw = x_shape[3] - ((y_shape[3] - 1) * sw - 2 * pw + dw * (kw - 1) + 1)
    return oph, opw


class ConvTranspose2d(Function):
    """y = the adjoint of conv2d(., w) applied to z: each input pixel scatters z[n, i] * w[i, o] into y."""

    __slots__ = ("geo", "output_padding")

    def __init__(self, geo, output_padding):
        self.geo = geo
        self.output_padding = output_padding

    def forward(self, z, w):
        (i_ch, o, kh, kw), (n, _, h, wd) = w.shape, z.shape
        (sh, sw), (ph, pw), (dh, dw) = self.geo
        oph, opw = self.output_padding
        hout = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
        wout = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
        batch_last = n > wd  # the longer contiguous run for _col2im's strided adds
        zm = z.transpose(1, 2, 3, 0) if batch_last else z.transpose(1, 0, 2, 3)  # columns (H, W, N) or (N, H, W)
        zm = zm.reshape(i_ch, n * h * wd)
        wm = w.transpose(0, 2, 3, 1).reshape(i_ch, kh * kw * o)  # rows of cols ordered (kh, kw, O)
        cols = (wm.T @ zm).reshape(kh, kw, o, *((h, wd, n) if batch_last else (n, h, wd)))  # the one GEMM
        return _col2im(cols, (hout, wout), (kh, kw), (h, wd), self.geo, batch_last)

    def backward(self, gy):
        z, w = self.inputs
        gz = gw = None
        if self.needs[0]:
            gz = Conv2d(self.geo)(gy, w)
        if self.needs[1]:
            gw = Conv2dWeight(self.geo, w.shape[2:])(gy, z)
        return gz, gw


class Conv2dWeight(Function):
    """dW of conv2d: dw[o, c, i, j] = sum over n, h, w of g[n, o, h, w] * x_pad[n, c, h*s + i*d, w*s + j*d]."""

    __slots__ = ("geo", "kernel", "cols")

    def __init__(self, geo, kernel, cols=None):
        self.geo = geo
        self.kernel = tuple(kernel)
        self.cols = cols  # x's im2col matrix when the caller has it already (Conv2d's backward)

    def forward(self, x, g):
        n, o, ho, wo = g.shape
        c = x.shape[1]
        cols = _im2col(x, self.kernel, (ho, wo), self.geo) if self.cols is None else self.cols
        self.cols = None  # used once; not kept for backward
        gm = g.transpose(1, 0, 2, 3).reshape(o, n * ho * wo)
        return (gm @ cols.T).reshape(o, c, *self.kernel)

    def backward(self, gw):
        x, g = self.inputs
        gx = gg = None
        if self.needs[0]:
            gx = ConvTranspose2d(self.geo, _output_padding(x.shape, g.shape, gw.shape, self.geo))(g, gw)
        if self.needs[1]:
            gg = Conv2d(self.geo)(x, gw)
        return gx, gg


# --------------------------------------------------------------------------- public functions


def _check_4d(t, name, op):
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    if t.ndim != 4:
        raise ValueError(f"{op}: expected a 4-D {name} (N, C, H, W), got shape {tuple(t.shape)}")


def _geometry(op, stride, padding, dilation):
    stride, padding, dilation = (_pair(v, k, op) for v, k in ((stride, "stride"), (padding, "padding"), (dilation, "dilation")))
    if min(stride) <= 0:
        raise ValueError(f"{op}: stride must be positive, got {stride}")
    if min(dilation) <= 0:
        raise ValueError(f"{op}: dilation must be positive, got {dilation}")
    if min(padding) < 0:
        raise ValueError(f"{op}: padding must be non-negative, got {padding}")
    return Geometry(stride, padding, dilation)


def _add_bias(y, bias, channels, op):
    if bias is None:
        return y
    if not isinstance(bias, Tensor):
        raise TypeError(f"{op}: bias must be a Tensor, got {type(bias).__name__}")
    if bias.shape != (channels,):
        raise ValueError(f"{op}: bias must have shape ({channels},), got {tuple(bias.shape)}")
    return y + reshape(bias, (1, channels, 1, 1))


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation, as ``torch.nn.functional.conv2d`` (``padding`` may be an int, a pair,
    'valid' or 'same')."""
    op = "conv2d"
    _check_4d(input, "input", op)
    _check_4d(weight, "weight", op)
    if groups != 1:
        raise ValueError(f"{op}: only groups=1 is supported, got groups={groups}")
    kh, kw = weight.shape[2:]
    if padding == "valid":
        padding = 0
    elif padding == "same":
        return _conv2d_same(input, weight, bias, stride, dilation)
    geo = _geometry(op, stride, padding, dilation)
    if input.shape[1] != weight.shape[1]:
        raise ValueError(
            f"{op}: input has {input.shape[1]} channels but weight {tuple(weight.shape)} expects {weight.shape[1]}"
        )
    for size, k, p, d, axis in zip(input.shape[2:], (kh, kw), geo.padding, geo.dilation, ("height", "width")):
        if d * (k - 1) + 1 > size + 2 * p or k <= 0:
            raise ValueError(
                f"{op}: kernel {k} (dilation {d}) is larger than the padded input {axis} {size} + 2*{p}"
            )
    return _add_bias(Conv2d(geo)(input, weight), bias, weight.shape[0], op)


def _conv2d_same(input, weight, bias, stride, dilation):
    """padding='same': pad so that the output has the input's size (stride 1), extra on the right like PyTorch."""
    if _pair(stride, "stride", "conv2d") != (1, 1):
        raise ValueError("conv2d: padding='same' needs stride 1")
    dh, dw = _pair(dilation, "dilation", "conv2d")
    total_h, total_w = dh * (weight.shape[2] - 1), dw * (weight.shape[3] - 1)
    if total_h % 2 or total_w % 2:
        from .shape import pad

        input = pad(input, (total_w // 2, total_w - total_w // 2, total_h // 2, total_h - total_h // 2))
        return conv2d(input, weight, bias, 1, 0, dilation)
    return conv2d(input, weight, bias, 1, (total_h // 2, total_w // 2), dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed convolution (the gradient of conv2d w.r.t. its input), as
    ``torch.nn.functional.conv_transpose2d``; weight is (in_channels, out_channels, kh, kw)."""
    op = "conv_transpose2d"
    _check_4d(input, "input", op)
    _check_4d(weight, "weight", op)
    if groups != 1:
        raise ValueError(f"{op}: only groups=1 is supported, got groups={groups}")
    geo = _geometry(op, stride, padding, dilation)
    output_padding = _pair(output_padding, "output_padding", op)
    if input.shape[1] != weight.shape[0]:
        raise ValueError(
            f"{op}: input has {input.shape[1]} channels but weight {tuple(weight.shape)} expects {weight.shape[0]}"
        )
    for op_, s, d in zip(output_padding, geo.stride, geo.dilation):
        if not 0 <= op_ < max(s, d):
            raise ValueError(f"{op}: output_padding {output_padding} must be >= 0 and smaller than stride or dilation")
    kh, kw = weight.shape[2:]
    for size, k, s, p, d, extra in zip(input.shape[2:], (kh, kw), geo.stride, geo.padding, geo.dilation, output_padding):
        if k <= 0 or (size - 1) * s - 2 * p + d * (k - 1) + extra + 1 <= 0:
            raise ValueError(f"{op}: padding {geo.padding} leaves no output for input shape {tuple(input.shape)}")
    return _add_bias(ConvTranspose2d(geo, output_padding)(input, weight), bias, weight.shape[1], op)

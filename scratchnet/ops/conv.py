"""2-D convolution and transposed convolution by im2col / col2im and one GEMM, in channels-last memory.

Shapes (PyTorch's layouts):
    conv2d:            x (N, C, H, W),  weight (O, C, kh, kw)  ->  y (N, O, Ho, Wo)
    conv_transpose2d:  z (N, I, H, W),  weight (I, O, kh, kw)  ->  y (N, O, Ho, Wo)
    Ho = (H + 2p - d(kh - 1) - 1) // s + 1           for conv2d
    Ho = (H - 1)s - 2p + d(kh - 1) + output_padding + 1   for conv_transpose2d

Memory layout: the tensors are (N, C, H, W), but the arrays these ops return are channels-last in
memory (PyTorch's ``channels_last`` memory format): an (N, H, W, C) C-contiguous array seen through a
transpose. There a receptive field's row of kw pixels is kw*C adjacent numbers, so im2col copies runs
of kw*C floats (256 for a 4x4 kernel over 64 channels) where an (N, C, H, W) array gives runs of Wo (7
on a 7x7 map): the DCGAN discriminator's im2col takes 0.4 ms instead of 2.4 (timed in a loop; in a
training step, with colder caches, 1.2). And the GEMM's
(N*Ho*Wo, O) product already is the output in that layout: no transpose copy follows. Elementwise ops
keep their inputs' memory order (NumPy's order='K'), so the layout flows through batch norm and
activations into the next conv. An input in any other layout costs one transposing copy.

im2col turns every receptive field into a row: for kernel offset (i, j) the input pixels it meets are
the strided slice ``x_pad[:, i*d : i*d + s*(Ho-1) + 1 : s, j*d : ... : s, :]`` of the padded
channels-last input, so a strided *view* of shape (N, Ho, Wo, kh, kw, C) holds all of them; one
contiguous copy makes it an (N*Ho*Wo, kh*kw*C) matrix and the convolution is one matrix product with
the weight as a (kh*kw*C, O) matrix. col2im is the adjoint: add each kernel offset's block back into
its strided slice.

Three Functions close the loop for derivatives of any order, since each is
linear in each of its inputs and the adjoint of one is another:
    conv2d(x, w):             dx = conv_transpose2d(dy, w),  dw = conv2d_weight(x, dy)
    conv_transpose2d(z, w):   dz = conv2d(dy, w),            dw = conv2d_weight(dy, z)
    conv2d_weight(x, g):      dx = conv_transpose2d(g, dW),  dg = conv2d(x, dW)
"""

import functools
import numbers
from collections import namedtuple

from ..autograd import Function
from ..backend import array_module
from ..tensor import Tensor
from ._helpers import to_channels_last
from .reduction import sum as sum_over

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


def _channels_last(x):
    """x (N, C, H, W) as an (N, H, W, C) C-contiguous array: a view when its memory is channels-last
    already (always when C = 1), else one transposing copy."""
    return to_channels_last(x).transpose(0, 2, 3, 1)


def _zero_pad(x, ph, pw):
    """x (N, H, W, ...) with ph rows and pw columns of zeros on each side: one allocation, one copy, and
    zeros written on the border only (``xp.pad`` does the same work through several Python-level steps,
    which shows on small inputs)."""
    n, h, w = x.shape[:3]
    out = array_module(x).empty((n, h + 2 * ph, w + 2 * pw) + x.shape[3:], dtype=x.dtype)
    out[:, :ph] = 0
    out[:, ph + h :] = 0
    out[:, ph : ph + h, :pw] = 0
    out[:, ph : ph + h, pw + w :] = 0
    out[:, ph : ph + h, pw : pw + w] = x
    return out


def _im2col(x, kernel, out_hw, geo):
    """(N*Ho*Wo, kh*kw*C) matrix of the receptive fields of x (N, C, H, W), columns in (kh, kw, C)
    order: a strided view of the channels-last input, one copy.

    With one channel the runs of a channels-last copy would be only kw long; there the matrix is
    built as its (kh*kw, N*Ho*Wo) transpose, with runs of Wo, and returned as a transposed view
    (the GEMM takes either): 0.09 ms instead of 0.6 for the CNN's first layer."""
    xp = array_module(x)
    (kh, kw), (ho, wo) = kernel, out_hw
    (sh, sw), (ph, pw), (dh, dw) = geo
    n, c = x.shape[:2]
    if c == 1:
        x = x.reshape(n, *x.shape[2:])
        if ph or pw:
            x = _zero_pad(x, ph, pw)
        s_n, s_h, s_w = x.strides
        view = xp.lib.stride_tricks.as_strided(
            x, shape=(kh, kw, n, ho, wo), strides=(s_h * dh, s_w * dw, s_n, s_h * sh, s_w * sw)
        )
        return xp.ascontiguousarray(view).reshape(kh * kw, n * ho * wo).T
    x = _channels_last(x)
    if ph or pw:
        x = _zero_pad(x, ph, pw)
    s_n, s_h, s_w, s_c = x.strides
    view = xp.lib.stride_tricks.as_strided(
        x, shape=(n, ho, wo, kh, kw, c), strides=(s_n, s_h * sh, s_w * sw, s_h * dh, s_w * dw, s_c)
    )
    return xp.ascontiguousarray(view).reshape(n * ho * wo, kh * kw * c)


def _col2im(cols, out_hw, geo):
    """Adjoint of _im2col: cols (kh, kw, N, H, W, C) added into an (N, Hout, Wout, C) channels-last image.
    ``cols`` is the caller's scratch: it may be overwritten.

    Kernel offset (i, j) sends input pixel (y, x) to output row i*d + s*y - p and column j*d + s*x - p:
    every s-th row and column, all in one *phase* (the row's and column's remainder mod s). So the
    blocks are added into a phase-major buffer (s, s, N, Hout/s, Wout/s, C), where each lands on a
    shifted window, and one copy per phase interleaves them into the image (none for stride 1).

    When a phase has the blocks' own size (H, W) (any conv's input gradient with "same"-style padding,
    the DCGAN's 4x4 stride-2 layers) the shift is one offset in the flattened buffer: a block's rows and
    columns that fall outside the image are set to zero, and the whole block is added at that offset,
    its zeros landing harmlessly on the neighbouring row or image. One contiguous add per block: NumPy
    adds arrays whose rows are shorter than a few thousand numbers through a buffered loop at a third of
    the speed (NumPy 2.4: 45 us against 14 for 200k additions in rows of 448), and a window's rows
    would be nx*C long (448 for the CNN's conv2, 13 with one channel). The CNN's conv2 input gradient
    takes 0.39 ms instead of 0.77; otherwise each block is added into its window as it is."""
    xp = array_module(cols)
    (sh, sw) = geo.stride
    kh, kw, n, h, w, c = cols.shape
    hout, wout = out_hw
    hq, wq, zero_rows, zero_columns, blocks = _col2im_plan((kh, kw), (h, w), (hout, wout), c, geo)
    phases = xp.zeros((sh, sw, n, hq, wq, c), dtype=cols.dtype)
    if zero_rows is None:  # each block into its window
        for i, j, a, b, window, part in blocks:
            phases[(a, b, slice(None)) + window] += cols[(i, j, slice(None)) + part]
    else:  # zeros where blocks fall outside the image, then each block whole at one flat offset
        for i, rows in zero_rows:
            cols[i, :, :, rows] = 0
        for j, columns in zero_columns:
            cols[:, j, :, :, columns] = 0
        flat_phases, flat_cols = phases.reshape(sh, sw, -1), cols.reshape(kh, kw, -1)
        for i, j, a, b, to, part in blocks:  # flat_phases[a, b][k + shift] += flat_cols[i, j][k]
            flat_phases[a, b, to] += flat_cols[i, j, part]
    if sh == sw == 1:
        return phases[0, 0]
    out = xp.empty((n, hq, sh, wq, sw, c), dtype=cols.dtype)
    for a in range(sh):  # one copy per phase: with C = 1 a single transposing copy of all of them moves
        for b in range(sw):  # one number at a time (0.061 ms against 0.018 for the DCGAN's last layer)
            out[:, :, a, :, b] = phases[a, b]
    out = out.reshape(n, hq * sh, wq * sw, c)
    return out if (hq * sh, wq * sw) == (hout, wout) else xp.ascontiguousarray(out[:, :hout, :wout])


@functools.lru_cache(maxsize=256)
def _col2im_plan(kernel, in_hw, out_hw, channels, geo):
    """Where _col2im sends each kernel offset's block, worked out once per layer shape (a training
    step calls it with the same few shapes thousands of times, and the arithmetic is pure Python):
    (hq, wq, zero_rows, zero_columns, blocks). Each block is (i, j, a, b, to, part): block (i, j), or
    its part ``part``, goes into phase (a, b) at ``to``. When the phases have the blocks' size, both
    are slices of the flattened arrays that shift the block by a whole number of pixels (the part of
    it that stays inside the phase buffer), and zero_rows / zero_columns list the rows (of every block
    of offset i) and columns (of offset j) that fall outside the image; otherwise ``to`` is a window of
    the phase and the two lists are None."""
    (kh, kw), (h, w), (hout, wout) = kernel, in_hw, out_hw
    (sh, sw), (ph, pw), (dh, dw) = geo
    hq, wq = -(-hout // sh), -(-wout // sw)  # rows and columns per phase (the last ones may be spare)
    whole = (hq, wq) == (h, w)
    rows_of = [_landing(i, h, hout, sh, ph, dh) for i in range(kh)]
    columns_of = [_landing(j, w, wout, sw, pw, dw) for j in range(kw)]
    blocks = []
    for i, rows in enumerate(rows_of):
        for j, columns in enumerate(columns_of):
            if rows is None or columns is None:
                continue
            q, a = divmod(rows[1].start, sh)  # the first row it lands on is q*s + a: phase a, row q there
            u, b = divmod(columns[1].start, sw)
            (y0, y1), (x0, x1) = (rows[0].start, rows[0].stop), (columns[0].start, columns[0].stop)
            if whole:
                shift = ((q - y0) * w + u - x0) * channels
                if shift >= 0:  # target[shift:] += values[:size - shift]
                    blocks.append((i, j, a, b, slice(shift, None), slice(None, -shift or None)))
                else:  # target[:shift] += values[-shift:]
                    blocks.append((i, j, a, b, slice(None, shift), slice(-shift, None)))
            else:
                window = (slice(q, q + y1 - y0), slice(u, u + x1 - x0))
                blocks.append((i, j, a, b, window, (slice(y0, y1), slice(x0, x1))))
    if not whole:
        return hq, wq, None, None, tuple(blocks)
    zero_rows, zero_columns = [], []
    for zeros, landings, size in ((zero_rows, rows_of, h), (zero_columns, columns_of, w)):
        for i, landing in enumerate(landings):
            if landing is None:
                continue
            first, stop = landing[0].start, landing[0].stop
            if first:
                zeros.append((i, slice(None, first)))
            if stop < size:
                zeros.append((i, slice(stop, None)))
    return hq, wq, tuple(zero_rows), tuple(zero_columns), tuple(blocks)


def _landing(i, size, out_size, stride, padding, dilation):
    """Along one axis, where kernel offset i sends input positions y: to i*d + s*y - p. Returns the
    input positions that land inside the output, and the output slice they land on (None if none do)."""
    first = max(0, -(-(padding - i * dilation) // stride))  # ceil division
    stop = min(size, (out_size - 1 + padding - i * dilation) // stride + 1)
    if stop <= first:
        return None
    start = i * dilation + stride * first - padding
    return slice(first, stop), slice(start, start + stride * (stop - first - 1) + 1, stride)


def _conv_out(size, k, s, p, d):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _conv(x, w, geo):
    """conv2d of arrays: (y, x's im2col matrix)."""
    (o, c, kh, kw), (n, _, h, wd) = w.shape, x.shape
    (sh, sw), (ph, pw), (dh, dw) = geo
    ho, wo = _conv_out(h, kh, sh, ph, dh), _conv_out(wd, kw, sw, pw, dw)
    cols = _im2col(x, (kh, kw), (ho, wo), geo)
    # the weight as an (O, kh*kw*C) matrix, each filter's numbers in the columns' (kh, kw, C) order, used
    # transposed (BLAS reads the transpose in place): a copy that reorders within each filter takes 0.03
    # ms for the DCGAN's (128, 64, 4, 4) weight, the (kh*kw*C, O) copy it replaces 0.2 (its innermost
    # axis strode over whole filters)
    wm = array_module(w).ascontiguousarray(w.transpose(0, 2, 3, 1)).reshape(o, kh * kw * c)
    y = cols @ wm.T  # (N*Ho*Wo, O): the one GEMM
    return y.reshape(n, ho, wo, o).transpose(0, 3, 1, 2), cols  # channels-last memory, no copy


class Conv2d(Function):
    """y[n, o] = sum over c, i, j of w[o, c, i, j] * x_pad[n, c, h*s + i*d, w*s + j*d].

    The im2col matrix is kept for backward: the weight gradient multiplies by the same matrix,
    so building it again would copy the receptive fields twice. (It is freed with the graph, and
    dropped at once when no graph is recorded.)"""

    __slots__ = ("geo", "cols")
    saved = ("cols",)

    def __init__(self, geo):
        self.geo = geo

    def forward(self, x, w, b=None):
        y, self.cols = _conv(x, w, self.geo)
        return _plus_bias(y, b)

    def backward(self, gy):
        x, w = self.inputs[:2]
        gx = gw = None
        if self.needs[0]:
            gx = ConvTranspose2d(self.geo, _output_padding(x.shape, gy.shape, w.shape, self.geo))(gy, w)
        if self.needs[1]:
            gw = Conv2dWeight(self.geo, w.shape[2:], self.cols)(x, gy)
        return (gx, gw) + _bias_grad(self, gy)


def _output_padding(x_shape, y_shape, w_shape, geo):
    """The output_padding that makes conv_transpose2d map y's size back to x's exactly."""
    (sh, sw), (ph, pw), (dh, dw) = geo
    kh, kw = w_shape[2:]
    oph = x_shape[2] - ((y_shape[2] - 1) * sh - 2 * ph + dh * (kh - 1) + 1)
    opw = x_shape[3] - ((y_shape[3] - 1) * sw - 2 * pw + dw * (kw - 1) + 1)
    return oph, opw


def _plus_bias(y, b):
    """y (N, C, H, W), this op's own new array, plus a per-channel bias b (C,): in place when y is
    channels-last (what the conv ops make) and of b's dtype.

    One op with the convolution, as in PyTorch, instead of an add after it: no second output-sized
    array and no graph node of its own. The bias is spread over one image (H*W*C numbers, in y's
    memory order) so that NumPy's add runs over whole images, not rows of C numbers (its loop is 2-3x
    slower over short rows: see ``_col2im``)."""
    if b is None:
        return y
    nhwc = y.transpose(0, 2, 3, 1)
    if b.dtype != y.dtype or not nhwc.flags.c_contiguous:  # type promotion, or another layout: a plain add
        return y + b.reshape(1, -1, 1, 1)
    xp = array_module(y)
    spread = xp.ascontiguousarray(xp.broadcast_to(b, nhwc.shape[1:]))
    images = nhwc.reshape(y.shape[0], -1)  # a view, since nhwc is contiguous
    images += spread.reshape(1, -1)
    return y


def _bias_grad(op, gy):
    """(db,) for an op called with a bias, () without: db = the sum of dy over N, H and W."""
    if len(op.inputs) == 2:
        return ()
    return (sum_over(gy, (0, 2, 3)) if op.needs[2] else None,)


class ConvTranspose2d(Function):
    """y = the adjoint of conv2d(., w) applied to z: each input pixel scatters z[n, i] * w[i, o] into y."""

    __slots__ = ("geo", "output_padding")

    def __init__(self, geo, output_padding):
        self.geo = geo
        self.output_padding = output_padding

    def forward(self, z, w, b=None):
        xp = array_module(z)
        (i_ch, o, kh, kw), (n, _, h, wd) = w.shape, z.shape
        (sh, sw), (ph, pw), (dh, dw) = self.geo
        oph, opw = self.output_padding
        hout = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
        wout = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
        zm = _channels_last(z).reshape(n * h * wd, i_ch)
        # the GEMM, one (N*H*W, I) @ (I, O) product per kernel offset: cols (kh, kw, N, H, W, O)
        if o == 1:  # (kh*kw, I) @ (I, N*H*W) in one call
            cols = w.reshape(i_ch, kh * kw).T @ zm.T
        else:
            cols = xp.matmul(zm, w.transpose(2, 3, 0, 1).reshape(kh * kw, i_ch, o))
        y = _col2im(cols.reshape(kh, kw, n, h, wd, o), (hout, wout), self.geo)
        return _plus_bias(y.transpose(0, 3, 1, 2), b)

    def backward(self, gy):
        z, w = self.inputs[:2]
        gz = gw = cols = None
        if self.needs[0]:
            conv = Conv2d(self.geo)
            gz = conv(gy, w)
            cols = conv.cols  # dy's im2col matrix: the weight gradient needs the same one
        if self.needs[1]:
            gw = Conv2dWeight(self.geo, w.shape[2:], cols)(gy, z)
        return (gz, gw) + _bias_grad(self, gy)


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
        gm = _channels_last(g).reshape(n * ho * wo, o)
        gw = (cols.T @ gm).T.reshape(o, *self.kernel, c)  # (O, kh, kw, C); this order runs 2-30% faster
        return array_module(gw).ascontiguousarray(gw.transpose(0, 3, 1, 2))

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


def _check_bias(bias, channels, op):
    if bias is None:
        return
    if not isinstance(bias, Tensor):
        raise TypeError(f"{op}: bias must be a Tensor, got {type(bias).__name__}")
    if bias.shape != (channels,):
        raise ValueError(f"{op}: bias must have shape ({channels},), got {tuple(bias.shape)}")


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
    _check_bias(bias, weight.shape[0], op)
    return Conv2d(geo)(input, weight) if bias is None else Conv2d(geo)(input, weight, bias)


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
    _check_bias(bias, weight.shape[1], op)
    conv = ConvTranspose2d(geo, output_padding)
    return conv(input, weight) if bias is None else conv(input, weight, bias)

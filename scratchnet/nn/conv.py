"""``Conv2d`` and ``ConvTranspose2d``: PyTorch's layers, weight layouts and default init.

Conv2d's weight is (out_channels, in_channels, kh, kw); ConvTranspose2d's is
(in_channels, out_channels, kh, kw), since it is the gradient of a Conv2d
going from out_channels back to in_channels.
"""

from .. import functional as F
from ._factory import check_size, default_init, int_pair, new_parameter
from .module import Module


class _ConvNd(Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, output_padding,
                 groups, bias, padding_mode, weight_shape, device, dtype):
        super().__init__()
        name = type(self).__name__
        if groups != 1:
            raise ValueError(f"{name}: only groups=1 is supported, got groups={groups}")
        if padding_mode != "zeros":
            raise ValueError(f"{name}: only padding_mode='zeros' is supported, got {padding_mode!r}")
        self.in_channels = check_size(in_channels, "in_channels", name, minimum=1)
        self.out_channels = check_size(out_channels, "out_channels", name, minimum=1)
        self.kernel_size = int_pair(kernel_size, "kernel_size", name)
        self.stride = int_pair(stride, "stride", name)
        if isinstance(padding, str) and padding not in ("valid", "same"):
            raise ValueError(f"{name}: invalid padding string {padding!r}, should be one of 'valid', 'same'")
        if padding == "same" and self.stride != (1, 1):
            raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")
        self.padding = padding if isinstance(padding, str) else int_pair(padding, "padding", name)
        self.dilation = int_pair(dilation, "dilation", name)
        self.output_padding = int_pair(output_padding, "output_padding", name)
        self.groups = groups
        self.padding_mode = padding_mode
        if min(self.kernel_size) <= 0 or min(self.stride) <= 0 or min(self.dilation) <= 0:
            raise ValueError(
                f"{name}: kernel_size, stride and dilation must be positive, got {self.kernel_size}, "
                f"{self.stride} and {self.dilation}"
            )
        if not isinstance(self.padding, str) and min(self.padding) < 0:
            raise ValueError(f"{name}: padding must be non-negative, got {self.padding}")
        self.weight = new_parameter(*weight_shape, *self.kernel_size, device=device, dtype=dtype)
        if bias:
            self.bias = new_parameter(out_channels, device=device, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        default_init(self)

    def _check_input(self, input):
        if input.ndim != 4:
            raise ValueError(
                f"{self._get_name()}({self.extra_repr()}): expected a 4-D input (N, C, H, W), "
                f"got shape {tuple(input.shape)}"
            )
        if input.shape[1] != self.in_channels:
            raise ValueError(
                f"{self._get_name()}({self.extra_repr()}): expected input with {self.in_channels} channels, "
                f"got {input.shape[1]} (input shape {tuple(input.shape)})"
            )

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W) inputs; see ``scratchnet.ops.conv`` for the math."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, 0, groups, bias,
                         padding_mode, (out_channels, in_channels), device, dtype)

    def forward(self, input):
        self._check_input(input)
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation)


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution (the gradient of Conv2d w.r.t. its input), e.g. for upsampling."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        if isinstance(padding, str):
            raise ValueError(f"ConvTranspose2d: padding must be an int or a pair, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, output_padding, groups,
                         bias, padding_mode, (in_channels, out_channels), device, dtype)

    def forward(self, input):
        self._check_input(input)
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding, self.output_padding, 1,
                                  self.dilation)

"""Weight initialisation, as ``torch.nn.init``: same names, same fans, same gains, same bounds.

Every function writes into ``tensor.data`` in place (no graph is recorded, the
Parameter object and its dtype stay) and returns the tensor. Random numbers
come from scratchnet's seeded generator (on the host, for every backend), so
``scratchnet.manual_seed(n)`` makes initialisation reproducible and the same
on CPU and GPU; a NumPy ``Generator`` may be passed as ``generator`` instead.

Fans follow PyTorch for every layout: dim 1 is "input", dim 0 "output", and the
remaining dims multiply both. So a Conv2d weight (out, in, kh, kw) has
fan_in = in*kh*kw; a ConvTranspose2d weight (in, out, kh, kw) gets the same
formula applied (fan_in = out*kh*kw), exactly what PyTorch computes for it.
"""

import math
import warnings

import numpy as np

from .. import backend
from ..tensor import Tensor


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for ``nonlinearity`` (a functional name): 1, 5/3 for tanh, sqrt(2) for relu, ...

    For 'leaky_relu', ``param`` is the negative slope (default 0.01): gain = sqrt(2 / (1 + slope^2)).
    """
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif (not isinstance(param, bool) and isinstance(param, int)) or isinstance(param, float):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) = (size(1), size(0)) times the product of the remaining dims."""
    shape = tuple(tensor.shape)
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive_field = 1
    for s in shape[2:]:
        receptive_field *= s
    return shape[1] * receptive_field, shape[0] * receptive_field


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


# --------------------------------------------------------------------------- writing values


def _check_tensor(tensor, fn, floating):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init.{fn}: expected a scratchnet Tensor or Parameter, got {type(tensor).__name__}")
    if floating and tensor.dtype.kind != "f":
        raise TypeError(f"init.{fn}: needs a floating point tensor, got dtype {tensor.dtype}")


def _draw(tensor, generator, kind):
    """Samples of the tensor's shape on its device, from U[0, 1) or N(0, 1), in its precision (float16 in
    float32, rounded when written); ``generator``: a NumPy Generator, else scratchnet's (one stream for every
    backend)."""
    dtype = tensor.dtype if tensor.dtype.itemsize >= 4 else np.dtype(np.float32)  # float16: scaled, then rounded
    return backend.random_array(kind, tensor.shape, dtype, tensor.device, gen=generator)


def _no_grad_uniform_(tensor, a, b, generator, fn="uniform_"):
    _check_tensor(tensor, fn, floating=True)
    tensor.data[...] = a + (b - a) * _draw(tensor, generator, "uniform")
    return tensor


def _no_grad_normal_(tensor, mean, std, generator, fn="normal_"):
    _check_tensor(tensor, fn, floating=True)
    tensor.data[...] = mean + std * _draw(tensor, generator, "normal")
    return tensor


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with samples from U(a, b)."""
    return _no_grad_uniform_(tensor, a, b, generator)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with samples from N(mean, std^2) (DCGAN: ``normal_(w, 0.0, 0.02)``)."""
    return _no_grad_normal_(tensor, mean, std, generator)


def constant_(tensor, val):
    """Fill with ``val``."""
    _check_tensor(tensor, "constant_", floating=False)
    tensor.data[...] = val
    return tensor


def ones_(tensor):
    return constant_(tensor, 1)


def zeros_(tensor):
    return constant_(tensor, 0)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)), keeping activations' variance across layers."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std  # a uniform on (-a, a) has standard deviation a / sqrt(3)
    return _no_grad_uniform_(tensor, -a, a, generator, "xavier_uniform_")


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return _no_grad_normal_(tensor, 0.0, std, generator, "xavier_normal_")


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He: U(-bound, bound) with bound = gain * sqrt(3 / fan); ``a`` is the leaky-relu slope.

    ``Linear`` and ``Conv2d`` in PyTorch initialise their weights with
    ``kaiming_uniform_(w, a=sqrt(5))``, i.e. bound = 1 / sqrt(fan_in).
    """
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return _no_grad_uniform_(tensor, -bound, bound, generator, "kaiming_uniform_")


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He: N(0, std^2) with std = gain / sqrt(fan)."""
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return _no_grad_normal_(tensor, 0.0, std, generator, "kaiming_normal_")

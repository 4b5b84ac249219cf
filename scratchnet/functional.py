"""PyTorch-named functions (``import scratchnet.functional as F``), all differentiable to any order.

This module only gathers names; the math of each op lives beside its code in
``scratchnet/ops/`` (conv, pooling, activation, normalization, loss, ...).
"""

from .ops.elementwise import relu, sigmoid, tanh
from .ops.shape import pad

# --- activations, dropout, linear (ops/activation.py)
from .ops.activation import dropout, leaky_relu, linear, log_softmax, softmax, softplus  # noqa: E402
# --- batch norm (ops/normalization.py)
from .ops.normalization import batch_norm  # noqa: E402
# --- losses (ops/loss.py)
from .ops.loss import (  # noqa: E402
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse_loss,
    nll_loss,
)
# --- convolution and pooling (ops/conv.py, ops/pooling.py)
from .ops.conv import conv2d, conv_transpose2d  # noqa: E402
from .ops.pooling import avg_pool2d, max_pool2d  # noqa: E402

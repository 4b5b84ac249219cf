"""PyTorch-named functions (``import scratchnet.functional as F``), all differentiable to any order.

This module only gathers names; the math of each op lives beside its code in
``scratchnet/ops/`` (conv, pooling, activation, normalization, loss, ...).
"""

from .ops.elementwise import relu, sigmoid, tanh
from .ops.shape import pad

# --- activations, dropout, linear (ops/activation.py)
# --- batch norm (ops/normalization.py)
# --- losses (ops/loss.py)
# --- convolution and pooling (ops/conv.py, ops/pooling.py)

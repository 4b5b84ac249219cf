"""``BatchNorm1d`` and ``BatchNorm2d``: PyTorch's layers, buffers and running-statistics rules.

In training the batch statistics normalise (biased variance) and the running
statistics are updated with the unbiased variance:
``running = (1 - momentum) * running + momentum * batch`` (``momentum=None``:
a cumulative average over ``num_batches_tracked``). In eval the running
statistics normalise.
"""

import numpy as np

from .. import functional as F
from . import init
from ._factory import check_size, new_buffer, new_parameter
from .module import Module


class _BatchNorm(Module):
    _ranks = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        self.num_features = check_size(num_features, "num_features", type(self).__name__)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = new_parameter(num_features, device=device, dtype=dtype)
        else:
            self.register_parameter("weight", None)
        if affine and bias:
            self.bias = new_parameter(num_features, device=device, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        if track_running_stats:
            dt = np.float32 if dtype is None else dtype
            self.register_buffer("running_mean", new_buffer(np.zeros(num_features, dtype=dt), device))
            self.register_buffer("running_var", new_buffer(np.ones(num_features, dtype=dt), device))
            self.register_buffer("num_batches_tracked", new_buffer(np.array(0, dtype=np.int64), device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self):
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input):
        if input.ndim not in self._ranks:
            wanted = " or ".join(f"{r}D" for r in self._ranks)
            raise ValueError(
                f"{self._get_name()}({self.extra_repr()}): expected {wanted} input, got shape {tuple(input.shape)}"
            )
        if input.shape[1] != self.num_features:
            raise ValueError(
                f"{self._get_name()}({self.extra_repr()}): expected input with {self.num_features} channels, "
                f"got {input.shape[1]} (input shape {tuple(input.shape)})"
            )
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.data)
        batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            batch_stats,
            factor,
            self.eps,
        )

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) inputs, per channel C."""

    _ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) inputs, per channel C."""

    _ranks = (4,)

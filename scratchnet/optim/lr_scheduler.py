"""Learning-rate schedules (``torch.optim.lr_scheduler``): set each group's ``lr`` once per ``step()``.

Each scheduler remembers the groups' initial learning rates (``base_lrs``) and
computes the current one in closed form from the number of ``step()`` calls
so far (``last_epoch``), so a schedule restored from ``state_dict()`` continues
exactly where it stopped.
"""

import math
import numbers
from collections.abc import Mapping

from .optimizer import Optimizer


def _number(value, name, who, positive=False, integer=False):
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{who}: {name} must be {'an int' if integer else 'a number'}, got {value!r}")
    if positive and not value > 0:  # also catches NaN
        raise ValueError(f"{who}: {name} must be positive, got {value}")
    return value


class LRScheduler:
    """Base class: subclasses define ``lr_at(base_lr, epoch)``."""

    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: {type(optimizer).__name__} is not an Optimizer")
        _number(last_epoch, "last_epoch", type(self).__name__, integer=True)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def lr_at(self, base_lr, epoch):
        raise NotImplementedError

    def step(self):
        """Advance one epoch (or one step, for per-step schedules) and set the new learning rates."""
        self.last_epoch += 1
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = self.lr_at(base, self.last_epoch)

    def get_last_lr(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self):
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict):
        name = type(self).__name__
        if not isinstance(state_dict, Mapping) or "last_epoch" not in state_dict or "base_lrs" not in state_dict:
            raise ValueError(f"{name}.load_state_dict: not a scheduler state dict (from state_dict())")
        if len(state_dict["base_lrs"]) != len(self.optimizer.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: {len(state_dict['base_lrs'])} base learning rates for "
                f"{len(self.optimizer.param_groups)} parameter groups"
            )
        self.__dict__.update(state_dict)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = self.lr_at(base, self.last_epoch)


class StepLR(LRScheduler):
    """lr = base_lr * gamma ** (epoch // step_size)."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size = _number(step_size, "step_size", "StepLR", positive=True, integer=True)
        self.gamma = _number(gamma, "gamma", "StepLR")
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2."""

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        self.T_max = _number(T_max, "T_max", "CosineAnnealingLR", positive=True)  # NaN gave NaN learning rates
        self.eta_min = _number(eta_min, "eta_min", "CosineAnnealingLR")
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr, epoch):
        angle = math.pi * epoch / self.T_max
        if not math.isfinite(angle):  # a T_max like 1e-308: cos(inf) would raise a bare "math domain error"
            raise ValueError(f"CosineAnnealingLR: step {epoch} / T_max {self.T_max} overflows")
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(angle)) / 2

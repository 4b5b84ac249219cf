"""Optimizers with PyTorch's names, defaults, update equations and state_dict format.

    import scratchnet.optim as optim
    opt = optim.Adam(model_params, lr=1e-3)
    for x, y in batches:
        opt.zero_grad()
        loss_fn(x, y).backward()
        opt.step()

Each optimizer's docstring states its update equations; the code beside them
works in place on the raw arrays (``p.data``, ``p.grad.data``), NumPy or CuPy,
and records no graph. ``optimizer.py`` holds what they share: parameter
groups, ``zero_grad``, ``state_dict`` / ``load_state_dict``.
"""

from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop"]
from . import lr_scheduler  # noqa: E402

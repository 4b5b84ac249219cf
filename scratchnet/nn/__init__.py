"""Neural-network building blocks with PyTorch's names: ``import scratchnet.nn as nn``.

- ``parameter.py``: ``Parameter``, the Tensor a Module registers as learnable.
- ``module.py``: ``Module`` (registration, naming, train/eval, to(), state_dict, repr).
- ``containers.py``: ``Sequential``, ``ModuleList``, ``ModuleDict``.
- ``basic.py``: shape-only layers ``Identity``, ``Flatten``, ``Unflatten``.
- ``init.py``: weight initialisation (``nn.init.kaiming_uniform_`` ...).
"""

from . import init
from .basic import Flatten, Identity, Unflatten
from .containers import ModuleDict, ModuleList, Sequential
from .module import Module
from .parameter import Parameter

# ---------------------------------------------------------------------------------------------
# Layers (Linear, Conv2d, ConvTranspose2d, BatchNorm1d/2d, Dropout, pooling, activations, losses)
# are added below this line, one import per file of this package, e.g.
#     from .linear import Linear
# ---------------------------------------------------------------------------------------------
from .activation import LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Tanh  # noqa: E402
from .conv import Conv2d, ConvTranspose2d  # noqa: E402
from .dropout import Dropout  # noqa: E402
from .linear import Linear  # noqa: E402
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss  # noqa: E402
from .normalization import BatchNorm1d, BatchNorm2d  # noqa: E402
from .pooling import AvgPool2d, MaxPool2d  # noqa: E402

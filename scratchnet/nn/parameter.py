"""``Parameter``: a Tensor that a Module registers as learnable state.

It is an ordinary leaf Tensor (every op accepts it and returns plain Tensors);
the subclass exists only so that ``Module.__setattr__`` can tell weights from
other tensors, and so that its repr says what it is, as in PyTorch.
"""

import numpy as np

from .. import backend
from ..creation import tensor as _tensor
from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad by default and is registered by ``Module``.

    ``data`` may be a Tensor (its array is shared, not copied, as in PyTorch),
    a NumPy/CuPy array (used as is), anything ``scratchnet.tensor`` accepts
    (copied), or None (an empty float32 tensor).
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            array = backend.xp().empty((0,), dtype=np.float32)
        elif isinstance(data, Tensor):
            array = data.data
        elif isinstance(data, np.ndarray) or hasattr(data, "__cuda_array_interface__"):
            array = data
        else:
            array = _tensor(data).data
        super().__init__(array)
        self.requires_grad = requires_grad  # rejects integer dtypes, like PyTorch

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

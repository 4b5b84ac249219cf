"""``Dropout``: zero each element with probability p in training, scale the rest by 1/(1-p)."""

import numbers

from .. import functional as F
from .module import Module


class Dropout(Module):
    """Inverted dropout; the identity in eval mode. Masks come from scratchnet's seeded generator."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real):
            raise TypeError(f"Dropout: p must be a number, got {p!r}")
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return F.dropout(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"

"""Shape-only layers: ``Identity``, ``Flatten``, ``Unflatten``. No parameters; their
gradients come from the reshape op they call."""

from ..ops._helpers import normalize_dim
from .module import Module


class Identity(Module):
    """Returns its input; takes (and ignores) any arguments, so it can stand in for a layer."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Flatten(Module):
    """Merges dims ``start_dim..end_dim`` into one; by default all but the batch dim (N, C, H, W) -> (N, C*H*W)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Splits dim ``dim`` into ``unflattened_size`` (one entry may be -1): (N, 784) -> (N, 1, 28, 28).

    The inverse of Flatten, e.g. between a generator's Linear and its ConvTranspose2d.
    """

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(
                f"unflattened_size must be a tuple of ints, but found type {type(unflattened_size).__name__}"
            )
        for i, s in enumerate(unflattened_size):
            if not isinstance(s, int):
                raise TypeError(
                    f"unflattened_size must be tuple of ints, but found element of type {type(s).__name__} at pos {i}"
                )
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input):
        shape = tuple(input.shape)
        d = normalize_dim(self.dim, len(shape), "unflatten")
        sizes = tuple(self.unflattened_size)
        known = 1
        for s in sizes:
            if s != -1:
                known *= s
        n = shape[d] if shape else 1
        if sizes.count(-1) > 1 or (-1 in sizes and (known == 0 or n % known)) or (-1 not in sizes and known != n):
            raise RuntimeError(
                f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {self.dim} ({n}) "
                "in the input tensor"
            )
        return input.reshape(shape[:d] + sizes + shape[d + 1 :])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"

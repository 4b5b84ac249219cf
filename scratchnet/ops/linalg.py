"""Matrix product with NumPy's ``matmul`` rules (batched, broadcasting, 1-D operands)."""

from ..autograd import Function
from ..backend import array_module
from ._helpers import pair
from .shape import reshape, sum_to, transpose, unsqueeze


def _mT(t):
    return transpose(t, -1, -2)


class MatMul(Function):
    """y = a @ b;  da = dy @ b^T,  db = a^T @ dy  (summed over broadcast batch dims).

    A 1-D ``a`` is a row (1, k) and a 1-D ``b`` a column (k, 1) whose extra
    dim is dropped from y; the backward puts that dim back first.
    """

    name = "matmul"

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("both arguments to matmul need at least 1 dimension")
        return matmul_arrays(a, b)

    def backward(self, gy):
        a, b = self.inputs
        if a.ndim == 1 and b.ndim == 1:  # dot product: gy is 0-d
            return (gy * b if self.needs[0] else None, gy * a if self.needs[1] else None)
        a2 = unsqueeze(a, 0) if a.ndim == 1 else a
        b2 = unsqueeze(b, -1) if b.ndim == 1 else b
        g2 = unsqueeze(gy, -2) if a.ndim == 1 else gy
        g2 = unsqueeze(g2, -1) if b.ndim == 1 else g2
        ga = gb = None
        if self.needs[0]:
            ga = reshape(sum_to(matmul(g2, _mT(b2)), a2.shape), a.shape)
        if self.needs[1]:
            gb = reshape(sum_to(matmul(_mT(a2), g2), b2.shape), b.shape)
        return ga, gb


def matmul_arrays(a, b):
    """``a @ b`` of arrays. A column times a row, (M, 1) @ (1, N), is a broadcast product: NumPy runs
    that shape through its own loop, not BLAS (0.45 ms for the DCGAN discriminator's (64, 1) @ (1, 6272)
    input gradient), and ``a * b`` gives the same numbers, each a single product, in a tenth of the time."""
    if a.ndim >= 2 and b.ndim >= 2 and a.shape[-1] == 1 == b.shape[-2]:
        return a * b
    return array_module(a).matmul(a, b)


def matmul(input, other):
    """``input @ other`` (NumPy/PyTorch rules)."""
    return MatMul()(*pair(input, other, "matmul"))

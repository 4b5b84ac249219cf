"""The Tensor: an array of the active backend plus what autograd needs.

``data`` is a NumPy or CuPy array; ``grad`` is a Tensor (or None) filled by
``backward``; ``creator`` is the ``Function`` that produced this tensor (None
for leaves: tensors made by the user). The math lives in ``scratchnet.ops``;
methods and operators here only forward to it (they are attached at the bottom
of this file, because the ops themselves need ``Tensor``).
"""

import operator

import numpy as np

from . import backend


class Size(int):
    """``t.size`` is the number of elements (NumPy's meaning), and ``t.size()`` /
    ``t.size(dim)`` give the shape / one dim (PyTorch's meaning)."""

    def __new__(cls, shape):
        n = 1
        for s in shape:
            n *= s
        obj = super().__new__(cls, n)
        obj.shape = shape
        return obj

    def __call__(self, dim=None):
        if dim is None:
            return self.shape
        from .ops._helpers import normalize_dim

        return self.shape[normalize_dim(dim, len(self.shape), "size")]


def _is_dtype_name(name):
    try:
        np.dtype(name)
    except TypeError:
        return False
    return True


class Tensor:
    __slots__ = ("data", "grad", "_rg", "creator", "__weakref__")
    __array_ufunc__ = None  # make NumPy hand `ndarray + Tensor` to Tensor.__radd__

    def __init__(self, data, requires_grad=False):
        self.data = data
        self.grad = None
        self._rg = requires_grad
        self.creator = None

    # ------------------------------------------------------------------ attributes

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return Size(self.data.shape)

    def numel(self):
        return self.data.size

    def dim(self):
        return self.data.ndim

    @property
    def device(self):
        """'cpu' or 'cuda:N'."""
        return backend.device_of(self.data)

    @property
    def is_leaf(self):
        """True for tensors made by the user, False for results of recorded ops."""
        return self.creator is None

    @property
    def grad_fn(self):
        """The Function that made this tensor (PyTorch's name for ``creator``)."""
        return self.creator

    @property
    def requires_grad(self):
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value):
        value = bool(value)
        if value and self.data.dtype.kind not in "fc":
            raise TypeError(f"only floating point tensors can require gradients, got dtype {self.data.dtype}")
        if self.creator is not None and not value:
            raise RuntimeError(
                "requires_grad can only be changed on leaf tensors; use .detach() to get a tensor "
                "that is cut from the graph"
            )
        self._rg = value

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` in place and return self (PyTorch's spelling)."""
        self.requires_grad = requires_grad
        return self

    # ------------------------------------------------------------------ conversions

    def numpy(self):
        """The values as a NumPy array (shares memory on the CPU; copies from the GPU)."""
        return self.data if isinstance(self.data, np.ndarray) else self.data.get()

    def item(self):
        """The single value as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: only a tensor with one element can be converted to a Python number, got shape {tuple(self.shape)}")
        return self.data.item()

    def tolist(self):
        return self.numpy().tolist()

    def detach(self):
        """A tensor sharing this one's data, cut from the graph."""
        return Tensor(self.data)

    def to(self, *args, dtype=None, device=None):
        """``to('cuda')``, ``to('cpu')``, ``to(float64)`` or ``to(device, dtype)``; differentiable."""
        for a in args:
            if isinstance(a, str) and not _is_dtype_name(a):
                device = a
            else:
                dtype = a
        out = self
        if dtype is not None:
            from .creation import _as_dtype

            dtype = _as_dtype(dtype, "to")
        if dtype is not None and dtype != self.data.dtype:
            out = _ops.shape.Cast(dtype)(out)
        if device is not None:
            if not backend.is_on(out.data, device):
                out = _ops.shape.ToDevice(device)(out)
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def double(self):
        return self.to(np.float64)

    def float(self):
        return self.to(np.float32)

    # ------------------------------------------------------------------ autograd

    def backward(self, grad=None, retain_graph=None, create_graph=False):
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires grad.

        ``grad`` is needed unless self has one element; ``retain_graph``
        (default: ``create_graph``) keeps the graph for another backward;
        ``create_graph=True`` records the backward pass so it can be
        differentiated again.
        """
        _autograd.backward(self, grad, retain_graph, create_graph)

    # ------------------------------------------------------------------ Python protocol

    def __repr__(self):
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(")
        extra = ""
        if self.data.dtype != np.float32 and self.data.dtype != np.int64 and self.data.dtype != bool:
            extra += f", dtype={self.data.dtype}"
        if self.device != "cpu":
            extra += f", device='{self.device}'"
        if self.creator is not None:
            extra += f", grad_fn={self.creator!r}"
        elif self._rg:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __len__(self):
        if not self.data.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        if not self.data.shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def __bool__(self):
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.data.item())

    __hash__ = object.__hash__

    # comparisons give plain boolean tensors: no graph, no gradient
    def _compare(self, other, op):
        other = other.data if isinstance(other, Tensor) else other
        return Tensor(op(self.data, other))

    def __eq__(self, other):
        return self._compare(other, operator.eq)

    def __ne__(self, other):
        return self._compare(other, operator.ne)

    def __lt__(self, other):
        return self._compare(other, operator.lt)

    def __le__(self, other):
        return self._compare(other, operator.le)

    def __gt__(self, other):
        return self._compare(other, operator.gt)

    def __ge__(self, other):
        return self._compare(other, operator.ge)

    # reflected arithmetic: `2 - x` is sub(2, x)
    def __radd__(self, other):
        return _ops.add(other, self)

    def __rsub__(self, other):
        return _ops.sub(other, self)

    def __rmul__(self, other):
        return _ops.mul(other, self)

    def __rtruediv__(self, other):
        return _ops.div(other, self)

    def __rpow__(self, other):
        return _ops.pow(other, self)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    # in-place arithmetic: only where no graph would be recorded (e.g. an
    # optimizer step under no_grad), since it overwrites values a backward may need
    def _inplace(self, other, op):
        other_t = other if isinstance(other, Tensor) else None
        if _autograd.is_grad_enabled() and (self._rg or (other_t is not None and other_t._rg)):
            raise RuntimeError(
                f"in-place {op} on a tensor that requires grad (or with one) would break the graph; "
                "do it under scratchnet.no_grad() or use the out-of-place form"
            )
        value = other_t.data if other_t is not None else other
        a = self.data
        if op == "+=":
            a += value
        elif op == "-=":
            a -= value
        elif op == "*=":
            a *= value
        else:
            a /= value
        return self

    def __iadd__(self, other):
        return self._inplace(other, "+=")

    def __isub__(self, other):
        return self._inplace(other, "-=")

    def __imul__(self, other):
        return self._inplace(other, "*=")

    def __itruediv__(self, other):
        return self._inplace(other, "/=")

    @property
    def T(self):
        """All dims reversed."""
        return _ops.permute(self, tuple(range(self.ndim - 1, -1, -1)))

    @property
    def mT(self):
        """The last two dims swapped (a batch of matrices transposed)."""
        return _ops.transpose(self, -2, -1)


# The ops need Tensor, so they are imported after it and attached here.
from . import autograd as _autograd  # noqa: E402
from . import ops as _ops  # noqa: E402

Tensor.__add__ = _ops.add
Tensor.__sub__ = _ops.sub
Tensor.__mul__ = _ops.mul
Tensor.__truediv__ = _ops.div
Tensor.__pow__ = _ops.pow
Tensor.__matmul__ = _ops.matmul
Tensor.__neg__ = _ops.neg
Tensor.__abs__ = _ops.abs
Tensor.__getitem__ = _ops.getitem
for _name in (
    "add sub mul div pow matmul neg abs exp log sqrt clamp maximum minimum tanh sigmoid relu "
    "sum mean var max min amax amin argmax argmin logsumexp "
    "reshape flatten squeeze unsqueeze permute transpose expand broadcast_to"
).split():
    setattr(Tensor, _name, getattr(_ops, _name))
Tensor.view = _ops.reshape
Tensor.clip = _ops.clamp
del _name

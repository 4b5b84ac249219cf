"""scratchnet: a small deep-learning engine on NumPy (CPU) and CuPy (GPU).

    import scratchnet as sn
    x = sn.tensor([1.0, 2.0], requires_grad=True)
    y = (x ** 3).sum()
    (gx,) = sn.grad(y, x, create_graph=True)   # 3 x**2
    gx.sum().backward()                        # x.grad = 6 x

Where things live: ``tensor.py`` (the Tensor), ``autograd.py`` (Function and
the backward engine), ``ops/`` (the differentiable primitives, math beside
code), ``functional.py`` (PyTorch's F names), ``nn/`` (Module and layers),
``optim/`` (optimizers), ``serialization.py`` (checkpoints),
``backend.py`` (NumPy/CuPy switch, devices, seeded RNG), ``creation.py``
(tensor() and factories), ``testing.py`` (gradcheck), ``anomaly.py``
(detect_anomaly: the first op that makes a NaN/inf), ``viz.py`` (the graph
behind a tensor as Graphviz DOT or a text outline).
"""

# Tensor first: it pulls in autograd and the ops in the one order that resolves their cycle.
from .tensor import Tensor  # noqa: I001  (isort: skip)
from . import backend, data, functional, nn, optim, testing, viz
from .anomaly import AnomalyError, detect_anomaly, is_anomaly_enabled
from .autograd import Function, backward, enable_grad, grad, is_grad_enabled, no_grad
from .backend import manual_seed
from .creation import (
    arange,
    bool_,
    float16,
    float32,
    float64,
    full,
    full_like,
    int32,
    int64,
    ones,
    ones_like,
    rand,
    rand_like,
    randn,
    randn_like,
    tensor,
    zeros,
    zeros_like,
)
from .ops import (
    abs,
    add,
    amax,
    amin,
    argmax,
    argmin,
    broadcast_to,
    cat,
    clamp,
    div,
    exp,
    expand,
    flatten,
    log,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    neg,
    pad,
    permute,
    pow,
    relu,
    reshape,
    sigmoid,
    sqrt,
    squeeze,
    stack,
    sub,
    sum,
    sum_to,
    tanh,
    transpose,
    unsqueeze,
    var,
    where,
)
from .serialization import load, save

clip = clamp
concat = concatenate = cat

__version__ = "0.1.0"

"""Loss functions with PyTorch's names, arguments and reductions.

Every loss takes ``reduction='mean' | 'sum' | 'none'``. Arguments after
``weight`` are keyword-only: in PyTorch those positions belong to the
deprecated ``size_average``/``reduce`` flags, so a positional call would mean
something else there.

Stability: cross-entropy goes through ``log_softmax`` (max subtracted) and the
logits form of binary cross-entropy through ``max(x, 0) - x t + log1p(e**-|x|)``,
so logits of magnitude 1000 give finite values and exact gradients.
"""

import numbers

import numpy as np

from ..autograd import Function
from ..backend import array_module
from ..tensor import Tensor
from .activation import Softplus, log_softmax
from .elementwise import clamp, log, maximum, sigmoid, where
from .reduction import ValueAtIndex, mean, sum
from .shape import reshape

REDUCTIONS = ("mean", "sum", "none")

# PyTorch's guard in the gradient of binary_cross_entropy: 1e-12 stored as a float32 (9.9999999600e-13)
BCE_GRAD_EPS = float(np.float32(1e-12))


def _check_reduction(reduction, fn):
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"{fn}: {reduction!r} is not a valid value for reduction; valid values are "
            + ", ".join(map(repr, REDUCTIONS))
        )


def _reduce(loss, reduction):
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return sum(loss)
    return loss


def _check_tensor(t, what, fn):
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}: {what} must be a Tensor, got {type(t).__name__}")


def _check_float(t, what, fn):
    if t.dtype.kind != "f":
        raise TypeError(f"{fn}: {what} must be a floating point tensor, got dtype {t.dtype}")


def _check_same_shape(input, target, fn):
    if input.shape != target.shape:
        raise ValueError(
            f"{fn}: target of shape {tuple(target.shape)} does not match input of shape {tuple(input.shape)}; "
            "they must be the same"
        )


def _check_float_pair(input, target, reduction, fn):
    """The checks every elementwise float loss makes: reduction, types, dtypes, equal shapes; returns both
    in their common dtype."""
    _check_reduction(reduction, fn)
    _check_tensor(input, "input", fn)
    _check_tensor(target, "target", fn)
    _check_float(input, "input", fn)
    _check_float(target, "target", fn)
    _check_same_shape(input, target, fn)
    if input.dtype != target.dtype:  # float32 with float64: all in float64 (1 - t in float32 lost digits)
        dtype = np.promote_types(input.dtype, target.dtype)
        input, target = input.to(dtype), target.to(dtype)
    return input, target


def _check_broadcasts_to(t, shape, what, fn):
    _check_tensor(t, what, fn)
    try:
        ok = np.broadcast_shapes(tuple(t.shape), tuple(shape)) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{fn}: {what} of shape {tuple(t.shape)} does not broadcast to input shape {tuple(shape)}")


# --------------------------------------------------------------------------- class targets: nll, cross-entropy


def _class_targets(input, target, weight, ignore_index, fn):
    """Check input (C,) / (N, C, d1, ...) and integer target () / (N, d1, ...); return the class dim."""
    _check_tensor(input, "input", fn)
    _check_tensor(target, "target", fn)
    _check_float(input, "input", fn)
    if input.ndim == 0:
        raise ValueError(f"{fn}: input must have a class dim: (C,), (N, C) or (N, C, d1, ...); got a 0-d tensor")
    if target.dtype.kind not in "iu":
        raise TypeError(
            f"{fn}: target must hold integer class indices, got dtype {target.dtype} "
            "(class-probability targets are not supported)"
        )
    axis = 1 if input.ndim >= 2 else 0
    expected = input.shape[:1] + input.shape[2:] if axis == 1 else ()
    if target.shape != expected:
        raise ValueError(
            f"{fn}: expected target of shape {expected} for input of shape {tuple(input.shape)}, "
            f"got {tuple(target.shape)}"
        )
    n_classes = input.shape[axis]
    if n_classes == 0 and target.data.size:
        raise ValueError(f"{fn}: input of shape {tuple(input.shape)} has no classes (C = 0) for its targets")
    if weight is not None:
        _check_tensor(weight, "weight", fn)
        _check_float(weight, "weight", fn)
        if tuple(weight.shape) != (n_classes,):
            raise ValueError(
                f"{fn}: weight must have shape ({n_classes},), one per class of input shape "
                f"{tuple(input.shape)}, got {tuple(weight.shape)}"
            )
    t = target.data
    bad = (t != ignore_index) & ((t < 0) | (t >= n_classes))
    if bool(bad.any()):
        value = int(t[bad].reshape(-1)[0])
        raise IndexError(
            f"{fn}: target {value} is out of bounds for {n_classes} classes (valid: 0 to {n_classes - 1}, "
            f"or ignore_index={ignore_index})"
        )
    return axis


def _target_weights(input, target, weight, ignore_index):
    """(index array with ignored entries sent to class 0, ignored mask or None, per-target weight or None)."""
    t = target.data
    xp = array_module(t)
    ignored = t == ignore_index
    if not bool(ignored.any()):
        ignored = None
    safe = t if ignored is None else xp.where(ignored, 0, t)
    w = None
    if weight is not None:
        w = weight[safe]  # weight of each target's class
        if ignored is not None:
            w = where(ignored, 0.0, w)
    elif ignored is not None:
        w = Tensor((~ignored).astype(input.dtype))
    return safe, ignored, w


def _weighted_mean(loss_sum, w, count):
    """'mean' as PyTorch: divide by the summed target weights (or by the number of targets)."""
    return loss_sum / (count if w is None else sum(w))


def _nll(input, axis, safe, ignored, w, reduction):
    """-w * log_prob[target], reduced: shared by nll_loss and cross_entropy."""
    picked = ValueAtIndex(axis, array_module(safe).expand_dims(safe, axis), False)(input)
    if ignored is not None:
        picked = where(ignored, 0.0, picked)  # never multiply a possible -inf by 0
    loss = -picked if w is None else -(picked * w)
    if reduction == "mean":
        return _weighted_mean(sum(loss), w, loss.data.size)
    return _reduce(loss, reduction)


def nll_loss(input, target, weight=None, *, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood: loss_i = -weight[t_i] * input[i, t_i] for log-probabilities ``input``
    (C,), (N, C) or (N, C, d1, ...) and integer targets () / (N,) / (N, d1, ...).

    Targets equal to ``ignore_index`` contribute nothing; 'mean' divides by
    the sum of the weights of the targets (their count without ``weight``).
    """
    _check_reduction(reduction, "nll_loss")
    axis = _class_targets(input, target, weight, ignore_index, "nll_loss")
    safe, ignored, w = _target_weights(input, target, weight, ignore_index)
    return _nll(input, axis, safe, ignored, w, reduction)


def cross_entropy(input, target, weight=None, *, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Cross-entropy of logits ``input`` (class dim 1, or 0 for 1-D input) with integer targets:
    ``nll_loss(log_softmax(input, class_dim), target)``.

    With ``label_smoothing`` = eps (as PyTorch):
    ``(1 - eps) * nll + eps / C * smooth``, smooth_i = -sum_c weight[c] * log_prob[i, c],
    reduced like the nll term (ignored targets excluded, 'mean' divided by
    the same sum of target weights).
    """
    _check_reduction(reduction, "cross_entropy")
    axis = _class_targets(input, target, weight, ignore_index, "cross_entropy")
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real):
        raise TypeError(f"cross_entropy: label_smoothing must be a number, got {label_smoothing!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    log_prob = log_softmax(input, axis)
    safe, ignored, w = _target_weights(input, target, weight, ignore_index)
    loss = _nll(log_prob, axis, safe, ignored, w, reduction)
    if label_smoothing == 0:
        return loss
    n_classes = input.shape[axis]
    if weight is not None:
        class_shape = tuple(n_classes if i == axis else 1 for i in range(input.ndim))
        log_prob = log_prob * reshape(weight, class_shape)
    smooth = -sum(log_prob, axis)
    if ignored is not None:
        smooth = where(ignored, 0.0, smooth)
    if reduction == "mean":
        smooth = _weighted_mean(sum(smooth), w, smooth.data.size)
    else:
        smooth = _reduce(smooth, reduction)
    return loss * (1 - label_smoothing) + smooth * (label_smoothing / n_classes)


# --------------------------------------------------------------------------- binary cross-entropy


class BinaryCrossEntropy(Function):
    """l = -(t * max(log x, -100) + (1 - t) * max(log(1 - x), -100))  (logs clamped as PyTorch);
    dx = dy * (x - t) / max(x (1 - x), 1e-12)  (PyTorch's guard, a float32),
    dt = dy * (max(log(1 - x), -100) - max(log x, -100))."""

    name = "binary_cross_entropy"

    def forward(self, x, t):
        xp = array_module(x)
        with np.errstate(divide="ignore"):  # log(0) = -inf, clamped just below
            log_x = xp.maximum(xp.log(x), -100)
            log_1mx = xp.maximum(xp.log1p(-x), -100)
        return -(t * log_x + (1 - t) * log_1mx)

    def backward(self, gy):
        x, t = self.inputs
        gx = gt = None
        if self.needs[0]:
            gx = gy * (x - t) / maximum(x * (1 - x), BCE_GRAD_EPS)
        if self.needs[1]:
            gt = gy * (clamp(log(1 - x), min=-100) - clamp(log(x), min=-100))
        return gx, gt


def binary_cross_entropy(input, target, weight=None, *, reduction="mean"):
    """-weight * (t log x + (1 - t) log(1 - x)) for probabilities x in [0, 1], logs clamped at -100."""
    fn = "binary_cross_entropy"
    input, target = _check_float_pair(input, target, reduction, fn)
    if weight is not None:
        _check_broadcasts_to(weight, input.shape, "weight", fn)
    x = input.data
    if not bool(((x >= 0) & (x <= 1)).all()):  # NaN fails too, as in PyTorch
        raise ValueError(f"{fn}: all elements of input should be between 0 and 1")
    loss = BinaryCrossEntropy()(input, target)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


class BinaryCrossEntropyWithLogits(Function):
    """l = max(x, 0) - x t + log1p(e**-|x|)  (= -(t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))), stable);
    dx = dy * (sigmoid(x) - t),  dt = -dy * x."""

    name = "binary_cross_entropy_with_logits"

    def forward(self, x, t):
        xp = array_module(x)
        return xp.maximum(x, 0) - x * t + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, gy):
        x, t = self.inputs
        return (
            gy * (sigmoid(x) - t) if self.needs[0] else None,
            -gy * x if self.needs[1] else None,
        )


def binary_cross_entropy_with_logits(input, target, weight=None, *, reduction="mean", pos_weight=None):
    """Binary cross-entropy of logits x: -weight * (p t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))),
    with p = ``pos_weight`` (broadcast along the last dim, e.g. one per class) or 1.

    Written as ``max(x, 0) - x t + log1p(e**-|x|) + (p - 1) t softplus(-x)``: finite and exact for any |x|.
    """
    fn = "binary_cross_entropy_with_logits"
    input, target = _check_float_pair(input, target, reduction, fn)
    if weight is not None:
        _check_broadcasts_to(weight, input.shape, "weight", fn)
    loss = BinaryCrossEntropyWithLogits()(input, target)
    if pos_weight is not None:
        _check_broadcasts_to(pos_weight, input.shape, "pos_weight", fn)
        loss = loss + (pos_weight - 1) * target * Softplus(1.0, None)(-input)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


# --------------------------------------------------------------------------- regression


def mse_loss(input, target, *, reduction="mean"):
    """(x - t)**2, reduced; gradients flow to both input and target."""
    fn = "mse_loss"
    _check_reduction(reduction, fn)
    _check_tensor(input, "input", fn)
    _check_tensor(target, "target", fn)
    _check_same_shape(input, target, fn)
    diff = input - target
    return _reduce(diff * diff, reduction)

"""Anomaly detection: find the first op whose forward or backward makes a NaN or an infinity.

    with sn.detect_anomaly():
        loss = model(x).log().mean()   # raises here if log gets a negative number
        loss.backward()                # or here, naming the op whose backward made the NaN

A NaN in a loss is hard to trace: by the time it shows, it has spread through
every tensor. In anomaly mode each ``Function`` notes where the user's code
created it (the first stack frame outside this package) and the engine checks,
right after each step, that

- every floating-point output of a forward is finite, and
- every input gradient a backward produces is finite,

raising ``AnomalyError`` at the first one that is not, with the op, that
place, and the shapes and dtypes of its inputs. When an input (or the
gradient handed down to a backward) was already non-finite, the message says
so: the op only passed the problem on, and the cause is upstream.

Off by default, and free when off: ``Function.__call__`` and the backward
engine test one module-level flag. On, every op walks the stack once and
every output is scanned once (on the GPU that is a device-to-host sync per
op): a debugging tool, like PyTorch's ``torch.autograd.detect_anomaly``.
Unlike PyTorch, the forward is checked too, and infinities count as well as
NaNs (an infinite loss is as broken as a NaN one).

Inside the engine, the forward of ops that a backward is made of is not
checked on its own (a backward may compute an infinity it then masks away);
only the gradients it hands on are. Ops recorded there (``create_graph=True``)
remember which backward made them, so a second-order backward names both.
"""

import functools
import os
import sys

from . import autograd
from .backend import array_module

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_backward_of = None  # the Function whose backward runs now (anomaly mode only)
_engine_depth = 0  # > 0 while the backward engine runs (anomaly mode only)


class AnomalyError(FloatingPointError):
    """A NaN or infinity found by ``detect_anomaly``.

    A ``FloatingPointError`` (what NumPy raises under ``np.errstate(all="raise")``),
    so code that already catches floating-point trouble catches this too; its
    own class lets a caller catch only the reports of anomaly mode. Attributes:
    ``op`` (class name of the Function), ``phase`` ("forward" or "backward"),
    ``created_at`` (where the user's code created the op), ``input_index``
    (the input whose gradient is bad, for a backward; else None) and
    ``upstream`` (True when the op only passed on a NaN/inf it was given).
    """

    def __init__(self, message, op, phase, created_at, input_index=None, upstream=False):
        super().__init__(message)
        self.op = op
        self.phase = phase
        self.created_at = created_at
        self.input_index = input_index
        self.upstream = upstream


def is_anomaly_enabled():
    """True inside ``detect_anomaly()``."""
    return autograd._anomaly_enabled


class detect_anomaly:
    """Check every op's output in forward and every gradient in backward; raise on the first NaN/inf.

    A context manager (``with sn.detect_anomaly():``) or a decorator
    (``@sn.detect_anomaly()``), like ``no_grad``. Nestable: each exit
    restores the mode that was on before; ``detect_anomaly(False)`` turns it
    off for a block inside an anomaly-mode one. Not thread-safe (one flag
    for the process, as grad mode).
    """

    def __init__(self, enabled=True):
        self.enabled = bool(enabled)
        self._saved = []

    def __enter__(self):
        self._saved.append(autograd._anomaly_enabled)
        autograd._anomaly_enabled = self.enabled
        return self

    def __exit__(self, *exc):
        autograd._anomaly_enabled = self._saved.pop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.enabled):
                return fn(*args, **kwargs)

        return wrapper


# --------------------------------------------------------------------------- hooks called by autograd (mode on)


def after_forward(f, inputs, y):
    """Note where ``f`` was created; outside the engine, check that its output ``y`` is finite."""
    site = _user_site()
    if _backward_of is not None:
        site += f", in the backward of {_describe(_backward_of)}"
    f._created_at = site
    if _engine_depth == 0 and not _all_finite(y):
        message = (
            f"detect_anomaly: the forward of {_describe(f)} produced {_bad_kinds(y)} in its output of shape "
            f"{_shape_dtype(y)}; inputs: {_inputs_text(inputs)}"
        )
        culprit = _first_bad_input(inputs)
        if culprit is not None:
            i, x = culprit
            message += f". Input {i} already contained {_bad_kinds(x.data)}: the problem is upstream, in {_origin(x)}"
        raise AnomalyError(message, type(f).__name__, "forward", site, upstream=culprit is not None)


def run_backward(f, gy):
    """``f.backward(gy)``, then check that each gradient it produced for an input that needs one is finite."""
    global _backward_of
    outer, _backward_of = _backward_of, f
    try:
        gxs = f.backward(gy)
    finally:
        _backward_of = outer
    grads = gxs if type(gxs) is tuple else (gxs,)
    for i, (x, gx, need) in enumerate(zip(f.inputs, grads, f.needs)):
        if gx is None or not need or _all_finite(gx.data):
            continue
        message = (
            f"detect_anomaly: the backward of {_describe(f)} produced {_bad_kinds(gx.data)} in the gradient "
            f"for input {i} of shape {_shape_dtype(x.data)}; inputs: {_inputs_text(f.inputs)}"
        )
        upstream = True
        if not _all_finite(gy.data):
            message += (
                f". The gradient it received for its output already contained {_bad_kinds(gy.data)}: the problem "
                "is upstream (a non-finite gradient passed to backward()/grad(), or a sum of gradients that overflowed)"
            )
        elif (culprit := _first_bad_input(f.inputs)) is not None:
            j, xj = culprit
            message += (
                f". Input {j} already contained {_bad_kinds(xj.data)} in the forward: the problem is upstream, in "
                f"{_origin(xj)}"
            )
        else:
            upstream = False
        raise AnomalyError(message, type(f).__name__, "backward", _site_of(f), input_index=i, upstream=upstream)
    return gxs


def engine_enter():
    global _engine_depth
    _engine_depth += 1


def engine_exit():
    global _engine_depth
    _engine_depth -= 1


# --------------------------------------------------------------------------- helpers


def _user_site():
    """'file:line in function' of the innermost frame outside the scratchnet package (the user's code)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return "an unknown place"
    code = frame.f_code
    return f"{_display_path(code.co_filename)}:{frame.f_lineno} in {code.co_name}"


@functools.lru_cache(maxsize=256)
def _display_path(path):
    """The path relative to the working directory when it lies inside it, else as it is."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path
    return path if rel.startswith("..") else rel


def _site_of(f):
    """Where the user's code created ``f``; None if anomaly mode was off then."""
    return getattr(f, "_created_at", None)


def _describe(f):
    site = _site_of(f)
    return f"{type(f).__name__} (created {f'at {site}' if site else 'before detect_anomaly was on'})"


def _origin(x):
    """Where a tensor came from: the op that made it, or a leaf."""
    if x.creator is not None:
        return f"the output of {_describe(x.creator)}"
    kind = "a leaf tensor that requires grad (a parameter?)" if x._rg else "a leaf tensor (data or a constant)"
    return f"{kind} of shape {_shape_dtype(x.data)}"


def _all_finite(a):
    if a.dtype.kind not in "fc":  # integers and booleans cannot be NaN
        return True
    xp = array_module(a)
    return bool(xp.isfinite(a).all())


def _first_bad_input(inputs):
    for i, x in enumerate(inputs):
        if not _all_finite(x.data):
            return i, x
    return None


def _bad_kinds(a):
    xp = array_module(a)
    kinds = [name for name, test in (("nan", xp.isnan), ("inf", xp.isinf)) if bool(test(a).any())]
    return " and ".join(kinds) or "nan/inf"


def _shape_dtype(a):
    return f"{tuple(a.shape)} {a.dtype}"


def _inputs_text(inputs):
    return ", ".join(_shape_dtype(x.data) for x in inputs) or "none"

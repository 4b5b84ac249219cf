"""Define-by-run autograd: grad mode, ``Function`` and the backward engine.

A ``Function`` is one op. ``forward`` works on raw arrays (NumPy or CuPy);
``backward`` receives the upstream gradient as a Tensor and returns the input
gradients as Tensors, computed with the same differentiable ops. The engine
runs backward with grad mode on exactly when ``create_graph=True``, so the
backward pass is itself recorded and can be differentiated again (gradient
penalties need this); otherwise it runs under ``no_grad`` and costs nothing
extra.

The engine never recurses: it pops functions from a heap ordered by
*generation* (one more than the largest generation among the creators of a
function's inputs). Every consumer of a tensor has a larger generation than its
creator, so when a function is popped, all gradient contributions to its output
have arrived and been summed.

Anomaly mode (``detect_anomaly``, in anomaly.py) hooks in at two places: after
each forward in ``Function.__call__`` and around each backward in the engine;
when it is off, each costs one flag test.
"""

import functools
import heapq
import weakref

import numpy as np

from . import anomaly as _anomaly  # its checks run only in anomaly mode (reads our flag at call time)
from .backend import array_module, device_of

_grad_enabled = True
_anomaly_enabled = False  # set by detect_anomaly (anomaly.py); one check per op when off


def is_grad_enabled():
    """True when new ops are recorded for backward."""
    return _grad_enabled


class _GradMode:
    """Context manager and decorator that sets grad mode and restores it after."""

    enabled = True

    def __init__(self):
        self._saved = []

    def __enter__(self):
        global _grad_enabled
        self._saved.append(_grad_enabled)
        _grad_enabled = self.enabled
        return self

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._saved.pop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Record nothing: ops inside give plain tensors (evaluation, optimizer steps)."""

    enabled = False


class enable_grad(_GradMode):
    """Record ops again, also inside a ``no_grad`` block."""

    enabled = True


class Function:
    """One differentiable op with a single output.

    Subclasses define ``forward(*arrays) -> array`` and ``backward(gy) ->
    grad or tuple of grads`` (Tensors, or None for inputs that need none);
    op parameters are set in ``__init__``. Inside ``backward``,
    ``self.inputs`` are the input Tensors, ``self.output()`` is the output
    Tensor (only for classes with ``uses_output = True``) and
    ``self.needs[i]`` says whether input i needs a gradient at all. Slots
    that hold arrays kept only for backward are named in ``saved`` so that
    they are freed with the graph. ``_created_at`` is set only in anomaly
    mode (where the user's code made the op).
    """

    __slots__ = ("inputs", "generation", "needs", "_out", "_out_data", "_created_at")
    uses_output = False  # True: keep a reference to the output for backward
    saved = ()  # names of slots holding arrays saved for backward, freed with the graph

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__.lower()

    def __call__(self, *inputs):
        try:
            if len(inputs) == 1:
                y = self.forward(inputs[0].data)
            elif len(inputs) == 2:
                y = self.forward(inputs[0].data, inputs[1].data)
            else:
                y = self.forward(*[x.data for x in inputs])
        except (ValueError, IndexError, TypeError, FloatingPointError) as e:
            raise _op_error(self.name, inputs, e) from e
        if isinstance(y, np.generic):  # NumPy reductions return scalars; keep arrays
            y = np.asarray(y)
        if _anomaly_enabled:
            _anomaly.after_forward(self, inputs, y)
        out = Tensor(y)
        if _grad_enabled:
            needs = tuple([x._rg for x in inputs])
            if True in needs:  # some input requires grad: record the node
                gen = 0
                for x in inputs:
                    c = x.creator
                    if c is not None and c.generation >= gen:
                        gen = c.generation + 1
                self.generation = gen
                self.inputs = inputs
                self.needs = needs
                if self.uses_output:
                    self._out = weakref.ref(out)
                    self._out_data = y
                out._rg = True
                out.creator = self
        return out

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, gy):
        raise NotImplementedError

    def output(self):
        """The output Tensor (graph-connected while it is alive; else its saved values)."""
        out = self._out()
        return out if out is not None else Tensor(self._out_data)

    def release(self):
        """Drop inputs and saved arrays after backward, so their memory can go."""
        self.inputs = None
        self._out_data = None
        for name in self.saved:
            setattr(self, name, None)

    def __repr__(self):
        return f"<{type(self).__name__}Backward>"


def _op_error(name, inputs, e):
    """Re-raise an error from an op's forward, naming the op and its input shapes."""
    devices = sorted({device_of(x.data) for x in inputs})
    if len(devices) > 1:
        return RuntimeError(f"{name}: all inputs must be on one device, got tensors on {' and '.join(devices)}")
    shapes = " and ".join(str(tuple(x.shape)) for x in inputs)
    message = f"{name}: {e} (input shapes {shapes})"
    for cls in (IndexError, ValueError, TypeError, FloatingPointError):  # FloatingPointError: np.seterr(all="raise")
        if isinstance(e, cls):
            return cls(message)


# --------------------------------------------------------------------------- the engine

_FREED = (
    "trying to backward through the graph a second time: the saved values of op {op} were freed "
    "by the first backward. Pass retain_graph=True to the first backward() or grad() call "
    "if you need to go through the same graph again."
)


def _as_tuple(x):
    if isinstance(x, Tensor):
        return (x,)
    return tuple(x)


def _root_grads(outputs, grad_outputs, caller):
    """Upstream gradients for the roots: ones for scalars, else what the user gave."""
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"{caller}: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    result = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(out, Tensor):
            raise TypeError(f"{caller}: output {i} is a {type(out).__name__}, not a Tensor")
        if not out._rg:
            raise RuntimeError(
                f"{caller}: output {i} does not require grad and has no grad_fn "
                "(was it computed under no_grad, or from tensors without requires_grad=True?)"
            )
        if g is None:
            if out.data.size != 1:
                raise RuntimeError(
                    f"{caller}: grad can be implicitly created only for scalar outputs, but output {i} has "
                    f"shape {tuple(out.shape)}; pass a gradient of that shape explicitly"
                )
            g = Tensor(array_module(out.data).ones_like(out.data))
        else:
            if not isinstance(g, Tensor):
                try:
                    g = Tensor(array_module(out.data).asarray(g, dtype=out.data.dtype))
                except (TypeError, ValueError) as e:
                    raise TypeError(f"{caller}: grad_outputs[{i}] is not numbers of the output's dtype ({e})") from None
            if g.shape != out.shape:
                raise ValueError(
                    f"{caller}: grad_outputs[{i}] has shape {tuple(g.shape)} but output {i} has shape {tuple(out.shape)}"
                )
        result.append(g)
    return result


def _needed_functions(roots, target_ids, target_creators):
    """Functions on a path from the roots down to a target: only these need to run in grad()."""
    funcs, seen = [], set()
    stack = [r.creator for r in roots if r.creator is not None]
    while stack:
        f = stack.pop()
        if f in seen:
            continue
        seen.add(f)
        funcs.append(f)
        for x in f.inputs or ():
            if x.creator is not None and x.creator not in seen:
                stack.append(x.creator)
    funcs.sort(key=lambda f: f.generation)  # inputs' creators are decided before their consumers
    needed = set()
    for f in funcs:
        if f.inputs is None:  # freed: let the engine reach it and raise
            needed.add(f)
            continue
        for x in f.inputs:
            if id(x) in target_ids or x.creator in needed or x.creator in target_creators:
                needed.add(f)
                break
    return needed


def _run_backward(roots, root_grads, retain_graph, create_graph, targets=None):
    """Propagate ``root_grads`` from ``roots`` down the graph.

    With ``targets=None`` gradients are accumulated into the ``.grad`` of leaves
    that require grad (``Tensor.backward``); otherwise only the paths leading to
    ``targets`` are run and their gradients are returned (``grad``).
    """
    global _grad_enabled
    anomaly = _anomaly_enabled  # checks after each backward (detect_anomaly)
    grads = {}  # Function -> gradient of its output, summed over consumers
    heap = []  # (-generation, tie-breaker, Function): latest generation first
    count = 0
    results = None
    if targets is not None:
        target_ids = {id(t): i for i, t in enumerate(targets)}
        target_creators = {t.creator: i for i, t in enumerate(targets) if t.creator is not None}
        needed = _needed_functions(roots, target_ids, target_creators)
        results = [None] * len(targets)

    def accumulate_leaf(x, gx):
        if results is not None:  # grad(): only targets are asked for
            i = target_ids.get(id(x))
            if i is not None:
                results[i] = gx if results[i] is None else results[i] + gx
        elif x._rg:  # backward(): into .grad, like PyTorch
            if x.grad is not None:
                x.grad = x.grad + gx
            elif create_graph:
                x.grad = gx
            else:
                # .grad owns its memory, so in-place updates (clipping, zeroing) are safe:
                # copy views (e.g. a broadcast from sum) and arrays handed out already
                data = gx.data
                if data.base is not None or id(data) in handed_out:
                    data = data.copy()
                handed_out.add(id(data))
                x.grad = Tensor(data)

    handed_out = {id(g.data) for g in root_grads}  # arrays that a leaf's .grad must not share
    to_release = []
    saved_mode = _grad_enabled
    _grad_enabled = bool(create_graph)
    if anomaly:
        _anomaly.engine_enter()
    try:
        for t, g in zip(roots, root_grads):
            c = t.creator
            if c is None:
                accumulate_leaf(t, g)
            elif results is None or c in needed or c in target_creators:
                if c in grads:
                    grads[c] = grads[c] + g
                else:
                    grads[c] = g
                    count += 1
                    heapq.heappush(heap, (-c.generation, count, c))
        while heap:
            f = heapq.heappop(heap)[2]
            gy = grads.pop(f)
            inputs = f.inputs
            if inputs is None:
                raise RuntimeError(_FREED.format(op=type(f).__name__))
            if results is None:
                gxs = _anomaly.run_backward(f, gy) if anomaly else f.backward(gy)
            else:
                i = target_creators.get(f)
                if i is not None:
                    results[i] = gy
                if f not in needed:
                    continue
                # run only toward the targets; restore the recorded mask for later backwards
                recorded = f.needs
                f.needs = tuple(
                    [id(x) in target_ids or x.creator in needed or x.creator in target_creators for x in inputs]
                )
                try:
                    gxs = _anomaly.run_backward(f, gy) if anomaly else f.backward(gy)
                    needs = f.needs
                finally:
                    f.needs = recorded
            if results is None:
                needs = f.needs
            if type(gxs) is not tuple:
                gxs = (gxs,)
            for x, gx, need in zip(inputs, gxs, needs):
                if gx is None or not need:
                    continue
                gdata, xdata = gx.data, x.data
                if gdata.shape != xdata.shape:
                    raise RuntimeError(
                        f"backward of {f.name} returned a gradient of shape {tuple(gdata.shape)} "
                        f"for an input of shape {tuple(xdata.shape)} (a bug in the op)"
                    )
                if gdata.dtype != xdata.dtype:
                    gx = gx.to(xdata.dtype)
                c = x.creator
                if c is None:
                    accumulate_leaf(x, gx)
                else:
                    prev = grads.get(c)
                    if prev is None:
                        grads[c] = gx
                        count += 1
                        heapq.heappush(heap, (-c.generation, count, c))
                    else:
                        grads[c] = prev + gx
            if not retain_graph:
                if create_graph:
                    to_release.append(f)  # the new graph may still read outputs of later nodes
                else:
                    f.release()
    finally:
        _grad_enabled = saved_mode
        if anomaly:
            _anomaly.engine_exit()
    for f in to_release:
        f.release()
    return results


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    """Accumulate d(tensors)/d(leaf) into every leaf's ``.grad`` (``torch.autograd.backward``)."""
    tensors = _as_tuple(tensors)
    grads = _root_grads(tensors, grad_tensors, "backward")
    if retain_graph is None:
        retain_graph = create_graph
    _run_backward(tensors, grads, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """Return d(outputs)/d(inputs) as a tuple, without touching any ``.grad``.

    Same semantics as ``torch.autograd.grad``: ``grad_outputs`` weights each
    output (defaults to ones for scalar outputs); ``retain_graph`` defaults to
    ``create_graph``; with ``create_graph=True`` the returned gradients are
    themselves differentiable. An input that the outputs do not depend on is
    an error unless ``allow_unused=True``, which gives None for it.
    """
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"grad: inputs[{i}] is a {type(x).__name__}, not a Tensor")
        if not x._rg:
            raise RuntimeError(f"grad: inputs[{i}] (shape {tuple(x.shape)}) does not require grad")
    grads = _root_grads(outputs, grad_outputs, "grad")
    if retain_graph is None:
        retain_graph = create_graph
    results = _run_backward(outputs, grads, retain_graph, create_graph, targets=inputs)
    for i, g in enumerate(results):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: inputs[{i}] (shape {tuple(inputs[i].shape)}) was not used to compute the outputs; "
                    "pass allow_unused=True to get None for it"
                )
        elif not create_graph and g._rg:
            results[i] = g.detach()
    return tuple(results)


# Tensor's methods need the ops, and the ops need Function, so Tensor comes last.
from .tensor import Tensor  # noqa: E402

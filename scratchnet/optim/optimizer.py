"""The ``Optimizer`` base class: parameter groups, ``step``, ``zero_grad``, state dicts.

A subclass passes its default options to ``__init__``, checks option values in
``_check_options(group)`` (raising ValueError) and updates one parameter group
in ``_update(group, params)``, where ``params`` are the group's parameters that
have a gradient. Updates work in place on the raw arrays (``p.data``,
``p.grad.data``), so no graph is recorded and no new Tensors are made.
"""

import copy
import numbers
from collections import defaultdict
from collections.abc import Mapping

import numpy as np

from .. import backend
from ..autograd import enable_grad
from ..tensor import Tensor


class Optimizer:
    """Base class of the optimizers (``torch.optim.Optimizer``).

    ``params`` is an iterable of Tensors, or of dicts (parameter groups) that
    each hold ``"params"`` and any options that differ from the defaults, e.g.
    ``[{"params": body}, {"params": head, "lr": 1e-2}]``.

    Attributes:
        param_groups: list of dicts, each with ``"params"`` (a list of Tensors)
            and a value for every option; change ``group["lr"]`` to schedule.
        state: per-parameter dict (keyed by the parameter) of buffers (arrays on
            the parameter's device, in its dtype) and the step count; filled by
            ``step``.
        defaults: the options given to the constructor.
    """

    def __init__(self, params, defaults):
        name = type(self).__name__
        if isinstance(params, Tensor) or hasattr(params, "grad"):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or of dicts, got one {type(params).__name__}"
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(
                f"{name}: params must be an ordered collection (a list), not a set: a set's order changes between runs"
            )
        self._check_options(defaults)
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        try:
            groups = list(params)
        except TypeError:
            raise TypeError(f"{name}: params must be an iterable of Tensors or of dicts, got {params!r}") from None
        if not groups:
            raise ValueError(f"{name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ parameter groups

    def add_param_group(self, param_group):
        """Add a group of parameters with its own options (unset ones take the defaults)."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: a parameter group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{name}: a parameter group needs a 'params' entry, got keys {sorted(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor) or hasattr(params, "grad"):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{name}: parameters must be in an ordered collection (a list), not a set")
        params = list(params)
        seen = {}
        for i, p in enumerate(params):
            _check_param(name, i, p)
            if id(p) in seen:
                raise ValueError(
                    f"{name}: parameter {i} (shape {tuple(p.shape)}) appears twice in the parameter list "
                    f"(also at {seen[id(p)]})"
                )
            seen[id(p)] = i
        for k, other in enumerate(self.param_groups):
            if any(id(p) in seen for p in other["params"]):
                raise ValueError(
                    f"{name}: some parameters appear in more than one parameter group (group {k} and the new one)"
                )
        group = dict(param_group)  # the caller's dict is left as it was
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check_options(group)
        self.param_groups.append(group)

    def _check_options(self, group):
        """Raise ValueError for an invalid option value in ``group`` (a dict of options)."""

    def _require_number(self, group, *keys):
        """TypeError unless each option is a real number (or a one-element Tensor, e.g. a scheduled lr)."""
        for key in keys:
            value = group[key]
            if isinstance(value, Tensor) and value.numel() == 1 and value.dtype.kind in "biuf":
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{type(self).__name__}: {key} must be a number, got {value!r}")

    def _require_flag(self, group, *keys):
        """TypeError unless each option is True or False."""
        for key in keys:
            if not isinstance(group[key], (bool, np.bool_)):
                raise TypeError(f"{type(self).__name__}: {key} must be True or False, got {group[key]!r:.60}")

    def _require_nonnegative(self, group, *keys):
        self._require_number(group, *keys)
        for key in keys:
            value = group[key]
            if not value >= 0:  # also catches NaN
                raise ValueError(f"{type(self).__name__}: invalid {key}={value!r}; it must be >= 0")

    # ------------------------------------------------------------------ the update

    def step(self, closure=None):
        """Update every parameter that has a gradient (others are skipped).

        ``closure``, if given, re-evaluates the model and returns the loss; it
        is called with grad mode on and its result is returned.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._update(group, params)
        return loss

    def _update(self, group, params):
        raise NotImplementedError

    def zero_grad(self, set_to_none=True):
        """Clear the gradients: ``p.grad = None`` (default), or zero the arrays in place.

        With ``set_to_none=False`` a gradient that is itself part of a graph
        (from ``backward(create_graph=True)``) or read-only is replaced by fresh
        zeros instead, so that no recorded value is overwritten.
        """
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif getattr(g, "creator", None) is None and getattr(g.data.flags, "writeable", True):
                    g.data.fill(0)
                else:
                    p.grad = Tensor(backend.array_module(g.data).zeros_like(g.data))

    # ------------------------------------------------------------------ state dicts

    def state_dict(self):
        """The optimizer's state in PyTorch's format, parameters replaced by their index::

            {"state": {index: {"step": 3, "exp_avg": array, ...}},
             "param_groups": [{"lr": 0.001, ..., "params": [0, 1, 2]}, {..., "params": [3]}]}

        Indices count the parameters through all groups in order. As in
        PyTorch the arrays are the live buffers, not copies: save (or
        ``copy.deepcopy``) the result before stepping again to keep a snapshot.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index[id(p)] = len(index)
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if s and id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Take over the options and state of ``state_dict`` (from ``state_dict()``).

        The groups must match this optimizer's in number and size (ValueError
        otherwise); parameters are matched by position. Arrays are copied onto
        each parameter's device and into its dtype; the optimizer is unchanged
        if anything is wrong.
        """
        name = type(self).__name__
        _check_state_dict(name, state_dict)
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter group(s), "
                f"this optimizer has {len(self.param_groups)}"
            )
        by_index = {}
        groups = []
        for k, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {k} of the state dict has {len(saved['params'])} "
                    f"parameters, this optimizer's has {len(group['params'])}"
                )
            by_index.update(zip(saved["params"], group["params"]))
            new = copy.deepcopy({key: v for key, v in saved.items() if key != "params"})
            new["params"] = group["params"]
            for key, value in self.defaults.items():
                new.setdefault(key, value)
            self._check_options(new)
            groups.append(new)
        state = defaultdict(dict)
        for i, values in state_dict["state"].items():
            if i not in by_index:
                raise ValueError(
                    f"{name}.load_state_dict: state for parameter {i!r}, which no parameter group lists"
                )
            p = by_index[i]
            state[p] = {key: _copy_like(p.data, key, value, i) for key, value in values.items()}
        self.param_groups = groups
        self.state = state

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {group[key]}" for key in sorted(group) if key != "params"]
        return "\n".join(lines + [")"])


def _check_state_dict(name, state_dict):
    """ValueError unless ``state_dict`` has the layout ``state_dict()`` gives (it may come from a damaged file)."""
    problem = None
    if not isinstance(state_dict, Mapping):
        problem = f"a {type(state_dict).__name__}, not a dict"
    elif "state" not in state_dict or "param_groups" not in state_dict:
        problem = f"keys {sorted(map(str, state_dict))}, not 'state' and 'param_groups'"
    elif not isinstance(state_dict["state"], Mapping):
        problem = f"'state' is a {type(state_dict['state']).__name__}, not a dict"
    elif not isinstance(state_dict["param_groups"], (list, tuple)):
        problem = f"'param_groups' is a {type(state_dict['param_groups']).__name__}, not a list"
    else:
        for k, group in enumerate(state_dict["param_groups"]):
            if not isinstance(group, Mapping) or not isinstance(group.get("params"), (list, tuple)):
                problem = f"parameter group {k} is not a dict with a 'params' list"
                break
        for i, values in state_dict["state"].items():
            if not isinstance(values, Mapping):
                problem = f"the state of parameter {i!r} is a {type(values).__name__}, not a dict"
                break
    if problem is not None:
        raise ValueError(f"{name}.load_state_dict: not an optimizer state dict: {problem}")


def _check_param(optimizer, i, p):
    """A parameter must be a leaf Tensor holding real floating-point values."""
    try:
        backend.array_module(getattr(p, "data", None))
    except TypeError:
        raise TypeError(f"{optimizer}: optimizers update Tensors, but parameter {i} is a {type(p).__name__}") from None
    if p.data.dtype.kind != "f":
        raise TypeError(
            f"{optimizer}: parameter {i} has dtype {p.data.dtype}; only real floating-point tensors can be optimized"
        )
    if getattr(p, "creator", None) is not None:
        raise ValueError(
            f"{optimizer}: parameter {i} is not a leaf (it was computed by an op); optimize the tensors it came from"
        )


def _copy_like(param, key, value, i):
    """A copy of the saved state value ``key`` of parameter ``i``, whose array is ``param``.

    Arrays go onto the parameter's device, in its dtype; the ``step`` count
    (also when saved as a 0-d array) becomes a Python number; other values are kept.
    """
    is_array = True
    try:
        backend.array_module(value)
    except TypeError:
        is_array = False
    if key == "step":  # a count: a number >= 0, or a one-element array of one (PyTorch saves a tensor)
        step = value.item() if is_array and value.size == 1 else value
        if isinstance(step, bool) or not isinstance(step, numbers.Real) or not step >= 0 or step != int(step):
            raise ValueError(f"load_state_dict: step of parameter {i} is {value!r:.60}, not a count")
        return step
    if not is_array:
        return value
    if value.dtype.kind not in "biuf":
        raise ValueError(f"load_state_dict: state {key!r} of parameter {i} has dtype {value.dtype}, not a number type")
    if value.shape != param.shape:
        raise ValueError(
            f"load_state_dict: state {key!r} of parameter {i} has shape {tuple(value.shape)}, "
            f"but the parameter has shape {tuple(param.shape)}"
        )
    moved = backend.to_device(value, backend.device_of(param))
    return moved.astype(param.dtype, copy=moved is value)  # always a copy: never share with the state dict

"""``Module``: the base class of layers and models, with PyTorch's names and semantics.

A module keeps three ordered registries, filled by ``__setattr__``:
``_parameters`` (Parameters), ``_buffers`` (Tensors that are state but not
learned, e.g. batch-norm running statistics) and ``_modules`` (children).
Everything else (walking the tree, naming, ``state_dict`` keys, moving to a
device, ``repr``) is derived from these three dicts, so a module tree built the
same way as in PyTorch gets the same names, the same state-dict keys and the
same printout, and weights can be exchanged between the two.
"""

from collections import OrderedDict, namedtuple
from collections.abc import Mapping

import numpy as np

from .. import backend
from ..tensor import Tensor, _is_dtype_name
from .parameter import Parameter


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys that did not line up (PyTorch's NamedTuple)."""

    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _addindent(text, spaces):
    """Indent every line but the first (children inside a parent's repr); blank lines stay empty."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    pad = " " * spaces
    return lines[0] + "\n" + "\n".join(pad + line if line.strip() else "" for line in lines[1:])


def _typename(value):
    return type(value).__name__


def _as_array(value):
    """The backend array held by a state-dict value (array or Tensor), or None if it is neither."""
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, np.ndarray) or hasattr(value, "__cuda_array_interface__"):
        return value
    if isinstance(value, np.generic):
        return np.asarray(value)
    return None


def _unexpected_keys(module, keys, prefix, own):
    """Keys that name nothing in the model, found module by module as PyTorch does (same order;
    keys under a child registered as None are ignored, as there)."""
    found = []
    for key in keys:
        if key in own:
            continue
        if not isinstance(key, str):  # a damaged or foreign state dict: nothing is named by it
            found.append(key)
            continue
        head, dot, _ = key[len(prefix) :].partition(".")
        if not dot or head not in module._modules:
            found.append(key)
    for name, child in module._modules.items():
        if child is not None:
            child_prefix = prefix + name + "."
            keys_below = [k for k in keys if isinstance(k, str) and k.startswith(child_prefix)]
            found += _unexpected_keys(child, keys_below, child_prefix, own)
    return found


def _is_floating(array):
    return array.dtype.kind in "fc"


class Module:
    """Base class of all layers and models: subclass it, set attributes in ``__init__``, define ``forward``.

    ::

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 3)      # registered child: its parameters become Net's
            def forward(self, x):
                return self.fc(x).relu()
    """

    def __init__(self):
        # object.__setattr__: the registries must exist before our __setattr__ can use them
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_modules", {})

    # ------------------------------------------------------------------ forward

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args, **kwargs):
        # the one place where forward hooks would go; kept to a single call for speed
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ registration

    def register_parameter(self, name, param):
        """Add ``param`` (a Parameter, or None as a placeholder) as ``self.<name>``."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_name(name, "parameter", self._parameters)
        if param is None:
            self._parameters[name] = None
        elif not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                "(scratchnet.nn.Parameter or None required)"
            )
        elif param.creator is not None:
            raise ValueError(
                f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be created "
                f"explicitly. To express '{name}' as a function of another Tensor, compute the value in "
                "the forward() method."
            )
        else:
            self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Add ``tensor`` as state that is not learned (running statistics, masks...).

        Persistent buffers go into ``state_dict``; non-persistent ones only move with ``to()``.
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_name(name, "buffer", self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{_typename(tensor)}' object to buffer '{name}' (scratchnet Tensor or None required)"
            )
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name, module):
        """Add ``module`` (or None) as the child ``self.<name>``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        if "_modules" not in self.__dict__:
            raise AttributeError("cannot assign module before Module.__init__() call")
        self._check_name(name, "module", self._modules)
        self._modules[name] = module

    register_module = add_module

    def _check_name(self, name, kind, registry):
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {_typename(name)}")
        if "." in name:
            raise KeyError(f"{kind} name can't contain \".\", got: {name}")
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if hasattr(self, name) and name not in registry:
            raise KeyError(f"attribute '{name}' already exists")

    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._remove_name(name, d, self._buffers, self._modules)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{_typename(value)}' as parameter '{name}' "
                    "(scratchnet.nn.Parameter or None expected)"
                )
            self.register_parameter(name, value)
        else:
            modules = d.get("_modules")
            if isinstance(value, Module):
                if modules is None:
                    raise AttributeError("cannot assign module before Module.__init__() call")
                self._remove_name(name, d, self._parameters, self._buffers)
                modules[name] = value
            elif modules is not None and name in modules:
                if value is not None:
                    raise TypeError(
                        f"cannot assign '{_typename(value)}' as child module '{name}' "
                        "(scratchnet.nn.Module or None expected)"
                    )
                modules[name] = value
            else:
                buffers = d.get("_buffers")
                if buffers is not None and name in buffers:
                    if value is not None and not isinstance(value, Tensor):
                        raise TypeError(
                            f"cannot assign '{_typename(value)}' as buffer '{name}' (scratchnet Tensor or None expected)"
                        )
                    buffers[name] = value  # keeps its persistence
                else:
                    object.__setattr__(self, name, value)

    def _remove_name(self, name, *registries):
        for r in registries:
            r.pop(name, None)
        self._non_persistent_buffers_set.discard(name)

    def __getattr__(self, name):
        # only called when normal lookup fails; reads __dict__ directly so that a half-built
        # module (copy.deepcopy, unpickling) gets an AttributeError instead of endless recursion
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            r = d.get(registry)
            if r is not None and name in r:
                return r[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def __dir__(self):
        keys = list(dir(type(self))) + list(self.__dict__)
        keys += list(self._parameters) + list(self._modules) + list(self._buffers)
        return sorted(k for k in keys if not k[0].isdigit())

    # ------------------------------------------------------------------ walking the tree

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(name, module) for self ('' or ``prefix``) and every descendant, depth first; shared ones once."""
        if memo is None:
            memo = set()
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self, remove_duplicate=True):
        for _, module in self.named_modules(remove_duplicate=remove_duplicate):
            yield module

    def named_children(self):
        """(name, module) for the direct children; a module registered twice comes once."""
        memo = set()
        for name, module in self._modules.items():
            if module is not None and module not in memo:
                memo.add(module)
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry, prefix, recurse, remove_duplicate):
        memo = set()  # ids: Tensor.__eq__ is elementwise, so identity is what counts
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or id(value) in memo:
                    continue
                if remove_duplicate:
                    memo.add(id(value))
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, Parameter) pairs; a parameter shared by several modules is listed once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        """The parameters, each once: what an optimizer should be given."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn):
        """Call ``fn(module)`` on every child (recursively), then on self; returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ modes and gradients

    def train(self, mode=True):
        """Set training mode (``mode=True``) or evaluation mode here and in every descendant."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Freeze (False) or unfreeze every parameter, e.g. the discriminator while training a GAN's generator."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Drop the gradients (``set_to_none=True``) or set them to zeros.

        Zeros are fresh arrays rather than writes into the old ones, since a
        ``.grad`` may share memory with other gradients (see README).
        """
        for p in self.parameters():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    g = p.grad.data
                    p.grad = Tensor(backend.array_module(g).zeros_like(g))

    # ------------------------------------------------------------------ devices and dtypes

    def _apply(self, fn):
        """Replace the array of every parameter, gradient and buffer by ``fn(array)``, in place.

        The Parameter and buffer objects stay the same (an optimizer built
        before still holds them). All new arrays are made before any is
        assigned, so a failure (e.g. no GPU) leaves the module untouched.
        """
        new_arrays = []  # (tensor, array) for .data; (parameter, array) for .grad
        new_grads = []
        seen = set()
        for module in self.modules():
            for t in list(module._parameters.values()) + list(module._buffers.values()):
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                new_arrays.append((t, fn(t.data)))
                if t.grad is not None:
                    new_grads.append((t, fn(t.grad.data)))
        for t, a in new_arrays:
            t.data = a
        for t, g in new_grads:
            t.grad = Tensor(g)
        return self

    def to(self, *args, device=None, dtype=None, non_blocking=False):
        """Move and/or cast parameters and buffers in place; returns self.

        ``to('cuda')``, ``to('cpu')``, ``to(float64)``, ``to('cuda', float32)``
        or ``to(tensor)`` (its device and dtype). As in PyTorch only floating
        point tensors are cast (``num_batches_tracked`` stays int64), and the
        dtype must be a floating one.
        """
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, str) and not _is_dtype_name(a):
                device = a
            else:
                dtype = a
        if device is not None:
            name, _ = backend.parse_device(device)  # a bad name fails before anything moves
            if name == "cupy":
                backend._import_cupy()
        if dtype is not None:
            try:
                dtype = np.dtype(dtype)
            except TypeError:
                raise TypeError(f"Module.to: expected a device or dtype, got {dtype!r}") from None
            if dtype.kind not in "fc":
                raise TypeError(
                    f"nn.Module.to only accepts floating point or complex dtypes, but got desired dtype={dtype}"
                )

        def convert(array):
            if device is not None and not backend.is_on(array, device):
                array = backend.to_device(array, device)
            if dtype is not None and _is_floating(array) and array.dtype != dtype:
                array = array.astype(dtype)
            return array

        return self._apply(convert)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else f"cuda:{int(device)}")

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def half(self):
        return self.to(np.float16)

    # ------------------------------------------------------------------ state dict

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        """This module's own parameters and persistent buffers (not its children's); override to customise."""
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.data
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.data

    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """An OrderedDict from dotted names to arrays: parameters and persistent buffers.

        Keys are PyTorch's for the same module tree ("features.0.weight",
        "bn.running_mean"); each module's own entries come before its
        children's. Values are the backend arrays themselves (NumPy or CuPy),
        sharing memory with the model as PyTorch's detached tensors do: copy
        them to keep a snapshot while training goes on. ``keep_vars=True``
        gives the Parameter/Tensor objects instead. A shared parameter appears
        under every name it has.
        """
        if destination is None:
            destination = OrderedDict()
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        return destination

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays (NumPy, CuPy or Tensors) from ``state_dict`` into the parameters and buffers.

        Everything is checked before anything is written: with ``strict=True``
        missing and unexpected keys are errors; wrong shapes and values that
        are not arrays always are. One RuntimeError lists every problem, in
        PyTorch's words, and the model is left untouched. Values are copied
        into the existing arrays, onto each tensor's device and in its dtype,
        so Parameters keep their identity (and weights tied by sharing an array
        stay tied). Values may be the model's own arrays in any arrangement
        (unlike PyTorch, swapping two layers' weights this way works).
        Returns ``(missing_keys, unexpected_keys)``.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        own = self.state_dict(keep_vars=True)
        missing, errors, copies = [], [], []
        for key, target in own.items():
            if key not in state_dict:
                missing.append(key)
                continue
            value = _as_array(state_dict[key])
            if value is None:
                errors.append(
                    f'While copying the parameter named "{key}", expected a NumPy/CuPy array or a Tensor '
                    f"from checkpoint but received {type(state_dict[key])}"
                )
                continue
            if value.dtype.kind not in "biuf":  # strings, objects, complex: would fail (or cast wrongly) below
                errors.append(
                    f'While copying the parameter named "{key}", expected an array of real numbers from checkpoint '
                    f"but received dtype {value.dtype}"
                )
                continue
            if target.ndim == 0 and value.shape == (1,):  # PyTorch's allowance for old 0-d checkpoints
                value = value.reshape(())
            if tuple(value.shape) != tuple(target.shape):
                errors.append(
                    f"size mismatch for {key}: copying a param with shape {tuple(value.shape)} from checkpoint, "
                    f"the shape in current model is {tuple(target.shape)}."
                )
                continue
            copies.append((target, value))
        unexpected = _unexpected_keys(self, list(state_dict), "", own)
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: {}. ".format(", ".join(f'"{k}"' for k in unexpected)))
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: {}. ".format(", ".join(f'"{k}"' for k in missing)))
        if errors:
            raise RuntimeError(
                "Error(s) in loading state_dict for {}:\n\t{}".format(type(self).__name__, "\n\t".join(errors))
            )
        # convert everything first (device transfers can fail), then write; a value that needed no
        # transfer or cast is copied, since it may share memory with another target (state_dict()
        # hands out the model's own arrays, e.g. when swapping two layers' weights)
        converted = []
        for target, value in copies:
            new = backend.to_device(value, target.device).astype(target.dtype, copy=False)
            converted.append((target, new.copy() if new is value else new))
        for target, value in converted:
            target.data[...] = value
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ printing

    def _get_name(self):
        return type(self).__name__

    def extra_repr(self):
        """One line (or several) shown inside this module's repr, e.g. 'in_features=2, out_features=3'."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({key}): " + _addindent(repr(module), 2) for key, module in self._modules.items()]
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

"""Array backends: NumPy on the CPU, CuPy on an NVIDIA GPU.

Two rules keep a graph on one device:

* Ops take their array module from their inputs (``array_module(a)``), never
  from a global, so work that starts on the GPU stays on the GPU.
* The *current* backend only decides where new tensors are made: factories
  (``zeros``, ``randn``...) and ``tensor(data)``.

CuPy is imported the first time it is asked for, so ``import scratchnet``
costs nothing on a machine without a GPU.
"""

import os

import numpy as np

BACKENDS = ("numpy", "cupy")
_DEVICE_OF_BACKEND = {"numpy": "cpu", "cupy": "cuda"}

_current = None  # resolved lazily from $SCRATCHNET_BACKEND on first use
_cupy = None  # the cupy module, once imported
_seed = None  # the last manual_seed, applied to generators made later
_generators = {}  # backend name -> random Generator


def _check_name(name):
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; valid backends are {', '.join(map(repr, BACKENDS))}")


def _import_cupy():
    """Import CuPy and make sure a GPU is there; raise a message saying what to install."""
    global _cupy
    if _cupy is not None:
        return _cupy
    try:
        import cupy
    except ImportError as e:
        raise RuntimeError(
            "the 'cupy' backend needs CuPy and an NVIDIA GPU; CuPy is not installed. "
            "Install it with: pip install 'scratchnet[gpu]'  (cupy-cuda12x, for CUDA 12)"
        ) from e
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CUDA driver missing or broken
        raise RuntimeError(
            f"CuPy is installed but cannot reach a CUDA GPU ({e}); the 'cupy' backend needs an NVIDIA GPU "
            "with a working driver. Use the 'numpy' backend on this machine."
        ) from e
    if count == 0:
        raise RuntimeError("CuPy is installed but found no CUDA GPU; use the 'numpy' backend on this machine.")
    _cupy = cupy
    return cupy


def is_available(name):
    """True if backend ``name`` can be used here (for 'cupy': CuPy imports and sees a GPU)."""
    _check_name(name)
    if name == "numpy":
        return True
    try:
        _import_cupy()
    except RuntimeError:
        return False
    return True


def use(name):
    """Make ``name`` ('numpy' or 'cupy') the backend where new tensors are created."""
    global _current
    _check_name(name)
    if name == "cupy":
        _import_cupy()
    _current = name


def current():
    """Name of the current backend; the default comes from $SCRATCHNET_BACKEND, else 'numpy'."""
    global _current
    if _current is None:
        name = os.environ.get("SCRATCHNET_BACKEND", "numpy").strip().lower() or "numpy"
        if name not in BACKENDS:
            raise ValueError(
                f"SCRATCHNET_BACKEND={name!r} is not a backend; valid backends are {', '.join(map(repr, BACKENDS))}"
            )
        use(name)
    return _current


def xp():
    """The array module of the current backend (numpy or cupy)."""
    return np if current() == "numpy" else _cupy


def array_module(array):
    """The array module (numpy or cupy) that owns ``array``."""
    if isinstance(array, (np.ndarray, np.generic)):
        return np
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return _cupy
    raise TypeError(f"expected a NumPy or CuPy array, got {type(array).__name__}")


def device_of(array):
    """'cpu' for a NumPy array, 'cuda:N' for a CuPy array on GPU N."""
    if isinstance(array, (np.ndarray, np.generic)):
        return "cpu"
    return f"cuda:{array.device.id}"


def parse_device(device):
    """Normalise 'cpu' / 'cuda' / 'cuda:N' to (backend name, gpu index or None)."""
    if not isinstance(device, str):
        raise TypeError(f"device must be a string like 'cpu' or 'cuda', got {type(device).__name__}")
    name, _, index = device.partition(":")
    if name == "cpu" and not index:
        return "numpy", None
    if name == "cuda" and (not index or index.isdigit()):
        return "cupy", int(index) if index else None
    raise ValueError(f"unknown device {device!r}; valid devices are 'cpu', 'cuda' and 'cuda:N'")


def is_on(array, device):
    """True if ``array`` already lives on ``device`` ('cpu', 'cuda' = any GPU, 'cuda:N')."""
    name, index = parse_device(device)
    here = device_of(array)
    if name == "numpy":
        return here == "cpu"
    return here != "cpu" and (index is None or here == f"cuda:{index}")


def default_device():
    """The device where the current backend creates tensors."""
    return _DEVICE_OF_BACKEND[current()]


def to_device(array, device):
    """Return ``array`` on ``device`` ('cpu', 'cuda', 'cuda:N'); no copy when it is already there."""
    name, index = parse_device(device)
    if name == "numpy":
        if isinstance(array, (np.ndarray, np.generic)):
            return np.asarray(array)
        return array.get()
    cupy = _import_cupy()
    if index is None:
        return cupy.asarray(array)
    with cupy.cuda.Device(index):
        return cupy.asarray(array)


def on_current_device(array):
    """Move ``array`` (NumPy, CuPy or anything array-like) onto the current backend's device."""
    if current() == "numpy":
        if _cupy is not None and isinstance(array, _cupy.ndarray):
            return array.get()
        return np.asarray(array)
    return _cupy.asarray(array)


# --------------------------------------------------------------------------- random numbers


def manual_seed(seed):
    """Seed the random generators of every backend (also ones created later, e.g. CuPy's)."""
    global _seed
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"manual_seed: seed must be >= 0, got {seed}")
    _seed = seed
    _generators.clear()


def generator(name=None):
    """The random Generator of backend ``name`` (default: the current one)."""
    name = name or current()
    gen = _generators.get(name)
    if gen is None:
        if name == "numpy":
            gen = np.random.default_rng(_seed)
        else:
            gen = _import_cupy().random.default_rng(_seed)
        _generators[name] = gen
    return gen



def get_rng_state():
    """The NumPy generator's state as plain numbers (savable with ``scratchnet.save``), to resume a run exactly."""
    return {"seed": -1 if _seed is None else _seed, "numpy": generator("numpy").bit_generator.state}


def set_rng_state(state):
    """Restore a state taken by ``get_rng_state``; ValueError (and nothing changed) for anything else."""
    global _seed
    try:
        seed = state["seed"]
        if isinstance(seed, bool) or int(seed) != seed or seed < -1:
            raise ValueError(f"seed {seed!r} is not an integer >= -1")
        check = np.random.default_rng().bit_generator
        check.state = state["numpy"]  # a damaged state fails here, before the real generator changes
    except (KeyError, IndexError, TypeError, ValueError, OverflowError) as e:
        raise ValueError(f"set_rng_state: not a state from get_rng_state ({type(e).__name__}: {e})") from None
    _seed = None if seed == -1 else int(seed)
    generator("numpy").bit_generator.state = state["numpy"]

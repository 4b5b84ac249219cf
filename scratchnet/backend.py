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
_seed = None  # the last manual_seed (None: seeded from the OS)
_generator = None  # the one NumPy Generator all randomness comes from, made on first use


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


# --------------------------------------------------------------------------- host memory


def retain_freed_memory():
    """Let glibc keep freed large blocks for the next arrays instead of handing them back to the OS.

    Every op makes new arrays. glibc's malloc serves blocks above a threshold
    (128 KiB to 32 MiB, adjusted as it goes) with a fresh ``mmap`` and unmaps
    them on free, so the next op's array of the same size faults every page in
    again, zero-filled by the kernel. A training step of the demos makes
    megabyte-sized temporaries by the hundred: the DCGAN step took ~19,500 page
    faults and 196-249 ms on 2 cores, and ~1 fault and 138-185 ms with this.

    Process-wide (it changes malloc for every library in the process), so it
    is opt-in: the demos and benchmarks call it. Freed memory stays with the
    process until it exits; the peak is unchanged. Returns True where it
    applied (Linux with glibc), False elsewhere.
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library already loaded into this process
    except (OSError, AttributeError, TypeError):  # no mallopt (macOS, Windows, musl)
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    return bool(mallopt(m_mmap_threshold, 2**30)) and bool(mallopt(m_trim_threshold, 2**31 - 1))


# --------------------------------------------------------------------------- random numbers


def manual_seed(seed):
    """Seed scratchnet's random generator (weights, dropout, noise, shuffling), for every backend."""
    global _seed, _generator
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"manual_seed: seed must be >= 0, got {seed}")
    _seed = seed
    _generator = None


def generator():
    """The seeded NumPy Generator behind every random draw, GPU ones included.

    GPU samples are drawn on the host and copied to the device. One stream for
    all backends means the same seed gives the same weights, masks and noise on
    CPU and GPU, and its state is a few plain numbers that a checkpoint holds,
    so an interrupted GPU run resumes exactly. The copies are small next to a
    training step (noise vectors, dropout masks as one byte per element).
    """
    global _generator
    if _generator is None:
        _generator = np.random.default_rng(_seed)
    return _generator


def random_array(kind, shape, dtype, device="cpu", gen=None):
    """U[0, 1) (``kind='uniform'``) or N(0, 1) (``'normal'``) samples of ``dtype`` on ``device``.

    ``gen``: a NumPy Generator to draw from instead of scratchnet's. float16 is
    drawn in float32 and rounded, as NumPy's generators make float32/float64 only.
    """
    gen = generator() if gen is None else gen
    dtype = np.dtype(dtype)
    draw = gen.random if kind == "uniform" else gen.standard_normal
    array = draw(shape, dtype=dtype if dtype.itemsize >= 4 else np.float32).astype(dtype, copy=False)
    return to_device(array, device)


def get_rng_state():
    """The generator's state as plain numbers (savable with ``scratchnet.save``), to resume a run exactly."""
    return {"seed": -1 if _seed is None else _seed, "numpy": generator().bit_generator.state}


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
    generator().bit_generator.state = state["numpy"]

"""Shared code of the benchmark scripts (not a benchmark itself): the optional torch import, the
common command-line options, the device switch, alternating median timing, tables and JSON.

The timing rule of every script: each case runs ``--warmup`` times untimed, then ``--repeats``
timed rounds in which scratchnet and PyTorch (and any other contestant) take turns, the order
reversed every other round (A B, B A, A B, ...), so drift of a busy machine and cache effects of
going first hit all sides alike; the median of each side's rounds is reported. On CUDA the device
is synchronised before the clock starts and before it is read.

Threads: ``--threads N`` calls ``torch.set_num_threads(N)``. NumPy's BLAS (and so scratchnet's
GEMMs) takes its thread count from the environment when it loads: set OMP_NUM_THREADS or
OPENBLAS_NUM_THREADS (MKL_NUM_THREADS for an MKL NumPy) before starting the script, e.g.
``OMP_NUM_THREADS=2 python benchmarks/train_step.py --threads 2``. PyTorch also starts with
OMP_NUM_THREADS threads when it is set.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing
import scratchnet as sn

try:
    import torch
except ImportError:  # the comparison is optional
    torch = None

SCRATCHNET, TORCH = "scratchnet", "torch"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# --------------------------------------------------------------------------- command line


def int_list(text):
    """'16,64,256' -> [16, 64, 256] (argparse type)."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


THREADS_NOTE = (
    "threads: --threads sets PyTorch's (torch.set_num_threads); NumPy's BLAS threads, which run\n"
    "scratchnet's matrix products, come from OMP_NUM_THREADS / OPENBLAS_NUM_THREADS (MKL_NUM_THREADS)\n"
    "in the environment, read when NumPy loads, e.g. OMP_NUM_THREADS=2 python ... --threads 2"
)


def parser_for(doc, repeats=15, warmup=3, batches="64", device=True, warmup_option=True, repeats_help=None):
    """An ArgumentParser with the options every script shares: --repeats, --warmup, --batches
    (alias --batch), --threads, --device and --json; ``batches=None``, ``device=False`` or
    ``warmup_option=False`` leave that option out."""
    parser = argparse.ArgumentParser(
        description=doc.split("\n\n")[0], epilog=THREADS_NOTE, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    what = repeats_help or "timed rounds"
    parser.add_argument("--repeats", type=int, default=repeats, help=f"{what}, median reported (default {repeats})")
    if warmup_option:
        parser.add_argument("--warmup", type=int, default=warmup, help=f"untimed runs first (default {warmup})")
    if batches is not None:
        parser.add_argument(
            "--batches", "--batch", type=int_list, default=int_list(batches), metavar="N[,N...]",
            help=f"batch size(s), comma-separated (default {batches})",
        )  # fmt: skip
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads(N); see the note below")
    if device:
        parser.add_argument(
            "--device", choices=("cpu", "cuda"), default="cpu",
            help="cuda: scratchnet on the 'cupy' backend, PyTorch on 'cuda' (default cpu)",
        )  # fmt: skip
    parser.add_argument(
        "--malloc", choices=("retain", "system"), default="retain",
        help="retain: sn.backend.retain_freed_memory(), as the demos run (freed blocks reused, for both libraries); "
             "system: glibc's defaults (default retain)",
    )  # fmt: skip
    if warmup_option:  # the scripts that time turn by turn
        parser.add_argument(
            "--settle", type=float, default=0.25, metavar="SECONDS",
            help="before each timed call: sleep this long, then one untimed call, so the other library's "
                 "spinning threads are asleep (0: back to back; default 0.25)",
        )  # fmt: skip
    parser.add_argument("--json", metavar="PATH", help="also write the results to PATH as JSON")
    return parser


def check_counts(parser, args):
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    if getattr(args, "warmup", 0) < 0:
        parser.error(f"--warmup must be at least 0, got {args.warmup}")
    if getattr(args, "settle", 0) < 0:
        parser.error(f"--settle must be at least 0, got {args.settle}")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")


# --------------------------------------------------------------------------- libraries and devices


class Setup:
    """The contestants and the device, after --threads and --device are applied.

    ``libs``: ['scratchnet', 'torch'], or ['scratchnet'] when torch is missing (or, on
    --device cuda, has no CUDA); ``note``: why torch is left out, else None. ``torch_device``:
    'cpu' or 'cuda'. ``xp``: the array module of the device (numpy or cupy)."""

    def __init__(self, args):
        self.device = getattr(args, "device", "cpu")
        self.malloc = getattr(args, "malloc", "system")
        if self.malloc == "retain" and not sn.backend.retain_freed_memory():
            self.malloc = "system (retain_freed_memory needs glibc)"
        self.torch = torch
        self.note = None if torch is not None else "torch is not installed: no comparison"
        self.xp = np
        if torch is not None and args.threads is not None:
            torch.set_num_threads(args.threads)
        if self.device == "cuda":
            if not sn.backend.is_available("cupy"):
                print("--device cuda: skipped, CuPy or a CUDA GPU is missing here (pip install 'scratchnet[gpu]')")
                sys.exit(0)
            sn.backend.use("cupy")
            import cupy

            self.xp = cupy
            if torch is not None and not torch.cuda.is_available():
                self.torch, self.note = None, "this torch build has no CUDA: scratchnet only"
        else:
            sn.backend.use("numpy")
        self.torch_device = "cuda" if self.device == "cuda" else "cpu"
        self.libs = [SCRATCHNET] + ([TORCH] if self.torch is not None else [])

    def sync(self, lib=SCRATCHNET):
        """A function that waits for the device's queued work of ``lib`` (a no-op on the CPU)."""
        if self.device != "cuda":
            return _nothing
        if lib == TORCH:
            return self.torch.cuda.synchronize
        return self.xp.cuda.Device().synchronize  # scratchnet and bare CuPy kernels

    def to_torch(self, array, dtype=None):
        """A NumPy array as a torch tensor on the torch device."""
        return self.torch.from_numpy(np.ascontiguousarray(array)).to(self.torch_device, dtype)

    def to_sn(self, array):
        """A NumPy array as a scratchnet tensor on the current backend."""
        return sn.tensor(np.ascontiguousarray(array))

    def seed(self, seed=0):
        sn.manual_seed(seed)
        if self.torch is not None:
            self.torch.manual_seed(seed)

    def describe(self):
        """One line: versions, threads and device, for the header of a table."""
        parts = [f"Python {platform.python_version()}", f"NumPy {np.__version__}", f"scratchnet {sn.__version__}"]
        if torch is not None:
            parts.append(f"PyTorch {torch.__version__}, torch threads {torch.get_num_threads()}, {torch_isa()}")
        env = ", ".join(f"{k}={os.environ[k]}" for k in THREAD_VARIABLES if k in os.environ)
        parts.append(env or "BLAS threads: library default")
        core = openblas_core()
        if core is not None:
            forced = os.environ.get("OPENBLAS_CORETYPE")
            parts.append(f"OpenBLAS kernels {core}" + (f" (OPENBLAS_CORETYPE={forced})" if forced else " (detected)"))
        parts.append(f"malloc {self.malloc}")
        parts.append(f"device {self.device}")
        return "; ".join(parts)

    def environment(self):
        """The same facts as a dict, for --json."""
        return {
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "machine": platform.machine(),
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "openblas_kernels": openblas_core(),
            "openblas_coretype_variable": os.environ.get("OPENBLAS_CORETYPE"),
            "scratchnet": sn.__version__,
            "torch": torch.__version__ if torch is not None else None,
            "torch_threads": torch.get_num_threads() if torch is not None else None,
            "torch_isa": torch_isa() if torch is not None else None,
            "thread_variables": {k: os.environ.get(k) for k in THREAD_VARIABLES},
            "malloc": self.malloc,
            "device": self.device,
        }


def _nothing():
    pass


def copy_weights(source, target):
    """Load a scratchnet module's state dict into a torch module (strict: the same keys and shapes,
    so the twin has the same structure); returns the number of parameters of each side."""
    state = {
        k: torch.from_numpy(np.ascontiguousarray(sn.backend.to_device(v, "cpu")))
        for k, v in source.state_dict().items()
    }
    target.load_state_dict(state, strict=True)
    return sum(p.numel() for p in source.parameters()), sum(p.numel() for p in target.parameters())


# --------------------------------------------------------------------------- timing


def time_ms(fn, sync):
    """Wall time of one call of ``fn`` in milliseconds, the device synchronised at both ends."""
    sync()
    start = time.perf_counter()
    fn()
    sync()
    return (time.perf_counter() - start) * 1e3


def alternate(cases, repeats, warmup, syncs, settle=0.0):
    """Time ``cases`` ({name: fn}) taking turns: ``warmup`` untimed calls each, then ``repeats``
    rounds, the order reversed every other round. ``syncs``: {name: sync function}.

    ``settle`` > 0: before each timed call, sleep that many seconds and make one untimed call.
    Both libraries' worker threads spin for a while after their last call (OpenBLAS up to ~0.1 s,
    PyTorch's OpenMP shorter); on a 2-core machine the spinning threads of one library would
    run during the other's timed call. The pause lets them fall asleep, the untimed call wakes
    the next library's own threads. Returns {name: median ms}."""
    names = list(cases)
    for _ in range(warmup):
        for name in names:
            time_ms(cases[name], syncs[name])
    times = {name: [] for name in names}
    for r in range(repeats):
        for name in names if r % 2 == 0 else reversed(names):
            if settle > 0:
                time.sleep(settle)
                time_ms(cases[name], syncs[name])
            times[name].append(time_ms(cases[name], syncs[name]))
    return {name: statistics.median(values) for name, values in times.items()}


def ratio(a, b):
    return a / b if a is not None and b else None


# --------------------------------------------------------------------------- output


def fmt(value, digits=2):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


class Table:
    """A plain-text table printed row by row as results come in (long runs show progress).
    ``columns``: (title, width) or (title, width, "<") pairs; text columns ("<") and the first
    column are left-aligned, the others right-aligned."""

    def __init__(self, columns, digits=2):
        self.digits = digits
        self.formats = [(width, "<" if i == 0 or "<" in align else ">") for i, (_, width, *align) in enumerate(columns)]
        self._print([title for title, *_ in columns])

    def _print(self, cells):
        print("  ".join(f"{c:{a}{w}}" for c, (w, a) in zip(cells, self.formats)).rstrip(), flush=True)

    def row(self, *values):
        self._print([fmt(v, self.digits) for v in values])


def write_json(path, script, args, setup, results):
    """Write {script, argv, options, environment, results} to ``path``."""
    payload = {
        "script": script,
        "argv": sys.argv[1:],
        "options": {k: v for k, v in vars(args).items() if k != "json"},
        "environment": setup.environment(),
        "results": results,
    }
    with open(path, "w") as f:
        json.dump(payload, f, indent=2)
        f.write("\n")
    print(f"wrote {path}")


TORCH_ISA_VARIABLES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")


def torch_isa():
    """PyTorch's vector instruction set: ATen's kernels ('AVX512', 'AVX2', ...) and the variables that cap
    it and oneDNN's and MKL's, when set. NumPy's OpenBLAS may run narrower kernels than PyTorch on the same
    CPU (OPENBLAS_CORETYPE): capping PyTorch the same way (ATEN_CPU_CAPABILITY=avx2
    ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2) compares the two at one instruction set."""
    caps = ", ".join(f"{k}={os.environ[k]}" for k in TORCH_ISA_VARIABLES if k in os.environ)
    capability = getattr(torch.backends.cpu, "get_cpu_capability", lambda: "unknown")()  # PyTorch 2.0+
    return f"torch ISA {capability}" + (f" ({caps})" if caps else "")


def openblas_core():
    """The kernels NumPy's OpenBLAS chose when it loaded ('SkylakeX', 'Haswell', ...), or None (not
    OpenBLAS, or not found). OpenBLAS picks them from the CPU unless OPENBLAS_CORETYPE names them:
    on the AVX-512 machine of BENCHMARKS.md the AVX2 'Haswell' kernels run the GEMMs at about half
    the speed of the 'SkylakeX' ones."""
    import ctypes

    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line})
    except OSError:
        return None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename", "openblas_get_corename64_",
                       "openblas_get_corename"):
            fn = getattr(lib, symbol, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                return fn().decode()
    return None

"""Running the demos as separate processes, as a user would, and comparing what two runs leave behind.

``run_demo`` runs one demo configuration (CONFIGS) in a fresh Python; ``final_state`` reads what
a finished run left (checkpoint and metrics.json, timing fields dropped); ``assert_identical``
compares two of them bit for bit.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import scratchnet as sn

ROOT = Path(__file__).resolve().parents[2]
DEMOS = ROOT / "demos"

# Small configurations: 6 optimizer steps per epoch (12 for the GAN: D and G), two epochs.
CONFIGS = {
    "cnn": ("cnn.py", ["--limit", "300", "--batch-size", "50", "--epochs", "2"]),
    "gan": ("gan.py", ["--arch", "mlp", "--limit", "384", "--batch-size", "64", "--epochs", "2"]),
    "gan-wgan-gp": ("gan.py", ["--arch", "mlp", "--loss", "wgan-gp", "--limit", "384", "--batch-size", "64",
                               "--epochs", "2"]),
    "vae": ("vae.py", ["--limit", "300", "--batch-size", "50", "--epochs", "2", "--iwae-k", "5"]),
}
TIMING = {"seconds", "train_seconds", "iwae_seconds"}  # wall-clock fields: the only ones allowed to differ


def demo_env(hash_seed=0):
    """The environment of a demo process: one BLAS thread (a fixed summation order), a set hash seed."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "PYTHONHASHSEED": str(hash_seed), "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}


def demo_command(name, out, classifier=None, *extra):
    script, args = CONFIGS[name]
    command = [str(DEMOS / script), *args, "--out", str(out), *extra]
    if script == "gan.py":
        command += ["--classifier", str(classifier)]
    return command


def run_demo(name, out, classifier=None, *extra, hash_seed=0):
    """Run a demo to completion in a fresh Python; fail with its output if it does not exit 0."""
    result = subprocess.run([sys.executable, *demo_command(name, out, classifier, *extra)], env=demo_env(hash_seed),
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"{name} exited with {result.returncode}:\n{result.stdout}\n{result.stderr[-3000:]}"
    return Path(out)


def final_state(out):
    """(checkpoint, metrics) of a finished run, with the timing fields dropped."""
    out = Path(out)
    return without_timing(sn.load(out / "checkpoint.npz")), without_timing(json.loads((out / "metrics.json").read_text()))


def without_timing(x):
    if isinstance(x, dict):
        return {k: without_timing(v) for k, v in x.items() if k not in TIMING}
    if isinstance(x, (list, tuple)):
        return type(x)(without_timing(v) for v in x)
    return x


def assert_identical(a, b, where="run"):
    """Same structure, same types, arrays equal bit for bit (dtype, shape and bytes), numbers equal."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} vs {list(b)}"
        for k in a:
            assert_identical(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: length {len(a)} vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{where}[{i}]")
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and a.shape == b.shape, f"{where}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
        if a.tobytes() != b.tobytes():
            diff = np.flatnonzero(np.asarray(a != b).reshape(-1))
            raise AssertionError(f"{where}: {diff.size} of {a.size} elements differ, first at flat index {diff[:5]}")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), f"{where}: nan vs {b}"
    else:
        assert a == b, f"{where}: {a!r} vs {b!r}"

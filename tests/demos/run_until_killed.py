"""Run a demo in this process and freeze it at a chosen point, so that a test can SIGKILL it there.

    python run_until_killed.py MODE N MARKER DEMO [DEMO ARGS...]

MODE says where the run stops:

* ``mid-epoch``: once the demo's first checkpoint exists, its optimizers take N more steps, then
  the run stops (in the middle of the next epoch: parameters and optimizer state have moved on
  since the checkpoint, and that progress is lost with the process);
* ``mid-write``: the N-th checkpoint write (N >= 2) stops half-way through writing its bytes,
  so the kill leaves a half-written temporary file beside the last good checkpoint.

At the stop the script writes MARKER (an empty file) and sleeps until it is killed, so where
the kill lands does not depend on timing. Nothing in the demo or in scratchnet is changed
except for two counting wrappers (``Optimizer.step`` and ``numpy.savez``).
"""

import io
import os
import runpy
import sys
import time
from pathlib import Path


def freeze(marker):
    Path(marker).touch()
    while True:  # until SIGKILL
        time.sleep(60)


def main():
    mode, n, marker, demo, *args = sys.argv[1:]
    n = int(n)
    out = Path(args[args.index("--out") + 1])
    sys.path.insert(0, str(Path(demo).resolve().parent))  # the demos import _common

    import numpy as np

    from scratchnet.optim.optimizer import Optimizer

    if mode == "mid-epoch":
        original_step = Optimizer.step
        steps_after_checkpoint = [0]

        def step(self, *a, **k):
            result = original_step(self, *a, **k)
            if (out / "checkpoint.npz").exists():
                steps_after_checkpoint[0] += 1
                if steps_after_checkpoint[0] == n:
                    freeze(marker)
            return result

        Optimizer.step = step
    elif mode == "mid-write":
        real_savez = np.savez
        writes = [0]

        def savez(file, **arrays):
            writes[0] += 1
            if writes[0] < n:
                return real_savez(file, **arrays)
            buffer = io.BytesIO()
            real_savez(buffer, **arrays)
            file.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
            file.flush()
            os.fsync(file.fileno())
            freeze(marker)

        np.savez = savez
    else:
        raise SystemExit(f"unknown mode {mode!r}")

    sys.argv = [demo, *args]
    runpy.run_path(demo, run_name="__main__")


if __name__ == "__main__":
    main()

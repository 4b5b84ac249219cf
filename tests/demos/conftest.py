"""The session's reference runs of the demos, shared by the determinism and resume tests."""

import pytest
from demo_runs import CONFIGS, run_demo


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
    """``reference(name)``: the output folder of one uninterrupted run of CONFIGS[name], made once per session."""
    runs = {}

    def get(name):
        if name not in runs:
            classifier = get("cnn") / "checkpoint.npz" if CONFIGS[name][0] == "gan.py" else None
            runs[name] = run_demo(name, tmp_path_factory.mktemp(f"reference-{name}"), classifier)
        return runs[name]

    return get

"""Shared test setup: a fixed hypothesis profile, the GPU marker, a seeded RNG."""

import os
import sys

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(__file__))  # so test files can `import strategies`

# "ci" (the default) is deterministic and quick; HYPOTHESIS_PROFILE=thorough digs deeper.
settings.register_profile(
    "ci",
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", parent=settings.get_profile("ci"), max_examples=300, derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _gpu_available():
    import scratchnet as sn

    return sn.backend.is_available("cupy")


def pytest_collection_modifyitems(config, items):
    if any("gpu" in item.keywords for item in items) and not _gpu_available():
        skip = pytest.mark.skip(reason="needs CuPy and a CUDA GPU")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def _numpy_backend():
    """Every test starts on the NumPy backend with grad mode on, whatever the last one did."""
    import scratchnet as sn

    sn.backend.use("numpy")
    yield
    sn.backend.use("numpy")
    assert sn.is_grad_enabled(), "a test left grad mode off"

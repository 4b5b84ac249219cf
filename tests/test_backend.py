"""The NumPy/CuPy switch. CuPy tests are marked `gpu` and run only where CuPy sees a GPU."""

import os
import subprocess
import sys

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import backend


def run_python(code, **env):
    """Run ``code`` in a fresh interpreter (import-time behaviour, environment variables)."""
    full_env = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=120)


def test_numpy_is_the_default_and_always_available():
    assert backend.current() == "numpy"
    assert backend.is_available("numpy")
    assert backend.array_module(np.zeros(2)) is np
    assert backend.array_module(np.float32(1.0)) is np
    assert backend.default_device() == "cpu"


def test_unknown_backend_lists_the_valid_ones():
    with pytest.raises(ValueError, match="'jax'.*'numpy', 'cupy'"):
        backend.use("jax")
    with pytest.raises(ValueError, match="'numpy', 'cupy'"):
        backend.is_available("torch")


def test_array_module_rejects_non_arrays():
    with pytest.raises(TypeError, match="list"):
        backend.array_module([1, 2])


def test_import_does_not_import_cupy():
    result = run_python("import sys, scratchnet; print('cupy' in sys.modules)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_backend_from_environment_variable():
    ok = run_python("import scratchnet as sn; print(sn.backend.current())", SCRATCHNET_BACKEND="numpy")
    assert ok.stdout.strip() == "numpy", ok.stderr
    bad = run_python("import scratchnet as sn; sn.zeros(1)", SCRATCHNET_BACKEND="tpu")
    assert bad.returncode != 0
    assert "SCRATCHNET_BACKEND='tpu'" in bad.stderr and "'numpy', 'cupy'" in bad.stderr


@pytest.mark.skipif(backend.is_available("cupy"), reason="checks the message where CuPy is missing")
def test_asking_for_cupy_without_a_gpu_says_what_to_install():
    with pytest.raises(RuntimeError, match=r"pip install 'scratchnet\[gpu\]'|no CUDA GPU|cannot reach a CUDA GPU"):
        backend.use("cupy")
    assert backend.current() == "numpy"
    with pytest.raises(RuntimeError, match="cupy|CuPy"):
        sn.tensor([1.0]).cuda()
    assert backend.is_available("cupy") is False


def test_ops_take_the_module_from_their_inputs():
    """Nothing in the ops should reach for a global array module."""
    x = sn.tensor(np.ones((2, 3)), requires_grad=True)
    y = (x.exp() @ x.T).logsumexp(1).sum()
    y.backward()
    assert isinstance(x.grad.data, np.ndarray)


# --------------------------------------------------------------------------- GPU


@pytest.mark.gpu
def test_cupy_tensors_ops_and_gradients():
    import cupy

    backend.use("cupy")
    x = sn.randn(3, 4, dtype=sn.float64, requires_grad=True)
    assert isinstance(x.data, cupy.ndarray) and x.device.startswith("cuda")
    y = (x.exp() * x).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), (np.exp(x.numpy()) * (1 + x.numpy())), rtol=1e-12)
    assert sn.testing.gradgradcheck(lambda t: (t @ t.T).tanh().logsumexp(0), [x])
    idx = sn.tensor([0, 0, 2])
    assert sn.testing.gradcheck(lambda t: t[idx] * 2, [x])


@pytest.mark.gpu
def test_moving_between_devices_is_differentiable():
    x = sn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x.cuda()
    assert y.device.startswith("cuda")
    z = (y * y).cpu()
    z.sum().backward()
    assert isinstance(x.grad.data, np.ndarray)
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


@pytest.mark.gpu
def test_mixing_devices_names_both():
    a = sn.tensor([1.0, 2.0])
    b = sn.tensor([1.0, 2.0]).cuda()
    with pytest.raises(RuntimeError, match="cpu and cuda:0"):
        a + b


@pytest.mark.gpu
def test_gpu_draws_are_the_cpu_stream_and_resume_from_the_saved_state():
    """One host generator for both backends: a seed gives the same samples on CPU and GPU, and the saved
    state (the only RNG state there is) resumes GPU draws exactly."""
    sn.manual_seed(7)
    cpu = [sn.randn(5, 3).numpy(), sn.rand(4).numpy(), sn.functional.dropout(sn.ones(6, 6), 0.5).numpy()]
    sn.manual_seed(7)
    gpu = [sn.randn(5, 3, device="cuda"), sn.rand(4, device="cuda"), sn.functional.dropout(sn.ones(6, 6).cuda(), 0.5)]
    assert all(t.device.startswith("cuda") for t in gpu)
    for a, b in zip(cpu, gpu):
        np.testing.assert_array_equal(a, b.numpy())
    state = backend.get_rng_state()
    expected = sn.randn(8, device="cuda").numpy()
    sn.manual_seed(99)
    sn.randn(8, device="cuda")
    backend.set_rng_state(state)
    np.testing.assert_array_equal(sn.randn(8, device="cuda").numpy(), expected)


def test_rng_state_round_trip_through_a_checkpoint(tmp_path):
    sn.manual_seed(5)
    sn.randn(3)
    state = backend.get_rng_state()
    sn.save(state, tmp_path / "rng.npz")
    expected = sn.randn(4).numpy()
    sn.manual_seed(99)
    backend.set_rng_state(sn.load(tmp_path / "rng.npz"))
    np.testing.assert_array_equal(sn.randn(4).numpy(), expected)


@pytest.mark.parametrize(
    "damage",
    [
        lambda s: None,
        lambda s: {"seed": 0},
        lambda s: {**s, "seed": "a"},
        lambda s: {**s, "numpy": {"bit_generator": "PCG64"}},
        lambda s: {**s, "numpy": {**s["numpy"], "state": {"state": -1, "inc": 2**200}}},
    ],
    ids=["none", "no-numpy", "seed-str", "no-state", "overflow"],
)
def test_set_rng_state_refuses_damaged_states_and_changes_nothing(damage):
    """These used to escape as TypeError/KeyError/OverflowError, some after the seed had been changed."""
    sn.manual_seed(7)
    good = backend.get_rng_state()
    with pytest.raises(ValueError, match="^set_rng_state: not a state from get_rng_state"):
        backend.set_rng_state(damage(good))
    assert backend.get_rng_state() == good


def test_set_rng_state_of_an_array_is_a_value_error():
    with pytest.raises(ValueError, match="^set_rng_state: not a state"):
        backend.set_rng_state(np.zeros(3))  # leaked NumPy's IndexError


# --------------------------------------------------------------------------- host memory

_FAULTS = """
import platform, resource, sys
import numpy as np
import scratchnet as sn

def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        a = np.ones(2**24, dtype=np.float32)  # 64 MiB, over glibc's largest mmap threshold
        del a
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

plain = faults()
applied = sn.backend.retain_freed_memory()
faults()  # the heap grows once
print(applied, platform.libc_ver()[0], plain, faults())
"""


def test_retain_freed_memory_stops_the_page_faults_of_big_temporaries():
    """In a fresh process (the setting is process-wide): a 64 MiB array made and freed 10 times faults all
    its pages in each time with glibc's defaults, and (nearly) never once freed memory is retained."""
    done = run_python(_FAULTS)
    assert done.returncode == 0, done.stderr
    applied, libc, plain, retained = done.stdout.split()
    if libc != "glibc":
        assert applied == "False"
        return
    assert applied == "True"
    assert int(plain) > 10 * 2**24 * 4 // 2**21 // 2  # at least half the pages, even with 2 MiB huge pages
    assert int(retained) < int(plain) // 20, (plain, retained)

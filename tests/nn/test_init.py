"""nn.init: PyTorch's gains and fans, the right distributions, in place, seeded, dtype kept."""

import math

import numpy as np
import pytest

import scratchnet as sn
import scratchnet.nn as nn
from scratchnet.nn import init

BIG = (400, 500)  # 200,000 samples: the sample mean/std are within ~0.5% of the truth


@pytest.fixture(autouse=True)
def _seeded():
    """Statistical checks run on fixed draws, whatever ran before."""
    sn.manual_seed(0)


def _param(*shape, dtype=np.float32):
    return nn.Parameter(sn.zeros(*shape, dtype=dtype))


# ---------------------------------------------------------------------------------- gains and fans


def test_calculate_gain():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("leaky_relu", 0) == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", True)


def test_calculate_gain_matches_pytorch():
    torch = pytest.importorskip("torch")
    cases = [(n, None) for n in ["linear", "conv1d", "conv2d", "conv_transpose2d", "sigmoid", "tanh", "relu", "selu"]]
    cases += [("leaky_relu", p) for p in (None, 0, 0.2, 1, math.sqrt(5))]
    for name, param in cases:
        assert init.calculate_gain(name, param) == torch.nn.init.calculate_gain(name, param), (name, param)


def test_fans():
    fans = init._calculate_fan_in_and_fan_out
    assert fans(_param(3, 5)) == (5, 3)  # Linear (out, in)
    assert fans(_param(16, 3, 5, 5)) == (75, 400)  # Conv2d (out, in, kh, kw)
    assert fans(_param(8, 4, 4, 4)) == (64, 128)  # ConvTranspose2d (in=8, out=4, kh, kw): same formula
    assert fans(_param(6, 2, 7)) == (14, 42)  # Conv1d
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        fans(_param(3))


def test_fans_match_pytorch():
    torch = pytest.importorskip("torch")
    for shape in [(3, 5), (16, 3, 5, 5), (8, 4, 4, 4), (6, 2, 7), (2, 3, 1, 1, 4)]:
        assert init._calculate_fan_in_and_fan_out(_param(*shape)) == torch.nn.init._calculate_fan_in_and_fan_out(
            torch.empty(shape)
        )


# ---------------------------------------------------------------------------------- distributions


def test_uniform_and_normal_statistics():
    w = init.uniform_(_param(*BIG), -2.0, 4.0)
    a = w.numpy()
    assert a.min() >= -2.0 and a.max() <= 4.0 and a.min() < -1.99 and a.max() > 3.99
    assert abs(a.mean() - 1.0) < 0.02 and abs(a.std() - 6 / math.sqrt(12)) < 0.01
    b = init.normal_(_param(*BIG), mean=3.0, std=0.5).numpy()
    assert abs(b.mean() - 3.0) < 0.005 and abs(b.std() - 0.5) < 0.005
    c = init.uniform_(_param(*BIG)).numpy()  # default U(0, 1)
    assert c.min() >= 0 and c.max() < 1 and abs(c.mean() - 0.5) < 0.005


def test_constant_zeros_ones():
    w = _param(2, 3)
    assert init.constant_(w, 0.25) is w and np.all(w.numpy() == 0.25)
    assert np.all(init.ones_(w).numpy() == 1) and not init.zeros_(w).numpy().any()
    counts = sn.tensor([1, 2, 3])
    assert np.all(init.constant_(counts, 7).numpy() == 7) and counts.dtype == np.int64


@pytest.mark.parametrize("shape", [(300, 600), (64, 32, 5, 5), (32, 64, 4, 4)])
def test_xavier(shape):
    w = _param(*shape)
    fan_in, fan_out = init._calculate_fan_in_and_fan_out(w)
    bound = 0.5 * math.sqrt(6 / (fan_in + fan_out))
    a = init.xavier_uniform_(w, gain=0.5).numpy()
    assert np.abs(a).max() <= bound and np.abs(a).max() > 0.99 * bound
    assert abs(a.std() - bound / math.sqrt(3)) < 0.01 * bound  # about 5 standard errors
    std = 2 * math.sqrt(2 / (fan_in + fan_out))
    assert abs(init.xavier_normal_(w, gain=2).numpy().std() - std) < 0.015 * std


@pytest.mark.parametrize("shape", [(300, 600), (64, 32, 5, 5), (32, 64, 4, 4)])
def test_kaiming(shape):
    w = _param(*shape)
    fan_in, fan_out = init._calculate_fan_in_and_fan_out(w)
    bound = math.sqrt(2) * math.sqrt(3 / fan_in)  # relu gain, fan_in mode
    a = init.kaiming_uniform_(w, nonlinearity="relu").numpy()
    assert np.abs(a).max() <= bound and np.abs(a).max() > 0.99 * bound
    # PyTorch's Linear/Conv2d default: a=sqrt(5) gives bound 1/sqrt(fan_in)
    a = init.kaiming_uniform_(w, a=math.sqrt(5)).numpy()
    assert np.abs(a).max() <= 1 / math.sqrt(fan_in) and np.abs(a).max() > 0.99 / math.sqrt(fan_in)
    std = init.calculate_gain("leaky_relu", 0.2) / math.sqrt(fan_out)
    b = init.kaiming_normal_(w, a=0.2, mode="fan_out").numpy()
    assert abs(b.std() - std) < 0.015 * std and abs(b.mean()) < 0.02 * std
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_normal_(w, mode="fan_avg")


def test_bounds_and_spreads_match_pytorch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    cases = [
        ("kaiming_uniform_", (256, 128, 3, 3), dict(a=math.sqrt(5)), "max"),
        ("kaiming_uniform_", (128, 256, 4, 4), dict(mode="fan_out", nonlinearity="relu"), "max"),
        ("xavier_uniform_", (500, 400), dict(gain=init.calculate_gain("tanh")), "max"),
        ("kaiming_normal_", (256, 128, 3, 3), dict(nonlinearity="relu"), "std"),
        ("xavier_normal_", (500, 400), dict(), "std"),
        ("uniform_", (500, 400), dict(a=-3, b=1), "max"),
        ("normal_", (500, 400), dict(mean=0.0, std=0.02), "std"),
    ]
    for name, shape, kwargs, stat in cases:
        ours = getattr(init, name)(_param(*shape), **kwargs).numpy()
        theirs = getattr(torch.nn.init, name)(torch.empty(shape), **kwargs).numpy()
        measure = (lambda a: np.abs(a).max()) if stat == "max" else np.std
        assert measure(ours) == pytest.approx(measure(theirs), rel=0.01), name


# ---------------------------------------------------------------------------------- in place, seeded, dtype


def test_in_place_without_graph_keeps_identity_and_dtype():
    for dtype in (np.float32, np.float64, np.float16):
        w = _param(30, 20, dtype=dtype)
        array = w.data
        out = init.kaiming_uniform_(w)
        assert out is w and w.data is array and w.dtype == dtype
        assert w.requires_grad and w.is_leaf and w.grad is None
        assert np.abs(w.numpy()).std() > 0


def test_random_init_needs_a_floating_tensor():
    with pytest.raises(TypeError, match="floating point"):
        init.normal_(sn.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match="Tensor"):
        init.uniform_(np.zeros(3))


def test_reproducible_under_manual_seed_and_uses_the_backend_generator():
    def draw(seed):
        sn.manual_seed(seed)
        return init.xavier_normal_(_param(20, 10)).numpy().copy()

    np.testing.assert_array_equal(draw(3), draw(3))
    assert not np.array_equal(draw(3), draw(4))
    sn.manual_seed(5)
    a = init.normal_(_param(4, 5)).numpy().copy()
    sn.manual_seed(5)
    np.testing.assert_array_equal(a, sn.randn(4, 5).numpy())  # the same stream as randn
    g1 = init.uniform_(_param(3, 3), generator=np.random.default_rng(1)).numpy().copy()
    g2 = init.uniform_(_param(3, 3), generator=np.random.default_rng(1)).numpy().copy()
    np.testing.assert_array_equal(g1, g2)


def test_zero_element_tensor_is_a_no_op_with_a_warning():
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(_param(0, 3))


@pytest.mark.gpu
def test_init_on_gpu_gives_the_cpu_weights():
    w = nn.Parameter(sn.zeros(64, 32, device="cuda"))
    sn.manual_seed(0)
    init.kaiming_uniform_(w, a=math.sqrt(5))
    a = w.numpy()
    assert w.device.startswith("cuda") and w.dtype == np.float32
    assert np.abs(a).max() <= 1 / math.sqrt(32) and a.std() > 0
    sn.manual_seed(0)
    np.testing.assert_array_equal(init.kaiming_uniform_(nn.Parameter(sn.zeros(64, 32)), a=math.sqrt(5)).numpy(), a)

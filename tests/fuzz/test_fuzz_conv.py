"""Fuzzing convolution and pooling: wrong ranks, empty batches and channels, kernels larger than the input,
and every kind of stride/padding/dilation value, against PyTorch.

Whenever scratchnet returns a result, PyTorch must accept the same call and agree with it (empty inputs
aside, which PyTorch sometimes refuses), and a non-contiguous input must give the contiguous input's result
(to the last bit but one: the GEMM may round differently for another memory layout). Well-formed calls must
work.
"""

import numpy as np
import pytest
from fuzzing import FUZZ, as_tensor, attempt, layouts
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
import scratchnet.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

BAD_GEOMETRY = st.one_of(st.integers(-2, 0), st.tuples(st.integers(-1, 3), st.integers(-1, 3)),
                        st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 2)), st.just("a"), st.none(),
                        st.just([1]))
# One case in three gets one malformed argument (which one: drawn); the others are well formed.
BREAK = st.sampled_from([None] * 6 + ["input", "kernel", "stride", "padding", "dilation", "other"])


def value(data, broken, name, lo, hi):
    """A sensible int or pair in [lo, hi], or, if ``name`` is the broken argument, anything else."""
    if broken == name:
        return data.draw(BAD_GEOMETRY, label=name)
    return data.draw(st.one_of(st.integers(lo, hi), st.tuples(st.integers(lo, hi), st.integers(lo, hi))), label=name)


def torch_outcome(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs), None
    except (RuntimeError, ValueError, TypeError, IndexError) as e:
        return None, e


def compare(name, out, ref, ref_error, a, layout, call):
    if not out.ok:
        return
    if ref_error is not None and a.size == 0:
        return  # PyTorch refuses some empty inputs whose (empty or all-padding) result is well defined
    assert ref_error is None, f"{name} accepted what PyTorch refuses ({ref_error})"
    got = out.value.numpy()
    assert got.shape == tuple(ref.shape), f"{name}: shape {got.shape} != PyTorch's {tuple(ref.shape)}"
    np.testing.assert_allclose(got, ref.numpy(), rtol=1e-10, atol=1e-10)
    if layout != "contiguous":  # the same numbers; a GEMM may round its last bit otherwise for another layout
        np.testing.assert_allclose(got, call(sn.tensor(a)).numpy(), rtol=1e-14, atol=1e-15)


def image(data, broken):
    """(N, C, H, W) values; if the input is the broken argument: an empty dim or another rank."""
    shape = [data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)), data.draw(st.integers(1, 7)),
             data.draw(st.integers(1, 7))]
    if broken == "input":
        if data.draw(st.booleans()):
            shape[data.draw(st.integers(0, 3))] = 0
        else:
            shape = (shape + [2])[: data.draw(st.sampled_from([2, 3, 5]))]
    return np.random.default_rng(data.draw(st.integers(0, 2**16))).standard_normal(shape)


def kernel_of(data, broken, x, lo=1):
    """A kernel that fits the input (mostly), or a malformed one."""
    hi = max(lo, min(x.shape[2:] or (3,)) if x.ndim == 4 else 3)
    return data.draw(st.tuples(st.integers(0 if broken == "kernel" else lo, 3 if broken == "kernel" else min(hi, 4)),
                               st.integers(0 if broken == "kernel" else lo, min(max(hi, 1), 4))), label="kernel")


@FUZZ
@given(data=st.data(), broken=BREAK, layout=layouts, bias=st.booleans())
def test_conv2d(data, broken, layout, bias):
    x = image(data, broken)
    kernel = kernel_of(data, broken, x)
    stride, dilation = value(data, broken, "stride", 1, 2), value(data, broken, "dilation", 1, 2)
    padding = value(data, broken, "padding", 0, 2)
    if broken == "other":
        padding = data.draw(st.sampled_from(["same", "valid", "full"]))
    c = x.shape[1] if x.ndim > 1 else 2
    o = data.draw(st.integers(1, 3))
    w = np.random.default_rng(1).standard_normal((o, c) + kernel)
    b = np.random.default_rng(2).standard_normal(o) if bias else None

    def call(t):
        return F.conv2d(t, sn.tensor(w), None if b is None else sn.tensor(b), stride, padding, dilation)

    out = attempt("conv2d", call, as_tensor(x, layout))
    if out.ok and x.ndim == 4 and x.shape[1] == 0:  # no input channels: every output is the bias (0 without one);
        y = out.value.numpy()  # PyTorch returns (N, 0, Ho, Wo) here instead
        assert y.shape[:2] == (x.shape[0], o) and (y == (0 if b is None else b[None, :, None, None])).all()
        return
    ref, error = torch_outcome(TF.conv2d, torch.tensor(x), torch.tensor(w), None if b is None else torch.tensor(b),
                               stride, padding, dilation)
    compare("conv2d", out, ref, error, x, layout, call)
    if error is None and broken is None:
        assert out.ok, out  # well formed and PyTorch agrees: it must work


@FUZZ
@given(data=st.data(), broken=BREAK, layout=layouts)
def test_conv_transpose2d(data, broken, layout):
    x = image(data, broken)
    kernel = kernel_of(data, broken, x)
    stride, dilation = value(data, broken, "stride", 1, 3), value(data, broken, "dilation", 1, 2)
    padding = value(data, broken, "padding", 0, 1)
    output_padding = data.draw(st.integers(-1, 3) if broken == "other" else st.just(0))
    c = x.shape[1] if x.ndim > 1 else 2
    w = np.random.default_rng(1).standard_normal((c, data.draw(st.integers(1, 3))) + kernel)

    def call(t):
        return F.conv_transpose2d(t, sn.tensor(w), None, stride, padding, output_padding, 1, dilation)

    out = attempt("conv_transpose2d", call, as_tensor(x, layout), names=("convtranspose2d",))
    ref, error = torch_outcome(TF.conv_transpose2d, torch.tensor(x), torch.tensor(w), None, stride, padding,
                               output_padding, 1, dilation)
    compare("conv_transpose2d", out, ref, error, x, layout, call)
    if error is None and broken is None:
        assert out.ok, out


@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d"])
@FUZZ
@given(data=st.data(), broken=BREAK, layout=layouts, ceil_mode=st.booleans(), count_include_pad=st.booleans())
def test_pooling(name, data, broken, layout, ceil_mode, count_include_pad):
    x = image(data, broken)
    kernel = value(data, broken, "kernel", 1, 3)
    stride = None if data.draw(st.booleans()) else value(data, broken, "stride", 1, 3)
    padding = value(data, broken, "padding", 0, 1)
    dilation = value(data, broken, "dilation", 1, 2)
    if x.ndim == 3:
        return  # PyTorch pools (C, H, W) as one unbatched image; scratchnet asks for (N, C, H, W), as documented
    if name == "max_pool2d":
        def call(t):
            return F.max_pool2d(t, kernel, stride, padding, dilation, ceil_mode)

        ref, error = torch_outcome(TF.max_pool2d, torch.tensor(x), kernel, stride, padding, dilation, ceil_mode)
    else:
        divisor = data.draw(st.integers(-1, 5)) if broken == "other" else None

        def call(t):
            return F.avg_pool2d(t, kernel, stride, padding, ceil_mode, count_include_pad, divisor)

        ref, error = torch_outcome(TF.avg_pool2d, torch.tensor(x), kernel, stride, padding, ceil_mode,
                                   count_include_pad, divisor)
    out = attempt(name, call, as_tensor(x, layout), names=(name.replace("_", ""),))
    compare(name, out, ref, error, x, layout, call)
    if broken is not None:
        return
    k = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    d = dilation if isinstance(dilation, tuple) else (dilation, dilation)
    p = padding if isinstance(padding, tuple) else (padding, padding)
    window_fits = all(n + 2 * pi >= di * (ki - 1) + 1 for n, ki, di, pi in zip(x.shape[2:], k, d, p))
    if error is None and window_fits:  # (PyTorch's ceil_mode also takes windows that do not fit)
        assert out.ok, out


# --------------------------------------------------------------------------- bugs the fuzzing found


def test_conv2d_refuses_a_float_stride():
    with pytest.raises(TypeError, match="conv2d: stride must be an int"):
        F.conv2d(sn.ones(1, 1, 4, 4), sn.ones(1, 1, 2, 2), stride=1.5)


def test_max_pool2d_of_integers_with_padding():
    x = sn.tensor(np.arange(16).reshape(1, 1, 4, 4))
    assert F.max_pool2d(x, 3, 1, 1).numpy().max() == 15


def test_conv2d_bias_must_be_a_tensor():
    with pytest.raises(TypeError, match="conv2d: bias must be a Tensor"):
        F.conv2d(sn.ones(1, 1, 4, 4), sn.ones(1, 1, 2, 2), np.ones(1))


def test_avg_pool2d_of_an_empty_image():
    with pytest.raises(ValueError, match="avg_pool2d"):
        F.avg_pool2d(sn.zeros(1, 1, 0, 1), 2, 1, 1, count_include_pad=False)

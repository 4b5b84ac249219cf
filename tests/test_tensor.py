"""Tensor creation rules, attributes, conversions, factories and seeding."""

import numpy as np
import pytest

import scratchnet as sn


# --------------------------------------------------------------------------- tensor() dtype rules


@pytest.mark.parametrize(
    "data,dtype",
    [
        (1.5, np.float32),
        ([1.0, 2.0], np.float32),
        ([[1, 2], [3, 4]], np.int64),
        ([True, False], np.bool_),
        ([1, 2.5], np.float32),
        (np.array([1.0, 2.0]), np.float64),
        (np.array([1.0], dtype=np.float32), np.float32),
        (np.array([1, 2], dtype=np.int32), np.int32),
        (np.float64(2.0), np.float64),
    ],
)
def test_tensor_dtype_rules(data, dtype):
    assert sn.tensor(data).dtype == dtype


def test_tensor_copies_and_accepts_a_dtype():
    a = np.array([1.0, 2.0])
    t = sn.tensor(a, dtype=sn.float32)
    assert t.dtype == np.float32
    t2 = sn.tensor(a)
    a[0] = 99.0
    assert t2.numpy()[0] == 1.0
    assert sn.tensor(t2).dtype == np.float64


def test_tensor_rejects_non_numeric_data():
    with pytest.raises(TypeError, match="tensor"):
        sn.tensor(["a", "b"])
    with pytest.raises((ValueError, TypeError), match="tensor"):
        sn.tensor([[1.0, 2.0], [3.0]])


@pytest.mark.parametrize(
    "data",
    [
        1 + 2j,  # complex: no op of scratchnet handles it (maximum, relu... would compare wrongly)
        np.array([1 + 2j], dtype=np.complex64),
        np.array([1, None], dtype=object),
        np.array(["2020-01-01"], dtype="datetime64[D]"),
        np.zeros(2, dtype=[("a", "f4")]),
        np.ones(2, dtype=np.longdouble),
        2**70,  # does not fit any integer dtype
    ],
    ids=["complex", "complex-array", "object-array", "datetime", "structured", "float128", "huge-int"],
)
def test_tensor_rejects_dtypes_it_cannot_compute_with(data):
    if np.dtype(np.longdouble).itemsize <= 8 and getattr(data, "dtype", None) == np.longdouble:
        pytest.skip("long double is float64 on this platform")
    with pytest.raises(TypeError, match="^tensor: cannot make a tensor from"):
        sn.tensor(data)


@pytest.mark.parametrize("dtype", [str, "foo", np.complex64, object])
def test_tensor_rejects_a_bad_dtype_argument_naming_itself(dtype):
    with pytest.raises(TypeError, match="^tensor: "):
        sn.tensor([1.0], dtype=dtype)
    with pytest.raises(TypeError, match="^zeros: "):
        sn.zeros(2, dtype=dtype)


# --------------------------------------------------------------------------- attributes


def test_attributes():
    t = sn.tensor(np.zeros((2, 3)))
    assert t.shape == (2, 3) and t.ndim == 2 and t.dtype == np.float64
    assert t.size == 6 and t.numel() == 6  # NumPy's meaning
    assert t.size() == (2, 3) and t.size(1) == 3 and t.size(-2) == 2  # PyTorch's meaning
    assert t.device == "cpu" and t.dim() == 2
    assert t.is_leaf and t.grad is None and not t.requires_grad
    assert isinstance(t.numpy(), np.ndarray) and t.numpy() is t.data
    assert len(t) == 2 and [r.shape for r in t] == [(3,), (3,)]


def test_item_and_conversions():
    assert sn.tensor([[2.5]]).item() == 2.5
    assert float(sn.tensor(3.0)) == 3.0 and int(sn.tensor(4)) == 4
    with pytest.raises(ValueError, match=r"one element.*\(2,\)"):
        sn.tensor([1.0, 2.0]).item()
    assert sn.tensor([[1, 2]]).tolist() == [[1, 2]]
    with pytest.raises(ValueError):
        bool(sn.tensor([1.0, 2.0]))
    assert bool(sn.tensor([1.0]))


def test_repr_reads_like_pytorch():
    assert repr(sn.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    x = sn.tensor([1.0], requires_grad=True)
    assert repr(x) == "tensor([1.], requires_grad=True)"
    assert "grad_fn=<MulBackward>" in repr(x * 2)
    assert "dtype=float64" in repr(sn.tensor(np.zeros(2)))


def test_to_dtype_is_differentiable():
    x = sn.tensor([1.0, 2.0], requires_grad=True)
    y = x.double()
    assert y.dtype == np.float64 and y.requires_grad
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    assert x.to("cpu") is x and x.cpu() is x and x.float() is x
    assert x.to("cpu", sn.float64).dtype == np.float64


def test_unknown_device_is_a_value_error():
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        sn.tensor([1.0]).to("tpu")


def test_in_place_arithmetic_only_outside_the_graph():
    w = sn.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        w -= 1.0
    with sn.no_grad():
        data = w.data
        w -= sn.tensor([0.5, 0.5])
        w *= 2
        w += 1
        w /= 2
    assert w.data is data  # really in place
    np.testing.assert_allclose(w.numpy(), [1.0, 2.0])


# --------------------------------------------------------------------------- factories


def test_factories_shapes_and_dtypes():
    assert sn.zeros(2, 3).shape == (2, 3) and sn.zeros((2, 3)).dtype == np.float32
    assert sn.ones([4]).numpy().tolist() == [1.0] * 4
    assert sn.full((2,), 7).dtype == np.int64 and sn.full((2,), 0.5).dtype == np.float32
    assert sn.full((2,), True).dtype == np.bool_
    assert sn.zeros(2, dtype=sn.float64).dtype == np.float64
    t = sn.tensor(np.zeros((2, 2)))
    assert sn.zeros_like(t).dtype == np.float64 and sn.ones_like(t, dtype=sn.float32).dtype == np.float32
    assert sn.full_like(t, 3.0).numpy().sum() == 12.0
    assert sn.zeros(()).shape == () and sn.zeros(0).shape == (0,)
    assert sn.ones(2, requires_grad=True).requires_grad
    with pytest.raises(ValueError, match="non-negative"):
        sn.zeros(-1)


@pytest.mark.parametrize("factory", [sn.zeros, sn.ones, sn.rand, sn.randn])
@pytest.mark.parametrize("size", [2.5, "2", None, (2, 1.0)])
def test_factories_refuse_sizes_that_are_not_ints(factory, size):
    """2.5 used to become 2 silently, and "a" gave int()'s ValueError without the op's name."""
    with pytest.raises(TypeError, match=f"^{factory.__name__}: sizes must be ints"):
        factory(size)


def test_reshape_refuses_sizes_that_are_not_ints():
    x = sn.zeros(6)
    with pytest.raises(TypeError, match="^reshape: sizes must be ints"):
        x.reshape(6.5)  # used to reshape to (6,)
    assert x.reshape(np.int64(2), 3).shape == (2, 3)


def test_full_refuses_a_fill_value_that_is_not_a_number():
    with pytest.raises(TypeError, match="^full: fill_value must be a number"):
        sn.full((2,), "x")


def test_arange_like_pytorch():
    assert sn.arange(5).numpy().tolist() == [0, 1, 2, 3, 4] and sn.arange(5).dtype == np.int64
    a = sn.arange(0, 1, 0.25)
    assert a.dtype == np.float32 and a.numpy().tolist() == [0.0, 0.25, 0.5, 0.75]
    assert sn.arange(5, 0, -2).numpy().tolist() == [5, 3, 1]
    assert sn.arange(3, dtype=sn.float64).dtype == np.float64
    with pytest.raises(ValueError, match="step"):
        sn.arange(0, 1, 0)
    for bad in (float("inf"), float("nan")):  # inf used to escape as OverflowError
        with pytest.raises(ValueError, match="^arange: end must be finite"):
            sn.arange(0, bad)
    with pytest.raises(TypeError, match="^arange: end must be a number"):
        sn.arange("3")


def test_random_factories_and_manual_seed():
    sn.manual_seed(123)
    a, b = sn.randn(3, 4), sn.rand(5)
    sn.manual_seed(123)
    a2, b2 = sn.randn(3, 4), sn.rand(5)
    np.testing.assert_array_equal(a.numpy(), a2.numpy())
    np.testing.assert_array_equal(b.numpy(), b2.numpy())
    assert a.dtype == np.float32 and sn.randn(2, dtype=sn.float64).dtype == np.float64
    assert ((b.numpy() >= 0) & (b.numpy() < 1)).all()
    assert sn.randn_like(sn.zeros(2, 2, dtype=sn.float64)).dtype == np.float64
    assert sn.rand_like(sn.zeros(3)).shape == (3,)
    big = sn.randn(100_000).numpy()
    assert abs(big.mean()) < 0.02 and abs(big.std() - 1) < 0.02
    with pytest.raises(TypeError, match="floating"):
        sn.randn(2, dtype=sn.int64)
    with pytest.raises(ValueError, match="seed"):
        sn.manual_seed(-1)


@pytest.mark.parametrize("dtype", [5, "complex64", object])
def test_to_a_dtype_a_tensor_cannot_hold_names_the_op(dtype):
    """to(5) gave NumPy's "Cannot interpret '5' as a data type"; to('complex64') made a complex tensor."""
    with pytest.raises(TypeError, match="^to: "):
        sn.ones(2).to(dtype)


def test_full_with_a_value_outside_the_dtype_names_full():
    """full((2,), 2**63) leaked NumPy's OverflowError."""
    with pytest.raises(ValueError, match="^full: fill_value 9223372036854775808 does not fit dtype int64"):
        sn.full((2,), 2**63)
    with pytest.raises(ValueError, match="^full: fill_value -1 does not fit dtype uint8"):
        sn.full((2,), -1, dtype=np.uint8)


@pytest.mark.parametrize("dtype", ["0:", ","])
def test_dtype_strings_numpy_cannot_parse_are_type_errors(dtype):
    """np.dtype("0:") raises ValueError and np.dtype(",") SyntaxError: both leaked from tensor()."""
    with pytest.raises(TypeError, match="^tensor: .* is not a dtype"):
        sn.tensor([1.0], dtype=dtype)


def test_arange_with_too_many_values_names_arange():
    """A step of 5e-324 leaked OverflowError (int(inf))."""
    with pytest.raises(ValueError, match="^arange: the range from 0 to 1 by 5e-324 holds too many values"):
        sn.arange(0, 1, 5e-324)

"""Identity, Flatten, Unflatten: shapes, gradients flowing through, reprs, PyTorch's shapes."""

import numpy as np
import pytest

import scratchnet as sn
import scratchnet.nn as nn


def test_identity_returns_its_input_and_ignores_arguments():
    x = sn.randn(2, 3)
    assert nn.Identity(54, unused="x")(x) is x
    assert repr(nn.Identity()) == "Identity()"


def test_flatten_shapes_and_gradient():
    x = sn.randn(2, 3, 4, 5, requires_grad=True)
    y = nn.Flatten()(x)
    assert y.shape == (2, 60)
    assert nn.Flatten(0, 2)(x).shape == (24, 5)
    assert nn.Flatten(-2)(x).shape == (2, 3, 20)
    (y * 2).sum().backward()
    assert x.grad.shape == x.shape and np.all(x.grad.numpy() == 2)
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"


def test_unflatten_shapes_and_gradient():
    x = sn.randn(2, 12, requires_grad=True)
    y = nn.Unflatten(1, (3, 4))(x)
    assert y.shape == (2, 3, 4)
    assert nn.Unflatten(-1, [2, -1])(x).shape == (2, 2, 6)
    assert nn.Unflatten(0, (1, 2))(x).shape == (1, 2, 12)
    y.sum().backward()
    assert x.grad.shape == x.shape
    np.testing.assert_array_equal(nn.Flatten()(y).numpy(), x.numpy())  # the inverse of Flatten
    assert repr(nn.Unflatten(1, (1, 28, 28))) == "Unflatten(dim=1, unflattened_size=(1, 28, 28))"
    assert repr(nn.Unflatten(1, [2, 6])) == "Unflatten(dim=1, unflattened_size=[2, 6])"


def test_unflatten_errors():
    with pytest.raises(RuntimeError, match=r"Provided sizes \[5, 3\] don't multiply up to the size of dim 1 \(12\)"):
        nn.Unflatten(1, (5, 3))(sn.zeros(2, 12))
    with pytest.raises(RuntimeError, match="don't multiply up"):
        nn.Unflatten(1, (5, -1))(sn.zeros(2, 12))
    with pytest.raises(TypeError, match="tuple of ints"):
        nn.Unflatten(1, 12)
    with pytest.raises(TypeError, match="element of type float at pos 1"):
        nn.Unflatten(1, (3, 4.0))
    with pytest.raises(IndexError):
        nn.Unflatten(2, (3, 4))(sn.zeros(2, 12))


def test_shapes_and_reprs_match_pytorch():
    torch = pytest.importorskip("torch")
    x = np.zeros((2, 3, 4, 5), np.float32)
    for args in [(), (0, 2), (-2,), (1, 1)]:
        assert nn.Flatten(*args)(sn.tensor(x)).shape == tuple(torch.nn.Flatten(*args)(torch.from_numpy(x)).shape)
        assert repr(nn.Flatten(*args)) == repr(torch.nn.Flatten(*args))
    for dim, size in [(1, (3, 1)), (-1, (5, 1, 1)), (3, [1, -1])]:
        assert nn.Unflatten(dim, size)(sn.tensor(x)).shape == tuple(
            torch.nn.Unflatten(dim, size)(torch.from_numpy(x)).shape
        )
        assert repr(nn.Unflatten(dim, size)) == repr(torch.nn.Unflatten(dim, size))

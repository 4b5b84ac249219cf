"""Parameter: a leaf Tensor that requires grad, shares the data it is given, prints like PyTorch's."""

import copy

import numpy as np
import pytest

import scratchnet as sn
import scratchnet.nn as nn


def test_is_a_leaf_tensor_that_requires_grad():
    p = nn.Parameter(sn.zeros(2, 3))
    assert isinstance(p, sn.Tensor)
    assert p.requires_grad and p.is_leaf and p.grad is None
    assert p.shape == (2, 3) and p.dtype == np.float32
    assert not nn.Parameter(sn.zeros(2), requires_grad=False).requires_grad


def test_slots_only():
    # Tensor uses __slots__; a Parameter must not bring a per-instance dict back
    assert nn.Parameter.__slots__ == ()
    assert not hasattr(nn.Parameter(sn.zeros(1)), "__dict__")


def test_shares_the_array_of_a_tensor_and_uses_an_array_as_is():
    t = sn.ones(3)
    assert nn.Parameter(t).data is t.data
    a = np.arange(4.0)
    p = nn.Parameter(a)
    assert p.data is a and p.dtype == np.float64
    assert nn.Parameter([1.0, 2.0]).dtype == np.float32  # other data goes through sn.tensor


def test_none_gives_an_empty_float32_tensor():
    p = nn.Parameter()
    assert p.shape == (0,) and p.dtype == np.float32 and p.requires_grad


def test_integer_data_cannot_require_grad():
    with pytest.raises(TypeError, match="floating point"):
        nn.Parameter(sn.tensor([1, 2]))
    assert nn.Parameter(sn.tensor([1, 2]), requires_grad=False).dtype == np.int64


def test_ops_give_plain_tensors_and_gradients_reach_the_parameter():
    p = nn.Parameter(sn.tensor([1.0, 2.0]))
    y = (p * p).sum()
    assert type(y) is sn.Tensor
    y.backward()
    np.testing.assert_allclose(p.grad.numpy(), [2.0, 4.0])


def test_deepcopy_is_an_independent_parameter():
    p = nn.Parameter(sn.tensor([1.0, 2.0]))
    q = copy.deepcopy(p)
    assert type(q) is nn.Parameter and q.requires_grad
    q.data[0] = 5.0
    assert p.data[0] == 1.0


def test_repr():
    assert repr(nn.Parameter(sn.tensor([1.0, 2.0]))) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"


def test_repr_matches_pytorch():
    torch = pytest.importorskip("torch")
    values = [[1.0, 2.0], [3.0, -4.0]]
    assert repr(nn.Parameter(sn.tensor(values))) == repr(torch.nn.Parameter(torch.tensor(values)))

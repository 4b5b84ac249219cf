"""Sequential, ModuleList, ModuleDict: registration, keys, indexing and editing as in PyTorch."""

from collections import OrderedDict

import numpy as np
import pytest

import scratchnet as sn
import scratchnet.nn as nn


class Linear(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(sn.randn(out_features, in_features))
        self.bias = nn.Parameter(sn.zeros(out_features))

    def forward(self, x):
        return x @ self.weight.T + self.bias

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias=True"


class ReLU(nn.Module):
    def forward(self, x):
        return x.relu()


class Scale(nn.Module):
    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, x):
        return x * self.k


# ---------------------------------------------------------------------------------- Sequential


def test_sequential_chains_and_registers():
    seq = nn.Sequential(Linear(2, 3), ReLU(), Linear(3, 1))
    x = sn.randn(4, 2)
    expected = seq[2](seq[1](seq[0](x)))
    np.testing.assert_allclose(seq(x).numpy(), expected.numpy())
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    seq(x).sum().backward()
    assert seq[0].weight.grad is not None
    assert nn.Sequential()(x) is x


def test_sequential_from_ordered_dict():
    seq = nn.Sequential(OrderedDict(scale=Scale(2.0), act=ReLU()))
    assert list(seq._modules) == ["scale", "act"]
    assert seq.scale is seq[0]
    np.testing.assert_allclose(seq(sn.tensor([-1.0, 1.0])).numpy(), [0.0, 2.0])
    with pytest.raises(TypeError, match="not a Module subclass"):
        nn.Sequential({"a": ReLU()})  # only an OrderedDict names the modules, as in PyTorch


def test_sequential_indexing_len_iter():
    a, b, c = Scale(1), Scale(2), Scale(3)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and list(seq) == [a, b, c]
    assert seq[0] is a and seq[-1] is c and seq[-3] is a
    with pytest.raises(IndexError, match="index 3 is out of range"):
        seq[3]
    with pytest.raises(IndexError):
        seq[-4]
    tail = seq[1:]
    assert type(tail) is nn.Sequential and list(tail) == [b, c]
    assert list(tail._modules) == ["1", "2"]  # slices keep their keys, as in PyTorch
    assert list(seq[::-1]) == [c, b, a]


def test_sequential_editing():
    a, b, c, d = (Scale(i) for i in range(4))
    seq = nn.Sequential(a, b)
    assert seq.append(c) is seq and list(seq._modules) == ["0", "1", "2"] and seq[2] is c
    seq[1] = d
    assert list(seq) == [a, d, c]
    seq.insert(0, b)
    assert list(seq) == [b, a, d, c] and list(seq._modules) == ["0", "1", "2", "3"]
    seq.insert(-1, b)
    assert list(seq) == [b, a, d, b, c]
    del seq[0]
    assert list(seq) == [a, d, b, c] and list(seq._modules) == ["0", "1", "2", "3"]  # renumbered
    del seq[1:3]
    assert list(seq) == [a, c] and list(seq._modules) == ["0", "1"]
    assert seq.pop(0) is a and list(seq) == [c]
    seq.extend([a, b])
    assert list(seq) == [c, a, b]
    both = seq + nn.Sequential(d)
    assert list(both) == [c, a, b, d] and list(seq) == [c, a, b]
    seq += nn.Sequential(d)
    assert list(seq) == [c, a, b, d]
    with pytest.raises(ValueError, match="only objects of Sequential class"):
        seq + [a]
    with pytest.raises(IndexError):
        seq.insert(9, a)


def test_sequential_keys_match_pytorch():
    torch = pytest.importorskip("torch")

    def edit(m, make):
        seq = m.Sequential(OrderedDict((k, make()) for k in "abcd"))
        sliced = list(seq[1:3]._modules)
        seq.append(make())
        del seq[0]
        seq.insert(1, make())
        return sliced, list(seq._modules), repr(seq)

    assert edit(nn, ReLU) == edit(torch.nn, torch.nn.ReLU)


# ---------------------------------------------------------------------------------- ModuleList


def test_module_list():
    layers = nn.ModuleList([Linear(2, 2) for _ in range(3)])
    owner = nn.Module()
    owner.layers = layers
    assert [n for n, _ in owner.named_parameters()][:2] == ["layers.0.weight", "layers.0.bias"]
    assert len(list(owner.parameters())) == 6
    assert len(layers) == 3 and layers[-1] is layers[2]
    assert type(layers[:2]) is nn.ModuleList and list(layers[1:]._modules) == ["0", "1"]  # renumbered
    extra = Linear(2, 2)
    assert layers.append(extra) is layers and layers[3] is extra
    layers.insert(0, ReLU())
    assert isinstance(layers[0], ReLU) and layers[4] is extra
    del layers[0]
    assert list(layers._modules) == ["0", "1", "2", "3"] and layers[3] is extra
    assert layers.pop(-1) is extra and len(layers) == 3
    layers += [ReLU()]
    assert len(layers) == 4 and len(layers + nn.ModuleList([ReLU()])) == 5
    layers[0] = ReLU()
    assert isinstance(layers[0], ReLU)
    with pytest.raises(IndexError):
        layers[4]
    with pytest.raises(NotImplementedError):
        layers(sn.zeros(1))
    with pytest.raises(TypeError, match="iterable"):
        layers.extend(ReLU())
    assert repr(nn.ModuleList()) == "ModuleList()"


def test_module_list_repr_compresses_repeats_like_pytorch():
    torch = pytest.importorskip("torch")
    ours = nn.ModuleList([Linear(2, 2), Linear(2, 2), ReLU(), Linear(2, 2), Linear(2, 2), Linear(2, 2)])
    theirs = torch.nn.ModuleList(
        [torch.nn.Linear(2, 2), torch.nn.Linear(2, 2), torch.nn.ReLU()] + [torch.nn.Linear(2, 2) for _ in range(3)]
    )
    assert repr(ours) == repr(theirs)
    assert "(3-5): 3 x Linear(in_features=2, out_features=2, bias=True)" in repr(ours)


# ---------------------------------------------------------------------------------- ModuleDict


def test_module_dict():
    d = nn.ModuleDict({"enc": Linear(2, 3), "act": ReLU()})
    d.update([("dec", Linear(3, 2))])
    d["extra"] = ReLU()
    assert list(d) == ["enc", "act", "dec", "extra"] and list(d.keys()) == list(d)
    assert "enc" in d and "nope" not in d and len(d) == 4
    assert [n for n, _ in d.named_parameters()] == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    assert list(d.state_dict()) == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    assert isinstance(d.pop("extra"), ReLU) and "extra" not in d
    del d["act"]
    assert [k for k, _ in d.items()] == ["enc", "dec"] and len(list(d.values())) == 2
    d.update(nn.ModuleDict({"enc": ReLU()}))  # replaces in place, keeping the order
    assert isinstance(d["enc"], ReLU) and list(d) == ["enc", "dec"]
    with pytest.raises(ValueError, match="has length 3"):
        d.update([("a", ReLU(), 1)])
    with pytest.raises(KeyError, match="already exists"):
        d["training"] = ReLU()
    d.clear()
    assert len(d) == 0


def test_containers_state_dict_keys_match_pytorch():
    torch = pytest.importorskip("torch")

    def build(m, linear, relu):
        net = m.Module()
        net.body = m.Sequential(linear(2, 3), relu(), m.ModuleList([linear(3, 3), linear(3, 3)]))
        net.heads = m.ModuleDict({"mu": linear(3, 1), "logvar": linear(3, 1)})
        return net

    ours = build(nn, Linear, ReLU)
    theirs = build(torch.nn, torch.nn.Linear, torch.nn.ReLU)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)

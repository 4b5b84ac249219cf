"""Module: registration by attribute, naming and dedup, modes, gradients, to(), repr."""

import copy

import numpy as np
import pytest

import scratchnet as sn
import scratchnet.nn as nn


class Linear(nn.Module):
    """A toy Linear with PyTorch's layout, names and repr (the real one lives elsewhere)."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(sn.randn(out_features, in_features))
        if bias:
            self.bias = nn.Parameter(sn.zeros(out_features))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        y = x @ self.weight.T
        return y if self.bias is None else y + self.bias

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class ReLU(nn.Module):
    def forward(self, x):
        return x.relu()


class Norm(nn.Module):
    """Batch-norm-like: two parameters, persistent buffers (one int64) and one that is not saved."""

    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(sn.ones(n))
        self.bias = nn.Parameter(sn.zeros(n))
        self.register_buffer("running_mean", sn.zeros(n))
        self.register_buffer("num_batches_tracked", sn.tensor(0))
        self.register_buffer("scratch", sn.zeros(n), persistent=False)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = Linear(2, 3)
        self.act = ReLU()
        self.fc2 = Linear(3, 1)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


# ---------------------------------------------------------------------------------- registration


def test_attributes_register_parameters_children_and_buffers():
    m = Norm(3)
    assert list(m._parameters) == ["weight", "bias"]
    assert list(m._buffers) == ["running_mean", "num_batches_tracked", "scratch"]
    assert m.weight is m._parameters["weight"] and m.running_mean is m._buffers["running_mean"]
    assert "weight" not in m.__dict__ and "running_mean" not in m.__dict__
    net = Net()
    assert list(net._modules) == ["fc1", "act", "fc2"]
    assert net.fc1 is net._modules["fc1"]


def test_plain_values_and_tensors_stay_plain_attributes():
    m = nn.Module()
    m.k = 3
    m.t = sn.zeros(2)  # a Tensor that is not a Parameter is not registered (as in PyTorch)
    assert m.__dict__["k"] == 3 and m.__dict__["t"] is m.t
    assert list(m.parameters()) == [] and list(m.buffers()) == []


def test_reassigning_follows_pytorch_rules():
    m = Linear(2, 3)
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight'"):
        m.weight = sn.zeros(3, 2)
    m.bias = None  # a parameter slot may be emptied
    assert m.bias is None and [n for n, _ in m.named_parameters()] == ["weight"]
    net = Net()
    with pytest.raises(TypeError, match="as child module 'act'"):
        net.act = 5
    net.act = None
    assert net.act is None and [n for n, _ in net.named_children()] == ["fc1", "fc2"]
    norm = Norm(2)
    with pytest.raises(TypeError, match="as buffer 'running_mean'"):
        norm.running_mean = np.zeros(2)
    norm.scratch = sn.ones(2)  # reassigning a buffer keeps it non-persistent
    assert "scratch" in norm._non_persistent_buffers_set and norm.scratch.data[0] == 1
    # a name moves between registries when its kind changes
    net.fc1 = nn.Parameter(sn.zeros(1))
    assert "fc1" not in net._modules and "fc1" in net._parameters


def test_registration_errors():
    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(sn.zeros(1))

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\) call"):
        Early()
    m = Norm(2)
    with pytest.raises(KeyError, match="attribute 'weight' already exists"):
        m.register_buffer("weight", sn.zeros(2))
    with pytest.raises(KeyError, match="contain"):
        m.register_buffer("a.b", sn.zeros(2))
    with pytest.raises(KeyError, match="empty string"):
        m.register_parameter("", nn.Parameter(sn.zeros(1)))
    with pytest.raises(TypeError, match="buffer 'x'"):
        m.register_buffer("x", np.zeros(2))
    with pytest.raises(TypeError, match="parameter 'w'"):
        m.register_parameter("w", sn.zeros(2))
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("child", Linear)
    with pytest.raises(TypeError, match="name should be a string"):
        m.add_module(1, ReLU())


def test_add_module_register_parameter_and_delattr():
    m = nn.Module()
    m.add_module("child", ReLU())
    m.register_module("other", ReLU())
    m.register_parameter("w", nn.Parameter(sn.zeros(2)))
    m.register_buffer("b", sn.zeros(2))
    assert [n for n, _ in m.named_children()] == ["child", "other"]
    del m.child, m.w, m.b
    assert list(m._modules) == ["other"] and not m._parameters and not m._buffers
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'w'"):
        m.w
    m.plain = 1
    del m.plain
    assert not hasattr(m, "plain")


def test_dir_lists_registered_names():
    names = dir(Net())
    assert {"fc1", "act", "fc2", "forward", "training"} <= set(names)


def test_forward_and_call():
    net = Net()
    x = sn.randn(4, 2)
    np.testing.assert_allclose(net(x).numpy(), net.forward(x).numpy())
    assert net(x).shape == (4, 1)
    with pytest.raises(NotImplementedError, match=r'Module \[Module\] is missing the required "forward" function'):
        nn.Module()(x)


# ---------------------------------------------------------------------------------- walking and naming


def test_named_parameters_buffers_modules():
    net = Net()
    net.norm = Norm(1)
    assert [n for n, _ in net.named_parameters()] == [
        "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "norm.weight", "norm.bias",
    ]
    assert [n for n, _ in net.named_parameters(prefix="model")][0] == "model.fc1.weight"
    assert [n for n, _ in net.named_buffers()] == ["norm.running_mean", "norm.num_batches_tracked", "norm.scratch"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "act", "fc2", "norm"]
    assert [type(m).__name__ for m in net.modules()] == ["Net", "Linear", "ReLU", "Linear", "Norm"]
    assert [n for n, _ in net.named_children()] == ["fc1", "act", "fc2", "norm"]
    assert list(net.parameters(recurse=False)) == [] and list(net.norm.buffers(recurse=False))[0] is net.norm.running_mean
    assert len(list(net.parameters())) == 6


def test_shared_parameters_and_modules_are_listed_once():
    net = Net()
    net.fc3 = Linear(2, 3)
    net.fc3.weight = net.fc1.weight  # tied weights
    names = [n for n, _ in net.named_parameters()]
    assert names == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.bias"]
    assert len(list(net.parameters())) == 5
    assert len(list(net.named_parameters(remove_duplicate=False))) == 6
    # the same module registered twice
    act = ReLU()
    two = nn.Module()
    two.a, two.b = act, act
    assert [n for n, _ in two.named_modules()] == ["", "a"]
    assert [n for n, _ in two.named_children()] == ["a"]
    assert [n for n, _ in two.named_modules(remove_duplicate=False)] == ["", "a", "b"]


def test_names_match_pytorch_for_the_same_tree():
    torch = pytest.importorskip("torch")

    def build(m, linear, relu):
        net = m.Module()
        net.features = m.Sequential(linear(2, 4), relu(), linear(4, 4))
        net.head = linear(4, 1)
        net.tied = net.features[0]  # one module under two names
        return net

    ours = build(nn, Linear, ReLU)
    theirs = build(torch.nn, torch.nn.Linear, torch.nn.ReLU)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    order = []
    ours.apply(lambda m: order.append(type(m).__name__))
    torch_order = []
    theirs.apply(lambda m: torch_order.append(type(m).__name__))
    assert order == torch_order


# ---------------------------------------------------------------------------------- modes and gradients


def test_train_eval_propagate_and_return_self():
    net = Net()
    assert net.training and net.fc1.training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.fc1.train()
    assert net.fc1.training and not net.training
    assert net.train() is net and all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="boolean"):
        net.train("no")


def test_zero_grad():
    net = Net()
    net(sn.randn(5, 2)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    for p in net.parameters():
        assert p.grad.shape == p.shape and p.grad.dtype == p.dtype and not p.grad.data.any()
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_requires_grad_and_apply():
    net = Net()
    assert net.requires_grad_(False) is net
    assert not any(p.requires_grad for p in net.parameters())
    net.requires_grad_()
    assert all(p.requires_grad for p in net.parameters())
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "ReLU", "Linear", "Net"]  # children first, then self


def test_deepcopy_gives_an_independent_module():
    net = Net()
    twin = copy.deepcopy(net)
    assert twin.fc1.weight is not net.fc1.weight and type(twin.fc1.weight) is nn.Parameter
    np.testing.assert_array_equal(twin.fc1.weight.data, net.fc1.weight.data)
    twin.fc1.weight.data[...] = 0
    assert net.fc1.weight.data.any()


# ---------------------------------------------------------------------------------- to()


def test_to_dtype_casts_in_place_and_keeps_identity():
    net = Net()
    net.norm = Norm(3)
    net(sn.randn(2, 2)).sum().backward()
    params = list(net.parameters())
    buffers = list(net.buffers())
    assert net.to(sn.float64) is net
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert [id(b) for b in net.buffers()] == [id(b) for b in buffers]
    assert all(p.dtype == np.float64 and p.requires_grad for p in params)
    assert all(p.grad.dtype == np.float64 for p in net.fc1.parameters())
    assert net.norm.running_mean.dtype == np.float64 and net.norm.scratch.dtype == np.float64
    assert net.norm.num_batches_tracked.dtype == np.int64  # only floating tensors are cast
    assert net(sn.randn(2, 2, dtype=sn.float64)).dtype == np.float64
    net.float()
    assert all(p.dtype == np.float32 for p in params)
    net.to("float64")  # dtype names work too
    assert params[0].dtype == np.float64
    net.to("cpu", np.float32)
    assert params[0].dtype == np.float32 and params[0].device == "cpu"


def test_to_rejects_bad_requests_before_touching_anything():
    net = Net()
    with pytest.raises(TypeError, match="only accepts floating point"):
        net.to(np.int64)
    with pytest.raises(ValueError, match="unknown device"):
        net.to("tpu")
    assert net.fc1.weight.dtype == np.float32


def test_apply_is_all_or_nothing():
    net = Net()
    before = [p.data for p in net.parameters()]
    calls = []

    def flaky(a):
        calls.append(a)
        if len(calls) == 3:
            raise MemoryError("out of memory")
        return a.astype(np.float64)

    with pytest.raises(MemoryError):
        net._apply(flaky)
    assert all(p.data is a for p, a in zip(net.parameters(), before))


@pytest.mark.skipif(sn.backend.is_available("cupy"), reason="checks the error where there is no GPU")
def test_to_cuda_without_gpu_raises_and_leaves_the_model():
    net = Net()
    with pytest.raises(RuntimeError, match="cupy"):
        net.to("cuda")
    assert all(p.device == "cpu" for p in net.parameters())


@pytest.mark.gpu
def test_to_cuda_and_back_keeps_identity():
    net = Net()
    net.norm = Norm(3)
    p = net.fc1.weight
    values = p.numpy().copy()
    net.to("cuda")
    assert net.fc1.weight is p and p.device.startswith("cuda")
    assert all(t.device.startswith("cuda") for t in net.buffers())
    y = net(sn.randn(4, 2, device="cuda"))
    assert y.device.startswith("cuda")
    net.cpu()
    assert p.device == "cpu"
    np.testing.assert_array_equal(p.numpy(), values)


# ---------------------------------------------------------------------------------- repr


def test_repr_format():
    net = Net()
    assert repr(net) == (
        "Net(\n"
        "  (fc1): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (act): ReLU()\n"
        "  (fc2): Linear(in_features=3, out_features=1, bias=True)\n"
        ")"
    )
    assert repr(nn.Module()) == "Module()"

    class Multi(nn.Module):
        def extra_repr(self):
            return "a=1\nb=2"

    outer = nn.Module()
    outer.inner = Multi()
    outer.inner.leaf = ReLU()
    outer.add_module("empty", None)
    assert repr(outer) == (
        "Module(\n"
        "  (inner): Multi(\n"
        "    a=1\n"
        "    b=2\n"
        "    (leaf): ReLU()\n"
        "  )\n"
        "  (empty): None\n"
        ")"
    )


def test_repr_matches_pytorch():
    torch = pytest.importorskip("torch")

    def build(m, linear, relu):
        net = m.Module()
        net.encoder = m.Sequential(linear(2, 4), relu(), m.Sequential(linear(4, 4, bias=False), relu()))
        net.heads = m.ModuleList([linear(4, 1), linear(4, 1), linear(4, 2)])
        net.blocks = m.ModuleDict({"a": relu(), "b": m.Flatten(), "c": m.Unflatten(1, (2, 2))})
        net.skip = m.Identity()
        return net

    assert repr(build(nn, Linear, ReLU)) == repr(build(torch.nn, torch.nn.Linear, torch.nn.ReLU))

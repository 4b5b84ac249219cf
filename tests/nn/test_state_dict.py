"""state_dict / load_state_dict: PyTorch's keys, all-or-nothing loading, every error in one message."""

import re
from collections import OrderedDict

import numpy as np
import pytest

import scratchnet as sn
import scratchnet.nn as nn


class Linear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.weight = nn.Parameter(sn.randn(out_features, in_features))
        if bias:
            self.bias = nn.Parameter(sn.randn(out_features))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        y = x @ self.weight.T
        return y if self.bias is None else y + self.bias


class BatchNorm1d(nn.Module):
    """Only the state of PyTorch's BatchNorm1d: its names, dtypes and persistence."""

    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(sn.ones(n))
        self.bias = nn.Parameter(sn.zeros(n))
        self.register_buffer("running_mean", sn.zeros(n))
        self.register_buffer("running_var", sn.ones(n))
        self.register_buffer("num_batches_tracked", sn.tensor(0))


class ReLU(nn.Module):
    def forward(self, x):
        return x.relu()


def Net(m=nn, linear=Linear, bn=BatchNorm1d, relu=ReLU):
    """The same model tree in scratchnet (default) or PyTorch (pass torch.nn and its layers)."""

    class Net(m.Module):
        def __init__(self):
            super().__init__()
            self.features = m.Sequential(
                OrderedDict(conv1=linear(2, 4), bn=bn(4), act=relu(), conv2=linear(4, 4, bias=False))
            )
            self.fc = linear(4, 3)

        def forward(self, x):
            return self.fc(self.features(x))

    return Net()


def _values(model):
    return {k: np.array(v, copy=True) for k, v in model.state_dict().items()}


def test_keys_order_and_values():
    net = Net()
    net.features.bn.register_buffer("tmp", sn.zeros(4), persistent=False)
    sd = net.state_dict()
    assert type(sd) is OrderedDict
    assert list(sd) == [
        "features.conv1.weight", "features.conv1.bias",
        "features.bn.weight", "features.bn.bias",
        "features.bn.running_mean", "features.bn.running_var", "features.bn.num_batches_tracked",
        "features.conv2.weight",
        "fc.weight", "fc.bias",
    ]  # no None bias, no non-persistent buffer
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    assert sd["fc.weight"] is net.fc.weight.data  # shares memory, like PyTorch's detached tensors
    assert sd["features.bn.num_batches_tracked"].dtype == np.int64
    kv = net.state_dict(keep_vars=True)
    assert kv["fc.weight"] is net.fc.weight
    assert list(net.fc.state_dict(prefix="head.")) == ["head.weight", "head.bias"]
    seq = nn.Sequential(Linear(2, 3), ReLU(), Linear(3, 1))
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_shared_parameter_appears_under_every_name():
    a, b = Linear(2, 2), Linear(2, 2)
    b.weight = a.weight
    m = nn.Sequential(a, b)
    assert list(m.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    assert len(list(m.parameters())) == 3


def test_keys_match_pytorch():
    torch = pytest.importorskip("torch")
    ours = Net()
    theirs = Net(torch.nn, torch.nn.Linear, torch.nn.BatchNorm1d, torch.nn.ReLU)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in theirs.state_dict().items()
    }


def test_round_trip_with_pytorch():
    torch = pytest.importorskip("torch")
    theirs = Net(torch.nn, torch.nn.Linear, torch.nn.BatchNorm1d, torch.nn.ReLU).double()
    ours = Net().double()
    result = ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    x = np.random.default_rng(0).standard_normal((5, 2))
    fc_theirs = theirs.fc(theirs.features.conv2(theirs.features.conv1(torch.from_numpy(x)).relu()))
    fc_ours = ours.fc(ours.features.conv2(ours.features.conv1(sn.tensor(x)).relu()))
    np.testing.assert_allclose(fc_ours.numpy(), fc_theirs.detach().numpy(), rtol=1e-12)
    # and back: PyTorch accepts ours
    back = Net(torch.nn, torch.nn.Linear, torch.nn.BatchNorm1d, torch.nn.ReLU).double()
    back.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()})
    for k, v in back.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), ours.state_dict()[k])


def test_load_copies_values_keeps_objects_dtypes_and_devices():
    src, dst = Net(), Net()
    params = list(dst.parameters())
    arrays = [p.data for p in params]
    sd = {k: v.astype(np.float64) if v.dtype.kind == "f" else v for k, v in _values(src).items()}
    sd["fc.bias"] = sn.tensor(sd["fc.bias"])  # Tensors are accepted as values too
    assert repr(dst.load_state_dict(sd)) == "<All keys matched successfully>"
    assert [id(p) for p in dst.parameters()] == [id(p) for p in params]
    assert all(p.data is a for p, a in zip(params, arrays))  # written into, not replaced
    assert all(p.dtype == np.float32 for p in params)
    for k, v in dst.state_dict().items():
        np.testing.assert_allclose(v, src.state_dict()[k], rtol=1e-6)
    sd["fc.weight"][...] = 7.0  # the model holds a copy, not the caller's array
    assert not (dst.fc.weight.data == 7.0).any()


def test_loading_the_models_own_arrays_swapped():
    seq = nn.Sequential(Linear(3, 3), Linear(3, 3))
    w0, w1 = seq[0].weight.numpy().copy(), seq[1].weight.numpy().copy()
    sd = seq.state_dict()  # shares memory with the model
    sd["0.weight"], sd["1.weight"] = sd["1.weight"], sd["0.weight"]
    seq.load_state_dict(sd)
    np.testing.assert_array_equal(seq[0].weight.numpy(), w1)
    np.testing.assert_array_equal(seq[1].weight.numpy(), w0)


def test_load_0d_buffer_from_shape_1():
    net = BatchNorm1d(2)
    sd = dict(net.state_dict())
    sd["num_batches_tracked"] = np.array([5])
    net.load_state_dict(sd)
    assert net.num_batches_tracked.shape == () and net.num_batches_tracked.item() == 5


def test_every_problem_in_one_error_and_nothing_loaded():
    net = Net()
    before = _values(net)
    sd = {k: v + 1 if v.dtype.kind == "f" else v for k, v in _values(Net()).items()}
    del sd["features.bn.running_var"]
    del sd["fc.bias"]
    sd["fc.weight"] = np.zeros((3, 5), np.float32)
    sd["features.conv1.weight"] = np.zeros(4, np.float32)
    sd["fc.extra"] = np.zeros(1)
    sd["junk"] = np.zeros(1)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(sd)
    assert str(info.value) == (
        "Error(s) in loading state_dict for Net:\n"
        '\tMissing key(s) in state_dict: "features.bn.running_var", "fc.bias". \n'
        '\tUnexpected key(s) in state_dict: "junk", "fc.extra". \n'
        "\tsize mismatch for features.conv1.weight: copying a param with shape (4,) from checkpoint, "
        "the shape in current model is (4, 2).\n"
        "\tsize mismatch for fc.weight: copying a param with shape (3, 5) from checkpoint, "
        "the shape in current model is (3, 4)."
    )
    after = _values(net)
    assert all(np.array_equal(before[k], after[k]) for k in before)  # all or nothing


def test_a_single_wrong_shape_blocks_the_whole_load():
    net = Net()
    before = _values(net)
    sd = {k: v + 1 if v.dtype.kind == "f" else v for k, v in _values(net).items()}
    sd["fc.bias"] = np.zeros(4, np.float32)
    with pytest.raises(RuntimeError, match="size mismatch for fc.bias"):
        net.load_state_dict(sd, strict=False)  # shapes are checked even when not strict
    after = _values(net)
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_non_array_values_are_reported():
    net = Linear(2, 2)
    with pytest.raises(RuntimeError, match='While copying the parameter named "bias", expected'):
        net.load_state_dict({"weight": np.zeros((2, 2)), "bias": [0.0, 0.0]})
    with pytest.raises(TypeError, match="dict-like"):
        net.load_state_dict([("weight", np.zeros((2, 2)))])


def test_strict_false_loads_what_matches_and_reports_the_rest():
    net = Net()
    src = Net()
    sd = _values(src)
    del sd["fc.bias"]
    sd["extra.weight"] = np.zeros(2)
    old_bias = net.fc.bias.data.copy()
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["fc.bias"] and result.unexpected_keys == ["extra.weight"]
    missing, unexpected = result  # a NamedTuple, as in PyTorch
    assert missing == ["fc.bias"] and unexpected == ["extra.weight"]
    assert repr(result) == "_IncompatibleKeys(missing_keys=['fc.bias'], unexpected_keys=['extra.weight'])"
    np.testing.assert_array_equal(net.fc.weight.data, src.fc.weight.data)
    np.testing.assert_array_equal(net.fc.bias.data, old_bias)


def test_error_message_and_result_match_pytorch():
    torch = pytest.importorskip("torch")
    ours = Net()
    theirs = Net(torch.nn, torch.nn.Linear, torch.nn.BatchNorm1d, torch.nn.ReLU)

    def broken(sd, to):
        sd = OrderedDict((k, to(v)) for k, v in sd.items())
        del sd["features.bn.running_var"], sd["fc.bias"]
        sd["fc.weight"] = to(np.zeros((3, 5), np.float32))
        sd["fc.extra"] = to(np.zeros(1, np.float32))
        sd["junk"] = to(np.zeros(1, np.float32))
        sd["features.extra.w"] = to(np.zeros(1, np.float32))
        return sd

    def message(model, sd):
        with pytest.raises(RuntimeError) as info:
            model.load_state_dict(sd)
        return re.sub(r"torch\.Size\(\[([^\]]*)\]\)", lambda m: f"({m.group(1)})", str(info.value))

    def to_torch(v):
        return v.clone() if isinstance(v, torch.Tensor) else torch.from_numpy(v)

    assert message(ours, broken(ours.state_dict(), np.array)) == message(theirs, broken(theirs.state_dict(), to_torch))
    sd_ours = broken(ours.state_dict(), np.array)
    sd_theirs = broken(theirs.state_dict(), to_torch)
    sd_ours["fc.weight"] = np.zeros((3, 4), np.float32)
    sd_theirs["fc.weight"] = torch.zeros(3, 4)
    assert repr(ours.load_state_dict(sd_ours, strict=False)) == repr(theirs.load_state_dict(sd_theirs, strict=False))


@pytest.mark.gpu
def test_load_numpy_into_a_gpu_model_and_state_dict_of_cupy_arrays():
    src = Net()
    net = Net().to("cuda")
    w = net.fc.weight
    net.load_state_dict(src.state_dict())
    assert net.fc.weight is w and w.device.startswith("cuda")
    sd = net.state_dict()
    assert all(type(v).__module__.startswith("cupy") for v in sd.values())
    np.testing.assert_array_equal(w.numpy(), src.fc.weight.numpy())
    src.load_state_dict(sd)  # and CuPy arrays back into a CPU model
    assert src.fc.weight.device == "cpu"


@pytest.mark.parametrize("dtype", ["<U3", object, np.complex64])
def test_arrays_that_are_not_real_numbers_are_reported_and_nothing_loaded(dtype):
    """A string array used to fail half-way with NumPy's "could not convert string to float";
    an object array of numbers, or complex, was cast silently."""
    model = nn.Linear(3, 2)
    before = {k: v.copy() for k, v in model.state_dict().items()}
    bad = {"weight": np.ones((2, 3)).astype(dtype), "bias": np.zeros(2)}
    with pytest.raises(RuntimeError, match='While copying the parameter named "weight", expected an array of real'):
        model.load_state_dict(bad)
    assert all(np.array_equal(v, before[k]) for k, v in model.state_dict().items())


def test_keys_that_are_not_strings_are_unexpected_keys():
    """An int key used to fail with "'int' object is not subscriptable"."""
    model = nn.Sequential(nn.Linear(3, 2))
    state = {**model.state_dict(), 7: np.zeros(2)}
    with pytest.raises(RuntimeError, match='Unexpected key\\(s\\) in state_dict: "7"'):
        model.load_state_dict(state)
    assert model.load_state_dict(state, strict=False).unexpected_keys == [7]

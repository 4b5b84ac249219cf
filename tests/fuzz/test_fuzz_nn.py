"""Fuzzing layers and losses: inputs of the wrong rank, size or dtype, targets that do not fit, bad options.

Each layer runs beside its PyTorch twin holding the same weights: whenever scratchnet returns a result,
PyTorch must accept the call and agree; a well-formed call must work.
"""

import warnings

import numpy as np
import pytest
from fuzzing import FUZZ, as_tensor, attempt, junk, layouts
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
import scratchnet.functional as F
from scratchnet import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def twin(layer, torch_layer):
    """Copy scratchnet's parameters and buffers into the PyTorch layer (float64)."""
    state = {k: torch.tensor(np.asarray(v)) for k, v in layer.state_dict().items()}
    torch_layer.double().load_state_dict(state)
    return torch_layer


LAYERS = {
    "Linear": lambda: (nn.Linear(3, 2), torch.nn.Linear(3, 2)),
    "Conv2d": lambda: (nn.Conv2d(2, 3, 2, padding=1), torch.nn.Conv2d(2, 3, 2, padding=1)),
    "ConvTranspose2d": lambda: (nn.ConvTranspose2d(2, 3, 2, stride=2), torch.nn.ConvTranspose2d(2, 3, 2, stride=2)),
    "MaxPool2d": lambda: (nn.MaxPool2d(2), torch.nn.MaxPool2d(2)),
    "AvgPool2d": lambda: (nn.AvgPool2d(2), torch.nn.AvgPool2d(2)),
    "BatchNorm1d": lambda: (nn.BatchNorm1d(2), torch.nn.BatchNorm1d(2)),
    "BatchNorm2d": lambda: (nn.BatchNorm2d(2), torch.nn.BatchNorm2d(2)),
    "Flatten": lambda: (nn.Flatten(), torch.nn.Flatten()),
    "ReLU": lambda: (nn.ReLU(), torch.nn.ReLU()),
    "LeakyReLU": lambda: (nn.LeakyReLU(0.1), torch.nn.LeakyReLU(0.1)),
    "Tanh": lambda: (nn.Tanh(), torch.nn.Tanh()),
    "Sigmoid": lambda: (nn.Sigmoid(), torch.nn.Sigmoid()),
    "Sequential": lambda: (nn.Sequential(nn.Flatten(), nn.Linear(4, 2), nn.ReLU()),
                           torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2), torch.nn.ReLU())),
}
# The input each layer is made for; the fuzzer bends it.
MADE_FOR = {"Linear": (4, 3), "Conv2d": (2, 2, 3, 3), "ConvTranspose2d": (2, 2, 3, 3), "MaxPool2d": (2, 2, 4, 4),
            "AvgPool2d": (2, 2, 4, 4), "BatchNorm1d": (3, 2), "BatchNorm2d": (3, 2, 2, 2), "Flatten": (2, 3, 2),
            "ReLU": (2, 3), "LeakyReLU": (2, 3), "Tanh": (2, 3), "Sigmoid": (2, 3), "Sequential": (2, 2, 2)}


@st.composite
def bent_inputs(draw, shape):
    """The right shape, or one with a dim changed, dropped, added or emptied; float64, now and then another dtype."""
    shape = list(shape)
    how = draw(st.sampled_from(["as-is", "as-is", "resize", "drop", "add", "empty"]))
    if how == "resize":
        shape[draw(st.integers(0, len(shape) - 1))] = draw(st.integers(1, 5))
    elif how == "drop":
        del shape[draw(st.integers(0, len(shape) - 1))]
    elif how == "add":
        shape.insert(draw(st.integers(0, len(shape))), draw(st.integers(1, 3)))
    elif how == "empty":
        shape[draw(st.integers(0, len(shape) - 1))] = 0
    a = np.random.default_rng(draw(st.integers(0, 2**16))).standard_normal(shape)
    dtype = draw(st.sampled_from([np.float64] * 4 + [np.float32, np.int64, np.bool_]))
    return a.astype(dtype)


@pytest.mark.parametrize("name", sorted(LAYERS))
@FUZZ
@given(data=st.data(), layout=layouts, training=st.booleans())
def test_layers_against_pytorch(name, data, layout, training):
    a = data.draw(bent_inputs(MADE_FOR[name]))
    layer, torch_layer = LAYERS[name]()
    layer.double()
    torch_layer = twin(layer, torch_layer)
    layer.train(training)
    torch_layer.train(training)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = attempt(name, layer, as_tensor(a, layout), names=(name.lower(), "linear", "conv", "pool", "batch_norm",
                                                                 "flatten", "relu", "tanh", "sigmoid"))
        try:  # on the values as float64: scratchnet casts where PyTorch refuses mixed dtypes (a right answer too)
            ref, error = torch_layer(torch.tensor(a.astype(np.float64))), None
        except (RuntimeError, ValueError, TypeError, IndexError, NotImplementedError) as e:
            ref, error = None, e
    if out.ok:
        if error is not None and a.size == 0:
            return  # PyTorch refuses some empty batches whose (empty) result is well defined
        assert error is None, f"{name} accepted input {a.dtype}{a.shape} that PyTorch refuses: {error}"
        assert out.value.shape == tuple(ref.shape)
        np.testing.assert_allclose(out.value.numpy().astype(np.float64), ref.detach().double().numpy(), rtol=1e-6,
                                   atol=1e-6)
        for key, value in layer.state_dict().items():  # running statistics updated alike
            np.testing.assert_allclose(np.asarray(value, dtype=np.float64),
                                       torch_layer.state_dict()[key].double().numpy(), rtol=1e-6, atol=1e-6)
    elif error is None and a.dtype == np.float64 and a.shape == MADE_FOR[name]:
        raise AssertionError(f"{name} refused a well-formed input: {out.error}")


REDUCTIONS = st.sampled_from(["mean", "mean", "sum", "none", "avg", None])


@st.composite
def class_problems(draw):
    """Logits (N, C[, d]) or (C,), integer targets that may be out of range, mis-shaped or of another dtype."""
    c = draw(st.integers(0, 4))
    shape = draw(st.sampled_from([(c,), (draw(st.integers(0, 3)), c), (draw(st.integers(1, 3)), c, 2)]))
    logits = np.random.default_rng(draw(st.integers(0, 99))).standard_normal(shape)
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    if draw(st.integers(0, 5)) == 0:
        tshape = draw(st.sampled_from([(), (1,), (2,), (3, 2)]))
    values = st.integers(0, max(c - 1, 0)) if draw(st.integers(0, 3)) else st.integers(-2, 5)  # mostly in range
    target = np.asarray(draw(st.lists(values, min_size=int(np.prod(tshape)),
                                      max_size=int(np.prod(tshape))))).reshape(tshape).astype(np.int64)
    target = target.astype(draw(st.sampled_from([np.int64] * 4 + [np.int32, np.uint8, np.float32, np.bool_])))
    return logits, target


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
@FUZZ
@given(problem=class_problems(), reduction=REDUCTIONS, weighted=st.booleans(), ignore_index=st.sampled_from([-100, 1]),
       smoothing=st.sampled_from([0.0, 0.0, 0.1, 1.5]))
def test_class_losses_against_pytorch(name, problem, reduction, weighted, ignore_index, smoothing):
    logits, target = problem
    c = logits.shape[1] if logits.ndim > 1 else logits.shape[0]
    w = np.linspace(0.5, 1.5, c) if weighted else None
    kwargs = {"ignore_index": ignore_index, "reduction": reduction}
    if name == "cross_entropy":
        kwargs["label_smoothing"] = smoothing
    out = attempt(name, getattr(F, name), sn.tensor(logits), sn.tensor(target), None if w is None else sn.tensor(w),
                  **kwargs)
    try:
        tt = torch.tensor(target)
        ref = getattr(TF, name)(torch.tensor(logits), tt, None if w is None else torch.tensor(w), **kwargs)
        error = None
    except (RuntimeError, ValueError, TypeError, IndexError) as e:
        ref, error = None, e
    if out.ok:
        if error is not None and target.dtype != np.int64 and target.dtype.kind in "iu":
            return  # PyTorch wants int64 targets; other integer types are taken as they are here
        assert error is None, f"{name} accepted what PyTorch refuses: {error}"
        np.testing.assert_allclose(out.value.numpy(), ref.numpy(), rtol=1e-10, atol=1e-10)


LOSS_SHAPES = [(3,), (2, 3), (0,), ()]
float_pairs = st.one_of(st.sampled_from(LOSS_SHAPES).map(lambda s: (s, s)), st.sampled_from(LOSS_SHAPES).map(
    lambda s: (s, s)), st.tuples(st.sampled_from(LOSS_SHAPES), st.sampled_from(LOSS_SHAPES + [(1, 3)])))


@pytest.mark.parametrize("name", ["binary_cross_entropy", "binary_cross_entropy_with_logits", "mse_loss"])
@FUZZ
@given(shapes=float_pairs, reduction=REDUCTIONS, seed=st.integers(0, 99), special=st.booleans(),
       target_dtype=st.sampled_from([np.float64] * 4 + [np.float32, np.int64]),
       weight=st.one_of(st.none(), st.none(), st.none(), junk))
def test_elementwise_losses_against_pytorch(name, shapes, reduction, seed, special, target_dtype, weight):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, shapes[0]) if name == "binary_cross_entropy" else rng.standard_normal(shapes[0]) * 10
    if name == "binary_cross_entropy" and x.size and rng.integers(4) == 0:
        x.flat[-1] = rng.choice([-0.5, 1.5])  # outside [0, 1]
    if special and x.size:
        x.flat[0] = rng.choice([np.nan, np.inf, -np.inf, 0.0, 1.0])
    t = rng.uniform(0, 1, shapes[1]).astype(target_dtype)
    kwargs = {"reduction": reduction}
    if name != "mse_loss" and weight is not None:
        kwargs["weight"] = weight
    out = attempt(name, getattr(F, name), sn.tensor(x), sn.tensor(t), **kwargs)
    if not out.ok:
        return
    assert weight is None or name == "mse_loss", f"{name} took weight={weight!r}"
    if name == "binary_cross_entropy_with_logits" and not np.isfinite(x).all():
        return  # a logit of -inf: the loss is +inf (scratchnet); PyTorch's formula gives inf - inf = NaN
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # mixed float32/float64: scratchnet computes in float64, PyTorch refuses or rounds to float32
        ref = getattr(TF, name)(torch.tensor(x), torch.tensor(t.astype(np.float64)), reduction=reduction)
    np.testing.assert_allclose(out.value.numpy(), ref.numpy(), rtol=1e-10, atol=1e-10)

"""detect_anomaly: the first NaN/inf in a forward or a backward is reported with the op, the place and the shapes."""

import sys
import warnings

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import autograd

HERE = "test_anomaly.py"


def line():
    """The line number of the caller (where the test creates the op that should be named)."""
    return sys._getframe(1).f_lineno


@pytest.fixture(autouse=True)
def _quiet_and_off():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's "invalid value encountered in log"
        yield
    assert not sn.is_anomaly_enabled(), "a test left anomaly mode on"


def leaf(values, dtype=np.float64):
    return sn.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def test_forward_nan_names_the_op_the_line_and_the_shapes():
    x = leaf([[1.0, -1.0, 2.0], [3.0, 4.0, 5.0]], np.float32)
    with sn.detect_anomaly(), pytest.raises(sn.AnomalyError) as info:
        here = line() + 1
        x.log()
    message = str(info.value)
    assert message.startswith("detect_anomaly: the forward of Log (created at ")
    assert f"{HERE}:{here} in test_forward_nan_names_the_op_the_line_and_the_shapes" in message
    assert "produced nan in its output of shape (2, 3) float32; inputs: (2, 3) float32" in message
    assert "upstream" not in message
    e = info.value
    assert isinstance(e, FloatingPointError)
    assert (e.op, e.phase, e.input_index, e.upstream) == ("Log", "forward", None, False)


def test_forward_inf_is_caught_and_named():
    x = leaf([0.0, 1.0])
    pattern = r"forward of Div .* produced inf .*; inputs: \(\) float64, \(2,\) float64$"
    with sn.detect_anomaly(), pytest.raises(sn.AnomalyError, match=pattern):
        1.0 / x


def test_a_nan_already_in_an_input_is_named_as_upstream():
    data = sn.tensor(np.array([np.nan, 1.0]))  # bad data, not a bad op
    w = leaf([2.0, 3.0])
    with sn.detect_anomaly(), pytest.raises(sn.AnomalyError) as info:
        data * w
    message = str(info.value)
    assert "forward of Mul" in message
    assert "Input 0 already contained nan: the problem is upstream, in a leaf tensor (data or a constant)" in message
    assert info.value.upstream


def test_a_nan_from_an_op_run_before_anomaly_mode_names_that_op():
    x = leaf([-1.0, 1.0])
    here = line() + 1
    y = x.log()  # NaN made while the mode was off: no error
    with sn.detect_anomaly(), pytest.raises(sn.AnomalyError) as info:
        y * 2
    assert "the problem is upstream, in the output of Log (created before detect_anomaly was on)" in str(info.value)
    assert f":{here} " not in str(info.value)


def test_backward_inf_names_the_op_whose_backward_made_it():
    x = leaf([0.0, 4.0])
    with sn.detect_anomaly():
        here = line() + 1
        y = x.sqrt()  # finite forward; d sqrt / dx at 0 is inf
        loss = y.sum()
        with pytest.raises(sn.AnomalyError) as info:
            loss.backward()
    message = str(info.value)
    assert message.startswith("detect_anomaly: the backward of Sqrt (created at ")
    assert f"{HERE}:{here} in test_backward_inf" in message
    assert "produced inf in the gradient for input 0 of shape (2,) float64; inputs: (2,) float64" in message
    e = info.value
    assert (e.op, e.phase, e.input_index, e.upstream) == ("Sqrt", "backward", 0, False)


def test_backward_names_the_input_whose_gradient_is_bad():
    a = leaf([1.0, 2.0])
    b = leaf([0.0, 1.0])
    with sn.detect_anomaly():
        y = (a * b.sqrt()).sum()
        with pytest.raises(sn.AnomalyError, match=r"backward of Sqrt .* for input 0 of shape \(2,\)"):
            y.backward()
    c = leaf([1e-200, 1.0])
    with sn.detect_anomaly():
        y = (a / c).sum()  # d/dc = -a / c**2 overflows to -inf; d/da is finite
        with pytest.raises(
            sn.AnomalyError, match=r"backward of Div .* produced inf in the gradient for input 1 "
        ) as info:
            y.backward()
    assert info.value.input_index == 1


def test_a_nan_gradient_handed_down_is_named_as_upstream():
    x = leaf([1.0, 2.0])
    with sn.detect_anomaly():
        y = x * 3
        with pytest.raises(sn.AnomalyError, match="gradient it received for its output already contained nan") as info:
            y.backward(sn.tensor(np.array([np.nan, 1.0])))
    assert info.value.upstream


def test_no_error_and_no_bookkeeping_when_off():
    x = leaf([-1.0, 0.0])
    y = x.log()  # nan and -inf, silently, as NumPy does
    assert np.isnan(y.numpy()[0]) and np.isinf(y.numpy()[1])
    assert not hasattr(y.creator, "_created_at")
    z = leaf([0.0]).sqrt().sum()
    z.backward()


def test_finite_values_pass_and_integers_are_not_checked():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    with sn.detect_anomaly():
        loss = (x.log() * x.sqrt()).sum() + x.argmax(dim=1).sum()
        loss.backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_nesting_restores_the_previous_mode():
    assert not sn.is_anomaly_enabled()
    with sn.detect_anomaly():
        assert sn.is_anomaly_enabled()
        with sn.detect_anomaly(False):
            assert not sn.is_anomaly_enabled()
            leaf([-1.0]).log()  # off here: no error
            with sn.detect_anomaly():
                assert sn.is_anomaly_enabled()
            assert not sn.is_anomaly_enabled()
        assert sn.is_anomaly_enabled()
    assert not sn.is_anomaly_enabled()
    with pytest.raises(sn.AnomalyError), sn.detect_anomaly():
        leaf([-1.0]).log()
    assert not sn.is_anomaly_enabled()  # restored after the error too


def test_as_a_decorator():
    @sn.detect_anomaly()
    def step(x):
        assert sn.is_anomaly_enabled()
        return x.log()

    with pytest.raises(sn.AnomalyError, match="forward of Log"):
        step(leaf([-1.0]))
    assert not sn.is_anomaly_enabled()
    step(leaf([1.0]))


def test_grad_with_create_graph_and_second_order():
    x = leaf([0.0, 1.0])
    with sn.detect_anomaly():
        y = x.sqrt().sum()
        with pytest.raises(sn.AnomalyError, match="backward of Sqrt"):
            sn.grad(y, x, create_graph=True)
    x = leaf([1.0, 4.0])
    with sn.detect_anomaly():
        here = line() + 1
        y = (x**3).sum()
        (g,) = sn.grad(y, x, create_graph=True)  # 3 x**2: recorded ops, made in the backward of Pow
        assert "in the backward of Pow (created at" in g.creator._created_at
        assert f"{HERE}:{here} " in g.creator._created_at
        (g * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 12 * np.array([1.0, 4.0]))


def test_second_order_backward_names_the_op_made_in_a_backward():
    x = leaf([0.0, 1.0])
    with sn.detect_anomaly():
        y = (x**1.5).sum()  # first derivative 1.5 x**0.5 is finite at 0, the second is not
        (g,) = sn.grad(y, x, create_graph=True)
        with pytest.raises(sn.AnomalyError) as info:
            g.sum().backward()
    message = str(info.value)
    assert "detect_anomaly: the backward of Pow (created at" in message
    assert "in the backward of Pow (created at" in message
    assert "produced inf in the gradient for input 0 of shape (2,) float64" in message


def test_the_engine_flag_is_restored_after_an_error():
    x = leaf([0.0])
    with sn.detect_anomaly():
        with pytest.raises(sn.AnomalyError):
            x.sqrt().sum().backward()
        with pytest.raises(sn.AnomalyError, match="forward of Log"):
            leaf([-1.0]).log()  # forward checks work again after the failed backward
    assert sn.anomaly._engine_depth == 0 and sn.anomaly._backward_of is None
    assert autograd._anomaly_enabled is False


def test_a_model_trains_cleanly_in_anomaly_mode():
    sn.manual_seed(0)
    model = sn.nn.Sequential(
        sn.nn.Conv2d(1, 4, 3, padding=1),
        sn.nn.BatchNorm2d(4),
        sn.nn.ReLU(),
        sn.nn.MaxPool2d(2),
        sn.nn.Flatten(),
        sn.nn.Linear(4 * 4 * 4, 3),
    )
    x = sn.randn(5, 1, 8, 8)
    target = sn.tensor(np.array([0, 1, 2, 0, 1]))
    with sn.detect_anomaly():
        loss = sn.functional.cross_entropy(model(x), target)
        loss.backward()
    assert all(np.isfinite(p.grad.numpy()).all() for p in model.parameters())

"""Learning-rate schedules: closed forms, PyTorch's numbers, resume from a state dict."""

import math

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.optim.lr_scheduler import CosineAnnealingLR, StepLR


def optimizer(lr=0.1):
    return sn.optim.SGD([sn.zeros(2, requires_grad=True)], lr=lr)


def run(make, steps):
    opt = optimizer()
    sched = make(opt)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    return lrs


def test_step_lr():
    assert run(lambda o: StepLR(o, 2, gamma=0.5), 5) == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])


def test_cosine_annealing():
    lrs = run(lambda o: CosineAnnealingLR(o, T_max=4, eta_min=0.01), 4)
    expected = [0.01 + 0.09 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(5)]
    assert lrs == pytest.approx(expected)


def test_resume_from_state_dict_continues_exactly():
    opt = optimizer()
    sched = CosineAnnealingLR(opt, T_max=10)
    for _ in range(3):
        sched.step()
    state = sched.state_dict()
    opt2 = optimizer()
    sched2 = CosineAnnealingLR(opt2, T_max=10)
    sched2.load_state_dict(state)
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    sched.step()
    sched2.step()
    assert sched2.get_last_lr() == sched.get_last_lr()


def test_bad_arguments():
    with pytest.raises(ValueError, match="step_size"):
        StepLR(optimizer(), 0)
    with pytest.raises(ValueError, match="T_max"):
        CosineAnnealingLR(optimizer(), 0)


@pytest.mark.parametrize("name,kwargs", [("StepLR", {"step_size": 3, "gamma": 0.3}), ("CosineAnnealingLR", {"T_max": 7, "eta_min": 1e-3})])
def test_matches_pytorch(name, kwargs):
    torch = pytest.importorskip("torch")
    ours = run(lambda o: getattr(sn.optim.lr_scheduler, name)(o, **kwargs), 12)
    topt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    theirs = [topt.param_groups[0]["lr"]]
    for _ in range(12):
        topt.step()
        tsched.step()
        theirs.append(tsched.get_last_lr()[0])
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------- malformed input (issue 8)


def _opt():
    return sn.optim.SGD([sn.zeros(2, requires_grad=True)], lr=0.1)


def test_a_scheduler_needs_an_optimizer():
    with pytest.raises(TypeError, match="^StepLR: NoneType is not an Optimizer"):
        StepLR(None, 1)  # used to be AttributeError


@pytest.mark.parametrize("t_max,error", [(float("nan"), ValueError), (0, ValueError), ("10", TypeError)])
def test_cosine_t_max_must_be_a_positive_number(t_max, error):
    """T_max=nan used to be accepted and make every learning rate NaN."""
    with pytest.raises(error, match="^CosineAnnealingLR: T_max must be"):
        CosineAnnealingLR(_opt(), t_max)


@pytest.mark.parametrize("step_size,error", [(1.5, TypeError), ("2", TypeError), (0, ValueError)])
def test_step_size_must_be_a_positive_int(step_size, error):
    with pytest.raises(error, match="^StepLR: step_size must be"):
        StepLR(_opt(), step_size)


@pytest.mark.parametrize("state", [None, {"x": 1}, {"last_epoch": 3, "base_lrs": [0.1, 0.2]}])
def test_load_state_dict_refuses_foreign_states(state):
    schedule = StepLR(_opt(), 2)
    with pytest.raises(ValueError, match="^StepLR.load_state_dict: "):
        schedule.load_state_dict(state)
    assert schedule.last_epoch == 0


def test_cosine_with_a_vanishing_t_max_names_itself():
    """T_max = 1e-308 made step() fail with a bare 'math domain error' from cos(inf)."""
    schedule = CosineAnnealingLR(_opt(), 1e-308)
    with pytest.raises(ValueError, match="^CosineAnnealingLR: step 1 / T_max 1e-308 overflows"):
        schedule.step()

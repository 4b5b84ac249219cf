"""Optimizers: updates checked by hand, parameter groups, zero_grad, state dicts, dtypes and errors;
then step-by-step agreement with torch.optim (float64, rtol 1e-10), which is skipped without torch."""

import copy
import math

import numpy as np
import pytest

import scratchnet as sn
import scratchnet.optim as optim


def param(values, dtype=np.float64):
    return sn.tensor(np.array(values, dtype=dtype), requires_grad=True)


def set_grad(p, g):
    p.grad = sn.Tensor(np.array(g, dtype=p.dtype))


def run(opt, p, grads):
    """Step once per gradient in ``grads``; return the parameter's values after each step."""
    values = []
    for g in grads:
        set_grad(p, g)
        opt.step()
        values.append(p.numpy().copy())
    return values


def approx(x):
    return pytest.approx(x, rel=1e-12, abs=1e-15)


# ============================================================================ updates by hand


def test_sgd_plain():
    p = param([1.0, -2.0])
    (p1, p2) = run(optim.SGD([p], lr=0.1), p, [[0.5, 1.0], [-1.0, 2.0]])
    assert p1 == approx([1.0 - 0.05, -2.0 - 0.1])
    assert p2 == approx([0.95 + 0.1, -2.1 - 0.2])


def test_sgd_default_lr_is_pytorch_2s():
    p = param([1.0])
    opt = optim.SGD([p])
    assert opt.defaults == dict(lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False)
    assert run(opt, p, [[2.0]])[0] == approx([1.0 - 2e-3])


def test_sgd_momentum_and_dampening():
    # b1 = g1 (no dampening on the first step); b_t = 0.9 b + 0.75 g afterwards; p -= 0.1 b
    p = param([1.0])
    p1, p2, p3 = run(optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.25), p, [[2.0], [-1.0], [0.5]])
    assert p1 == approx([1.0 - 0.1 * 2.0])  # b1 = 2
    assert p2 == approx([0.8 - 0.1 * 1.05])  # b2 = 0.9*2 - 0.75 = 1.05
    assert p3 == approx([0.695 - 0.1 * 1.32])  # b3 = 0.9*1.05 + 0.75*0.5 = 1.32


def test_sgd_nesterov():
    # b1 = g1 = 2, step with g + mu b = 3;  b2 = 0.5*2 - 1 = 0, step with -1 + 0 = -1
    p = param([1.0])
    p1, p2 = run(optim.SGD([p], lr=0.1, momentum=0.5, nesterov=True), p, [[2.0], [-1.0]])
    assert p1 == approx([0.7])
    assert p2 == approx([0.8])


def test_sgd_weight_decay_with_momentum_leaves_grad_alone():
    # g' = g + 0.1 p: step 1 g' = 1 + 0.2 = 1.2, p = 2 - 0.12 = 1.88
    # step 2 g' = 1 + 0.188 = 1.188, b = 0.9*1.2 + 1.188 = 2.268, p = 1.88 - 0.2268
    p = param([2.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1)
    p1, p2 = run(opt, p, [[1.0], [1.0]])
    assert p1 == approx([1.88]) and p2 == approx([1.6532])
    np.testing.assert_array_equal(p.grad.numpy(), [1.0])  # decay is not written into .grad
    assert opt.state[p]["momentum_buffer"] == approx([2.268])


def adam_by_hand(p, grads, lr, b1, b2, eps, wd=0.0, amsgrad=False, decoupled=False):
    """Adam on one scalar, written out with Python floats."""
    m = v = vmax = 0.0
    out = []
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p *= 1 - lr * wd
        else:
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = max(vmax, v)
        m_hat = m / (1 - b1**t)
        v_hat = (vmax if amsgrad else v) / (1 - b2**t)
        p -= lr * m_hat / (math.sqrt(v_hat) + eps)
        out.append(p)
    return out


def test_adam_two_steps():
    p = param([1.0])
    got = run(optim.Adam([p], lr=0.1), p, [[2.0], [-1.0]])
    # step 1: m_hat = g, v_hat = g^2, so p1 = 1 - 0.1 * 2 / (2 + 1e-8)
    assert got[0] == approx([1.0 - 0.1 * 2 / (2 + 1e-8)])
    assert np.concatenate(got) == approx(adam_by_hand(1.0, [2.0, -1.0], 0.1, 0.9, 0.999, 1e-8))


def test_adam_eps_is_added_after_bias_correction():
    # step 1 is p - lr * g / (|g| + eps) whatever the betas; with g = eps that is a half step
    p = param([0.0])
    (p1,) = run(optim.Adam([p], lr=1.0, betas=(0.5, 0.9), eps=1e-6), p, [[1e-6]])
    assert p1 == approx([-0.5])


def test_adam_amsgrad_normalises_by_the_largest_second_moment():
    # betas (0.5, 0.5), eps 0: step 1 g=2: m=1, v=2, p -= 0.1 * 2 / 2
    # step 2 g=0.5: m=0.75, v=1.125 < vmax=2, bias corrections 0.75 both
    grads = [[2.0], [0.5]]
    p = param([1.0])
    p1, p2 = run(optim.Adam([p], lr=0.1, betas=(0.5, 0.5), eps=0.0, amsgrad=True), p, grads)
    assert p1 == approx([0.9])
    assert p2 == approx([0.9 - 0.1 / math.sqrt(2 / 0.75)])
    q = param([1.0])
    q2 = run(optim.Adam([q], lr=0.1, betas=(0.5, 0.5), eps=0.0), q, grads)[1]
    assert q2 == approx([0.9 - 0.1 / math.sqrt(1.125 / 0.75)])


def test_adam_weight_decay_is_added_to_the_gradient():
    # g' = -0.5 + 1 * 1 = 0.5 > 0: the decay turns the step around
    p = param([1.0])
    (p1,) = run(optim.Adam([p], lr=0.1, weight_decay=1.0), p, [[-0.5]])
    assert p1 == approx([1.0 - 0.1 * 0.5 / (0.5 + 1e-8)])
    q = param([1.0])
    got = run(optim.Adam([q], lr=0.1, weight_decay=0.3, amsgrad=True), q, [[-0.5], [2.0], [0.1]])
    assert np.concatenate(got) == approx(adam_by_hand(1.0, [-0.5, 2.0, 0.1], 0.1, 0.9, 0.999, 1e-8, 0.3, True))


def test_adamw_decay_is_decoupled():
    # p = 1 * (1 - 0.1*0.5) = 0.95, then the Adam step with the raw gradient -0.5
    p = param([1.0])
    opt = optim.AdamW([p], lr=0.1, weight_decay=0.5)
    (p1,) = run(opt, p, [[-0.5]])
    assert p1 == approx([0.95 + 0.1 * 0.5 / (0.5 + 1e-8)])
    got = [p1[0]] + [v[0] for v in run(opt, p, [[1.5], [0.2]])]
    assert got == approx(adam_by_hand(1.0, [-0.5, 1.5, 0.2], 0.1, 0.9, 0.999, 1e-8, 0.5, decoupled=True))
    assert optim.AdamW([param([1.0])]).defaults["weight_decay"] == 1e-2


def test_adamw_without_decay_is_adam():
    grads = [[0.3, -1.0], [2.0, 0.1], [-0.7, 0.4]]
    a, b = param([1.0, 2.0]), param([1.0, 2.0])
    got_a = run(optim.Adam([a], lr=0.1, amsgrad=True), a, grads)
    got_b = run(optim.AdamW([b], lr=0.1, weight_decay=0, amsgrad=True), b, grads)
    assert all((x == y).all() for x, y in zip(got_a, got_b))


def rmsprop_by_hand(p, grads, lr, alpha, eps, weight_decay=0.0, momentum=0.0, centered=False):
    """RMSprop on one scalar, written out with Python floats."""
    v = a = b = 0.0
    out = []
    for g in grads:
        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        a = alpha * a + (1 - alpha) * g
        denom = math.sqrt(v - a * a if centered else v) + eps
        if momentum > 0:
            b = momentum * b + g / denom
            p -= lr * b
        else:
            p -= lr * g / denom
        out.append(p)
    return out


def test_rmsprop_plain():
    # v1 = 0.01 * 4 = 0.04, p1 = 1 - 0.01 * 2 / (0.2 + 1e-8);  v2 = 0.99*0.04 + 0.01 = 0.0496
    p = param([1.0])
    p1, p2 = run(optim.RMSprop([p]), p, [[2.0], [-1.0]])
    assert p1 == approx([1.0 - 0.01 * 2 / (0.2 + 1e-8)])
    assert p2 == approx([p1[0] + 0.01 / (math.sqrt(0.0496) + 1e-8)])


def test_rmsprop_centered():
    # a1 = 0.02, denom1 = sqrt(0.04 - 0.0004) + eps;  a2 = 0.99*0.02 - 0.01 = 0.0098
    p = param([1.0])
    p1, p2 = run(optim.RMSprop([p], centered=True), p, [[2.0], [-1.0]])
    assert p1 == approx([1.0 - 0.01 * 2 / (math.sqrt(0.0396) + 1e-8)])
    assert p2 == approx([p1[0] + 0.01 / (math.sqrt(0.0496 - 0.0098**2) + 1e-8)])


@pytest.mark.parametrize(
    "options",
    [dict(momentum=0.9), dict(momentum=0.5, centered=True, weight_decay=0.2), dict(weight_decay=0.1, alpha=0.9, eps=1e-3)],
)
def test_rmsprop_momentum_centered_weight_decay(options):
    grads = [2.0, -1.0, 0.5, 3.0]
    p = param([1.0])
    got = run(optim.RMSprop([p], lr=0.05, **options), p, [[g] for g in grads])
    full = dict(alpha=0.99, eps=1e-8) | options
    assert np.concatenate(got) == approx(rmsprop_by_hand(1.0, grads, 0.05, **full))


# ============================================================================ groups, zero_grad, step


def test_parameter_groups_with_different_lr():
    a, b = param([1.0]), param([1.0])
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.01}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert opt.param_groups[1]["params"] == [b] and opt.param_groups[1]["momentum"] == 0
    set_grad(a, [1.0])
    set_grad(b, [1.0])
    opt.step()
    assert a.numpy() == approx([0.9]) and b.numpy() == approx([0.99])
    c = param([1.0])
    opt.add_param_group({"params": [c], "momentum": 0.9})
    assert opt.param_groups[2]["lr"] == 0.1 and opt.param_groups[2]["momentum"] == 0.9
    opt.param_groups[0]["lr"] = 0.5  # a schedule changes the group's value
    set_grad(c, [1.0])
    opt.step()
    assert a.numpy() == approx([0.4]) and b.numpy() == approx([0.98]) and c.numpy() == approx([0.9])


def test_zero_grad_to_none_and_in_place():
    a, b = param([1.0, 2.0]), param([3.0])
    opt = optim.SGD([a, b], lr=0.1)
    set_grad(a, [1.0, -1.0])
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    set_grad(a, [1.0, -1.0])
    array = a.grad.data
    opt.zero_grad(set_to_none=False)
    assert a.grad.data is array and (array == 0).all() and b.grad is None


def test_zero_grad_in_place_does_not_touch_a_recorded_graph():
    x = param([1.0, 2.0])
    ((x**3).sum()).backward(create_graph=True)  # x.grad = 3 x^2, itself part of a graph
    grad_of_grad = x.grad
    optim.SGD([x]).zero_grad(set_to_none=False)
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])
    assert x.grad.creator is None
    np.testing.assert_array_equal(grad_of_grad.numpy(), [3.0, 12.0])


def test_zero_grad_after_a_real_backward_then_step():
    w = param([[1.0, -1.0], [0.5, 2.0]])
    x = sn.tensor(np.array([1.0, 2.0]))
    opt = optim.SGD([w], lr=0.1)
    for _ in range(2):
        opt.zero_grad(set_to_none=False)
        (w @ x).sum().backward()
        opt.step()
    np.testing.assert_allclose(w.numpy(), [[0.8, -1.4], [0.3, 1.6]], rtol=1e-12)


def test_step_skips_params_without_grad_works_in_place_and_records_nothing():
    a, b = param([1.0, 2.0]), param([3.0])
    opt = optim.Adam([a, b], lr=0.1)
    array = a.data
    set_grad(a, [1.0, 1.0])
    opt.step()
    assert a.data is array and a.creator is None and a.requires_grad
    assert b.numpy() == approx([3.0]) and b not in opt.state
    assert list(opt.state_dict()["state"]) == [0]


def test_step_closure_runs_with_grad_mode_on():
    w = param([2.0])
    opt = optim.SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with sn.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 4.0 and w.numpy() == approx([1.6])


# ============================================================================ state dicts

CONFIGS = [
    (optim.SGD, dict(lr=0.1)),
    (optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (optim.Adam, dict(lr=0.1)),
    (optim.Adam, dict(lr=0.1, weight_decay=0.1, amsgrad=True)),
    (optim.AdamW, dict(lr=0.1, amsgrad=True)),
    (optim.RMSprop, dict(lr=0.01)),
    (optim.RMSprop, dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.1)),
]
CONFIG_IDS = [f"{cls.__name__}-{'-'.join(options)}" for cls, options in CONFIGS]


def gradient_stream(shapes, steps, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return [[np.asarray(rng.standard_normal(s) * rng.uniform(0.1, 3.0), dtype=dtype) for s in shapes] for _ in range(steps)]


def step_all(opt, params, grads):
    for step in grads:
        for p, g in zip(params, step):
            p.grad = sn.Tensor(g.copy())
        opt.step()


@pytest.mark.parametrize("cls,options", CONFIGS, ids=CONFIG_IDS)
def test_state_dict_round_trip_continues_exactly(cls, options):
    rng = np.random.default_rng(1)
    shapes = [(3, 2), (4,)]
    initial = [rng.standard_normal(s) for s in shapes]
    grads = gradient_stream(shapes, 6)
    a = [param(v) for v in initial]
    opt_a = cls([{"params": a[:1]}, {"params": a[1:], "lr": 0.02}], **options)
    step_all(opt_a, a, grads[:3])

    b = [param(p.numpy()) for p in a]
    opt_b = cls([{"params": b[:1]}, {"params": b[1:]}], lr=0.5)  # options come from the state dict
    saved = opt_a.state_dict()
    assert [g["params"] for g in saved["param_groups"]] == [[0], [1]]
    assert saved["param_groups"][1]["lr"] == 0.02
    opt_b.load_state_dict(saved)
    assert [g["lr"] for g in opt_b.param_groups] == [options["lr"], 0.02]
    assert opt_b.param_groups[0]["params"] == [b[0]]
    for pa, pb in zip(a, b):
        for key, value in opt_a.state[pa].items():
            assert type(opt_b.state[pb][key]) is type(value)
            if isinstance(value, np.ndarray):  # copied, not shared
                assert opt_b.state[pb][key] is not value and (opt_b.state[pb][key] == value).all()

    step_all(opt_a, a, grads[3:])
    step_all(opt_b, b, grads[3:])
    for pa, pb in zip(a, b):
        assert (pa.numpy() == pb.numpy()).all()
    assert opt_a.state_dict()["state"].keys() == opt_b.state_dict()["state"].keys()


def test_state_dict_indices_run_through_the_groups():
    a, b, c = param([1.0]), param([2.0]), param([3.0])
    opt = optim.SGD([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1, momentum=0.9)
    set_grad(c, [1.0])
    opt.step()
    saved = opt.state_dict()
    assert [g["params"] for g in saved["param_groups"]] == [[0, 1], [2]]
    assert list(saved["state"]) == [2] and list(saved["state"][2]) == ["momentum_buffer"]
    assert saved["param_groups"][0] == dict(lr=0.1, momentum=0.9, dampening=0, weight_decay=0, nesterov=False, params=[0, 1])


def test_load_state_dict_casts_to_the_parameters_dtype_and_takes_step_counts_from_arrays():
    a = param([1.0, 2.0])
    opt = optim.Adam([a], lr=0.1)
    step_all(opt, [a], gradient_stream([(2,)], 2))
    saved = copy.deepcopy(opt.state_dict())
    saved["state"][0]["step"] = np.array(2)  # e.g. read back from an .npz file
    b = param([1.0, 2.0], dtype=np.float32)
    opt_b = optim.Adam([b])
    opt_b.load_state_dict(saved)
    state = opt_b.state[b]
    assert state["step"] == 2 and type(state["step"]) is int
    assert state["exp_avg"].dtype == np.float32 and state["exp_avg_sq"].dtype == np.float32
    np.testing.assert_allclose(state["exp_avg"], saved["state"][0]["exp_avg"], rtol=1e-6)


def test_load_state_dict_rejects_mismatches_and_leaves_the_optimizer_unchanged():
    a, b = param([1.0]), param([2.0, 3.0])
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9)
    step_all(opt, [a, b], gradient_stream([(1,), (2,)], 1))
    saved = opt.state_dict()
    with pytest.raises(ValueError, match=r"has 1 parameter group\(s\), this optimizer has 2"):
        optim.SGD([{"params": [param([1.0])]}, {"params": [param([2.0, 3.0])]}]).load_state_dict(saved)
    with pytest.raises(ValueError, match="group 0 of the state dict has 2 parameters, this optimizer's has 3"):
        optim.SGD([param([1.0]), param([2.0, 3.0]), param([4.0])]).load_state_dict(saved)
    other = optim.SGD([param([1.0, 5.0]), param([2.0])], lr=0.3)
    before = other.state_dict()
    with pytest.raises(ValueError, match=r"'momentum_buffer' of parameter 0 has shape \(1,\), but the parameter has shape \(2,\)"):
        other.load_state_dict(saved)
    assert other.state_dict() == before and other.param_groups[0]["lr"] == 0.3
    stray = copy.deepcopy(saved)
    stray["state"][5] = stray["state"].pop(1)
    with pytest.raises(ValueError, match="state for parameter 5, which no parameter group lists"):
        optim.SGD([param([1.0]), param([2.0, 3.0])]).load_state_dict(stray)


# ============================================================================ dtypes


@pytest.mark.parametrize("cls,options", CONFIGS, ids=CONFIG_IDS)
def test_float32_stays_float32(cls, options):
    shapes = [(3, 2), ()]
    params = [param(np.ones(s), dtype=np.float32) for s in shapes]
    options = {k: np.float64(v) if isinstance(v, float) else v for k, v in options.items()}  # NumPy scalars too
    opt = cls(params, **options)
    step_all(opt, params, gradient_stream(shapes, 3, dtype=np.float32))
    for p in params:
        assert p.dtype == np.float32
        for value in opt.state[p].values():
            assert not isinstance(value, np.ndarray) or value.dtype == np.float32


# ============================================================================ errors

ALL = [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop]


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_negative_lr_and_weight_decay(cls):
    with pytest.raises(ValueError, match=r"invalid lr=-0\.1"):
        cls([param([1.0])], lr=-0.1)
    with pytest.raises(ValueError, match=r"invalid weight_decay=-0\.01"):
        cls([param([1.0])], weight_decay=-0.01)
    with pytest.raises(ValueError, match=r"invalid lr=-1"):  # also in a parameter group
        cls([{"params": [param([1.0])]}, {"params": [param([1.0])], "lr": -1}])
    with pytest.raises(ValueError, match=r"invalid lr=nan"):
        cls([param([1.0])], lr=float("nan"))


@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW, optim.RMSprop], ids=lambda c: c.__name__)
def test_negative_eps(cls):
    with pytest.raises(ValueError, match=r"invalid eps=-1e-08"):
        cls([param([1.0])], eps=-1e-8)


@pytest.mark.parametrize("cls", [optim.SGD, optim.RMSprop], ids=lambda c: c.__name__)
def test_negative_momentum(cls):
    with pytest.raises(ValueError, match=r"invalid momentum=-0\.9"):
        cls([param([1.0])], momentum=-0.9)


def test_rmsprop_negative_alpha():
    with pytest.raises(ValueError, match=r"invalid alpha=-0\.5"):
        optim.RMSprop([param([1.0])], alpha=-0.5)


@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW], ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "betas,message",
    [((1.0, 0.999), r"betas\[0\]=1\.0"), ((-0.1, 0.999), r"betas\[0\]=-0\.1"), ((0.9, 1.0), r"betas\[1\]=1\.0"),
     ((0.9, -0.5), r"betas\[1\]=-0\.5"), ((0.9,), r"pair .* got \(0\.9,\)")],
)
def test_betas_outside_0_1(cls, betas, message):
    with pytest.raises(ValueError, match=message):
        cls([param([1.0])], betas=betas)


def test_nesterov_needs_momentum_and_no_dampening():
    with pytest.raises(ValueError, match=r"Nesterov momentum needs momentum > 0 .* got momentum=0 and dampening=0"):
        optim.SGD([param([1.0])], nesterov=True)
    with pytest.raises(ValueError, match=r"got momentum=0\.9 and dampening=0\.1"):
        optim.SGD([param([1.0])], momentum=0.9, dampening=0.1, nesterov=True)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_bad_parameter_lists(cls):
    with pytest.raises(ValueError, match="empty parameter list"):
        cls([])
    with pytest.raises(ValueError, match="empty parameter list"):
        cls(p for p in [])
    p = param([1.0, 2.0])
    with pytest.raises(ValueError, match=r"parameter 2 \(shape \(2,\)\) appears twice .* \(also at 0\)"):
        cls([p, param([1.0]), p])
    with pytest.raises(ValueError, match="more than one parameter group"):
        cls([{"params": [p]}, {"params": [param([1.0]), p]}])
    opt = cls([p])
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [p]})
    assert len(opt.param_groups) == 1


def test_parameters_must_be_floating_leaf_tensors_in_a_list():
    with pytest.raises(TypeError, match="parameter 1 has dtype int64; only real floating-point"):
        optim.SGD([param([1.0]), sn.tensor([1, 2])])
    with pytest.raises(TypeError, match="parameter 0 is a ndarray"):
        optim.Adam([np.ones(3)])
    with pytest.raises(TypeError, match="iterable of Tensors or of dicts, got one Tensor"):
        optim.Adam(param([1.0]))
    with pytest.raises(TypeError, match="not a set"):
        optim.Adam({param([1.0])})
    x = param([1.0])
    with pytest.raises(ValueError, match="parameter 0 is not a leaf"):
        optim.SGD([x * 2])
    with pytest.raises(TypeError, match="must be a dict"):
        optim.SGD([x]).add_param_group([x])


def test_repr_lists_the_groups():
    text = repr(optim.SGD([param([1.0])], lr=0.1, momentum=0.9))
    assert text.startswith("SGD (\nParameter Group 0\n") and "    lr: 0.1\n" in text and "    momentum: 0.9\n" in text


# ============================================================================ GPU


@pytest.mark.gpu
@pytest.mark.parametrize("cls,options", CONFIGS, ids=CONFIG_IDS)
def test_cupy_parameters_match_numpy_and_state_moves_to_the_gpu(cls, options):
    import cupy

    shapes = [(3, 2), (4,)]
    grads = gradient_stream(shapes, 4, dtype=np.float32)
    cpu = [param(np.ones(s), dtype=np.float32) for s in shapes]
    gpu = [sn.tensor(np.ones(s, dtype=np.float32), device="cuda", requires_grad=True) for s in shapes]
    opt_cpu, opt_gpu = cls(cpu, **options), cls(gpu, **options)
    step_all(opt_cpu, cpu, grads)
    for step in grads:
        for p, g in zip(gpu, step):
            p.grad = sn.Tensor(cupy.asarray(g))
        opt_gpu.step()
    for pc, pg in zip(cpu, gpu):
        assert isinstance(pg.data, cupy.ndarray) and pg.dtype == np.float32
        np.testing.assert_allclose(pg.numpy(), pc.numpy(), rtol=1e-5, atol=1e-6)
    moved = [sn.tensor(np.ones(s, dtype=np.float32), device="cuda", requires_grad=True) for s in shapes]
    opt_moved = cls(moved, **options)
    opt_moved.load_state_dict(opt_cpu.state_dict())
    for p in moved:
        for value in opt_moved.state[p].values():
            assert not hasattr(value, "shape") or isinstance(value, cupy.ndarray)


# ============================================================================ PyTorch conformance

CONFORMANCE = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.1, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, betas=(0.3, 0.6), eps=1e-3, amsgrad=True)),
    ("AdamW", dict(lr=0.1)),
    ("AdamW", dict(lr=0.1, weight_decay=0.3, amsgrad=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(momentum=0.9)),
    ("RMSprop", dict(centered=True)),
    ("RMSprop", dict(lr=0.005, alpha=0.9, eps=1e-4, centered=True, momentum=0.5, weight_decay=0.1)),
]
CONFORMANCE_IDS = [f"{name}-{'-'.join(options) or 'defaults'}" for name, options in CONFORMANCE]
SHAPES = [(3, 4), (5,), ()]
TORCH_ONLY_OPTIONS = {"maximize", "foreach", "differentiable", "fused", "capturable", "decoupled_weight_decay"}


def run_both(torch, name, groups_options, options, steps=10):
    """The same initial params and gradients through scratchnet and torch (float64); compare every step.

    ``groups_options`` holds one dict of per-group options per group; the groups share SHAPES out
    round-robin. Parameter 1 gets no gradient on step 5 (both libraries skip it). Returns both
    optimizers and torch's parameters in the order of its groups (the state dict's indices).
    """
    rng = np.random.default_rng(7)
    initial = [rng.standard_normal(s) for s in SHAPES]
    ours = [param(v) for v in initial]
    theirs = [torch.tensor(v, requires_grad=True) for v in initial]
    n = len(groups_options)

    def groups(params):
        return [{"params": params[k::n], **extra} for k, extra in enumerate(groups_options)]

    opt = getattr(optim, name)(groups(ours), **options)
    topt = getattr(torch.optim, name)(groups(theirs), **options, foreach=False)
    torder = [p for g in topt.param_groups for p in g["params"]]
    for step, grads in enumerate(gradient_stream(SHAPES, steps, seed=3)):
        for i, (p, tp, g) in enumerate(zip(ours, theirs, grads)):
            skip = step == 4 and i == 1
            p.grad = None if skip else sn.Tensor(g.copy())
            tp.grad = None if skip else torch.from_numpy(g.copy())
        opt.step()
        topt.step()
        for i, (p, tp) in enumerate(zip(ours, theirs)):
            np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-10, err_msg=f"step {step + 1}, param {i}")
    return opt, topt, torder


def assert_same_state_dict(opt, topt):
    """Same state keys in the same order, same values, and our group options a subset of torch's."""
    saved, tsaved = opt.state_dict(), topt.state_dict()
    assert list(saved["state"]) == list(tsaved["state"])
    for i, state in saved["state"].items():
        tstate = tsaved["state"][i]
        assert list(state) == list(tstate), f"state keys of parameter {i}"
        for key, value in state.items():
            if key == "step":
                assert value == tstate[key].item()
            else:
                np.testing.assert_allclose(value, tstate[key].numpy(), rtol=1e-10, atol=1e-300, err_msg=key)
    assert len(saved["param_groups"]) == len(tsaved["param_groups"])
    for group, tgroup in zip(saved["param_groups"], tsaved["param_groups"]):
        assert set(tgroup) - set(group) <= TORCH_ONLY_OPTIONS
        assert group == {key: tgroup[key] for key in group}


@pytest.mark.parametrize("name,options", CONFORMANCE, ids=CONFORMANCE_IDS)
def test_matches_torch_step_by_step(name, options):
    torch = pytest.importorskip("torch")
    opt, topt, _ = run_both(torch, name, [{}], options)
    assert_same_state_dict(opt, topt)


@pytest.mark.parametrize(
    "name,groups_options",
    [("SGD", [{}, {"lr": 0.01, "momentum": 0.5}]), ("Adam", [{"amsgrad": True}, {"lr": 0.2, "betas": (0.8, 0.99)}]),
     ("RMSprop", [{"centered": True}, {"lr": 0.002, "momentum": 0.9}])],
)
def test_matches_torch_with_parameter_groups(name, groups_options):
    torch = pytest.importorskip("torch")
    opt, topt, _ = run_both(torch, name, groups_options, dict(lr=0.05))
    assert_same_state_dict(opt, topt)


@pytest.mark.parametrize(
    "name,options",
    [("SGD", dict(lr=0.1, momentum=0.9)), ("AdamW", dict(lr=0.1, amsgrad=True)),
     ("RMSprop", dict(momentum=0.9, centered=True))],
)
def test_a_torch_state_dict_loads_and_both_continue_in_step(name, options):
    torch = pytest.importorskip("torch")
    _, topt, torder = run_both(torch, name, [{}], options, steps=3)
    tsaved = topt.state_dict()
    as_numpy = {
        "state": {i: {k: v.numpy() for k, v in s.items()} for i, s in tsaved["state"].items()},
        "param_groups": tsaved["param_groups"],
    }
    ours = [param(p.detach().numpy()) for p in torder]
    opt = getattr(optim, name)(ours)
    opt.load_state_dict(as_numpy)
    for step in gradient_stream(SHAPES, 5, seed=11):
        for p, tp, g in zip(ours, torder, step):
            p.grad = sn.Tensor(g.copy())
            tp.grad = torch.from_numpy(g.copy())
        opt.step()
        topt.step()
    for p, tp in zip(ours, torder):
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-10)


# --------------------------------------------------------------------------- malformed input (issue 8)

OPTIMIZERS = [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop]


@pytest.mark.parametrize("cls", OPTIMIZERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("bad", ["0.1", None, [0.1], True])
def test_hyperparameters_must_be_numbers(cls, bad):
    """lr="0.1" used to fail with "'>=' not supported between 'str' and 'int'" (no optimizer named)."""
    with pytest.raises(TypeError, match=f"^{cls.__name__}: lr must be a number"):
        cls([sn.zeros(2, requires_grad=True)], lr=bad)


def test_sgd_dampening_is_checked_up_front():
    """dampening="a" used to be accepted and fail inside step()."""
    with pytest.raises(TypeError, match="^SGD: dampening must be a number"):
        optim.SGD([sn.zeros(2, requires_grad=True)], momentum=0.9, dampening="a")


@pytest.mark.parametrize("betas,error", [(0.9, ValueError), ((0.9, "a"), TypeError), ([0.9, 0.99, 0.5], ValueError)])
def test_adam_betas_must_be_a_pair_of_numbers(betas, error):
    with pytest.raises(error, match="^Adam: betas"):
        optim.Adam([sn.zeros(2, requires_grad=True)], betas=betas)
    assert optim.Adam([sn.zeros(2, requires_grad=True)], betas=[0.5, 0.6]).defaults["betas"] == (0.5, 0.6)


def test_params_must_be_iterable():
    with pytest.raises(TypeError, match="^SGD: params must be an iterable"):
        optim.SGD(None)


@pytest.mark.parametrize("cls", OPTIMIZERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "state",
    [
        None,
        {"foo": 1},
        {"state": {}, "param_groups": [{"lr": 1.0}]},
        {"state": [], "param_groups": [{"lr": 1.0, "params": [0]}]},
        {"state": {0: 1.5}, "param_groups": [{"lr": 1.0, "params": [0]}]},
        {"state": {0: {"exp_avg": np.array(["a", "b"])}}, "param_groups": [{"lr": 1.0, "params": [0]}]},
    ],
    ids=["none", "foreign", "group-without-params", "state-list", "state-number", "string-array"],
)
def test_load_state_dict_refuses_a_malformed_state_with_value_error(cls, state):
    """These used to escape as KeyError / AttributeError / TypeError; the optimizer stays as it was."""
    p = sn.zeros(2, requires_grad=True)
    opt = cls([p], lr=0.5)
    before = opt.state_dict()
    with pytest.raises(ValueError, match=f"^({cls.__name__}.)?load_state_dict: "):
        opt.load_state_dict(state)
    assert opt.state_dict() == before


@pytest.mark.parametrize("step", [np.array([1.0, 2.0]), "3", -1, 2.5, None])
def test_load_state_dict_refuses_a_step_that_is_not_a_count(step):
    """A 2-element step raised NumPy's "can only convert an array of size 1" and "3" was taken and failed in step()."""
    p = sn.zeros(2, requires_grad=True)
    opt = optim.Adam([p])
    p.grad = sn.ones(2)
    opt.step()
    state = opt.state_dict()
    state["state"][0]["step"] = step
    with pytest.raises(ValueError, match="^load_state_dict: step of parameter 0"):
        optim.Adam([p]).load_state_dict(state)


@pytest.mark.parametrize("cls,flag", [(optim.SGD, "nesterov"), (optim.Adam, "amsgrad"), (optim.RMSprop, "centered")])
def test_flags_must_be_booleans(cls, flag):
    """nesterov=np.ones(2) (e.g. from a damaged checkpoint) raised NumPy's "truth value ... is ambiguous"."""
    with pytest.raises(TypeError, match=f"^{cls.__name__}: {flag} must be True or False"):
        cls([sn.zeros(2, requires_grad=True)], momentum=0.9, **{flag: np.ones(2)}) if cls is optim.SGD else cls(
            [sn.zeros(2, requires_grad=True)], **{flag: "yes"})

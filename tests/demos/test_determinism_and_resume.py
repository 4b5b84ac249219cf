"""Trust in a run: the same seed gives the same bits, and a run killed with SIGKILL resumes to the same bits.

Every demo runs in its own Python process, as from the command line. Two runs with the same seed
(and different hash seeds, so nothing may depend on set or dict-of-object order) must leave
identical checkpoints (parameters, optimizer and loader state, RNG state, history) and identical
metrics.json, timing fields aside. A run killed with SIGKILL in the middle of an epoch, or half-way
through writing a checkpoint, and then continued with --resume must end exactly where the
uninterrupted run ends.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from demo_runs import CONFIGS, assert_identical, demo_command, demo_env, final_state, run_demo

import scratchnet as sn

RUNNER = Path(__file__).resolve().parent / "run_until_killed.py"


def classifier_for(name, reference):
    return reference("cnn") / "checkpoint.npz" if CONFIGS[name][0] == "gan.py" else None


@pytest.mark.parametrize("name", ["cnn", "gan", "vae"])
def test_same_seed_gives_bit_identical_runs(name, reference, tmp_path):
    again = run_demo(name, tmp_path / "again", classifier_for(name, reference), hash_seed=1)
    (state_a, metrics_a), (state_b, metrics_b) = final_state(reference(name)), final_state(again)
    assert_identical(state_a, state_b, f"{name} checkpoint")
    assert_identical(metrics_a, metrics_b, f"{name} metrics.json")


def test_another_seed_gives_other_parameters(reference, tmp_path):
    """The determinism above is not vacuous: the seed does reach the parameters."""
    other = run_demo("cnn", tmp_path / "other", None, "--seed", "1")
    a, b = final_state(reference("cnn"))[0]["model"], final_state(other)[0]["model"]
    assert all(a[k].tobytes() != b[k].tobytes() for k in a if k.endswith("weight"))


STATE = {"cnn": ("model", "optimizer", "schedule"), "gan": ("generator", "discriminator", "opt_g", "opt_d"),
         "gan-wgan-gp": ("generator", "discriminator", "opt_g", "opt_d"), "vae": ("model", "optimizer")}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_checkpoints_hold_everything_a_resume_needs(name, reference):
    state = sn.load(reference(name) / "checkpoint.npz")
    for key in (*STATE[name], "loader", "rng", "epoch", "step", "config", "history"):
        assert key in state, key
    assert state["epoch"] == 2 and state["step"] == 12  # 6 batches per epoch in every configuration
    assert set(state["rng"]) == {"seed", "numpy"} and state["loader"]["position"] == 0


def kill_when_frozen(name, out, classifier, mode, n, tmp_path):
    """Start the demo under run_until_killed.py, wait until it freezes, SIGKILL it; return its log."""
    marker, log = tmp_path / f"frozen-{mode}", tmp_path / f"log-{mode}.txt"
    command = [sys.executable, str(RUNNER), mode, str(n), str(marker), *demo_command(name, out, classifier)]
    with open(log, "w") as f:
        proc = subprocess.Popen(command, env=demo_env(), stdout=f, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 240
    try:
        while not marker.exists():
            assert proc.poll() is None, f"{name} ended ({proc.returncode}) before it froze:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"{name} did not freeze in time:\n{log.read_text()[-3000:]}"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return log.read_text()


@pytest.mark.parametrize("name", list(CONFIGS))
def test_sigkill_mid_epoch_then_resume_ends_identical(name, reference, tmp_path):
    out, classifier = tmp_path / "killed", classifier_for(name, reference)
    kill_when_frozen(name, out, classifier, "mid-epoch", 3, tmp_path)  # 3 steps into epoch 2
    last = sn.load(out / "checkpoint.npz")
    assert (last["epoch"], last["step"]) == (1, 6)
    assert not (out / "metrics.json").exists()
    run_demo(name, out, classifier, "--resume")
    (state_a, metrics_a), (state_b, metrics_b) = final_state(reference(name)), final_state(out)
    assert_identical(state_a, state_b, f"{name} checkpoint")
    assert_identical(metrics_a, metrics_b, f"{name} metrics.json")


@pytest.mark.parametrize("name", ["cnn", "vae"])
def test_sigkill_while_writing_a_checkpoint_keeps_the_last_good_one(name, reference, tmp_path):
    out = tmp_path / "killed"
    kill_when_frozen(name, out, None, "mid-write", 2, tmp_path)  # half of the epoch-2 checkpoint is on disk
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(".checkpoint.npz.")]
    assert len(leftovers) == 1, sorted(p.name for p in out.iterdir())  # the half-written temporary file
    assert sn.load(out / "checkpoint.npz")["epoch"] == 1  # the last good checkpoint, intact
    run_demo(name, out, None, "--resume")
    (state_a, metrics_a), (state_b, metrics_b) = final_state(reference(name)), final_state(out)
    assert_identical(state_a, state_b, f"{name} checkpoint")
    assert_identical(metrics_a, metrics_b, f"{name} metrics.json")

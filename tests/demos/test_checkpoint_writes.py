"""The demos' checkpoint helpers: a write that fails half-way never costs the last good checkpoint."""

import io
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "demos"))

import _common

import scratchnet as sn

CONFIG = {"model": "CNN", "data": "mnist10k"}


def fail_half_way(monkeypatch, error):
    """np.savez writes half of its bytes, then raises ``error`` (a full disk, an interrupt...)."""
    real_savez = np.savez

    def savez(f, **arrays):
        buffer = io.BytesIO()
        real_savez(buffer, **arrays)
        f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        raise error

    monkeypatch.setattr(np, "savez", savez)


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_failed_save_checkpoint_keeps_the_last_good_one(tmp_path, monkeypatch, error):
    args = SimpleNamespace(out=str(tmp_path))
    model = sn.nn.Linear(3, 2)
    _common.save_checkpoint(args, CONFIG, model=model.state_dict(), epoch=1)
    before = (tmp_path / "checkpoint.npz").read_bytes()
    fail_half_way(monkeypatch, error)
    with pytest.raises(type(error)):
        _common.save_checkpoint(args, CONFIG, model=sn.nn.Linear(3, 2).state_dict(), epoch=2)
    monkeypatch.undo()
    assert (tmp_path / "checkpoint.npz").read_bytes() == before
    assert os.listdir(tmp_path) == ["checkpoint.npz"]  # no temporary file left behind
    state = _common.load_checkpoint(None, args, CONFIG)
    assert state["epoch"] == 1
    assert all(np.array_equal(state["model"][k], v) for k, v in model.state_dict().items())


def test_failed_write_json_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    _common.write_json(path, {"epoch": 1})
    before = path.read_bytes()

    def dump(obj, f, **kwargs):
        f.write('{"epoch": ')
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_common.json, "dump", dump)
    with pytest.raises(OSError):
        _common.write_json(path, {"epoch": 2})
    monkeypatch.undo()
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["metrics.json"]

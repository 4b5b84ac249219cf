"""The CNN demo end to end on a few bundled images: outputs, determinism, resume, and bad input."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

DEMOS = Path(__file__).resolve().parents[2] / "demos"
sys.path.insert(0, str(DEMOS))

import cnn  # noqa: E402

import scratchnet as sn  # noqa: E402

SMALL = ["--limit", "200", "--batch-size", "50"]


def run(tmp_path, *args):
    cnn.main([*SMALL, "--out", str(tmp_path), *args])
    return json.loads((tmp_path / "metrics.json").read_text())


def test_outputs(tmp_path):
    m = run(tmp_path, "--epochs", "2")
    for name in ("metrics.json", "curves.png", "predictions.png", "confusion.png", "checkpoint.npz"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert m["dataset"] == "mnist10k" and m["epochs"] == 2 and len(m["history"]) == 2
    assert 0 <= m["test_accuracy"] <= 1 and m["train_images"] == 200 and m["test_images"] == 200
    assert np.array(m["confusion_matrix"]).sum() == 200
    assert m["history"][1]["train_loss"] < m["history"][0]["train_loss"]


def test_same_seed_same_numbers(tmp_path):
    a = run(tmp_path / "a", "--epochs", "1", "--seed", "3")
    b = run(tmp_path / "b", "--epochs", "1", "--seed", "3")
    for key in ("test_accuracy", "test_loss"):
        assert a[key] == b[key]
    assert a["history"][0]["train_loss"] == b["history"][0]["train_loss"]


def test_resume_continues_to_the_same_result(tmp_path, monkeypatch):
    straight = run(tmp_path / "straight", "--epochs", "2")

    def save_then_die(*args, **kwargs):  # the run is killed right after its first checkpoint
        original_save(*args, **kwargs)
        raise KeyboardInterrupt

    original_save = cnn.save_checkpoint
    monkeypatch.setattr(cnn, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "split", "--epochs", "2")
    monkeypatch.setattr(cnn, "save_checkpoint", original_save)
    resumed = run(tmp_path / "split", "--epochs", "2", "--resume")
    assert resumed["history"] == [dict(h, seconds=r["seconds"]) for h, r in zip(straight["history"], resumed["history"])]
    assert resumed["test_accuracy"] == straight["test_accuracy"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--data", "cifar"], "invalid choice: 'cifar'"),
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--data", "mnist", "--data-dir", "{tmp}"], "train-images-idx3-ubyte"),
        (["--resume"], "no checkpoint"),
    ],
)
def test_bad_input_exits_with_a_clear_message(tmp_path, capsys, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    with pytest.raises(SystemExit) as exit_info:
        cnn.main([*SMALL, "--out", str(tmp_path / "out"), *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_resume_from_a_different_model_is_refused(tmp_path, capsys):
    run(tmp_path, "--epochs", "1")
    with pytest.raises(SystemExit):
        cnn.main([*SMALL, "--out", str(tmp_path), "--epochs", "2", "--resume", "--dropout", "0.5"])
    assert "different model" in capsys.readouterr().err


@pytest.mark.skipif(sn.backend.is_available("cupy"), reason="checks the message where CuPy is missing")
def test_cupy_backend_without_a_gpu(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cnn.main([*SMALL, "--out", str(tmp_path), "--backend", "cupy"])
    err = capsys.readouterr().err
    assert "--backend cupy" in err and ("pip install" in err or "GPU" in err)


def test_graph_flag_writes_the_first_steps_graph(tmp_path, capsys):
    run(tmp_path, "--epochs", "1", "--limit", "50", "--graph")
    dot, outline = (tmp_path / "graph.dot").read_text(), (tmp_path / "graph.txt").read_text()
    assert dot.startswith("digraph scratchnet {") and 'label="body.0.weight\\n(32, 1, 3, 3) float32' in dot
    assert outline.startswith("graph of a () float32 tensor: ") and "#1 Div () float32" in outline
    assert "Conv2d (50, 32, 28, 28) float32" in outline and "head.weight: (10, 128) float32" in outline
    assert "dot -Tsvg" in capsys.readouterr().out
    run(tmp_path / "plain", "--epochs", "1", "--limit", "50")
    assert not (tmp_path / "plain" / "graph.dot").exists()  # only with --graph

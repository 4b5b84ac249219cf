"""The GAN demo end to end on a few bundled images: outputs, metrics, resume, and bad input."""

import json
import sys
from pathlib import Path

import pytest

DEMOS = Path(__file__).resolve().parents[2] / "demos"
sys.path.insert(0, str(DEMOS))

import cnn  # noqa: E402
import gan  # noqa: E402

SMALL = ["--limit", "256", "--batch-size", "64"]


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """A quickly trained CNN checkpoint, as demos/cnn.py writes it."""
    out = tmp_path_factory.mktemp("cnn")
    cnn.main(["--limit", "300", "--epochs", "1", "--out", str(out)])
    return str(out / "checkpoint.npz")


def run(tmp_path, classifier, *args):
    gan.main([*SMALL, "--out", str(tmp_path), "--classifier", classifier, *args])
    return json.loads((tmp_path / "metrics.json").read_text())


@pytest.mark.parametrize("arch,loss", [("mlp", "bce"), ("dcgan", "bce"), ("mlp", "wgan-gp"), ("mlp", "r1")])
def test_outputs_and_metrics(tmp_path, classifier, arch, loss):
    m = run(tmp_path, classifier, "--arch", arch, "--loss", loss, "--epochs", "1")
    for name in ("metrics.json", "losses.png", "interpolation.png", "checkpoint.npz", "samples/epoch_001.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert (m["arch"], m["loss"], m["epochs"]) == (arch, loss, 1)
    assert m["fid"] >= 0 and m["fid_real_train_vs_test"] >= 0
    assert 1 <= m["classifier_score"] <= 10 and 1 <= m["classifier_score_real_test"] <= 10
    assert sum(m["class_histogram"].values()) == m["samples"] == gan.SAMPLES


def test_resume_continues_to_the_same_result(tmp_path, classifier, monkeypatch):
    straight = run(tmp_path / "straight", classifier, "--arch", "mlp", "--epochs", "2")

    def save_then_die(*args, **kwargs):
        original(*args, **kwargs)
        raise KeyboardInterrupt

    original = gan.save_checkpoint
    monkeypatch.setattr(gan, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "split", classifier, "--arch", "mlp", "--epochs", "2")
    monkeypatch.setattr(gan, "save_checkpoint", original)
    resumed = run(tmp_path / "split", classifier, "--arch", "mlp", "--epochs", "2", "--resume")
    for key in ("fid", "classifier_score"):
        assert resumed[key] == straight[key]
    assert [h["d_loss"] for h in resumed["history"]] == [h["d_loss"] for h in straight["history"]]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--arch", "resnet"], "invalid choice: 'resnet' (choose from 'mlp', 'dcgan')"),
        (["--loss", "hinge"], "invalid choice: 'hinge' (choose from 'bce', 'wgan-gp', 'r1')"),
        (["--latent", "0"], "--latent must be at least 1"),
    ],
)
def test_bad_arguments(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as info:
        gan.main([*SMALL, "--out", str(tmp_path), *args])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_classifier_for_another_model_is_refused(tmp_path, capsys):
    # the run's own GAN checkpoint (written after epoch 1) is not a CNN classifier
    with pytest.raises(SystemExit):
        gan.main([*SMALL, "--out", str(tmp_path / "g2"), "--arch", "mlp", "--epochs", "1",
                  "--classifier", str(tmp_path / "g2" / "checkpoint.npz")])
    assert "a checkpoint of model 'GAN'" in capsys.readouterr().err


def test_nan_loss_stops_with_the_step_and_network(tmp_path, classifier, monkeypatch):
    calls = {"n": 0}
    original = gan.discriminator_loss

    def poisoned(*args):
        calls["n"] += 1
        loss = original(*args)
        return loss * float("nan") if calls["n"] == 3 else loss

    monkeypatch.setattr(gan, "discriminator_loss", poisoned)
    with pytest.raises(SystemExit) as info:
        run(tmp_path, classifier, "--arch", "mlp", "--epochs", "1")
    assert "discriminator's loss became nan at step 3" in str(info.value.code)


def test_graph_flag_writes_both_losses_graphs(tmp_path, classifier):
    args = ["--arch", "mlp", "--loss", "r1", "--epochs", "1", "--limit", "64", "--batch-size", "32", "--graph"]
    run(tmp_path, classifier, *args)
    d_graph, g_graph = (tmp_path / "graph.txt").read_text(), (tmp_path / "graph_g.txt").read_text()
    assert (tmp_path / "graph.dot").read_text().startswith("digraph") and "D.net.1.weight" in d_graph
    assert "G.net.0.weight" not in d_graph  # the fakes for D's step are made under no_grad
    assert "G.net.0.weight: " in g_graph and "requires grad" in g_graph.split("G.net.0.weight: ")[1].splitlines()[0]
    d_line = g_graph.split("D.net.1.bias: ")[1].splitlines()[0]
    assert "parameter" in d_line and "requires grad" not in d_line  # D is frozen during G's step
    assert (tmp_path / "graph_g.dot").read_text().startswith("digraph")

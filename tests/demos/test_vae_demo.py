"""The VAE demo end to end on a few bundled images: outputs, metrics, determinism, resume, and bad input."""

import json
import math
import sys
from pathlib import Path

import pytest

DEMOS = Path(__file__).resolve().parents[2] / "demos"
sys.path.insert(0, str(DEMOS))

import vae

SMALL = ["--limit", "200", "--batch-size", "50", "--iwae-k", "5"]


def run(tmp_path, *args):
    vae.main([*SMALL, "--out", str(tmp_path), *args])
    return json.loads((tmp_path / "metrics.json").read_text())


@pytest.mark.parametrize("arch,latent", [("mlp", 2), ("conv", 3)])
def test_outputs_and_metrics(tmp_path, arch, latent):
    m = run(tmp_path, "--arch", arch, "--latent", str(latent), "--epochs", "1")
    pictures = ["losses.png", "reconstructions.png", "samples.png", "interpolation.png"]
    maps = ["latent_map.png", "latent_means.png"]  # only for a 2-D latent space
    for name in [
        "metrics.json",
        "checkpoint.npz",
        *pictures,
        *(maps if latent == 2 else []),
    ]:
        assert (tmp_path / name).stat().st_size > 0, name
    assert not any((tmp_path / name).exists() for name in maps) or latent == 2
    assert (m["arch"], m["latent"], m["beta"], m["epochs"], m["test_images"]) == (
        arch,
        latent,
        1.0,
        1,
        200,
    )
    numbers = ["test_loss", "test_recon", "test_kl", "binarized_test_loss", "iwae_nll"]
    assert all(math.isfinite(m[k]) and m[k] > 0 for k in numbers), {k: m[k] for k in numbers}
    assert m["test_loss"] == pytest.approx(m["test_recon"] + m["test_kl"])
    assert m["iwae_k"] == 5 and m["binarize_seed"] == vae.BINARIZE_SEED
    # a tighter bound, up to sampling noise
    assert m["iwae_nll"] <= m["binarized_test_loss"] + 5
    (h,) = m["history"]
    assert all(math.isfinite(h[f"{s}_{t}"]) for s in ("train", "test") for t in vae.TERMS)
    # the test loss is evaluated with fixed noise: the same after training as in the history
    assert h["test_loss"] == m["test_loss"]


def test_beta_weights_the_kl_and_iwae_can_be_skipped(tmp_path):
    m = run(tmp_path, "--beta", "4", "--epochs", "1", "--iwae-k", "0")
    assert m["beta"] == 4.0 and "iwae_nll" not in m
    assert m["test_loss"] == pytest.approx(m["test_recon"] + 4 * m["test_kl"])


def test_resume_continues_to_the_same_result(tmp_path, monkeypatch):
    straight = run(tmp_path / "straight", "--epochs", "2")

    def save_then_die(*args, **kwargs):  # the run is killed right after its first checkpoint
        original(*args, **kwargs)
        raise KeyboardInterrupt

    original = vae.save_checkpoint
    monkeypatch.setattr(vae, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "split", "--epochs", "2")
    monkeypatch.setattr(vae, "save_checkpoint", original)
    resumed = run(tmp_path / "split", "--epochs", "2", "--resume")
    same = [dict(h, seconds=None) for h in straight["history"]]
    assert [dict(h, seconds=None) for h in resumed["history"]] == same
    for key in ("test_loss", "test_recon", "test_kl", "iwae_nll"):
        assert resumed[key] == straight[key], key


@pytest.mark.parametrize(
    "args,message",
    [
        (["--arch", "resnet"], "invalid choice: 'resnet' (choose from 'mlp', 'conv')"),
        (["--latent", "0"], "--latent must be at least 1, got 0"),
        (["--beta", "-1"], "--beta must be >= 0, got -1.0"),
        (["--beta", "nan"], "--beta must be >= 0, got nan"),
        (["--iwae-k", "-2"], "--iwae-k must be >= 0"),
        (["--resume"], "no checkpoint"),
    ],
)
def test_bad_arguments(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as info:
        vae.main([*SMALL, "--out", str(tmp_path), *args])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_resume_from_another_architecture_is_refused(tmp_path, capsys):
    run(tmp_path, "--epochs", "1", "--iwae-k", "0")
    with pytest.raises(SystemExit) as info:
        vae.main(
            [
                *SMALL,
                "--out",
                str(tmp_path),
                "--epochs",
                "2",
                "--resume",
                "--arch",
                "conv",
            ]
        )
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--resume: the checkpoint at" in err and "'arch': 'mlp'" in err and "'arch': 'conv'" in err


def test_graph_flag_writes_the_first_steps_graph(tmp_path):
    run(tmp_path, "--epochs", "1", "--limit", "50", "--iwae-k", "0", "--graph")
    dot, outline = (tmp_path / "graph.dot").read_text(), (tmp_path / "graph.txt").read_text()
    assert dot.startswith("digraph scratchnet {") and outline.startswith("graph of a () float32 tensor")
    assert "requires grad" in dot and "parameter, requires grad" in outline

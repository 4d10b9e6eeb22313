"""End to end: a tiny training run on real generated crops writes a resumable run directory."""

from __future__ import annotations

import json
import signal

import pytest

from face_anything_ros.cli.main import main
from face_anything_ros.model import load_model
from face_anything_ros.training.train import TrainConfig, build_model, train


def test_train_command_without_budget_is_a_clear_error(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "run")]) == 2
    assert "--steps" in capsys.readouterr().err


@pytest.mark.slow
def test_tiny_run_writes_weights_and_resumes(tmp_path):
    common = dict(
        out=str(tmp_path / "run"), batch=2, image_size=64, workers=0, heldout_crops=4, pretrained=False
    )
    caller_handler = signal.getsignal(signal.SIGINT)
    first = train(TrainConfig(steps=2, **common))
    assert first["steps"] == 2
    assert signal.getsignal(signal.SIGINT) is caller_handler  # Ctrl-C is the caller's again after training
    for name in ("checkpoint.pt", "model.pt", "model.json", "best.pt", "loss.png", "preview.png"):
        assert (tmp_path / "run" / name).is_file(), name
    resumed = train(TrainConfig(steps=3, resume=True, **common))
    assert resumed["steps"] == 3
    info = json.loads((tmp_path / "run" / "model.json").read_text())
    assert info["metadata"]["steps"] == 3
    assert load_model(tmp_path / "run" / "model.pt").config.image_size == 64


def test_init_weights_of_another_crop_size_is_a_clear_error(tmp_path, capsys):
    from face_anything_ros.model import default_weights_path

    code = main(
        [
            "train",
            "--out",
            str(tmp_path / "ft"),
            "--steps",
            "1",
            "--size",
            "64",
            "--init-weights",
            str(default_weights_path()),
        ]
    )
    assert code == 1
    assert "not --size 64" in capsys.readouterr().err


@pytest.mark.slow
def test_fine_tuning_starts_from_the_given_weights(tmp_path):
    import torch

    common = dict(batch=2, image_size=64, workers=0, heldout_crops=4, pretrained=False)
    train(TrainConfig(out=str(tmp_path / "base"), steps=1, **common))
    start = load_model(tmp_path / "base" / "model.pt").state_dict()
    train(
        TrainConfig(
            out=str(tmp_path / "ft"),
            steps=1,
            lr=1e-9,
            init_weights=str(tmp_path / "base" / "model.pt"),
            **common,
        )
    )
    tuned = load_model(tmp_path / "ft" / "model.pt").state_dict()
    fresh = build_model(TrainConfig(out=str(tmp_path / "x"), steps=1, **common)).state_dict()
    key = next(
        k
        for k, v in start.items()
        if v.is_floating_point() and v.numel() > 100 and not torch.equal(v, fresh[k])
    )
    assert torch.allclose(tuned[key], start[key], atol=1e-6), "fine-tuning did not start from --init-weights"


def test_supersampling_share_reaches_the_generator_and_bad_values_are_refused(tmp_path, capsys):
    from face_anything_ros.synth import SynthConfig
    from face_anything_ros.training.train import training_synth_config

    assert training_synth_config(TrainConfig(out="x", steps=1)) == SynthConfig()
    assert (
        training_synth_config(
            TrainConfig(out="x", steps=1, supersample_probability=0.2)
        ).supersample_probability
        == 0.2
    )
    run = ["train", "--out", str(tmp_path / "run"), "--steps", "1", "--supersample-probability", "1.5"]
    assert main(run) == 2
    assert "--supersample-probability" in capsys.readouterr().err


def test_prior_mix_flags_need_the_prior_input_and_valid_values(tmp_path, capsys):
    run = ["train", "--out", str(tmp_path / "run"), "--steps", "1"]
    assert main([*run, "--prior-face-mesh-share", "0.9"]) == 2
    assert "need --prior-input" in capsys.readouterr().err
    assert main([*run, "--prior-input", "--prior-face-mesh-share", "1.5"]) == 2
    assert "face_mesh_probability" in capsys.readouterr().err
    assert main([*run, "--prior-input", "--prior-strength", "4", "1"]) == 2
    assert "strength_range" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # nothing trained or written on bad flags

"""Fine-tuning the confidence head: it can be restarted off its floor, and the loss options reach the run."""

from __future__ import annotations

import pytest
import torch

from face_anything_ros.model.io import default_weights_path
from face_anything_ros.training.augment import AugmentConfig, basic_augmentation
from face_anything_ros.training.train import TrainConfig, build_model


def confidence_of(reset_to: float) -> torch.Tensor:
    cfg = TrainConfig(
        out="unused", steps=1, init_weights=str(default_weights_path()), reset_confidence_to=reset_to
    )
    model = build_model(cfg).eval()
    with torch.no_grad():
        return model(torch.rand(2, 3, 128, 128, generator=torch.Generator().manual_seed(0)))["confidence"]


def test_the_shipped_head_sits_at_its_floor_and_a_reset_moves_it():
    assert torch.allclose(confidence_of(0.0), torch.ones(1), atol=0.01)  # no per-pixel information
    restarted = confidence_of(5.0)
    assert torch.allclose(restarted, torch.full_like(restarted, 5.0), atol=0.1)


def test_a_reset_below_the_floor_is_refused():
    with pytest.raises(ValueError, match="1 \\+ softplus"):
        confidence_of(0.5)


def test_basic_augmentation_switches_off_only_the_new_steps():
    basic, full = basic_augmentation(), AugmentConfig()
    assert basic.geometric_prob == basic.motion_blur_prob == basic.iso_noise_prob == 0.0
    assert basic.flip_prob == full.flip_prob and basic.jpeg_prob == full.jpeg_prob

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


def test_the_shipped_head_varies_per_pixel_and_a_reset_restarts_it_flat():
    shipped = confidence_of(0.0)
    assert shipped.min() >= 1.0 and shipped.max() > 1.5  # a live head, off its 1 + softplus floor (the old one sat at 1.00)
    restarted = confidence_of(5.0)
    assert torch.allclose(restarted, torch.full_like(restarted, 5.0), atol=0.1)


def test_a_reset_below_the_floor_is_refused():
    with pytest.raises(ValueError, match="1 \\+ softplus"):
        confidence_of(0.5)


def test_basic_augmentation_switches_off_only_the_new_steps():
    basic, full = basic_augmentation(), AugmentConfig()
    assert basic.geometric_prob == basic.motion_blur_prob == basic.iso_noise_prob == 0.0
    assert basic.flip_prob == full.flip_prob and basic.jpeg_prob == full.jpeg_prob


def test_the_shipped_head_rates_covered_pixels_less_certain_and_ranks_errors():
    """Issue 12: uncertainty is positive and larger on occluded pixels than on clear ones (synthetic crops)."""
    from face_anything_ros.model import load_model
    from face_anything_ros.training.uncertainty import uncertainty_metrics
    from face_anything_ros.training.validation import make_heldout_batch

    head = uncertainty_metrics(load_model(), make_heldout_batch(32, 128, seed=5), seed=5)
    assert head["confidence_median"] > 1.5 and head["occluded_pixels"] > 100
    assert head["uncertainty_occluded"] > 1.05 * head["uncertainty_clear"] > 0.0
    assert head["error_rank_correlation"] > 0.25

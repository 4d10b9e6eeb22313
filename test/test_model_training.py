"""Training pieces on a fixed dummy batch: losses, a learning step, augmentation geometry."""

from __future__ import annotations

import numpy as np
import torch

from face_anything_ros.model import FaceAnythingModel, ModelConfig
from face_anything_ros.training.augment import AugmentConfig, augment_batch, flip_horizontal
from face_anything_ros.training.losses import LossWeights, compute_losses
from face_anything_ros.training.targets import batch_to_tensors
from face_anything_ros.training.train import TrainConfig, build_optimizer, learning_rate, train_step


def dummy_batch(batch: int, size: int, frames: int | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """A disc 'face' whose canonical map is a linear ramp and depth a bump (unit-test data only)."""
    rng = np.random.default_rng(seed)
    lead = (batch,) if frames is None else (batch, frames)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    mask = np.broadcast_to(xx**2 + yy**2 < 0.12, (*lead, size, size)).copy()
    canonical = np.stack([xx, -yy, 0.3 - xx**2 - yy**2], axis=-1)
    canonical = np.broadcast_to(canonical, (*lead, size, size, 3)).copy()
    depth = np.broadcast_to(0.6 - 0.1 * canonical[..., 2], (*lead, size, size)).copy()
    image = rng.integers(0, 60, (*lead, size, size, 3), dtype=np.uint8)
    image[mask] = (canonical[mask] * 200 + 128).clip(0, 255).astype(np.uint8)
    canonical[~mask] = np.nan
    depth[~mask] = np.nan
    intrinsics = np.tile(np.array([size, size, size / 2, size / 2], np.float32), (*lead, 1))
    return {"image": image, "depth": depth, "canonical": canonical, "mask": mask, "intrinsics": intrinsics}


def test_targets_are_relative_log_depth_with_zero_median():
    _, targets = batch_to_tensors(dummy_batch(2, 32))
    face = targets.log_depth[targets.valid]
    assert abs(float(face.median())) < 1e-3
    assert targets.canonical.shape == (2, 3, 32, 32) and not torch.isnan(targets.canonical).any()


def test_training_steps_decrease_loss_on_fixed_batch():
    torch.manual_seed(0)
    model = FaceAnythingModel(ModelConfig(embed_dim=64, num_heads=2, depth=2, decoder_dim=32))
    cfg = TrainConfig(out="unused", steps=10, lr=2e-3, warmup_steps=1)
    optimizer = build_optimizer(model, cfg)
    images, targets = batch_to_tensors(dummy_batch(4, 64))
    weights = LossWeights()
    losses = []
    for step in range(12):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(cfg, step, 0.0) * group["lr_scale"]
        losses.append(
            train_step(model, optimizer, images, targets, weights, 1.0, torch.device("cpu"))["total"]
        )
    assert losses[-1] < 0.7 * losses[0], losses


def test_window_batches_add_temporal_term():
    model = FaceAnythingModel(ModelConfig(embed_dim=64, num_heads=2, depth=2, decoder_dim=32))
    images, targets = batch_to_tensors(dummy_batch(1, 64, frames=3))
    terms = compute_losses(model(images), targets, LossWeights())
    assert images.shape == (1, 3, 3, 64, 64) and "temporal" in terms and torch.isfinite(terms["total"])


def test_flip_mirrors_maps_and_negates_canonical_x():
    batch = dummy_batch(2, 32)
    batch["canonical"][:, 10, 5] = [0.4, 0.1, 0.2]
    original = {k: v.copy() for k, v in batch.items()}
    flip_horizontal(batch, np.array([True, False]))
    np.testing.assert_allclose(batch["canonical"][0, 10, 26], [-0.4, 0.1, 0.2])
    np.testing.assert_array_equal(batch["mask"][0], original["mask"][0][:, ::-1])
    np.testing.assert_array_equal(batch["canonical"][1], original["canonical"][1])


def test_photometric_augmentation_keeps_geometry_and_dtype():
    batch = dummy_batch(3, 32, frames=2)
    before = batch["depth"].copy()
    augment_batch(batch, np.random.default_rng(0), AugmentConfig(flip_prob=0.0, geometric_prob=0.0))
    assert batch["image"].dtype == np.uint8 and batch["image"].shape == (3, 2, 32, 32, 3)
    np.testing.assert_array_equal(np.isnan(batch["depth"]), np.isnan(before))

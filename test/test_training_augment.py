"""Fake-It style augmentation: the crop warp keeps image and maps aligned, the noise and blurs do what they say."""

from __future__ import annotations

import numpy as np

from face_anything_ros.core.face_template import canonical_to_rgb
from face_anything_ros.training.augment import (
    AugmentConfig,
    augment_batch,
    iso_noise,
    motion_blur_kernel,
    paste_distractor,
    random_crop_warp,
    warp_sample,
)

SIZE = 64
OFF = AugmentConfig(
    flip_prob=0.0,
    brightness=0.0,
    contrast=0.0,
    saturation=0.0,
    white_balance=0.0,
    gamma=0.0,
    grayscale_prob=0.0,
    blur_prob=0.0,
    noise_prob=0.0,
    jpeg_prob=0.0,
    geometric_prob=0.0,
    median_blur_prob=0.0,
    motion_blur_prob=0.0,
    resample_prob=0.0,
    iso_noise_prob=0.0,
    distractor_prob=0.0,
)


def face_batch(frames: int | None = None) -> dict[str, np.ndarray]:
    """A disc-shaped 'face' whose image colour encodes its canonical coordinate."""
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    mask = (x - 32) ** 2 + (y - 30) ** 2 < 22**2
    canonical = np.stack([(x - 32) / 32, (y - 32) / 32, np.zeros_like(x)], axis=-1)
    canonical[~mask] = np.nan
    depth = np.where(mask, 0.5 + 0.001 * x, np.nan).astype(np.float32)
    image = canonical_to_rgb(canonical)
    lead = (2,) if frames is None else (2, frames)
    return {
        "image": np.broadcast_to(image, (*lead, *image.shape)).copy(),
        "depth": np.broadcast_to(depth, (*lead, *depth.shape)).copy(),
        "canonical": np.broadcast_to(canonical, (*lead, *canonical.shape)).copy(),
        "mask": np.broadcast_to(mask, (*lead, *mask.shape)).copy(),
        "intrinsics": np.broadcast_to(np.array([80.0, 80.0, 31.5, 31.5], np.float32), (*lead, 4)).copy(),
    }


def test_everything_off_changes_nothing():
    batch = face_batch()
    before = {k: v.copy() for k, v in batch.items()}
    augment_batch(batch, np.random.default_rng(0), OFF)
    for key, value in before.items():
        np.testing.assert_array_equal(batch[key], value)


def test_crop_warp_moves_image_and_maps_together():
    for frames in (None, 3):
        batch = face_batch(frames)
        warp = random_crop_warp(SIZE, np.random.default_rng(4), AugmentConfig(rotation_deg=25.0, shift=0.3))
        assert not np.allclose(warp, np.eye(3))
        warp_sample(batch, 0, warp)
        key = 0 if frames is None else (0, 2)
        mask, canonical, image = batch["mask"][key], batch["canonical"][key], batch["image"][key]
        assert 0.5 < mask.sum() / batch["mask"][1 if frames is None else (1, 0)].sum() < 1.6
        assert not np.array_equal(mask, batch["mask"][1 if frames is None else (1, 0)])
        np.testing.assert_array_equal(np.isfinite(canonical).all(axis=-1), mask)
        np.testing.assert_array_equal(
            np.isnan(canonical).all(axis=-1), ~mask
        )  # every channel, also at the border
        np.testing.assert_array_equal(np.isfinite(batch["depth"][key]), mask)
        # away from the disc's edge the warped colours still encode the warped canonical coordinates
        inner = mask & (np.linalg.norm(canonical[..., :2] - [0.0, -0.0625], axis=-1) < 0.5)
        error = np.abs(image[inner].astype(int) - canonical_to_rgb(canonical[inner]).astype(int))
        assert np.median(error) <= 3, np.median(error)
        if frames is not None:  # a window keeps one warp for all its frames
            np.testing.assert_array_equal(batch["mask"][0, 0], batch["mask"][0, 2])


def test_iso_noise_grows_with_the_signal_and_motion_blur_is_a_line():
    rng = np.random.default_rng(1)
    dark = np.full((64, 64, 3), 0.05, np.float32)
    bright = np.full((64, 64, 3), 0.9, np.float32)
    assert iso_noise(bright, 0.01, 0.5, rng).std() > 2 * iso_noise(dark, 0.01, 0.5, rng).std()
    kernel = motion_blur_kernel(7, 0.0)
    np.testing.assert_allclose(kernel.sum(), 1.0, rtol=1e-6)
    assert (kernel[3] > 0).sum() == 7 and kernel[[0, 1, 2, 4, 5, 6]].sum() == 0


def test_default_augmentation_keeps_maps_consistent_and_dtypes():
    batch = face_batch(2)
    augment_batch(batch, np.random.default_rng(3), AugmentConfig(geometric_prob=1.0))
    assert batch["image"].dtype == np.uint8 and batch["mask"].dtype == bool
    np.testing.assert_array_equal(np.isfinite(batch["canonical"]).all(axis=-1), batch["mask"])


def test_a_distractor_face_lands_on_the_background_only_and_the_maps_stay():
    for frames in (None, 2):
        batch = face_batch(frames)
        batch["image"][1] = 255 - batch["image"][1]  # the other sample looks different
        before = {k: v.copy() for k, v in batch.items()}
        paste_distractor(batch, 0, 1, np.array([40.0, 0.0]))
        key = 0 if frames is None else (0, 1)
        changed = (batch["image"][key] != before["image"][key]).any(axis=-1)
        assert changed.sum() > 100  # the neighbour's face is there
        assert not (changed & before["mask"][key]).any()  # but never over this face
        for name in ("depth", "canonical", "mask"):
            np.testing.assert_array_equal(batch[name], before[name])

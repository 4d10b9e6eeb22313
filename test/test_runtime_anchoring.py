"""Landmark anchoring of the canonical map: corrects smooth errors, ignores outliers, keeps NaN."""

from __future__ import annotations

import numpy as np

from face_anything_ros.runtime.anchoring import anchor_canonical

SIZE = 64
OFFSET = np.array([0.05, -0.03, 0.02])  # a smooth (constant) error of the predicted map


def true_map() -> np.ndarray:
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    return np.stack([(x - 32) / 40, (y - 32) / 40, 0.1 * np.sin(x / 9)], axis=-1)


def landmarks(count: int = 120) -> tuple[np.ndarray, np.ndarray]:
    pixels = np.random.default_rng(0).integers(12, 52, size=(count, 2)).astype(np.float64)
    truth = true_map()
    return pixels, truth[pixels[:, 1].astype(int), pixels[:, 0].astype(int)]


def anchor(predicted, pixels, canonical, max_residual=0.15, min_landmarks=30):
    return anchor_canonical(predicted, pixels, canonical, 0.04 * SIZE, max_residual, min_landmarks)


def test_a_smooth_error_is_removed_where_landmarks_are_and_nan_stays_nan():
    truth = true_map()
    predicted = (truth + OFFSET).astype(np.float32)
    predicted[0:4, 0:4] = np.nan  # off-face
    pixels, canonical = landmarks()
    anchored, used = anchor(predicted, pixels, canonical)
    assert used == len(pixels)
    inner = (slice(16, 48), slice(16, 48))
    before = np.linalg.norm(predicted[inner] - truth[inner], axis=-1).mean()
    after = np.linalg.norm(anchored[inner] - truth[inner], axis=-1).mean()
    assert after < 0.25 * before, (before, after)
    assert np.isnan(anchored[0:4, 0:4]).all() and np.isfinite(anchored[8:, 8:]).all()
    far = np.linalg.norm(anchored[60:, 60:] - predicted[60:, 60:], axis=-1).max()
    assert far < 0.3 * np.linalg.norm(OFFSET), "the correction fades away from the landmarks"


def test_outlier_residuals_and_too_few_landmarks_leave_the_map_unchanged():
    predicted = (true_map() + 5 * OFFSET).astype(np.float32)  # |residual| 0.31 > max 0.15
    pixels, canonical = landmarks()
    anchored, used = anchor(predicted, pixels, canonical)
    assert used == 0 and anchored is predicted
    near = (true_map() + OFFSET).astype(np.float32)
    anchored, used = anchor(near, pixels[:10], canonical[:10])
    assert used == 0 and anchored is near
    anchored, used = anchor(near, pixels + 1000, canonical)  # landmarks outside the crop
    assert used == 0

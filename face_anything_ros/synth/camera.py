"""Head pose and the jittered crop box (core/crop.py's policy applied to GT boxes); cameras: core/camera.py."""

from __future__ import annotations

import numpy as np

from face_anything_ros.core.crop import CropBox, crop_box_from_face_box
from face_anything_ros.core.face_template import CANONICAL_TO_CAMERA


def rotation_from_euler(yaw_deg: np.ndarray, pitch_deg: np.ndarray, roll_deg: np.ndarray) -> np.ndarray:
    """Head rotation(s) canonical → camera: frontal flip · yaw (about y) · pitch (x) · roll (z)."""
    yaw, pitch, roll = (np.deg2rad(np.asarray(a, dtype=np.float64)) for a in (yaw_deg, pitch_deg, roll_deg))
    cy, sy, cp, sp, cr, sr = (
        np.cos(yaw),
        np.sin(yaw),
        np.cos(pitch),
        np.sin(pitch),
        np.cos(roll),
        np.sin(roll),
    )
    zero, one = np.zeros_like(yaw), np.ones_like(yaw)
    ry = np.stack(
        [np.stack([cy, zero, sy], -1), np.stack([zero, one, zero], -1), np.stack([-sy, zero, cy], -1)], -2
    )
    rx = np.stack(
        [np.stack([one, zero, zero], -1), np.stack([zero, cp, -sp], -1), np.stack([zero, sp, cp], -1)], -2
    )
    rz = np.stack(
        [np.stack([cr, -sr, zero], -1), np.stack([sr, cr, zero], -1), np.stack([zero, zero, one], -1)], -2
    )
    return CANONICAL_TO_CAMERA @ ry @ rx @ rz


def face_box(landmarks_px: np.ndarray) -> np.ndarray:
    """Box (x0, y0, x1, y1) of projected template landmarks (the detector-box convention)."""
    return np.concatenate([landmarks_px.min(axis=0), landmarks_px.max(axis=0)])


def jittered_crop_box(
    landmarks_px: np.ndarray, rng: np.random.Generator, center_jitter: float, scale_range: tuple[float, float]
) -> CropBox:
    """core/crop.py's crop of the GT face box, jittered like a noisy detector."""
    box = crop_box_from_face_box(face_box(landmarks_px))
    side = box.side * rng.uniform(*scale_range)
    shift = rng.uniform(-center_jitter, center_jitter, 2) * side
    return CropBox(cx=box.cx + shift[0], cy=box.cy + shift[1], side=side)

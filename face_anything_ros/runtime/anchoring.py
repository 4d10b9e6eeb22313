"""Landmark anchoring: pull a face's predicted canonical map towards MediaPipe's 468 landmarks.

Why: each face-mesh landmark *is* a template vertex with a known canonical coordinate, found by a
detector trained on real faces, while our network has only seen synthetic ones. On real images the
landmarks are the more reliable sparse correspondences and the network the dense ones. Anchoring
adds a smooth correction field (a Gaussian-weighted average of the landmark residuals
``template canonical − predicted canonical``) so the map agrees with the landmarks at low spatial
frequency and keeps the network's detail. Residuals larger than ``max_residual`` (a landmark
hidden behind the face, a mesh failure) are ignored; the correction fades out within ~2 sigma of
the nearest landmark.
"""

from __future__ import annotations

import cv2
import numpy as np

from face_anything_ros.core.fast_reductions import finite_vectors
from face_anything_ros.core.sampling import sample_nearest


def anchor_canonical(
    canonical: np.ndarray,
    landmark_pixels: np.ndarray,
    landmark_canonical: np.ndarray,
    sigma_px: float,
    max_residual: float,
    min_landmarks: int,
) -> tuple[np.ndarray, int]:
    """The anchored canonical map (NaN stays NaN) and the number of landmarks used (0: unchanged)."""
    residual = landmark_canonical - sample_nearest(canonical, landmark_pixels)
    usable = finite_vectors(residual) & (np.linalg.norm(residual, axis=1) < max_residual)
    count = int(usable.sum())
    if count < min_landmarks:
        return canonical, 0
    field = smooth_field(canonical.shape[:2], landmark_pixels[usable], residual[usable], sigma_px)
    return (canonical + field).astype(canonical.dtype), count


def smooth_field(
    shape: tuple[int, int], pixels: np.ndarray, values: np.ndarray, sigma_px: float
) -> np.ndarray:
    """(H, W, 3) Gaussian-weighted average of (N, 3) values at (N, 2) pixels, fading to 0 far from them.

    Nadaraya-Watson with a Gaussian kernel = ratio of two blurred splat images (O(pixels), no
    pixel x landmark table): blur(value splats) / (blur(point count) + fade).
    """
    xy = np.rint(pixels).astype(np.int64)
    count_image = np.zeros(shape, dtype=np.float32)
    value_image = np.zeros((*shape, 3), dtype=np.float32)
    np.add.at(count_image, (xy[:, 1], xy[:, 0]), 1.0)
    np.add.at(value_image, (xy[:, 1], xy[:, 0]), values.astype(np.float32))
    blur = {"ksize": (0, 0), "sigmaX": sigma_px, "borderType": cv2.BORDER_CONSTANT}
    density = cv2.GaussianBlur(count_image, **blur)
    # the kernel weight of one point at 2 sigma: farther from every point the field fades out
    fade = np.exp(-2.0) / (2.0 * np.pi * sigma_px**2)
    return cv2.GaussianBlur(value_image, **blur) / (density + fade)[..., None]

"""Intrinsics from sensor_msgs/CameraInfo (K, or P for rectified images), matched to the image they describe."""

from __future__ import annotations

from typing import Any

import numpy as np

from face_anything_ros.runtime.geometry import Intrinsics


def intrinsics_from_camera_info(msg: Any, rectified: bool = False) -> Intrinsics | None:
    """Intrinsics from a CameraInfo: P's left 3x3 for a rectified image (image_rect), K otherwise.

    None when the matrix is unset or degenerate (uncalibrated camera). A rectified stream whose P is
    unset falls back to K. Distortion (D) is ignored either way: feed image_rect for wide lenses.
    """
    if int(msg.width) <= 0 or int(msg.height) <= 0:
        return None
    candidates = []
    if rectified:
        p = np.asarray(msg.p, dtype=np.float64).reshape(-1)
        if p.size == 12:
            candidates.append(p.reshape(3, 4)[:, :3].ravel())
    candidates.append(np.asarray(msg.k, dtype=np.float64).reshape(-1))
    for k in candidates:
        if k.size == 9 and np.all(np.isfinite(k)) and k[0] > 0 and k[4] > 0:
            return Intrinsics.from_matrix(k, int(msg.width), int(msg.height))
    return None


def intrinsics_for_image(intrinsics: Intrinsics, width: int, height: int) -> Intrinsics:
    """The same camera at the image's resolution (camera_info of a binned/resized stream)."""
    if (intrinsics.width, intrinsics.height) == (width, height):
        return intrinsics
    sx, sy = width / intrinsics.width, height / intrinsics.height
    return Intrinsics(
        fx=intrinsics.fx * sx,
        fy=intrinsics.fy * sy,
        cx=(intrinsics.cx + 0.5) * sx - 0.5,
        cy=(intrinsics.cy + 0.5) * sy - 0.5,
        width=width,
        height=height,
    )

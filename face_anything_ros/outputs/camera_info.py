"""Intrinsics from sensor_msgs/CameraInfo (K, or P for rectified images); scaling to the image and the
default when there is none: core/camera.resolve_intrinsics."""

from __future__ import annotations

from typing import Any

import numpy as np

from face_anything_ros.core.camera import Intrinsics


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

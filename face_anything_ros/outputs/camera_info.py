"""Intrinsics from sensor_msgs/CameraInfo, matched to the image they describe."""

from __future__ import annotations

from typing import Any

import numpy as np

from face_anything_ros.runtime.geometry import Intrinsics


def intrinsics_from_camera_info(msg: Any) -> Intrinsics | None:
    """Intrinsics from a CameraInfo's K (None when K is unset or degenerate: uncalibrated camera)."""
    k = np.asarray(msg.k, dtype=np.float64).reshape(-1)
    if k.size != 9 or not np.all(np.isfinite(k)) or k[0] <= 0 or k[4] <= 0:
        return None
    if int(msg.width) <= 0 or int(msg.height) <= 0:
        return None
    return Intrinsics.from_matrix(k, int(msg.width), int(msg.height))


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

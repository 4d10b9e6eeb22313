"""Intrinsics from sensor_msgs/CameraInfo, matched to the image they describe."""

from __future__ import annotations

from typing import Any

import numpy as np

from face_anything_ros.core.camera import Intrinsics


def intrinsics_from_camera_info(msg: Any) -> Intrinsics | None:
    """Intrinsics from a CameraInfo's K (None when K is unset or degenerate: uncalibrated camera)."""
    k = np.asarray(msg.k, dtype=np.float64).reshape(-1)
    if k.size != 9 or not np.all(np.isfinite(k)) or k[0] <= 0 or k[4] <= 0:
        return None
    if int(msg.width) <= 0 or int(msg.height) <= 0:
        return None
    return Intrinsics.from_matrix(k, int(msg.width), int(msg.height))


def intrinsics_for_image(intrinsics: Intrinsics, width: int, height: int) -> Intrinsics:
    """The same camera at the image's resolution (see ``Intrinsics.scaled_to``)."""
    return intrinsics.scaled_to(width, height)

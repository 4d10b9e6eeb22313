"""The REP-155 face frame of a tracked face: origin at the sellion, x out of the face, z up.

ROS HRI (REP-155) places one frame per face: origin at the sellion (the deepest point of the nose
bridge, between the eyes), x pointing forward out of the face, y to the face's left, z up
(right-handed, like REP-103 body frames). Our canonical face frame (face_template.py) looks along
+z with y up and the subject's left eye at +x, so the face frame's axes in canonical coordinates are
fixed:

    x_face = +z_canonical,  y_face = +x_canonical,  z_face = +y_canonical

i.e. ``CANONICAL_FROM_FACE`` below (columns = face axes in canonical coordinates): a rotation of
-120 degrees about (1, 1, 1)/sqrt(3), quaternion (x, y, z, w) = (0.5, 0.5, 0.5, -0.5). With the head pose (canonical -> camera: rotation R,
translation t, scale s), the face frame in the camera frame is

    rotation = R @ CANONICAL_FROM_FACE,  origin = s * R @ canonical(sellion) + t.

No ROS import: the message layer turns this into TF and vision_msgs poses.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from face_anything_ros.core.face_template import load_face_template

if TYPE_CHECKING:
    from face_anything_ros.runtime.pipeline import FaceResult

# MediaPipe face mesh vertex at the sellion: the deepest point of the template's midline between
# the nose tip and the forehead (canonical (0, 0.384, 0.266)).
SELLION_VERTEX = 168

CANONICAL_FROM_FACE = np.array(
    [
        [0.0, 1.0, 0.0],
        [0.0, 0.0, 1.0],
        [1.0, 0.0, 0.0],
    ]
)


@dataclass(frozen=True)
class FaceFrame:
    """A face frame in the camera frame: ``camera_point = rotation @ face_point + origin`` (metres)."""

    rotation: np.ndarray  # (3, 3)
    origin: np.ndarray  # (3,)


@lru_cache(maxsize=1)
def sellion_canonical() -> np.ndarray:
    """Canonical coordinate of the sellion (read-only)."""
    point = load_face_template().canonical[SELLION_VERTEX].astype(np.float64)
    point.setflags(write=False)
    return point


def face_frame(rotation: np.ndarray, translation: np.ndarray, scale: float) -> FaceFrame | None:
    """The face frame of a head pose (canonical -> camera); None when the pose is not finite."""
    rotation = np.asarray(rotation, dtype=np.float64)
    translation = np.asarray(translation, dtype=np.float64)
    if not (np.all(np.isfinite(rotation)) and np.all(np.isfinite(translation)) and np.isfinite(scale)):
        return None
    return FaceFrame(
        rotation=rotation @ CANONICAL_FROM_FACE,
        origin=float(scale) * rotation @ sellion_canonical() + translation,
    )


def face_frame_of(face: FaceResult) -> FaceFrame | None:
    """The face frame of one pipeline face; None when its head pose fit failed or is not finite."""
    return face_frame(face.rotation, face.translation, face.scale) if face.pose_valid else None

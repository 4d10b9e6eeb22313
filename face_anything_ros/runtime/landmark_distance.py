"""A face's distance from the face mesh's 468 landmarks: the template posed on them by PnP.

Why: the head-pose fit reads each face's distance from the network's canonical map (perspective-n-
point on its inlier pixels), and the map's errors move that distance. Where the detector is the face
mesh, its 468 landmarks are the template's vertices, found by a model trained on real faces, spread over
the whole face outline: the template posed on them by PnP gives a second distance with errors of its own
(on the synthetic train split the template's metric depth is within 5 % twice as often as ours). Both
assume an average-sized face. ``geometry.landmark_distance_weight`` is the landmark distance's share of a
log-average of the two (0: the network's alone); a landmark pose that fails or disagrees with the
network's by more than ``MAX_DISTANCE_RATIO`` is not used (counted per pipeline).
"""

from __future__ import annotations

import cv2
import numpy as np

from face_anything_ros.core.camera import Intrinsics
from face_anything_ros.core.face_template import CANONICAL_TO_CAMERA, CANONICAL_UNIT_M, load_face_template
from face_anything_ros.runtime.geometry import FaceGeometry, rescale_distance

# the two distances this far apart (either way): one of the fits failed, keep the network's
MAX_DISTANCE_RATIO = 1.5


def template_points_m() -> np.ndarray:
    """Template vertices in metres in a camera-aligned frontal orientation."""
    return load_face_template().canonical.astype(np.float64) * CANONICAL_UNIT_M @ CANONICAL_TO_CAMERA.T


def fit_template_pose(
    landmarks_xy: np.ndarray, intrinsics: Intrinsics
) -> tuple[np.ndarray, np.ndarray] | None:
    """Rotation (3, 3) and translation (3,) putting the template onto the landmarks (image pixels), or
    None (non-finite landmarks, PnP failed, the face behind the camera)."""
    img = np.ascontiguousarray(np.asarray(landmarks_xy, dtype=np.float64)[:, :2])
    obj = template_points_m()
    if len(img) != len(obj) or not np.isfinite(img).all():
        return None
    ok, rvec, tvec = cv2.solvePnP(obj, img, intrinsics.matrix, None, flags=cv2.SOLVEPNP_EPNP)
    if not ok:
        return None
    guess = tvec if tvec[2, 0] > 0 else np.array([[0.0], [0.0], [0.5]])
    ok, rvec, tvec = cv2.solvePnP(obj, img, intrinsics.matrix, None, rvec, guess, True)
    if not ok or not np.isfinite(tvec).all() or tvec[2, 0] <= 0:
        return None
    return cv2.Rodrigues(rvec)[0], tvec.ravel()


def landmark_distance_ratio(
    geometry: FaceGeometry, landmarks_xy: np.ndarray | None, intrinsics: Intrinsics
) -> float:
    """Distance of the template posed on the landmarks over the network's (both of the canonical origin,
    the same point of the face); NaN where either is missing or they disagree beyond ``MAX_DISTANCE_RATIO``."""
    if landmarks_xy is None or not geometry.pose_valid:
        return float("nan")
    pose = fit_template_pose(landmarks_xy, intrinsics)
    network = float(np.linalg.norm(geometry.translation))
    if pose is None or not network > 0:
        return float("nan")
    ratio = float(np.linalg.norm(pose[1])) / network
    return ratio if 1 / MAX_DISTANCE_RATIO <= ratio <= MAX_DISTANCE_RATIO else float("nan")


def with_landmark_distance(geometry: FaceGeometry, ratio: float, weight: float) -> FaceGeometry:
    """The geometry at the log-average of its distance and the landmarks' (``weight``: their share);
    unchanged for a NaN ratio or a zero weight."""
    if not (np.isfinite(ratio) and weight > 0):
        return geometry
    return rescale_distance(geometry, geometry.median_depth_m * ratio**weight)

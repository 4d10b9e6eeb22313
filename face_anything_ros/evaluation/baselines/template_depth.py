"""Depth baseline: the face template fitted to MediaPipe landmarks and rendered.

The 468 template vertices (metric, average adult face) are posed by PnP against the
MediaPipe landmarks with the sequence's intrinsics, then rasterised with a z-buffer.
Its metric scale rests on the same average-face prior as the method's; its shape is
the neutral template (no identity, no expression), which is what it measures.
"""

from __future__ import annotations

import cv2
import numpy as np

from face_anything_ros.core.camera import Intrinsics
from face_anything_ros.core.face_template import CANONICAL_UNIT_M, load_face_template
from face_anything_ros.runtime.mesh_raster import rasterize_mesh

# canonical (y up, z towards the viewer) to OpenCV camera axes (y down, z forward)
CANONICAL_TO_CAMERA = np.diag([1.0, -1.0, -1.0])


def template_points_m() -> np.ndarray:
    """Template vertices in metres in a camera-aligned frontal orientation."""
    return load_face_template().canonical.astype(np.float64) * CANONICAL_UNIT_M @ CANONICAL_TO_CAMERA.T


def fit_template_pose(
    landmarks_xy: np.ndarray, intrinsics: Intrinsics
) -> tuple[np.ndarray, np.ndarray] | None:
    """Rotation (3, 3) and translation (3,) putting the template onto the landmarks, or None."""
    obj = template_points_m()
    img = np.ascontiguousarray(np.asarray(landmarks_xy, dtype=np.float64)[:, :2])
    guess_t = np.array([0.0, 0.0, 0.5])
    ok, rvec, tvec = cv2.solvePnP(obj, img, intrinsics.matrix, None, flags=cv2.SOLVEPNP_EPNP)
    if not ok:
        return None
    ok, rvec, tvec = cv2.solvePnP(
        obj, img, intrinsics.matrix, None, rvec, tvec if tvec[2, 0] > 0 else guess_t.reshape(3, 1), True
    )
    if not ok or tvec[2, 0] <= 0:
        return None
    return cv2.Rodrigues(rvec)[0], tvec.ravel()


def render_depth(
    vertices_cam: np.ndarray, faces: np.ndarray, intrinsics: Intrinsics, image_hw: tuple[int, int]
) -> np.ndarray:
    """Z-buffer rendering of a triangle mesh in camera coordinates; NaN where empty.

    Depth is interpolated perspective-correctly (linearly in 1/z across the screen); the
    runtime's rasteriser (runtime/mesh_raster.py) does the work, both sides of every triangle drawn.
    """
    height, width = image_hw
    z = vertices_cam[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        screen = np.column_stack(
            [
                intrinsics.fx * vertices_cam[:, 0] / z + intrinsics.cx,
                intrinsics.fy * vertices_cam[:, 1] / z + intrinsics.cy,
                z,
            ]
        )
    fragments = rasterize_mesh(screen, faces, height, width, cull_backfaces=False, perspective=True)
    return fragments.depth.astype(np.float32)


def template_depth(
    landmarks: list[dict[int, np.ndarray]], intrinsics: Intrinsics, image_hw: tuple[int, int]
) -> np.ndarray:
    """(T, H, W) metric depth of the template fitted to every face per frame (NaN elsewhere)."""
    faces = load_face_template().faces
    obj = template_points_m()
    out = np.full((len(landmarks), *image_hw), np.nan, dtype=np.float32)
    for t, frame_faces in enumerate(landmarks):
        for lms in frame_faces.values():
            pose = fit_template_pose(lms, intrinsics)
            if pose is None:
                continue
            rotation, translation = pose
            depth = render_depth(obj @ rotation.T + translation, faces, intrinsics, image_hw)
            out[t] = np.fmin(out[t], depth)  # nearer face wins where two overlap
    return out

"""Depth baseline: the face template fitted to MediaPipe landmarks and rendered.

The 468 template vertices (metric, average adult face) are posed by PnP against the
MediaPipe landmarks with the sequence's intrinsics, then rasterised with a z-buffer.
Its metric scale rests on the same average-face prior as the method's; its shape is
the neutral template (no identity, no expression), which is what it measures.
"""

from __future__ import annotations

import numpy as np

from face_anything_ros.core.camera import Intrinsics
from face_anything_ros.core.face_template import load_face_template
from face_anything_ros.runtime.landmark_distance import fit_template_pose, template_points_m
from face_anything_ros.runtime.mesh_raster import rasterize_mesh


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

"""Points on the template mesh: barycentric coordinates and triangle facing.

The face mesh's 468 landmarks are the template's vertices, so any canonical query point is a fixed
barycentric mix of one template triangle's vertices, and the same mix of that triangle's landmarks
places it in an image. Used by the fused tracker (runtime) and the MediaPipe baselines (evaluation).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from face_anything_ros.core.face_template import load_face_template


def barycentric(points: np.ndarray, tri_xy: np.ndarray) -> np.ndarray:
    """Barycentric coordinates (N, F, 3) of points (N, 2) in triangles (F, 3, 2)."""
    a, b, c = tri_xy[:, 0], tri_xy[:, 1], tri_xy[:, 2]
    v0, v1 = b - a, c - a
    denom = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    denom = np.where(np.abs(denom) < 1e-12, np.nan, denom)
    v2 = points[:, None, :] - a[None]
    w1 = (v2[..., 0] * v1[None, :, 1] - v1[None, :, 0] * v2[..., 1]) / denom
    w2 = (v0[None, :, 0] * v2[..., 1] - v2[..., 0] * v0[None, :, 1]) / denom
    return np.stack([1.0 - w1 - w2, w1, w2], axis=-1)


def _signed_areas(tri_xy: np.ndarray) -> np.ndarray:
    return (tri_xy[:, 1, 0] - tri_xy[:, 0, 0]) * (tri_xy[:, 2, 1] - tri_xy[:, 0, 1]) - (
        tri_xy[:, 1, 1] - tri_xy[:, 0, 1]
    ) * (tri_xy[:, 2, 0] - tri_xy[:, 0, 0])


@lru_cache(maxsize=1)
def frontal_winding_sign() -> float:
    """Sign of the projected triangle area for a camera-facing template (image y down)."""
    template = load_face_template()
    xy = template.canonical[:, :2] * np.array([1.0, -1.0])  # frontal view: x right, y down
    return float(np.sign(np.median(_signed_areas(xy[template.faces]))))


def front_facing(landmarks: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F,) True for triangles whose projected winding matches the frontal template's."""
    return _signed_areas(np.asarray(landmarks)[faces][..., :2]) * frontal_winding_sign() > 0


def template_barycentric(canonical_points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Template triangle corners (N, 3) and barycentric weights (N, 3) of canonical points.

    A point equal to a template vertex is that vertex alone (weight 1, 0, 0); any other point is
    placed in the front-most template triangle that contains it in the frontal (x, y) projection,
    or, off the mesh, in the triangle whose centroid is nearest (weights clipped to the triangle).
    """
    template = load_face_template()
    vertices = template.canonical.astype(np.float64)
    faces = template.faces
    points = np.asarray(canonical_points, dtype=np.float64).reshape(-1, 3)
    corners = np.zeros((len(points), 3), dtype=np.int64)
    weights = np.zeros((len(points), 3))
    squared = ((points[:, None, :] - vertices[None]) ** 2).sum(axis=2)
    nearest = squared.argmin(axis=1)
    on_vertex = squared[np.arange(len(points)), nearest] < 1e-12
    corners[on_vertex] = nearest[on_vertex, None]
    weights[on_vertex, 0] = 1.0
    rest = np.flatnonzero(~on_vertex)
    if rest.size:
        bary = barycentric(points[rest, :2], vertices[faces][..., :2])
        inside = np.all(bary >= -1e-9, axis=-1)
        depth = np.where(
            inside, np.einsum("nfk,fk->nf", np.nan_to_num(bary), vertices[faces][..., 2]), -np.inf
        )
        best = depth.argmax(axis=1)
        found = np.isfinite(depth[np.arange(len(rest)), best])
        centroids = vertices[faces].mean(axis=1)
        fallback = ((points[rest, None, :] - centroids[None]) ** 2).sum(axis=2).argmin(axis=1)
        triangle = np.where(found, best, fallback)
        chosen = np.clip(np.nan_to_num(bary[np.arange(len(rest)), triangle]), 0.0, None)
        chosen /= np.maximum(chosen.sum(axis=1, keepdims=True), 1e-12)
        corners[rest] = faces[triangle]
        weights[rest] = chosen
    return corners, weights


def point_front_facing(landmarks: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """(N,) whether each point faces the camera: every corner vertex of its triangle has an incident
    triangle that faces the camera in the landmarks' projection (the silhouette counts as seen)."""
    faces = load_face_template().faces
    facing = front_facing(landmarks, faces)
    vertex_facing = np.zeros(len(landmarks), dtype=bool)
    for corner in range(3):
        np.logical_or.at(vertex_facing, faces[facing, corner], True)
    return vertex_facing[corners].all(axis=1)

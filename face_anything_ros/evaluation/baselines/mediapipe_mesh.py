"""MediaPipe face mesh as a dense tracker: 468 landmarks, interpolated barycentrically.

A query is expressed in barycentric coordinates of the template triangle that contains
it in its query frame (the front-most one where the projected mesh folds over itself);
in every other frame it is that same barycentric combination of the triangle's
landmarks. A point is visible where a face was found and its triangle faces the camera.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from face_anything_ros.evaluation.baselines import empty_tracks
from face_anything_ros.face_template import load_face_template

LOG = logging.getLogger(__name__)
NUM_LANDMARKS = 468


@dataclass(frozen=True)
class MediaPipeConfig:
    min_detection_confidence: float = 0.3
    min_tracking_confidence: float = 0.3
    static_image_mode: bool = False  # video mode: detect once, then track landmarks


def detect_landmarks(
    frames: np.ndarray, config: MediaPipeConfig = MediaPipeConfig()
) -> list[np.ndarray | None]:
    """Per frame (468, 3) landmarks: x, y in pixels, z in pixel units (smaller = nearer), or None."""
    import mediapipe as mp

    height, width = frames.shape[1:3]
    results: list[np.ndarray | None] = []
    with mp.solutions.face_mesh.FaceMesh(
        static_image_mode=config.static_image_mode,
        max_num_faces=1,
        refine_landmarks=False,
        min_detection_confidence=config.min_detection_confidence,
        min_tracking_confidence=config.min_tracking_confidence,
    ) as mesh:
        for frame in frames:
            found = mesh.process(np.ascontiguousarray(frame))
            if not found.multi_face_landmarks:
                results.append(None)
                continue
            lms = found.multi_face_landmarks[0].landmark
            pts = np.array([[lm.x * width, lm.y * height, lm.z * width] for lm in lms[:NUM_LANDMARKS]])
            results.append(pts)
    missing = sum(r is None for r in results)
    if missing:
        LOG.info("mediapipe found no face in %d of %d frames", missing, len(results))
    return results


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


def front_facing(landmarks: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F,) True for triangles whose projected winding matches the frontal template's."""
    tri = landmarks[faces][..., :2]
    cross = (tri[:, 1, 0] - tri[:, 0, 0]) * (tri[:, 2, 1] - tri[:, 0, 1]) - (tri[:, 1, 1] - tri[:, 0, 1]) * (
        tri[:, 2, 0] - tri[:, 0, 0]
    )
    return cross * _frontal_winding_sign(faces) > 0


def _frontal_winding_sign(faces: np.ndarray) -> float:
    """Sign of the projected triangle area for a camera-facing template (image y down)."""
    template = load_face_template()
    # frontal view in image coordinates: x right, y down (template y is up)
    xy = template.canonical[:, :2] * np.array([1.0, -1.0])
    tri = xy[faces]
    cross = (tri[:, 1, 0] - tri[:, 0, 0]) * (tri[:, 2, 1] - tri[:, 0, 1]) - (tri[:, 1, 1] - tri[:, 0, 1]) * (
        tri[:, 2, 0] - tri[:, 0, 0]
    )
    return float(np.sign(np.median(cross)))


def landmarks_to_tracks(
    landmarks: list[np.ndarray | None], queries: np.ndarray, num_frames: int
) -> tuple[np.ndarray, np.ndarray]:
    """Dense tracks from per-frame landmarks by barycentric interpolation."""
    faces = load_face_template().faces
    tracks, visible = empty_tracks(queries, num_frames)
    queries = np.asarray(queries, dtype=np.float64)
    query_frames = queries[:, 0].astype(np.int64)
    tri_of_point = np.full(len(queries), -1)
    weights = np.zeros((len(queries), 3))
    for t in np.unique(query_frames):
        lms = landmarks[t]
        if lms is None:
            continue
        sel = np.flatnonzero(query_frames == t)
        bary = barycentric(queries[sel, 1:3], lms[faces][..., :2])
        inside = np.all(bary >= -1e-9, axis=-1)
        depth = np.einsum("nfk,fk->nf", np.nan_to_num(bary), lms[faces][..., 2])
        depth = np.where(inside, depth, np.inf)
        best = np.argmin(depth, axis=1)
        found = np.isfinite(depth[np.arange(len(sel)), best])
        tri_of_point[sel[found]] = best[found]
        weights[sel[found]] = bary[np.flatnonzero(found), best[found]]
    trackable = tri_of_point >= 0
    LOG.debug("mediapipe mesh: %d of %d queries inside the mesh", trackable.sum(), len(queries))
    for t in range(num_frames):
        lms = landmarks[t]
        if lms is None:
            continue
        idx = np.flatnonzero(trackable)
        corners = lms[faces[tri_of_point[idx]]][..., :2]  # (M, 3, 2)
        positions = np.einsum("mk,mkd->md", weights[idx], corners)
        facing = front_facing(lms, faces)[tri_of_point[idx]]
        tracks[t, idx] = positions
        visible[t, idx] = facing
    own = np.arange(len(queries))
    tracks[query_frames, own] = queries[:, 1:3]
    visible[query_frames, own] = True
    # frames without a face: keep the point where it was last seen, invisible
    for t in range(num_frames):
        missing = np.isnan(tracks[t, :, 0])
        if t > 0:
            tracks[t, missing] = tracks[t - 1, missing]
        still = np.isnan(tracks[t, :, 0])
        tracks[t, still] = queries[still, 1:3]
    return tracks, visible


def track_mediapipe(
    frames: np.ndarray, queries: np.ndarray, landmarks: list[np.ndarray | None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Run MediaPipe (unless landmarks are given) and interpolate dense tracks."""
    if landmarks is None:
        landmarks = detect_landmarks(frames)
    return landmarks_to_tracks(landmarks, queries, len(frames))

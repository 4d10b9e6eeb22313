"""MediaPipe face mesh as a dense tracker: 468 landmarks, interpolated barycentrically.

A query is expressed in barycentric coordinates of the template triangle that contains
it in its query frame (the front-most one where the projected meshes fold over
themselves or overlap); in every other frame it is that same barycentric combination of
the triangle's landmarks on the same face. Faces keep their identity across frames by
the runtime's own box-matching id assigner. A point is visible where its face was found
and its triangle faces the camera.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from face_anything_ros.core.face_template import load_face_template
from face_anything_ros.evaluation.baselines import empty_tracks
from face_anything_ros.runtime.mesh_points import barycentric, front_facing

LOG = logging.getLogger(__name__)
NUM_LANDMARKS = 468
MAX_FACES = 8

# per frame: face id -> (468, 3) landmarks (x, y pixels; z pixel units, smaller = nearer)
FrameLandmarks = dict[int, np.ndarray]


@dataclass(frozen=True)
class MediaPipeConfig:
    min_detection_confidence: float = 0.3
    min_tracking_confidence: float = 0.3
    static_image_mode: bool = False  # video mode: detect once, then track landmarks


def detect_landmarks(frames: np.ndarray, config: MediaPipeConfig = MediaPipeConfig()) -> list[FrameLandmarks]:
    """Per frame, the landmarks of every face found, keyed by a face id stable across frames."""
    import mediapipe as mp

    from face_anything_ros.runtime.config import IdConfig
    from face_anything_ros.runtime.ids import IdAssigner

    height, width = frames.shape[1:3]
    assigner = IdAssigner(IdConfig())
    results: list[FrameLandmarks] = []
    with mp.solutions.face_mesh.FaceMesh(
        static_image_mode=config.static_image_mode,
        max_num_faces=MAX_FACES,
        refine_landmarks=False,
        min_detection_confidence=config.min_detection_confidence,
        min_tracking_confidence=config.min_tracking_confidence,
    ) as mesh:
        for frame in frames:
            found = mesh.process(np.ascontiguousarray(frame))
            faces = [
                np.array(
                    [[lm.x * width, lm.y * height, lm.z * width] for lm in face.landmark[:NUM_LANDMARKS]]
                )
                for face in (found.multi_face_landmarks or [])
            ]
            boxes = np.array([np.r_[f[:, :2].min(axis=0), f[:, :2].max(axis=0)] for f in faces]).reshape(
                -1, 4
            )
            tracks = assigner.update(boxes)
            results.append({track.track_id: lms for track, lms in zip(tracks, faces, strict=True)})
    missing = sum(not r for r in results)
    if missing:
        LOG.info("mediapipe found no face in %d of %d frames", missing, len(results))
    return results


def locate_queries(frame_faces: FrameLandmarks, points: np.ndarray, faces: np.ndarray):
    """Face id, triangle and barycentric weights of the front-most triangle containing each point."""
    face_of = np.full(len(points), -1)
    tri_of = np.full(len(points), -1)
    weights = np.zeros((len(points), 3))
    nearest = np.full(len(points), np.inf)
    for face_id, lms in frame_faces.items():
        bary = barycentric(points, lms[faces][..., :2])
        inside = np.all(bary >= -1e-9, axis=-1)
        depth = np.where(inside, np.einsum("nfk,fk->nf", np.nan_to_num(bary), lms[faces][..., 2]), np.inf)
        best = np.argmin(depth, axis=1)
        best_depth = depth[np.arange(len(points)), best]
        closer = best_depth < nearest
        nearest[closer] = best_depth[closer]
        face_of[closer] = face_id
        tri_of[closer] = best[closer]
        weights[closer] = bary[np.flatnonzero(closer), best[closer]]
    return face_of, tri_of, weights


def landmarks_to_tracks(
    landmarks: list[FrameLandmarks], queries: np.ndarray, num_frames: int
) -> tuple[np.ndarray, np.ndarray]:
    """Dense tracks from per-frame landmarks by barycentric interpolation on the query's face."""
    faces = load_face_template().faces
    tracks, visible = empty_tracks(queries, num_frames)
    queries = np.asarray(queries, dtype=np.float64)
    query_frames = queries[:, 0].astype(np.int64)
    face_of = np.full(len(queries), -1)
    tri_of = np.full(len(queries), -1)
    weights = np.zeros((len(queries), 3))
    for t in np.unique(query_frames):
        sel = np.flatnonzero(query_frames == t)
        face_of[sel], tri_of[sel], weights[sel] = locate_queries(landmarks[t], queries[sel, 1:3], faces)
    LOG.debug("mediapipe mesh: %d of %d queries inside a mesh", (face_of >= 0).sum(), len(queries))
    for t in range(num_frames):
        for face_id, lms in landmarks[t].items():
            idx = np.flatnonzero(face_of == face_id)
            if not idx.size:
                continue
            corners = lms[faces[tri_of[idx]]][..., :2]  # (M, 3, 2)
            tracks[t, idx] = np.einsum("mk,mkd->md", weights[idx], corners)
            visible[t, idx] = front_facing(lms, faces)[tri_of[idx]]
    own = np.arange(len(queries))
    tracks[query_frames, own] = queries[:, 1:3]
    visible[query_frames, own] = True
    # frames without the point's face: keep the point where it was last seen, invisible
    for t in range(num_frames):
        missing = np.isnan(tracks[t, :, 0])
        if t > 0:
            tracks[t, missing] = tracks[t - 1, missing]
        still = np.isnan(tracks[t, :, 0])
        tracks[t, still] = queries[still, 1:3]
    return tracks, visible


def track_mediapipe(
    frames: np.ndarray, queries: np.ndarray, landmarks: list[FrameLandmarks] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Run MediaPipe (unless landmarks are given) and interpolate dense tracks."""
    if landmarks is None:
        landmarks = detect_landmarks(frames)
    return landmarks_to_tracks(landmarks, queries, len(frames))

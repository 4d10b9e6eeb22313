"""``mediapipe+flow``: the fused tracker fed by MediaPipe's face mesh instead of our canonical map.

The strongest tracker a user could assemble from parts: the runtime's own ``FusedTracker`` (flow
on the face region, Kalman-style fusion, gating, re-acquisition; the default ``FusionConfig``)
whose only absolute measurement is the MediaPipe mesh, each query placed barycentrically in the
front-most mesh triangle containing it in its query frame (as the ``mediapipe`` baseline does).
Set against ``ours`` it shows what our network adds.
"""

from __future__ import annotations

import numpy as np

from face_anything_ros.core.face_template import load_face_template
from face_anything_ros.evaluation.baselines.mediapipe_mesh import FrameLandmarks, locate_queries
from face_anything_ros.evaluation.fused_tracks import FaceFrame, mesh_measure, track_fused
from face_anything_ros.runtime.config import FusionConfig


def track_mediapipe_flow(
    frames: np.ndarray,
    queries: np.ndarray,
    landmarks: list[FrameLandmarks],
    config: FusionConfig | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Tracks (T, N, 2) and visibility (T, N) from MediaPipe landmarks (per frame: face id -> (468, 3))."""
    config = config or FusionConfig()
    faces = load_face_template().faces
    queries = np.asarray(queries, dtype=np.float64)
    query_frames = queries[:, 0].astype(np.int64)
    faces_per_frame = [
        {
            face_id: FaceFrame(np.r_[lms[:, :2].min(axis=0), lms[:, :2].max(axis=0)], lms)
            for face_id, lms in frame_faces.items()
        }
        for frame_faces in landmarks
    ]
    query_face = np.full(len(queries), -1, dtype=np.int64)
    corners = np.full((len(queries), 3), -1, dtype=np.int64)
    weights = np.zeros((len(queries), 3))
    for t in np.unique(query_frames):
        sel = np.flatnonzero(query_frames == t)
        face_of, tri_of, bary = locate_queries(landmarks[t], queries[sel, 1:3], faces)
        placed = face_of >= 0
        query_face[sel[placed]] = face_of[placed]
        corners[sel[placed]] = faces[tri_of[placed]]
        weights[sel[placed]] = bary[placed]
    measure = mesh_measure(faces_per_frame, corners, weights, config)
    return track_fused(frames, queries, query_face, faces_per_frame, measure, config)

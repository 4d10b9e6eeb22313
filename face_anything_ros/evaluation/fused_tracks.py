"""Evaluation queries tracked by the runtime's fused tracker (``runtime/fused_tracker.py``).

The pipeline tracks its own canonical query set online. An evaluation query is instead a pixel in
a query frame that can lie anywhere in the sequence, so it is tracked forward from its query
frame and backward for earlier frames, each direction by a fresh ``FusedTracker`` (the node's
class: same flow, gates, re-acquisition and resets) fed the frames in that order. The absolute
measurements per frame and face come from a ``FaceFrame``: ours from the pipeline's outputs
(canonical lookup on the predicted maps plus the face mesh's landmarks where the detector is the
mesh), the ``mediapipe+flow`` baseline from MediaPipe's mesh alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from face_anything_ros.evaluation.baselines import empty_tracks
from face_anything_ros.evaluation.method import fill_gaps
from face_anything_ros.runtime.config import FusionConfig
from face_anything_ros.runtime.fused_tracker import FusedTracker, Measurement, mesh_measurement
from face_anything_ros.runtime.mesh_points import barycentric, front_facing, point_front_facing


@dataclass
class FaceFrame:
    """One face in one frame, as the fused tracker sees it."""

    box_xyxy: np.ndarray  # (4,) face box, image pixels
    landmarks: np.ndarray | None = None  # (468, 2+) face-mesh landmarks, image pixels
    crop_side_px: float = float("nan")  # side of the model's crop (ours), for the lookup's uncertainty


# (frame, face id, query indices) -> measurements of those queries on that face in that frame
MeasureFn = Callable[[int, int, np.ndarray], list[Measurement]]


def mesh_corners(
    landmarks: np.ndarray, points: np.ndarray, faces: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Triangle corners (N, 3) and barycentric weights (N, 3) of image points in a face's mesh
    (front-most containing triangle; -1 corners where a point lies on no triangle)."""
    corners = np.full((len(points), 3), -1, dtype=np.int64)
    weights = np.zeros((len(points), 3))
    if not len(points):
        return corners, weights
    tri = np.asarray(landmarks, dtype=np.float64)[faces]
    bary = barycentric(np.asarray(points, dtype=np.float64), tri[..., :2])
    inside = np.all(bary >= -1e-9, axis=-1)
    if tri.shape[-1] > 2:  # MediaPipe z: smaller = nearer
        depth = np.where(inside, np.einsum("nfk,fk->nf", np.nan_to_num(bary), tri[..., 2]), np.inf)
        best = depth.argmin(axis=1)
    else:  # 2D landmarks: front-facing triangles first
        facing = front_facing(landmarks, faces)
        best = np.where(inside & facing[None], 1, np.where(inside, 0, -1)).argmax(axis=1)
    found = inside[np.arange(len(points)), best]
    corners[found] = faces[best[found]]
    weights[found] = bary[np.flatnonzero(found), best[found]]
    return corners, weights


def mesh_measure(
    faces_per_frame: list[dict[int, FaceFrame]],
    corners: np.ndarray,
    weights: np.ndarray,
    config: FusionConfig,
) -> MeasureFn:
    """Measurements from each face's mesh landmarks (queries placed barycentrically in their query frame)."""

    def measure(t: int, face_id: int, idx: np.ndarray) -> list[Measurement]:
        face = faces_per_frame[t][face_id]
        if face.landmarks is None:
            return [Measurement.none(len(idx))]
        sel = corners[idx]
        facing = np.zeros(len(idx), dtype=bool)
        on_mesh = (sel >= 0).all(axis=1)
        if on_mesh.any():
            facing[on_mesh] = point_front_facing(face.landmarks, sel[on_mesh])
        box = face.box_xyxy
        side = float(np.sqrt(max((box[2] - box[0]) * (box[3] - box[1]), 0.0)))
        return [mesh_measurement(face.landmarks, sel, weights[idx], facing, side, config)]

    return measure


def track_fused(
    frames: np.ndarray,
    queries: np.ndarray,
    query_face: np.ndarray,
    faces_per_frame: list[dict[int, FaceFrame]],
    measure: MeasureFn,
    config: FusionConfig,
    fps: float = 30.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Tracks (T, N, 2) and visibility (T, N) of queries (t, x, y) on their faces (``query_face``
    id per query; -1: on no face, held at the query pixel, invisible). A face missing from a frame
    is carried by flow alone for up to ``config.max_coast_frames`` (the tracker's coasting)."""
    queries = np.asarray(queries, dtype=np.float64)
    num_frames = len(frames)
    tracks, visible = empty_tracks(queries, num_frames)
    gray = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in frames]
    query_frames = queries[:, 0].astype(np.int64)
    for direction in (1, -1):
        tracker = FusedTracker(config)
        order = range(num_frames) if direction == 1 else range(num_frames - 1, -1, -1)
        for t in order:
            tracker.begin_frame(gray[t], direction * t / fps)
            for face_id, face in faces_per_frame[t].items():
                idx = np.flatnonzero(query_face == face_id)
                if not idx.size:
                    continue
                started = (query_frames[idx] - t) * direction < 0  # strictly before t in this direction
                starting = query_frames[idx] == t
                found = measure(t, face_id, idx)
                found = [_only(m, started) for m in found]
                points = tracker.update(face_id, gray[t], face.box_xyxy, found, None)
                points.set_known(starting, queries[idx[starting], 1:3])
                points.positions[~(started | starting)] = np.nan
                live = idx[started]
                tracks[t, live] = points.positions[started]
                visible[t, live] = points.visible[started]
            for face_id, (points, _) in tracker.coast_undetected(gray[t]).items():
                idx = np.flatnonzero(query_face == face_id)
                started = (query_frames[idx] - t) * direction < 0
                if len(points.positions) != len(idx) or not started.any():
                    continue
                tracks[t, idx[started]] = points.positions[started]
                visible[t, idx[started]] = points.visible[started]
    own = np.arange(len(queries))
    tracks[query_frames, own] = queries[:, 1:3]
    visible[query_frames, own] = True
    fill_gaps(tracks)
    return tracks, visible


def track_ours_fused(
    output,
    frames: np.ndarray,
    queries: np.ndarray,
    pipeline_config,
    input_size: int,
    lookup_offset: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Our fused tracks: canonical lookup on the pipeline's maps plus the mesh's landmarks, fused with flow.

    A query's canonical coordinate is read from the predicted map in its query frame and its face
    is the track id there (as for the lookup-only tracks); its place in the mesh is the barycentric
    position among its face's landmarks in the query frame, else that of its canonical coordinate
    on the template. ``lookup_offset`` (tuning only, ``lookup_bias.py``): canonical coordinates (N, 3)
    -> image-pixel offsets (N, 2) added to every lookup, a network wrong consistently per point.
    """
    from face_anything_ros.core.face_template import load_face_template
    from face_anything_ros.core.sampling import sample_bilinear, sample_nearest
    from face_anything_ros.evaluation.method import QUERY_SNAP_RADIUS_PX, label_at
    from face_anything_ros.runtime.fused_tracker import lookup_measurement
    from face_anything_ros.runtime.mesh_points import template_barycentric
    from face_anything_ros.runtime.tracking import locate_canonical_distances

    config = pipeline_config.fusion
    max_distance = pipeline_config.tracking.max_canonical_distance
    queries = np.asarray(queries, dtype=np.float64)
    query_frames = queries[:, 0].astype(np.int64)
    query_canonical = np.full((len(queries), 3), np.nan)
    query_face = np.full(len(queries), -1, dtype=np.int64)
    for t in np.unique(query_frames):
        sel = np.flatnonzero(query_frames == t)
        query_canonical[sel] = sample_bilinear(output.canonical[t], queries[sel, 1:3], QUERY_SNAP_RADIUS_PX)
        query_face[sel] = [label_at(output.face_ids[t], q[1:3]) for q in queries[sel]]
    has_canonical = np.isfinite(query_canonical).all(axis=1)
    query_face[~has_canonical] = -1
    for n in np.flatnonzero(query_face < 0):  # off the predicted face: flow and mesh still follow it
        query_face[n] = box_containing(output.faces[query_frames[n]], queries[n, 1:3])
    faces = load_face_template().faces
    corners = np.full((len(queries), 3), -1, dtype=np.int64)
    weights = np.zeros((len(queries), 3))
    known = (query_face >= 0) & has_canonical
    corners[known], weights[known] = template_barycentric(query_canonical[known])
    for t in np.unique(query_frames):
        for face_id, face in output.faces[t].items():
            sel = np.flatnonzero((query_frames == t) & (query_face == face_id))
            if face.landmarks is not None and sel.size:
                c, w = mesh_corners(face.landmarks, queries[sel, 1:3], faces)
                placed = (c >= 0).all(axis=1)
                corners[sel[placed]], weights[sel[placed]] = c[placed], w[placed]
    by_mesh = mesh_measure(output.faces, corners, weights, config)
    cache: dict[tuple[int, int], Measurement] = {}

    def measure(t: int, face_id: int, idx: np.ndarray) -> list[Measurement]:
        if (t, face_id) not in cache:
            weight = np.where(output.face_ids[t] == face_id, output.weight[t], 0.0)
            pixels = np.full((len(idx), 2), np.nan)
            distance = np.full(len(idx), np.inf)
            rows = has_canonical[idx]
            if rows.any():
                pixels[rows], distance[rows] = locate_canonical_distances(
                    output.canonical[t], weight, query_canonical[idx[rows]]
                )
                if lookup_offset is not None:
                    pixels[rows] += lookup_offset(query_canonical[idx[rows]])
            scale = output.faces[t][face_id].crop_side_px / input_size
            cache[(t, face_id)] = lookup_measurement(
                pixels, distance, sample_nearest(weight, pixels, fill=0.0), scale, max_distance, config
            )
        return [cache[(t, face_id)], *by_mesh(t, face_id, idx)]

    return track_fused(frames, queries, query_face, output.faces, measure, config)


def box_containing(faces: dict[int, FaceFrame], point: np.ndarray) -> int:
    """Id of the smallest face box containing a pixel, -1 if none does."""
    best, best_area = -1, np.inf
    for face_id, face in faces.items():
        x0, y0, x1, y1 = face.box_xyxy
        area = (x1 - x0) * (y1 - y0)
        if x0 <= point[0] <= x1 and y0 <= point[1] <= y1 and area < best_area:
            best, best_area = face_id, area
    return best


def _only(measurement: Measurement, select: np.ndarray) -> Measurement:
    """A measurement restricted to the selected points (the rest neither seen nor placed)."""
    positions = np.where(select[:, None], measurement.positions, np.nan)
    return Measurement(
        positions,
        np.where(select, measurement.variance, np.inf),
        measurement.valid & select,
        measurement.bias_prior_fraction,
    )

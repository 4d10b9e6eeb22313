"""The method under evaluation: the product's runtime pipeline plus canonical-lookup tracking.

Every frame goes through ``runtime.pipeline.FacePipeline.process`` exactly as the node
runs it: the pipeline comes from the node's own builder (``outputs.params.build_pipeline``)
at the node's default parameters. A query point's canonical
coordinate is read from the predicted canonical map in its query frame (core/sampling.py:
bilinear, NaN aware, snapped to the face within ``QUERY_SNAP_RADIUS_PX``) and found in every other frame with ``runtime.tracking.locate_canonical``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from face_anything_ros.core.sampling import sample_bilinear

LOG = logging.getLogger(__name__)
# nearest-valid-pixel search radius when a query lands just off the predicted face (px)
QUERY_SNAP_RADIUS_PX = 2
# ground-truth face boxes: mask parts closer than this are one face (an occluder may split it)
MASK_CLOSING_PX = 9
MIN_MASK_FACE_AREA_PX = 20


@dataclass
class MethodOutput:
    """Per-frame maps the evaluation needs from the pipeline."""

    depth: np.ndarray  # (T, H, W) metres, NaN off-face
    canonical: np.ndarray  # (T, H, W, 3) NaN off-face
    weight: np.ndarray  # (T, H, W) the pipeline's pixel weight, mask x confidence² (0 off-face)
    face_ids: np.ndarray  # (T, H, W) int32 track id of the face each pixel belongs to, -1 off-face
    faces: list[dict] = field(default_factory=list)  # per frame: track id -> fused_tracks.FaceFrame
    frame_ms: list[float] = field(default_factory=list)
    stage_ms: list[dict[str, float]] = field(default_factory=list)  # per frame, the pipeline's timings
    frames_without_face: int = 0


def label_at(label_map: np.ndarray, point: np.ndarray) -> int:
    """The label (>= 0) at a pixel, else the nearest one within ``QUERY_SNAP_RADIUS_PX``; -1 if none."""
    height, width = label_map.shape
    x, y = round(point[0]), round(point[1])
    r = QUERY_SNAP_RADIUS_PX
    y0, y1, x0, x1 = max(y - r, 0), min(y + r + 1, height), max(x - r, 0), min(x + r + 1, width)
    if y0 >= y1 or x0 >= x1:
        return -1
    window = label_map[y0:y1, x0:x1]
    ys, xs = np.mgrid[y0:y1, x0:x1]
    d2 = np.where(window >= 0, (xs - point[0]) ** 2 + (ys - point[1]) ** 2, np.inf)
    k = np.unravel_index(np.argmin(d2), d2.shape)
    return int(window[k]) if np.isfinite(d2[k]) else -1


def track_by_canonical_lookup(
    canonical_maps: np.ndarray,
    weight_maps: np.ndarray,
    queries: np.ndarray,
    max_distance: float | None = None,
    face_ids: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Tracks (T, N, 2) and visibility (T, N) of queries (N, 3: t, x, y) by canonical lookup.

    A query is its own pixel in its query frame. Every face shares one canonical space, so
    with several faces in view a point is looked up only on its own face: ``face_ids``
    (T, H, W) gives each pixel's face identity (stable across frames, -1 off-face); None
    means one face. Where a frame has no valid pixel of the point's face it holds its
    previous position (invisible); a query whose canonical coordinate cannot be read (off
    the predicted face) stays at its query pixel, invisible.
    """
    from face_anything_ros.runtime.tracking import DEFAULT_MAX_CANONICAL_DISTANCE, locate_canonical

    limit = DEFAULT_MAX_CANONICAL_DISTANCE if max_distance is None else max_distance
    queries = np.asarray(queries, dtype=np.float64)
    num_frames = canonical_maps.shape[0]
    query_frames = queries[:, 0].astype(np.int64)
    query_canonical = np.full((len(queries), 3), np.nan)
    for t in np.unique(query_frames):
        sel = query_frames == t
        query_canonical[sel] = sample_bilinear(canonical_maps[t], queries[sel, 1:3], QUERY_SNAP_RADIUS_PX)
    known = np.all(np.isfinite(query_canonical), axis=1)
    if not known.all():
        LOG.info(
            "%d of %d queries fall off the predicted face in their query frame", (~known).sum(), len(queries)
        )
    query_face = np.zeros(len(queries), dtype=np.int64)
    if face_ids is not None:
        query_face = np.array(
            [label_at(face_ids[t], q[1:3]) for t, q in zip(query_frames, queries, strict=True)]
        )
        known &= query_face >= 0
    tracks = np.full((num_frames, len(queries), 2), np.nan)
    visible = np.zeros((num_frames, len(queries)), dtype=bool)
    for face in np.unique(query_face[known]):
        idx = np.flatnonzero(known & (query_face == face))
        for t in range(num_frames):
            weight = (
                weight_maps[t] if face_ids is None else np.where(face_ids[t] == face, weight_maps[t], 0.0)
            )
            pixels, vis = locate_canonical(canonical_maps[t], weight, query_canonical[idx], limit)
            tracks[t, idx] = pixels
            visible[t, idx] = vis & np.all(np.isfinite(pixels), axis=1)
    own = np.arange(len(queries))
    tracks[query_frames, own] = queries[:, 1:3]
    visible[query_frames, own] = True
    fill_gaps(tracks)
    return tracks, visible


def fill_gaps(tracks: np.ndarray) -> None:
    """Fill NaN positions from the nearest earlier frame, then the nearest later one (in place)."""
    for t in range(1, len(tracks)):
        gap = np.isnan(tracks[t, :, 0])
        tracks[t, gap] = tracks[t - 1, gap]
    for t in range(len(tracks) - 2, -1, -1):
        gap = np.isnan(tracks[t, :, 0])
        tracks[t, gap] = tracks[t + 1, gap]


def make_pipeline(
    weights: Path | None,
    device: str | None = None,
    flip_average: bool = False,
    detection_method: str | None = None,
    pipeline_config: Path | None = None,
):
    """The pipeline exactly as the node builds it at its default parameters (outputs/params.py),
    with weights, device, a runtime YAML and the offline options (mirror averaging, detector) given."""
    from face_anything_ros.outputs.params import NodeParams, build_pipeline, with_values

    values: dict[str, str] = {}
    if weights is not None:
        values["weights"] = str(weights)
    if device is not None:
        values["device"] = device
    if pipeline_config is not None:
        values["pipeline_config"] = str(pipeline_config)
    pipeline = build_pipeline(with_values(NodeParams(), values), flip_average, detection_method)
    LOG.info("pipeline backend: %s", pipeline.backend_description)
    return pipeline


def mask_faces(mask: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Faces in a ground-truth face mask: label map (H, W) (-1 off-face) and one box each.

    Mask parts closer than ``MASK_CLOSING_PX`` are one face (an occluder may cut a face in
    two); a box (x0, y0, x1, y1) spans the face's real mask pixels.
    """
    import cv2

    face = np.asarray(mask, dtype=bool)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (MASK_CLOSING_PX, MASK_CLOSING_PX))
    closed = cv2.morphologyEx(face.astype(np.uint8), cv2.MORPH_CLOSE, kernel)
    _, components = cv2.connectedComponents(closed)
    return _faces_of_groups(face, components)


def instance_faces(mask: np.ndarray, instances: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """As ``mask_faces``, from the generator's instance labels (face k + 1 on its pixels): two faces
    that touch stay two, and a face an occluder cuts in two stays one."""
    return _faces_of_groups(np.asarray(mask, dtype=bool), np.asarray(instances))


def _faces_of_groups(face: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Label map and boxes of the face pixels grouped by ``groups`` (0 = no group): groups of at least
    ``MIN_MASK_FACE_AREA_PX`` face pixels become faces 0, 1, … in group order."""
    face = face & (groups > 0)
    labels = np.full(face.shape, -1, dtype=np.int32)
    boxes: list[np.ndarray] = []
    for group in np.unique(groups[face]):
        pixels = face & (groups == group)
        if pixels.sum() >= MIN_MASK_FACE_AREA_PX:
            labels[pixels] = len(boxes)
            boxes.append(_pixel_box(pixels))
    return labels, boxes


def _pixel_box(pixels: np.ndarray) -> np.ndarray:
    """Box (x0, y0, x1, y1) spanning the True pixels (exclusive ends)."""
    ys, xs = np.nonzero(pixels)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=np.float64)


def ground_truth_faces(mask: np.ndarray, instances: np.ndarray | None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Faces of one ground-truth frame: by instance labels where the sequence has them, else by the
    mask's connected parts (``mask_faces``)."""
    return mask_faces(mask) if instances is None else instance_faces(mask, instances)


def label_boxes(labels: np.ndarray) -> list[np.ndarray]:
    """Box (x0, y0, x1, y1) of each face label 0, 1, … of a label map (-1 off-face)."""
    return [_pixel_box(labels == label) for label in range(int(labels.max(initial=-1)) + 1)]


def mask_face_boxes(mask: np.ndarray) -> list[np.ndarray]:
    """Face boxes of a ground-truth mask: the pipeline's detections in the ground-truth-box run."""
    return mask_faces(mask)[1]


def mask_face_ids(masks: np.ndarray) -> np.ndarray:
    """(T, H, W) face identity per pixel from ground-truth masks, ids kept across frames by the
    runtime's own box-matching id assigner; -1 off-face."""
    from face_anything_ros.runtime.config import IdConfig
    from face_anything_ros.runtime.ids import IdAssigner

    assigner = IdAssigner(IdConfig())
    ids = np.full(np.shape(masks), -1, dtype=np.int32)
    for t, mask in enumerate(masks):
        labels, boxes = mask_faces(mask)
        for k, track in enumerate(assigner.update(np.array(boxes).reshape(-1, 4))):
            ids[t][labels == k] = track.track_id
    return ids


def _pixel_track_ids(result) -> np.ndarray:
    """Track id per pixel from the pipeline's face index (all faces one id if it has none)."""
    if result.face_index is None:
        return np.where(result.mask, 0, -1).astype(np.int32)
    lut = np.array([face.track_id for face in result.faces] + [-1], dtype=np.int32)
    index = np.asarray(result.face_index, dtype=np.int64)
    return lut[np.where(index >= 0, index, len(result.faces))]


def run_pipeline(
    pipeline,
    frames: np.ndarray,
    intrinsics: dict[str, float],
    face_labels: np.ndarray | None = None,
    fps: float = 30.0,
) -> MethodOutput:
    """Run the pipeline on every frame of one sequence (state reset first); time each call.

    With ``face_labels`` ((T, H, W) ground-truth face labels, ``EvalSequence.face_labels``) the
    detector is bypassed: the faces are the ground truth's boxes.
    """
    from face_anything_ros.core.camera import Intrinsics
    from face_anything_ros.evaluation.fused_tracks import FaceFrame
    from face_anything_ros.runtime.detection import Detection
    from face_anything_ros.runtime.tracking import pixel_weight

    pipeline.reset()
    camera = Intrinsics.from_mapping(intrinsics)
    num_frames, height, width = frames.shape[:3]
    out = MethodOutput(
        depth=np.full((num_frames, height, width), np.nan, dtype=np.float32),
        canonical=np.full((num_frames, height, width, 3), np.nan, dtype=np.float32),
        weight=np.zeros((num_frames, height, width), dtype=np.float32),
        face_ids=np.full((num_frames, height, width), -1, dtype=np.int32),
    )
    min_confidence = pipeline.config.tracking.min_confidence
    for t, frame in enumerate(frames):
        detections = None
        if face_labels is not None:
            detections = [Detection(box_xyxy=box, score=float("nan")) for box in label_boxes(face_labels[t])]
        start = time.perf_counter()
        result = pipeline.process(np.ascontiguousarray(frame), camera, t / fps, detections=detections)
        out.frame_ms.append(1000.0 * (time.perf_counter() - start))
        out.frames_without_face += not result.faces
        out.face_ids[t] = _pixel_track_ids(result)
        out.faces.append(
            {
                face.track_id: FaceFrame(face.box_xyxy, face.landmarks_px, float(face.crop_box.side))
                for face in result.faces
            }
        )
        out.depth[t] = result.depth
        out.canonical[t] = result.canonical
        out.weight[t] = pixel_weight(result.mask, result.confidence, min_confidence)  # the pipeline's own
        out.stage_ms.append({stage: float(ms) for stage, ms in (result.timings_ms or {}).items()})
    return out

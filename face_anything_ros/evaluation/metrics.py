"""Metric definitions of the evaluation protocol (pure numpy, no I/O).

Each metric is computed in two steps so that results pool correctly over many
sequences: ``*_samples`` turns one sequence's predictions and ground truth into flat
per-sample arrays (one entry per evaluated pixel or per evaluated point-frame), the
samples of several sequences are concatenated, and ``summarize_*`` turns them into
numbers. Conventions follow TAP-Vid: the query frame itself is never scored, position
accuracy is scored on ground-truth-visible points only, and pixel thresholds are
measured after scaling the image to 256 x 256.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

TAPVID_THRESHOLDS_PX: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)
# δ_avg is also reported per face size (√ of the face's ground-truth pixels, at 256 px scale): the same error in
# millimetres is a larger pixel error on a larger face, and sets differ mostly in this (BENCHMARKS.md, session 13)
FACE_SIZE_BINS_256: tuple[tuple[str, float, float], ...] = (
    ("faces_lt40", 0.0, 40.0),
    ("faces_40_80", 40.0, 80.0),
    ("faces_ge80", 80.0, float("inf")),
)
TAPVID_IMAGE_SIZE = 256
DEPTH_DELTA_THRESHOLD = 1.05
# A ground-truth point is "static" between two frames when it moves less than this (px).
STATIC_MOTION_PX = 0.1
# A labelled face whose true median depth changes more than this between two frames is taken for
# another face (labels are per frame), so the pair is not scored for depth flicker.
SAME_FACE_DEPTH_CHANGE = 0.1


# ----------------------------------------------------------------------------- depth


@dataclass
class DepthSamples:
    """Per-pixel depth ratios prediction / ground truth on ground-truth face pixels."""

    ratio_metric: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    ratio_aligned: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    gt_pixels: int = 0  # face pixels with valid ground truth
    predicted_pixels: int = 0  # of those, pixels the method predicted a finite depth for
    # one frame's faces (face_labels given): label -> (log(median pred / median gt), log median gt)
    face_scales: dict[int, tuple[float, float]] = field(default_factory=dict)
    # |change of a face's log metric scale error| between consecutive frames (``depth_scale_steps``)
    scale_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))

    @staticmethod
    def concat(parts: list[DepthSamples]) -> DepthSamples:
        """Pooled samples (``face_scales`` belong to one frame and are not kept)."""
        if not parts:
            return DepthSamples()
        return DepthSamples(
            ratio_metric=np.concatenate([p.ratio_metric for p in parts]),
            ratio_aligned=np.concatenate([p.ratio_aligned for p in parts]),
            gt_pixels=sum(p.gt_pixels for p in parts),
            predicted_pixels=sum(p.predicted_pixels for p in parts),
            scale_steps=np.concatenate([p.scale_steps for p in parts]),
        )


def depth_frame_samples(
    pred_depth: np.ndarray,
    gt_depth: np.ndarray,
    face_mask: np.ndarray | None = None,
    face_labels: np.ndarray | None = None,
) -> DepthSamples:
    """Depth ratios of one frame on ground-truth face pixels.

    Face pixels are ``face_mask`` (if given) intersected with finite, positive ground
    truth. Pixels the method left NaN count against coverage but not against AbsRel.
    The aligned ratios use one scale median(gt) / median(pred) per face of ``face_labels``
    ((H, W) ints, -1 off-face, e.g. ``method.mask_faces``), else one per frame: aligned AbsRel
    measures each face's shape, not how two faces' distances compare.
    """
    pred = np.asarray(pred_depth, dtype=np.float64)
    gt = np.asarray(gt_depth, dtype=np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f"depth shapes differ: prediction {pred.shape} vs ground truth {gt.shape}")
    valid_gt = np.isfinite(gt) & (gt > 0)
    if face_mask is not None:
        valid_gt &= np.asarray(face_mask, dtype=bool)
    valid = valid_gt & np.isfinite(pred) & (pred > 0)
    out = DepthSamples(gt_pixels=int(valid_gt.sum()), predicted_pixels=int(valid.sum()))
    if out.predicted_pixels == 0:
        return out
    pred_face, gt_face = pred[valid], gt[valid]
    ratio = pred_face / gt_face
    out.ratio_metric = ratio
    if face_labels is None:
        out.ratio_aligned = ratio * np.median(gt_face) / np.median(pred_face)
        return out
    labels = np.asarray(face_labels)[valid]
    aligned = np.empty_like(ratio)
    for label in np.unique(labels):  # pixels outside every labelled face form one group (label -1)
        face = labels == label
        gt_median, pred_median = np.median(gt_face[face]), np.median(pred_face[face])
        aligned[face] = ratio[face] * gt_median / pred_median
        if label >= 0:
            out.face_scales[int(label)] = (float(np.log(pred_median / gt_median)), float(np.log(gt_median)))
    out.ratio_aligned = aligned
    return out


def depth_scale_steps(frames: list[DepthSamples]) -> np.ndarray:
    """Depth flicker of one sequence's consecutive frames: per face in both, |Δ log(median pred / median gt)|.

    Why: a face whose metric scale jumps by a few per cent from frame to frame makes its point cloud
    breathe although the face does not move; AbsRel alone does not show it. A face is paired by its
    label in both frames, unless its true median depth moved by more than ``SAME_FACE_DEPTH_CHANGE``
    (labels are per frame: another face).
    """
    steps = []
    for previous, current in itertools.pairwise(frames):
        for label, (log_error, log_gt) in current.face_scales.items():
            before = previous.face_scales.get(label)
            if before is not None and abs(log_gt - before[1]) < np.log1p(SAME_FACE_DEPTH_CHANGE):
                steps.append(abs(log_error - before[0]))
    return np.asarray(steps, dtype=np.float64)


def summarize_depth(samples: DepthSamples) -> dict[str, float]:
    """AbsRel = mean |pred - gt| / gt, δ<1.05 = share with max(pred/gt, gt/pred) < 1.05, depth flicker =
    mean ``scale_steps`` in per cent."""
    result: dict[str, float] = {
        "depth_coverage": samples.predicted_pixels / samples.gt_pixels if samples.gt_pixels else float("nan")
    }
    for name, ratio in (("aligned", samples.ratio_aligned), ("metric", samples.ratio_metric)):
        if ratio.size == 0:
            result[f"absrel_{name}"] = float("nan")
            result[f"delta105_{name}"] = float("nan")
            continue
        result[f"absrel_{name}"] = float(np.mean(np.abs(ratio - 1.0)))
        result[f"delta105_{name}"] = float(np.mean(np.maximum(ratio, 1.0 / ratio) < DEPTH_DELTA_THRESHOLD))
    steps = samples.scale_steps
    result["depth_flicker_pct"] = float(100.0 * np.mean(steps)) if steps.size else float("nan")
    return result


# ------------------------------------------------------------------------- canonical


@dataclass
class CanonicalSamples:
    """Per-pixel L1 errors (canonical units) of a predicted canonical map on ground-truth face pixels."""

    error: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    gt_pixels: int = 0  # face pixels with a finite ground-truth coordinate
    predicted_pixels: int = 0  # of those, pixels the method predicted a finite coordinate for

    @staticmethod
    def concat(parts: list[CanonicalSamples]) -> CanonicalSamples:
        return CanonicalSamples(
            error=np.concatenate([p.error for p in parts]) if parts else np.zeros(0, np.float64),
            gt_pixels=sum(p.gt_pixels for p in parts),
            predicted_pixels=sum(p.predicted_pixels for p in parts),
        )


def canonical_samples(pred: np.ndarray, gt: np.ndarray) -> CanonicalSamples:
    """L1 error of (..., H, W, 3) predicted canonical coordinates where the ground truth is finite.

    Why: the per-pixel canonical map is what tracking by lookup, the pose fit and the point cloud's
    colours stand on; on sets that have it (synthetic, 3D real-texture) its error is the model's own
    quality in the product's full-frame setting, beside the held-out crops of ``training.report``.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f"canonical shapes differ: prediction {pred.shape} vs ground truth {gt.shape}")
    face = np.isfinite(gt).all(axis=-1)
    valid = face & np.isfinite(pred).all(axis=-1)
    return CanonicalSamples(
        error=np.abs(pred[valid] - gt[valid]).sum(axis=-1),
        gt_pixels=int(face.sum()),
        predicted_pixels=int(valid.sum()),
    )


def summarize_canonical(samples: CanonicalSamples) -> dict[str, float]:
    """Median and mean L1 error (canonical units; 0.01 = 1 mm of the template) and coverage."""
    if samples.gt_pixels == 0:
        return {}
    has = samples.error.size > 0
    return {
        "canonical_error_median": float(np.median(samples.error)) if has else float("nan"),
        "canonical_error_mean": float(np.mean(samples.error)) if has else float("nan"),
        "canonical_coverage": samples.predicted_pixels / samples.gt_pixels,
    }


# -------------------------------------------------------------------------- tracking


@dataclass
class TrackingSamples:
    """Flat per point-frame samples of one or more sequences (query frames excluded)."""

    error_px: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    error_256: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    gt_visible: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    pred_visible: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    # visible again after having been occluded since the query frame (re-detection test)
    after_occlusion: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    jitter_px: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    # side of the point's face at 256 px scale (NaN: unknown, e.g. a set without masks)
    face_side_256: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))

    @staticmethod
    def concat(parts: list[TrackingSamples]) -> TrackingSamples:
        if not parts:
            return TrackingSamples()
        return TrackingSamples(
            **{
                name: np.concatenate([getattr(p, name) for p in parts])
                for name in (
                    "error_px",
                    "error_256",
                    "gt_visible",
                    "pred_visible",
                    "after_occlusion",
                    "jitter_px",
                    "face_side_256",
                )
            }
        )


def evaluation_mask(query_frames: np.ndarray, num_frames: int) -> np.ndarray:
    """(T, N) True on every frame except each point's own query frame."""
    frames = np.arange(num_frames)[:, None]
    return frames != np.asarray(query_frames, dtype=np.int64)[None, :]


def occluded_since_query(gt_visible: np.ndarray, query_frames: np.ndarray) -> np.ndarray:
    """(T, N) True where the point was invisible at some frame between its query frame and t."""
    num_frames = gt_visible.shape[0]
    hidden = ~np.asarray(gt_visible, dtype=bool)
    frames = np.arange(num_frames)[:, None]
    query = np.asarray(query_frames, dtype=np.int64)[None, :]
    forward = np.maximum.accumulate(hidden & (frames >= query), axis=0)
    backward = np.maximum.accumulate((hidden & (frames <= query))[::-1], axis=0)[::-1]
    return np.where(frames >= query, forward, backward)


def static_pairs(
    gt_tracks: np.ndarray, gt_visible: np.ndarray, threshold_px: float = STATIC_MOTION_PX
) -> np.ndarray:
    """(T-1, N) True where a point is visible in frames t and t+1 and moves < threshold."""
    motion = np.linalg.norm(np.diff(gt_tracks, axis=0), axis=-1)
    return (motion < threshold_px) & gt_visible[:-1] & gt_visible[1:]


def tracking_samples(
    pred_tracks: np.ndarray,
    pred_visible: np.ndarray,
    gt_tracks: np.ndarray,
    gt_visible: np.ndarray,
    query_frames: np.ndarray,
    image_hw: tuple[int, int],
    face_side_256: np.ndarray | None = None,
) -> TrackingSamples:
    """Samples for TAP-Vid metrics and jitter of one sequence.

    Tracks are (T, N, 2) pixel positions (x, y), visibilities (T, N) bool. Errors at
    256 px scale x and y separately (TAP-Vid resizes every video to 256 x 256).
    Non-finite predicted positions count as infinitely wrong. ``face_side_256`` (T, N): the size of
    each point's face (``point_face_sides``), for δ_avg per face size.
    """
    pred = np.asarray(pred_tracks, dtype=np.float64)
    gt = np.asarray(gt_tracks, dtype=np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f"track shapes differ: prediction {pred.shape} vs ground truth {gt.shape}")
    gt_vis = np.asarray(gt_visible, dtype=bool)
    pred_vis = np.asarray(pred_visible, dtype=bool)
    height, width = image_hw
    scale = np.array([TAPVID_IMAGE_SIZE / width, TAPVID_IMAGE_SIZE / height])
    diff = pred - gt
    error_px = np.linalg.norm(diff, axis=-1)
    error_256 = np.linalg.norm(diff * scale, axis=-1)
    error_px[~np.isfinite(error_px)] = np.inf
    error_256[~np.isfinite(error_256)] = np.inf
    scored = evaluation_mask(query_frames, gt.shape[0])
    static = static_pairs(gt, gt_vis)
    jitter = np.linalg.norm(np.diff(pred, axis=0), axis=-1)[static]
    sides = np.full(gt.shape[:2], np.nan) if face_side_256 is None else np.asarray(face_side_256, np.float64)
    if sides.shape != gt.shape[:2]:
        raise ValueError(f"face sizes {sides.shape} do not match the tracks {gt.shape[:2]}")
    return TrackingSamples(
        error_px=error_px[scored],
        error_256=error_256[scored],
        gt_visible=gt_vis[scored],
        pred_visible=pred_vis[scored],
        after_occlusion=(occluded_since_query(gt_vis, query_frames) & gt_vis)[scored],
        jitter_px=jitter[np.isfinite(jitter)],
        face_side_256=sides[scored],
    )


def point_face_sides(labels: np.ndarray, gt_tracks: np.ndarray) -> np.ndarray:
    """(T, N) side (√ pixels, at 256 px scale) of the ground-truth face under each point; NaN where the
    point lies on no labelled face. ``labels`` (T, H, W): face k on its pixels, -1 elsewhere."""
    labels = np.asarray(labels)
    num_frames, height, width = labels.shape
    scale = TAPVID_IMAGE_SIZE / np.sqrt(height * width)
    pixel = np.rint(np.nan_to_num(np.asarray(gt_tracks, dtype=np.float64), nan=-1.0)).astype(np.int64)
    inside = (pixel[..., 0] >= 0) & (pixel[..., 0] < width) & (pixel[..., 1] >= 0) & (pixel[..., 1] < height)
    sides = np.full(pixel.shape[:2], np.nan)
    for t in range(num_frames):
        area = np.bincount(labels[t][labels[t] >= 0].ravel(), minlength=1).astype(np.float64)
        point = np.clip(pixel[t], 0, [width - 1, height - 1])
        face = np.where(inside[t], labels[t][point[:, 1], point[:, 0]], -1)
        on_face = face >= 0
        sides[t, on_face] = np.sqrt(area[face[on_face]]) * scale
    return sides


def _delta_avg(errors_256: np.ndarray) -> float:
    """TAP-Vid δ_avg of a non-empty set of 256-scale errors: the share within each threshold, averaged."""
    return float(np.mean([np.mean(errors_256 < t) for t in TAPVID_THRESHOLDS_PX]))


def summarize_tracking(samples: TrackingSamples) -> dict[str, float]:
    """δ_avg, δ per threshold, median EPE (px), occlusion accuracy and jitter (px)."""
    result: dict[str, float] = {}
    visible_errors = samples.error_256[samples.gt_visible]
    for threshold in TAPVID_THRESHOLDS_PX:
        result[f"delta_{threshold:g}px"] = (
            float(np.mean(visible_errors < threshold)) if visible_errors.size else float("nan")
        )
    result["delta_avg"] = (
        float(np.mean([result[f"delta_{t:g}px"] for t in TAPVID_THRESHOLDS_PX]))
        if visible_errors.size
        else float("nan")
    )
    visible_px = samples.error_px[samples.gt_visible]
    result["epe_median_px"] = float(np.median(visible_px)) if visible_px.size else float("nan")
    result["occlusion_accuracy"] = (
        float(np.mean(samples.pred_visible == samples.gt_visible))
        if samples.gt_visible.size
        else float("nan")
    )
    reappeared = samples.error_256[samples.after_occlusion]
    result["delta_avg_after_occlusion"] = _delta_avg(reappeared) if reappeared.size else float("nan")
    result["points_after_occlusion"] = int(reappeared.size)
    sized = samples.gt_visible & np.isfinite(samples.face_side_256)
    for name, low, high in FACE_SIZE_BINS_256:
        errors = samples.error_256[sized & (samples.face_side_256 >= low) & (samples.face_side_256 < high)]
        if errors.size:
            result[f"delta_avg_{name}"] = _delta_avg(errors)
    result["jitter_px"] = float(np.mean(samples.jitter_px)) if samples.jitter_px.size else float("nan")
    result["tracked_points"] = int(samples.gt_visible.size)
    result["static_pairs"] = int(samples.jitter_px.size)
    return result


# ----------------------------------------------------------------------------- speed


def summarize_speed(frame_times_ms: list[float] | np.ndarray) -> dict[str, float]:
    """Mean ms per frame and the matching frames per second."""
    times = np.asarray(frame_times_ms, dtype=np.float64)
    if times.size == 0:
        return {"ms_per_frame": float("nan"), "fps": float("nan")}
    mean_ms = float(np.mean(times))
    return {"ms_per_frame": mean_ms, "fps": 1000.0 / mean_ms if mean_ms > 0 else float("inf")}

"""Optical flow of tracked points on the face region only, at a bounded resolution.

The fused tracker (``fused_tracker.py``) propagates each point from the previous frame with
flow. Flow is computed only inside the face region (the union of the face's boxes in both
frames, grown by a margin, clipped to the image) resampled so its longer side is at most
``max_side`` pixels: the cost does not grow with the image or the face. Every point is checked
forward-backward (tracked to the new frame and back); a point fails when that round trip misses
by more than ``fb_threshold_px`` (image pixels), when the flow leaves the region, or when the
flow has no answer. Engines: OpenCV's pyramidal Lucas-Kanade on the points (``lk``) and DIS dense
flow sampled at the points (``dis``: the fast preset, ``dis_medium``: the medium one, about 4x the
cost); BENCHMARKS.md has the measured choice.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from face_anything_ros.core.fast_reductions import finite_vectors, norms
from face_anything_ros.runtime.config import FLOW_METHODS

LK_WINDOW_PX = 9  # at the region's working resolution
LK_MAX_LEVEL = 2  # pyramid levels above the base; the face box's motion gives the coarse start
LK_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 10, 0.03)
DIS_PRESETS = {"dis": cv2.DISOPTICAL_FLOW_PRESET_FAST, "dis_medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}
MIN_REGION_SIDE_PX = 8  # smaller regions carry no usable texture for flow


@dataclass(frozen=True)
class FlowResult:
    """Points moved to the new frame (image pixels) and whether each passed the checks."""

    points: np.ndarray  # (N, 2) new positions (NaN where the flow failed)
    ok: np.ndarray  # (N,) bool: forward-backward consistent and inside the region
    fb_error_px: np.ndarray  # (N,) forward-backward round-trip error, image pixels (inf: failed)

    @classmethod
    def failed(cls, count: int) -> FlowResult:
        return cls(np.full((count, 2), np.nan), np.zeros(count, dtype=bool), np.full(count, np.inf))


def face_region(
    boxes_xyxy: list[np.ndarray], margin: float, width: int, height: int
) -> tuple[int, int, int, int] | None:
    """Union of the boxes grown by ``margin`` x their size, clipped to the image; None when empty."""
    finite = [np.asarray(b, dtype=np.float64) for b in boxes_xyxy if np.all(np.isfinite(b))]
    if not finite:
        return None
    stacked = np.stack(finite)
    x0, y0 = stacked[:, :2].min(axis=0)
    x1, y1 = stacked[:, 2:].max(axis=0)
    grow_x, grow_y = margin * (x1 - x0), margin * (y1 - y0)
    left, top = int(max(np.floor(x0 - grow_x), 0)), int(max(np.floor(y0 - grow_y), 0))
    right, bottom = int(min(np.ceil(x1 + grow_x), width)), int(min(np.ceil(y1 + grow_y), height))
    if right - left < MIN_REGION_SIDE_PX or bottom - top < MIN_REGION_SIDE_PX:
        return None
    return left, top, right, bottom


class FaceFlow:
    """Moves points between two grey frames inside a face region (one instance per stream)."""

    def __init__(self, method: str = "lk", max_side: int = 128, fb_threshold_px: float = 1.0) -> None:
        if method not in FLOW_METHODS:
            raise ValueError(f"unknown flow method {method!r}; choose from {FLOW_METHODS}")
        self.method = method
        self.max_side = int(max_side)
        self.fb_threshold_px = float(fb_threshold_px)
        self._dis = cv2.DISOpticalFlow_create(DIS_PRESETS[method]) if method in DIS_PRESETS else None

    def __call__(
        self,
        previous_gray: np.ndarray,
        gray: np.ndarray,
        points: np.ndarray,
        region: tuple[int, int, int, int] | None,
        guess_shift: np.ndarray | None = None,
    ) -> FlowResult:
        """Move ``points`` from ``previous_gray`` to ``gray``; ``guess_shift`` (image px) is the expected
        motion (the face box's), from which the flow starts: the window of a coarse pyramid level holds
        mostly still background, so without it faces moving more than ~10 px per frame are lost."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        count = len(points)
        if region is None or count == 0 or previous_gray.shape != gray.shape:
            return FlowResult.failed(count)
        left, top, right, bottom = region
        scale = min(1.0, self.max_side / max(right - left, bottom - top))
        size = (max(round((right - left) * scale), 1), max(round((bottom - top) * scale), 1))
        before = cv2.resize(previous_gray[top:bottom, left:right], size, interpolation=cv2.INTER_AREA)
        after = cv2.resize(gray[top:bottom, left:right], size, interpolation=cv2.INTER_AREA)
        # region pixel centres map exactly: x_region = (x_image - left + 0.5) * scale - 0.5
        origin = np.array([left, top], dtype=np.float64)
        local = (points - origin + 0.5) * scale - 0.5
        shift = np.zeros(2) if guess_shift is None else np.nan_to_num(np.asarray(guess_shift, float)) * scale
        finite = finite_vectors(local)
        moved = np.full((count, 2), np.nan)
        error = np.full(count, np.inf)
        if finite.any():
            engine = self._lk if self.method == "lk" else self._dense
            moved_local, error_local = engine(before, after, local[finite], shift)
            moved[finite] = (moved_local + 0.5) / scale - 0.5 + origin
            error[finite] = error_local / scale
        inside = (
            (moved[:, 0] >= left)
            & (moved[:, 0] <= right - 1)
            & (moved[:, 1] >= top)
            & (moved[:, 1] <= bottom - 1)
        )
        ok = finite_vectors(moved) & inside & (error <= self.fb_threshold_px)
        return FlowResult(points=np.where(ok[:, None], moved, np.nan), ok=ok, fb_error_px=error)

    @staticmethod
    def _lk(
        before: np.ndarray, after: np.ndarray, points: np.ndarray, shift: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        start = points.astype(np.float32).reshape(-1, 1, 2)
        params = dict(
            winSize=(LK_WINDOW_PX, LK_WINDOW_PX),
            maxLevel=LK_MAX_LEVEL,
            criteria=LK_CRITERIA,
            flags=cv2.OPTFLOW_USE_INITIAL_FLOW,
        )
        step = shift.astype(np.float32)
        forward, status_f, _ = cv2.calcOpticalFlowPyrLK(before, after, start, start + step, **params)
        backward, status_b, _ = cv2.calcOpticalFlowPyrLK(after, before, forward, forward - step, **params)
        error = norms(backward.reshape(-1, 2) - points)
        good = (status_f.ravel() == 1) & (status_b.ravel() == 1)
        return forward.reshape(-1, 2).astype(np.float64), np.where(good, error, np.inf)

    def _dense(
        self, before: np.ndarray, after: np.ndarray, points: np.ndarray, shift: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        assert self._dis is not None
        # DIS refines a flow it is given (same size, 2 x float32): start from the box's motion
        initial = np.empty((*before.shape, 2), np.float32)
        initial[:] = shift
        forward_field = self._dis.calc(before, after, initial)
        initial = np.empty_like(initial)
        initial[:] = -shift
        backward_field = self._dis.calc(after, before, initial)
        moved = points + _sample(forward_field, points)
        back = moved + _sample(backward_field, moved)
        return moved, norms(back - points)


def _sample(field: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear samples (N, 2) of a flow field (H, W, 2) at sub-pixel points, border-clamped."""
    xy = points.astype(np.float32)
    sampled = cv2.remap(
        field,
        xy[:, 0].reshape(-1, 1),
        xy[:, 1].reshape(-1, 1),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return sampled.reshape(len(points), 2).astype(np.float64)

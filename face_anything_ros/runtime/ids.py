"""Stable face ids across frames: Hungarian assignment of detections to tracks.

Cost of pairing a track with a detection = (1 - IoU) + w * centre distance / track
box diagonal. Pairs that neither overlap enough nor lie close enough are gated out
(never matched, whatever the optimum says). Unmatched detections start new tracks;
tracks unmatched for more than ``max_missed_frames`` frames end. Ids are never reused.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from face_anything_ros.runtime.config import IdConfig

_GATED_COST = 1e6  # cost of a forbidden pairing


@dataclass
class Track:
    track_id: int
    box_xyxy: np.ndarray
    age: int = 0  # frames since the track was born (0 on its first frame)
    missed: int = 0  # consecutive frames without a matching detection


def _intersections_and_areas(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairwise intersection areas (M, N) of xyxy boxes a (M,4) and b (N,4), and their areas."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter, area_a, area_b


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes a (M,4) and b (N,4), xyxy."""
    inter, area_a, area_b = _intersections_and_areas(a, b)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def overlap_of_smaller_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over the smaller box's area (1 when one box contains the other)."""
    inter, area_a, area_b = _intersections_and_areas(a, b)
    smaller = np.minimum(area_a[:, None], area_b[None, :])
    return np.where(smaller > 0, inter / np.maximum(smaller, 1e-12), 0.0)


class IdAssigner:
    """Keeps the live tracks and assigns each frame's detections to them."""

    def __init__(self, config: IdConfig) -> None:
        self._config = config
        self._tracks: list[Track] = []
        self._next_id = 0

    @property
    def tracks(self) -> list[Track]:
        return list(self._tracks)

    def reset(self) -> None:
        self._tracks = []

    def update(self, boxes_xyxy: np.ndarray) -> list[Track]:
        """Assign ``boxes`` (N,4); return the track of each box, in box order."""
        boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
        assigned: list[Track | None] = [None] * len(boxes)
        matched_tracks: set[int] = set()
        if self._tracks and len(boxes):
            cost, allowed = self._cost(np.stack([t.box_xyxy for t in self._tracks]), boxes)
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols, strict=True):
                if allowed[r, c]:
                    track = self._tracks[r]
                    track.box_xyxy = boxes[c].copy()
                    track.age += 1
                    track.missed = 0
                    assigned[c] = track
                    matched_tracks.add(r)
        survivors = []
        for index, track in enumerate(self._tracks):
            if index not in matched_tracks:
                track.missed += 1
                track.age += 1
                if track.missed > self._config.max_missed_frames:
                    continue
            survivors.append(track)
        self._tracks = survivors
        for c, track in enumerate(assigned):
            if track is None:
                new_track = Track(track_id=self._next_id, box_xyxy=boxes[c].copy())
                self._next_id += 1
                self._tracks.append(new_track)
                assigned[c] = new_track
        return [t for t in assigned if t is not None]

    def _cost(self, track_boxes: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        iou = iou_matrix(track_boxes, boxes)
        track_centres = 0.5 * (track_boxes[:, :2] + track_boxes[:, 2:])
        centres = 0.5 * (boxes[:, :2] + boxes[:, 2:])
        diagonal = np.linalg.norm(track_boxes[:, 2:] - track_boxes[:, :2], axis=1)
        distance = (
            np.linalg.norm(track_centres[:, None] - centres[None], axis=2)
            / np.maximum(diagonal, 1e-9)[:, None]
        )
        allowed = (iou >= self._config.min_iou) | (distance <= self._config.max_center_distance)
        cost = (1.0 - iou) + self._config.center_weight * distance
        return np.where(allowed, cost, _GATED_COST), allowed

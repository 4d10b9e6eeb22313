"""Crop stabilisation: keep a face's previous box while the detector's box only jitters.

Why: the detector's box of a still face moves by fractions of a pixel from frame to frame (face
mesh refines its own landmarks; BlazeFace boxes are noisy). Every move re-crops the face, the
network sees a slightly different crop and its canonical map shifts, so tracked points jitter on a
face that does not move. Holding the box inside a dead band (a fraction of the face size) removes
that source without lag: any larger move is taken at once.
"""

from __future__ import annotations

import numpy as np


class BoxStabilizer:
    """Per track id, the box used for cropping. ``deadband`` 0 disables it."""

    def __init__(self, deadband: float) -> None:
        if deadband < 0:
            raise ValueError(f"deadband must be >= 0, got {deadband}")
        self._deadband = deadband
        self._boxes: dict[int, np.ndarray] = {}

    def __call__(self, track_id: int, box_xyxy: np.ndarray) -> np.ndarray:
        box = np.asarray(box_xyxy, dtype=np.float64)
        previous = self._boxes.get(track_id)
        if previous is not None and self._within_deadband(previous, box):
            return previous
        self._boxes[track_id] = box
        return box

    def _within_deadband(self, previous: np.ndarray, box: np.ndarray) -> bool:
        side = max(previous[2] - previous[0], previous[3] - previous[1])
        centre_move = np.abs((box[:2] + box[2:]) - (previous[:2] + previous[2:])) / 2
        size_change = np.abs((box[2:] - box[:2]) - (previous[2:] - previous[:2]))
        limit = self._deadband * side
        return bool((centre_move <= limit).all() and (size_change <= limit).all())

    def forget_all_but(self, live_track_ids: set[int]) -> None:
        for track_id in list(self._boxes):
            if track_id not in live_track_ids:
                del self._boxes[track_id]

"""OpenCV pyramidal Lucas-Kanade tracking chained frame to frame."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from face_anything_ros.evaluation.baselines import chain_tracks


@dataclass(frozen=True)
class LKConfig:
    window: int = 21
    pyramid_levels: int = 3
    iterations: int = 30
    epsilon: float = 0.01
    # forward-backward check: a point whose back-tracked position misses by more is lost
    max_forward_backward_px: float = 1.0


def track_lk(
    frames: np.ndarray, queries: np.ndarray, config: LKConfig = LKConfig()
) -> tuple[np.ndarray, np.ndarray]:
    """Track query points with pyramidal LK; points failing the forward-backward check are lost."""
    gray = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in frames]
    height, width = gray[0].shape
    params = dict(
        winSize=(config.window, config.window),
        maxLevel=config.pyramid_levels,
        criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, config.iterations, config.epsilon),
    )

    def step(src: int, dst: int, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p0 = points.astype(np.float32).reshape(-1, 1, 2)
        p1, status, _ = cv2.calcOpticalFlowPyrLK(gray[src], gray[dst], p0, None, **params)
        back, status_back, _ = cv2.calcOpticalFlowPyrLK(gray[dst], gray[src], p1, None, **params)
        moved = p1.reshape(-1, 2).astype(np.float64)
        fb_error = np.linalg.norm(back.reshape(-1, 2) - points, axis=1)
        inside = (
            (moved[:, 0] >= 0) & (moved[:, 0] <= width - 1) & (moved[:, 1] >= 0) & (moved[:, 1] <= height - 1)
        )
        ok = (
            (status.ravel() == 1)
            & (status_back.ravel() == 1)
            & (fb_error < config.max_forward_backward_px)
            & inside
        )
        return moved, ok, ok.copy()

    return chain_tracks(queries, len(frames), step)

"""Dense optical flow (DIS or Farnebäck) chained frame to frame.

Points move by the bilinearly sampled flow between neighbouring frames. A point is
marked occluded where forward and backward flow disagree, but keeps being tracked
(dense flow has no way to lose a point, which is why it drifts).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from face_anything_ros.core.sampling import sample_bilinear
from face_anything_ros.evaluation.baselines import chain_tracks

FLOW_METHODS = ("dis", "farneback")


@dataclass(frozen=True)
class FlowConfig:
    method: str = "dis"  # "dis" or "farneback"
    dis_preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
    # forward-backward flow disagreement above which a point is called occluded (px)
    occlusion_threshold_px: float = 1.5


def _flow_fn(config: FlowConfig):
    if config.method == "dis":
        dis = cv2.DISOpticalFlow_create(config.dis_preset)
        return lambda a, b: dis.calc(a, b, None)
    if config.method == "farneback":
        return lambda a, b: cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 4, 15, 3, 5, 1.2, 0)
    raise ValueError(f"unknown flow method {config.method!r}; choose from {FLOW_METHODS}")


def track_flow(
    frames: np.ndarray, queries: np.ndarray, config: FlowConfig = FlowConfig()
) -> tuple[np.ndarray, np.ndarray]:
    """Chain dense flow through the sequence from each query frame, both directions."""
    gray = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in frames]
    height, width = gray[0].shape
    flow = _flow_fn(config)
    cache: dict[tuple[int, int], np.ndarray] = {}

    def get_flow(src: int, dst: int) -> np.ndarray:
        if (src, dst) not in cache:
            cache[(src, dst)] = flow(gray[src], gray[dst])
        return cache[(src, dst)]

    def step(src: int, dst: int, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        moved = points + sample_bilinear(get_flow(src, dst), points)
        back = sample_bilinear(get_flow(dst, src), moved)
        consistency = np.linalg.norm(moved + back - points, axis=1)
        inside = (
            (moved[:, 0] >= 0) & (moved[:, 0] <= width - 1) & (moved[:, 1] >= 0) & (moved[:, 1] <= height - 1)
        )
        moved[:, 0] = np.clip(moved[:, 0], 0, width - 1)
        moved[:, 1] = np.clip(moved[:, 1], 0, height - 1)
        ok = np.ones(len(points), dtype=bool)
        return moved, ok, (consistency < config.occlusion_threshold_px) & inside

    return chain_tracks(queries, len(frames), step)

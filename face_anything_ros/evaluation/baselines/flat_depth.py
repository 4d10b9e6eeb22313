"""Depth floor: a flat face at the ground truth's median depth.

Not a competitor (it reads the ground truth's median depth and face pixels) but the bar
that gives AbsRel its meaning: a face is shallow compared with its distance, so a flat
plane already scores a small AbsRel; a depth model is only useful well below it.
"""

from __future__ import annotations

import numpy as np


def flat_depth(gt_depth: np.ndarray, face_mask: np.ndarray | None = None) -> np.ndarray:
    """(T, H, W) constant depth per frame = median ground-truth face depth; NaN off the face."""
    out = np.full(gt_depth.shape, np.nan, dtype=np.float32)
    for t, depth in enumerate(gt_depth):
        face = np.isfinite(depth) & (depth > 0)
        if face_mask is not None:
            face &= face_mask[t]
        if face.any():
            out[t][face] = np.median(depth[face])
    return out

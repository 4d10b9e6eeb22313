"""Depth floor: a flat face at the ground truth's median depth.

Not a competitor (it reads the ground truth's median depth and face pixels) but the bar
that gives AbsRel its meaning: a face is shallow compared with its distance, so a flat
plane already scores a small AbsRel; a depth model is only useful well below it.
"""

from __future__ import annotations

import numpy as np


def flat_depth(
    gt_depth: np.ndarray, face_mask: np.ndarray | None = None, face_labels: np.ndarray | None = None
) -> np.ndarray:
    """(T, H, W) each face flat at its median ground-truth depth (faces: ``face_labels``, else
    ``method.mask_faces`` of ``face_mask``; without a mask the whole frame is one face); NaN off the face."""
    from face_anything_ros.evaluation.method import mask_faces

    out = np.full(gt_depth.shape, np.nan, dtype=np.float32)
    for t, depth in enumerate(gt_depth):
        face = np.isfinite(depth) & (depth > 0)
        labels = np.zeros(depth.shape, dtype=np.int32)
        if face_mask is not None:
            face &= face_mask[t]
            labels = mask_faces(face_mask[t])[0] if face_labels is None else face_labels[t]
        for label in np.unique(labels[face]):
            pixels = face & (labels == label)
            out[t][pixels] = np.median(depth[pixels])
    return out

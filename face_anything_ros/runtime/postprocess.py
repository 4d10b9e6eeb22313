"""Model outputs -> per-face crop maps -> full-frame maps (paste-back with z-order).

Pasting warps only the image rectangle covered by each crop (not the whole frame), so
the cost scales with face size, not image size. Where faces overlap, the nearer face
(smaller metric depth) wins, pixel by pixel; a face without metric depth (pose fit
failed) only fills pixels no other face claims.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from face_anything_ros.core.crop import CropBox, image_from_crop_affine
from face_anything_ros.core.fast_reductions import finite_vectors


@dataclass
class CropMaps:
    """One face's maps at crop resolution (S, S[, 3])."""

    relative_depth: np.ndarray  # z / z_median, NaN off-face
    canonical: np.ndarray  # NaN off-face
    mask_probability: np.ndarray  # sigmoid(mask_logits)
    mask: np.ndarray  # bool
    confidence: np.ndarray  # >= 0, 0 off-face


@dataclass
class FrameMaps:
    """Full-frame maps, filled by ``paste_faces``."""

    depth: np.ndarray  # (H, W) float32 metres, NaN off-face
    canonical: np.ndarray  # (H, W, 3) float32, NaN off-face
    mask: np.ndarray  # (H, W) bool
    confidence: np.ndarray  # (H, W) float32, 0 off-face
    face_index: np.ndarray  # (H, W) int16, index into the frame's face list, -1 off-face

    @classmethod
    def empty(cls, height: int, width: int) -> FrameMaps:
        return cls(
            depth=np.full((height, width), np.nan, dtype=np.float32),
            canonical=np.full((height, width, 3), np.nan, dtype=np.float32),
            mask=np.zeros((height, width), dtype=bool),
            confidence=np.zeros((height, width), dtype=np.float32),
            face_index=np.full((height, width), -1, dtype=np.int16),
        )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def split_crop_maps(
    outputs: dict[str, np.ndarray], mask_threshold: float, confidence_reference: float = 1.0
) -> list[CropMaps]:
    """Per-face crop maps from the batched model outputs (B, C, S, S); the confidence is divided by
    the weights' ``confidence_reference`` (model/io.py), so 1 = a typical face pixel."""
    probability = _sigmoid(outputs["mask_logits"][:, 0].astype(np.float32))
    maps = []
    for index in range(probability.shape[0]):
        mask = probability[index] > mask_threshold
        depth = np.where(mask, outputs["depth"][index, 0], np.nan).astype(np.float32)
        canonical = np.where(mask[..., None], outputs["canonical"][index].transpose(1, 2, 0), np.nan).astype(
            np.float32
        )
        confidence = np.where(
            mask, np.maximum(outputs["confidence"][index, 0], 0.0) / confidence_reference, 0.0
        ).astype(np.float32)
        maps.append(CropMaps(depth, canonical, probability[index], mask, confidence))
    return maps


def _image_window(box: CropBox, height: int, width: int) -> tuple[int, int, int, int] | None:
    """Integer image rectangle (x0, y0, x1, y1) covered by the crop, clipped to the image."""
    x0 = max(math.floor(box.x0), 0)
    y0 = max(math.floor(box.y0), 0)
    x1 = min(math.ceil(box.x0 + box.side), width)
    y1 = min(math.ceil(box.y0 + box.side), height)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def paste_faces(
    frame: FrameMaps,
    crops: list[CropMaps],
    boxes: list[CropBox],
    median_depths_m: list[float],
    mask_threshold: float,
) -> None:
    """Paste every face's metric depth, canonical, mask and confidence into ``frame`` (in place)."""
    height, width = frame.mask.shape
    order = sorted(range(len(crops)), key=lambda i: (math.isnan(median_depths_m[i]), -median_depths_m[i]))
    for index in order:  # far to near, then faces without depth (they only fill unclaimed pixels)
        crop, box, scale = crops[index], boxes[index], median_depths_m[index]
        window = _image_window(box, height, width)
        if window is None:
            continue
        x0, y0, x1, y1 = window
        size = crop.mask.shape[0]
        inverse = image_from_crop_affine(box, size)
        inverse[:, 2] -= (x0, y0)  # warp straight into the window
        stack = np.dstack(
            [crop.relative_depth * np.float32(scale), crop.canonical, crop.mask_probability, crop.confidence]
        )
        warped = cv2.warpAffine(
            stack,
            inverse,
            (x1 - x0, y1 - y0),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=np.nan,
        )
        depth, canonical = warped[..., 0], warped[..., 1:4]
        on_face = (warped[..., 4] > mask_threshold) & finite_vectors(canonical)
        existing = frame.depth[y0:y1, x0:x1]
        nearer = on_face & ~(existing <= depth)  # NaN compares False: empty pixels are always taken
        if math.isnan(scale):
            nearer &= ~frame.mask[y0:y1, x0:x1]
        np.copyto(frame.depth[y0:y1, x0:x1], depth, where=nearer)
        np.copyto(frame.canonical[y0:y1, x0:x1], canonical, where=nearer[..., None])
        np.copyto(frame.confidence[y0:y1, x0:x1], np.nan_to_num(warped[..., 5], nan=0.0), where=nearer)
        frame.mask[y0:y1, x0:x1] |= nearer
        np.copyto(frame.face_index[y0:y1, x0:x1], np.int16(index), where=nearer)

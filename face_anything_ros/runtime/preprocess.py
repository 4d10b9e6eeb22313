"""Frame validation and batched face crops: the model's input tensor."""

from __future__ import annotations

import cv2
import numpy as np

from face_anything_ros.core.crop import CropBox, crop_box_from_face_box, crop_image


class InvalidFrameError(ValueError):
    """The frame cannot be processed (empty, wrong dtype or channel count)."""


def to_rgb_uint8(frame: np.ndarray) -> np.ndarray:
    """Validate a frame and return it as contiguous (H, W, 3) uint8 RGB.

    Accepted: uint8 (H, W) or (H, W, 1) grey (replicated to RGB), (H, W, 3) RGB,
    (H, W, 4) RGBA (alpha dropped). Anything else (other dtypes, zero size, other
    channel counts) raises ``InvalidFrameError``; callers convert 16-bit or float
    images themselves because their range is not knowable here.
    """
    if not isinstance(frame, np.ndarray):
        raise InvalidFrameError(f"frame must be a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise InvalidFrameError(f"frame must be uint8, got {frame.dtype}")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[..., 0]
    if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] not in (3, 4)):
        raise InvalidFrameError(
            f"frame must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got shape {frame.shape}"
        )
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise InvalidFrameError(f"frame has zero size: shape {frame.shape}")
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_RGBA2RGB)
    return np.ascontiguousarray(frame)


def crop_batch(rgb: np.ndarray, boxes_xyxy: list[np.ndarray], size: int) -> tuple[np.ndarray, list[CropBox]]:
    """Square crops of every face (the training crop policy, core/crop.py) as the model input
    (B, 3, size, size) float32 RGB in [0, 1]."""
    crop_boxes = [crop_box_from_face_box(box) for box in boxes_xyxy]
    batch = np.empty((len(crop_boxes), size, size, 3), dtype=np.uint8)
    for index, box in enumerate(crop_boxes):
        batch[index] = crop_image(rgb, box, size)
    images = batch.transpose(0, 3, 1, 2).astype(np.float32) * np.float32(1.0 / 255.0)
    return np.ascontiguousarray(images), crop_boxes

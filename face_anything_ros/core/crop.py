"""The face-crop policy shared by training and inference.

The model only ever sees square crops around a face. Training crops (from the
synthetic ground-truth face box) and runtime crops (from the detector's box) are
made by the same functions, so the model is trained on exactly what it is fed.

A crop is an axis-aligned square in image pixels, resampled to ``size``x``size``
with an affine warp (pixels outside the image are filled with zeros). The crop
keeps a pinhole model: its intrinsics are the image intrinsics shifted and scaled.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Side of the square crop relative to the larger side of the face box. The face
# box is the box of the 468 template landmarks (forehead to chin, ear to ear).
DEFAULT_CROP_SCALE = 1.35


@dataclass(frozen=True)
class CropBox:
    """A square crop window in image pixels (continuous coordinates)."""

    cx: float
    cy: float
    side: float

    @property
    def x0(self) -> float:
        return self.cx - 0.5 * self.side

    @property
    def y0(self) -> float:
        return self.cy - 0.5 * self.side

    def scale_to(self, size: int) -> float:
        """Crop pixels per image pixel when resampled to ``size``."""
        return size / self.side


def crop_box_from_face_box(
    box_xyxy: np.ndarray | tuple[float, float, float, float],
    crop_scale: float = DEFAULT_CROP_SCALE,
) -> CropBox:
    """Square crop centred on a face box, ``crop_scale`` times its larger side."""
    x0, y0, x1, y1 = (float(v) for v in box_xyxy)
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"face box must have positive size, got {box_xyxy!r}")
    side = max(x1 - x0, y1 - y0) * crop_scale
    return CropBox(cx=0.5 * (x0 + x1), cy=0.5 * (y0 + y1), side=side)


def crop_affine(box: CropBox, size: int) -> np.ndarray:
    """2x3 affine matrix mapping image pixel centres to crop pixel centres."""
    s = box.scale_to(size)
    # pixel-centre convention: image pixel u maps to crop pixel (u + 0.5 - x0) * s - 0.5
    return np.array(
        [[s, 0.0, (0.5 - box.x0) * s - 0.5], [0.0, s, (0.5 - box.y0) * s - 0.5]],
        dtype=np.float64,
    )


def crop_image(
    image: np.ndarray, box: CropBox, size: int, interpolation: int = cv2.INTER_LINEAR
) -> np.ndarray:
    """Resample the crop window of ``image`` (H, W[, C]) to ``size`` x ``size``."""
    return cv2.warpAffine(
        image,
        crop_affine(box, size),
        (size, size),
        flags=interpolation,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def crop_intrinsics(
    fx: float, fy: float, cx: float, cy: float, box: CropBox, size: int
) -> tuple[float, float, float, float]:
    """Pinhole intrinsics of the resampled crop."""
    a = crop_affine(box, size)
    return fx * a[0, 0], fy * a[1, 1], cx * a[0, 0] + a[0, 2], cy * a[1, 1] + a[1, 2]


def image_from_crop_affine(box: CropBox, size: int) -> np.ndarray:
    """(2, 3) affine from crop pixels back to image pixels: the inverse of ``crop_affine``.

    Used to warp crop maps into the image (``runtime/postprocess.paste_faces``) and to carry
    crop pixel positions to image positions (``crop_to_image_pixels``).
    """
    return cv2.invertAffineTransform(crop_affine(box, size))


def crop_to_image_pixels(pixels: np.ndarray, box: CropBox, size: int) -> np.ndarray:
    """Image pixel positions (N, 2) of crop pixel positions (N, 2)."""
    inverse = image_from_crop_affine(box, size)
    return np.asarray(pixels, dtype=np.float64) @ inverse[:, :2].T + inverse[:, 2]


def image_to_crop_pixels(pixels: np.ndarray, box: CropBox, size: int) -> np.ndarray:
    """Crop pixel positions (N, 2) of image pixel positions (N, 2) (``crop_affine``)."""
    affine = crop_affine(box, size)
    return np.asarray(pixels, dtype=np.float64) @ affine[:, :2].T + affine[:, 2]

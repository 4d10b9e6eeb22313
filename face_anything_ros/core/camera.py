"""The pinhole camera: one ``Intrinsics`` for frames and crops, and the one default when none is known.

OpenCV convention: x right, y down, z forward, pixel centres at integer coordinates. Intrinsics
come from a calibration matrix K (``from_matrix``), a field of view (``from_fov``), a JSON-style
mapping (``from_mapping``, the sequence-folder ``intrinsics.json``), or another image's camera
(``scaled_to`` a resized stream, ``for_crop`` a square crop). ``resolve_intrinsics`` is the single
place that decides what camera a frame is assumed to have when its own is missing or sized for
another resolution; the node, bag replay, ``run`` and the pipeline all ask it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from face_anything_ros.core.crop import CropBox, crop_intrinsics

# Horizontal field of view assumed when a frame comes without intrinsics: a typical webcam /
# laptop camera (60 deg). The node's ``default_fov_deg`` parameter overrides it.
DEFAULT_HFOV_DEG = 60.0
INTRINSIC_KEYS = ("fx", "fy", "cx", "cy", "width", "height")


def focal_from_fov(hfov_deg: float, width: float) -> float:
    """Focal length (px) of a pinhole ``width`` pixels wide with horizontal FOV ``hfov_deg``."""
    if not 0.0 < hfov_deg < 180.0:
        raise ValueError(f"horizontal FOV must be in (0, 180) degrees, got {hfov_deg}")
    return 0.5 * width / math.tan(math.radians(hfov_deg) / 2.0)


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of an image or crop; validated on construction."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def __post_init__(self) -> None:
        values = (self.fx, self.fy, self.cx, self.cy)
        if not all(
            isinstance(v, int | float | np.floating | np.integer) and math.isfinite(v) for v in values
        ):
            raise ValueError(f"intrinsics must be finite numbers, got fx,fy,cx,cy={values}")
        if self.fx <= 0 or self.fy <= 0:
            raise ValueError(f"focal lengths must be positive, got fx={self.fx}, fy={self.fy}")
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise ValueError(f"image size must be positive, got {self.width}x{self.height}")

    @classmethod
    def from_fov(cls, width: int, height: int, hfov_deg: float) -> Intrinsics:
        """Square-pixel pinhole with the given horizontal field of view, centred principal point."""
        focal = focal_from_fov(hfov_deg, width)
        return cls(fx=focal, fy=focal, cx=width / 2.0, cy=height / 2.0, width=int(width), height=int(height))

    @classmethod
    def from_matrix(cls, k: np.ndarray, width: int, height: int) -> Intrinsics:
        """From a 3x3 calibration matrix K (or the 3x4 projection P: its left 3x3 block)."""
        k = np.asarray(k, dtype=np.float64).reshape(3, -1)[:, :3]
        return cls(fx=k[0, 0], fy=k[1, 1], cx=k[0, 2], cy=k[1, 2], width=int(width), height=int(height))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Intrinsics:
        """From ``{"fx", "fy", "cx", "cy", "width", "height"}`` (ValueError naming a missing key)."""
        missing = [key for key in INTRINSIC_KEYS if key not in values]
        if missing:
            raise ValueError(
                f"intrinsics need the keys {', '.join(INTRINSIC_KEYS)}; missing {', '.join(missing)}"
            )
        return cls(
            fx=values["fx"],
            fy=values["fy"],
            cx=values["cx"],
            cy=values["cy"],
            width=int(values["width"]),
            height=int(values["height"]),
        )

    def as_dict(self) -> dict[str, float]:
        return {
            "fx": self.fx,
            "fy": self.fy,
            "cx": self.cx,
            "cy": self.cy,
            "width": self.width,
            "height": self.height,
        }

    def as_array(self) -> np.ndarray:
        """(4,) float32 fx, fy, cx, cy (the renderer's and the training batch's layout)."""
        return np.array([self.fx, self.fy, self.cx, self.cy], dtype=np.float32)

    @property
    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def for_crop(self, box: CropBox, size: int) -> Intrinsics:
        """Intrinsics of the ``size`` x ``size`` crop resampled from ``box``."""
        fx, fy, cx, cy = crop_intrinsics(self.fx, self.fy, self.cx, self.cy, box, size)
        return Intrinsics(fx=fx, fy=fy, cx=cx, cy=cy, width=size, height=size)

    def scaled_to(self, width: int, height: int) -> Intrinsics:
        """The same camera at another resolution (camera_info of a binned or resized stream)."""
        if (self.width, self.height) == (width, height):
            return self
        sx, sy = width / self.width, height / self.height
        return Intrinsics(
            fx=self.fx * sx,
            fy=self.fy * sy,
            cx=(self.cx + 0.5) * sx - 0.5,
            cy=(self.cy + 0.5) * sy - 0.5,
            width=width,
            height=height,
        )


def resolve_intrinsics(
    known: Intrinsics | None, width: int, height: int, hfov_deg: float = DEFAULT_HFOV_DEG
) -> Intrinsics:
    """The camera of a ``width`` x ``height`` frame: ``known`` scaled to the frame, else the FOV pinhole.

    Callers log why they fell back (no camera_info yet, an invalid K, no intrinsics.json).
    """
    if known is None:
        return Intrinsics.from_fov(width, height, hfov_deg)
    return known.scaled_to(width, height)


def project(points: np.ndarray, camera: Intrinsics) -> np.ndarray:
    """Pixel coordinates (..., 2) of camera-frame points (..., 3)."""
    z = points[..., 2]
    return np.stack(
        [camera.fx * points[..., 0] / z + camera.cx, camera.fy * points[..., 1] / z + camera.cy], axis=-1
    )

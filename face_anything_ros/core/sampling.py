"""Sub-pixel reads of image-shaped maps: the one bilinear sampler of the package.

Positions are (x, y) with pixel centres at integer coordinates (the convention of core/crop.py
and core/camera.py). The sampler is NaN-aware, so it serves maps that are only defined on the
face (depth, canonical coordinates) as well as dense fields (optical flow):

- a neighbour with any non-finite channel drops out and the others are re-weighted;
- positions beyond the border read the border pixel (clamped);
- where all four neighbours are unknown, the nearest known pixel within ``snap_radius_px``
  is taken (0 = none: NaN).
"""

from __future__ import annotations

import numpy as np

from face_anything_ros.core.fast_reductions import finite_vectors


def sample_bilinear(image: np.ndarray, points: np.ndarray, snap_radius_px: int = 0) -> np.ndarray:
    """Values of an (H, W) or (H, W, C) map at (N, 2) x, y positions: (N,) or (N, C) float64.

    Non-finite positions give NaN.
    """
    image = np.asarray(image)
    channels = image[..., None] if image.ndim == 2 else image
    height, width = channels.shape[:2]
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    out = np.full((len(points), channels.shape[2]), np.nan)
    finite = finite_vectors(points)
    if finite.any():
        x = np.clip(points[finite, 0], 0, width - 1)
        y = np.clip(points[finite, 1], 0, height - 1)
        x0 = np.minimum(np.floor(x).astype(np.int64), max(width - 2, 0))
        y0 = np.minimum(np.floor(y).astype(np.int64), max(height - 2, 0))
        x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
        fx, fy = (x - x0)[:, None], (y - y0)[:, None]
        total = np.zeros((len(x), channels.shape[2]))
        weight_sum = np.zeros((len(x), 1))
        for xs, ys, weight in (
            (x0, y0, (1 - fx) * (1 - fy)),
            (x1, y0, fx * (1 - fy)),
            (x0, y1, (1 - fx) * fy),
            (x1, y1, fx * fy),
        ):
            values = channels[ys, xs].astype(np.float64)
            known = finite_vectors(values)[:, None] & (weight > 0)
            total += np.where(known, values * weight, 0.0)
            weight_sum += np.where(known, weight, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[finite] = np.where(weight_sum > 0, total / weight_sum, np.nan)
        if snap_radius_px > 0:
            missing = np.flatnonzero(finite)[np.isnan(out[finite]).any(axis=1)]
            for n in missing:
                out[n] = _nearest_known(channels, points[n], snap_radius_px)
    return out[:, 0] if image.ndim == 2 else out


def _nearest_known(channels: np.ndarray, point: np.ndarray, radius: int) -> np.ndarray:
    """The nearest pixel with all channels finite in the window of ``radius`` around ``point``."""
    height, width = channels.shape[:2]
    x0, y0 = int(np.floor(point[0])), int(np.floor(point[1]))
    ys, xs = np.mgrid[
        max(y0 - radius, 0) : min(y0 + radius + 2, height), max(x0 - radius, 0) : min(x0 + radius + 2, width)
    ]
    window = channels[ys, xs]
    known = finite_vectors(window)
    if not known.any():
        return np.full(channels.shape[2], np.nan)
    d2 = np.where(known, (xs - point[0]) ** 2 + (ys - point[1]) ** 2, np.inf)
    return window[np.unravel_index(np.argmin(d2), d2.shape)].astype(np.float64)


def sample_nearest(image: np.ndarray, points: np.ndarray, fill: float = np.nan) -> np.ndarray:
    """Values of an (H, W) or (H, W, C) map at the pixels nearest (N, 2) x, y: (N,) or (N, C) float64.

    ``fill`` stands for positions outside the image or not finite and for unknown (non-finite) values
    (NaN keeps them unknown; 0 suits weight maps).
    """
    image = np.asarray(image)
    channels = image[..., None] if image.ndim == 2 else image
    height, width = channels.shape[:2]
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    out = np.full((len(points), channels.shape[2]), fill, dtype=np.float64)
    finite = finite_vectors(points)
    xy = np.zeros((len(points), 2), dtype=np.int64)
    xy[finite] = np.rint(points[finite]).astype(np.int64)
    inside = finite & (xy[:, 0] >= 0) & (xy[:, 0] < width) & (xy[:, 1] >= 0) & (xy[:, 1] < height)
    values = channels[xy[inside, 1], xy[inside, 0]].astype(np.float64)
    out[inside] = np.where(np.isfinite(values), values, fill)
    return out[:, 0] if image.ndim == 2 else out

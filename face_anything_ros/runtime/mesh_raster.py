"""A small vectorised z-buffer rasteriser (numpy) for the 468-vertex template at crop resolution.

Why not the generator's rasteriser (synth/raster.py): the runtime must not import the generator,
and at 128 px with ~900 triangles a numpy pass over the triangles' bounding boxes (every
(triangle, pixel) pair at once, then the nearest fragment per pixel) takes about a millisecond.
Pixel centres sit at integer coordinates (crop.py's convention). Barycentrics are screen-space
(affine); ``perspective=True`` makes them perspective-correct for camera-space depths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_INSIDE_EPS = 1e-6  # barycentric tolerance so shared edges never crack


@dataclass(frozen=True)
class MeshFragments:
    triangle: np.ndarray  # (H, W) int64, -1 = background
    bary: np.ndarray  # (H, W, 3) float64 barycentrics of the nearest triangle (0 on background)
    depth: np.ndarray  # (H, W) float64 interpolated depth, NaN on background


def rasterize_mesh(
    screen: np.ndarray,
    faces: np.ndarray,
    height: int,
    width: int,
    cull_backfaces: bool = True,
    perspective: bool = False,
) -> MeshFragments:
    """Nearest-triangle fragments of ``screen`` vertices (V, 3) = (x, y, depth) for ``faces`` (F, 3).

    Front faces are wound clockwise in image coordinates (y down), what the template's outward
    (counter-clockwise) triangles become when seen from the front by an OpenCV camera.
    """
    tri = screen[faces]  # (F, 3, 3)
    u, v, z = tri[..., 0], tri[..., 1], tri[..., 2]
    area = (u[:, 1] - u[:, 0]) * (v[:, 2] - v[:, 0]) - (u[:, 2] - u[:, 0]) * (v[:, 1] - v[:, 0])
    keep = np.isfinite(tri).all(axis=(1, 2)) & (area < 0 if cull_backfaces else area != 0)
    if perspective:
        keep &= (z > 0).all(axis=1)
    x0 = np.clip(np.ceil(np.nan_to_num(u.min(axis=1), nan=0.0)), 0, width)
    x1 = np.clip(np.floor(np.nan_to_num(u.max(axis=1), nan=-1.0)), -1, width - 1)
    y0 = np.clip(np.ceil(np.nan_to_num(v.min(axis=1), nan=0.0)), 0, height)
    y1 = np.clip(np.floor(np.nan_to_num(v.max(axis=1), nan=-1.0)), -1, height - 1)
    keep &= (x1 >= x0) & (y1 >= y0)
    index = np.nonzero(keep)[0]
    triangle = np.full(height * width, -1, dtype=np.int64)
    bary_out = np.zeros((height * width, 3))
    depth_out = np.full(height * width, np.nan)
    if index.size:
        # per triangle, barycentrics w0, w1 and depth as planes a*x + b*y + c in screen space
        planes = _screen_planes(u[index], v[index], area[index], 1.0 / z[index] if perspective else z[index])
        box_w = (x1[index] - x0[index] + 1).astype(np.int64)
        box_h = (y1[index] - y0[index] + 1).astype(np.int64)
        counts = box_w * box_h
        owner = np.repeat(np.arange(index.size), counts)
        offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        px = (x0[index][owner] + offset % box_w[owner]).astype(np.float64)
        py = (y0[index][owner] + offset // box_w[owner]).astype(np.float64)
        coef = planes.take(owner, axis=0)
        w0 = coef[:, 0] * px + coef[:, 1] * py + coef[:, 2]
        w1 = coef[:, 3] * px + coef[:, 4] * py + coef[:, 5]
        inside = (w0 >= -_INSIDE_EPS) & (w1 >= -_INSIDE_EPS) & (w0 + w1 <= 1.0 + _INSIDE_EPS)
        owner, px, py, coef = owner[inside], px[inside], py[inside], coef[inside]
        depth = coef[:, 6] * px + coef[:, 7] * py + coef[:, 8]
        if perspective:
            depth = 1.0 / depth  # the plane holds 1/z
        pixel = py.astype(np.int64) * width + px.astype(np.int64)
        order = np.lexsort((depth, pixel))  # per pixel, nearest fragment first
        first = order[np.unique(pixel[order], return_index=True)[1]]
        winner, hit = index[owner[first]], pixel[first]
        w0 = coef[first, 0] * px[first] + coef[first, 1] * py[first] + coef[first, 2]
        w1 = coef[first, 3] * px[first] + coef[first, 4] * py[first] + coef[first, 5]
        bary = np.stack([w0, w1, 1.0 - w0 - w1], axis=1)
        if perspective:  # screen-space weights / z, renormalised: perspective-correct
            bary = bary / z[winner]
            bary /= bary.sum(axis=1, keepdims=True)
        triangle[hit] = winner
        bary_out[hit] = bary
        depth_out[hit] = depth[first]
    return MeshFragments(
        triangle=triangle.reshape(height, width),
        bary=bary_out.reshape(height, width, 3),
        depth=depth_out.reshape(height, width),
    )


def _screen_planes(u: np.ndarray, v: np.ndarray, area: np.ndarray, value: np.ndarray) -> np.ndarray:
    """(F, 9) coefficients (a, b, c) of w0, w1 and ``value`` as planes over screen x, y."""
    inv = 1.0 / area
    a0, b0 = (v[:, 1] - v[:, 2]) * inv, (u[:, 2] - u[:, 1]) * inv
    c0 = (u[:, 1] * v[:, 2] - u[:, 2] * v[:, 1]) * inv
    a1, b1 = (v[:, 2] - v[:, 0]) * inv, (u[:, 0] - u[:, 2]) * inv
    c1 = (u[:, 2] * v[:, 0] - u[:, 0] * v[:, 2]) * inv
    a2, b2, c2 = -a0 - a1, -b0 - b1, 1.0 - c0 - c1
    planes = [a0, b0, c0, a1, b1, c1]
    planes += [a0 * value[:, 0] + a1 * value[:, 1] + a2 * value[:, 2]]
    planes += [b0 * value[:, 0] + b1 * value[:, 1] + b2 * value[:, 2]]
    planes += [c0 * value[:, 0] + c1 * value[:, 1] + c2 * value[:, 2]]
    return np.stack(planes, axis=1)


def interpolate_vertex_values(fragments: MeshFragments, faces: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(H, W, C) per-vertex ``values`` (V, C) interpolated at every pixel; NaN on background."""
    covered = fragments.triangle >= 0
    out = np.full((*fragments.triangle.shape, values.shape[1]), np.nan)
    corners = faces[fragments.triangle[covered]]  # (P, 3)
    bary = fragments.bary[covered]
    out[covered] = sum(bary[:, k, None] * values[corners[:, k]] for k in range(3))
    return out

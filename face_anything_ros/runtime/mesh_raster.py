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
        box_w = (x1[index] - x0[index] + 1).astype(np.int64)
        box_h = (y1[index] - y0[index] + 1).astype(np.int64)
        counts = box_w * box_h
        owner = np.repeat(np.arange(index.size), counts)
        offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        px = x0[index][owner] + offset % box_w[owner]
        py = y0[index][owner] + offset // box_w[owner]
        t = index[owner]
        tu, tv = u[t], v[t]
        inv_area = 1.0 / area[t]
        w0 = ((tu[:, 1] - px) * (tv[:, 2] - py) - (tu[:, 2] - px) * (tv[:, 1] - py)) * inv_area
        w1 = ((tu[:, 2] - px) * (tv[:, 0] - py) - (tu[:, 0] - px) * (tv[:, 2] - py)) * inv_area
        bary = np.stack([w0, w1, 1.0 - w0 - w1], axis=1)
        inside = (bary >= -_INSIDE_EPS).all(axis=1)
        bary, t = bary[inside], t[inside]
        pixel = (py[inside] * width + px[inside]).astype(np.int64)
        if perspective:
            weighted = bary / z[t]
            inv_depth = weighted.sum(axis=1)
            bary, depth = weighted / inv_depth[:, None], 1.0 / inv_depth
        else:
            depth = (bary * z[t]).sum(axis=1)
        order = np.lexsort((depth, pixel))  # per pixel, nearest fragment first
        first = order[np.unique(pixel[order], return_index=True)[1]]
        triangle[pixel[first]] = t[first]
        bary_out[pixel[first]] = bary[first]
        depth_out[pixel[first]] = depth[first]
    return MeshFragments(
        triangle=triangle.reshape(height, width),
        bary=bary_out.reshape(height, width, 3),
        depth=depth_out.reshape(height, width),
    )


def interpolate_vertex_values(fragments: MeshFragments, faces: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(H, W, C) per-vertex ``values`` (V, C) interpolated at every pixel; NaN on background."""
    covered = fragments.triangle >= 0
    out = np.full((*fragments.triangle.shape, values.shape[1]), np.nan)
    corners = faces[fragments.triangle[covered]]  # (P, 3)
    out[covered] = np.einsum("pk,pkc->pc", fragments.bary[covered], values[corners])
    return out

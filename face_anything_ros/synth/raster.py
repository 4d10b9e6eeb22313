"""Vectorised triangle rasteriser with a z-buffer (torch, CPU), exact perspective GT.

Why not OpenGL: no GPU/display here, and ground truth must be exact. Each triangle's
rows get their exact pixel span from its three edge lines (work ∝ covered area, all in
tensor ops), and a single ``scatter_reduce(amin)`` on a 64-bit key
(depth bits << 32 | triangle index) resolves visibility. A second pass recomputes the
winning triangle's barycentrics per pixel and makes them perspective-correct, so
depth, canonical coordinates and any vertex attribute are exact for the planar
triangles that are drawn. Pixel centres sit at integer coordinates (crop.py's convention).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

NEAR_Z = 1e-3
_EMPTY = torch.iinfo(torch.int64).max
_SPAN_EPS = 1e-4  # pixels; spans are slightly inclusive so shared edges never crack


@dataclass
class Fragments:
    """Per-pixel rasterisation result for a batch of images."""

    triangle: torch.Tensor  # (B, H, W) int64, -1 = background
    bary: torch.Tensor  # (B, H, W, 3) float32 perspective-correct barycentrics (0 on background)
    depth: torch.Tensor  # (B, H, W) float32 camera z, +inf on background


def _edge(ax, ay, bx, by, px, py):
    return (bx - ax) * (py - ay) - (by - ay) * (px - ax)


def _scan_triangles(zbuf, b_idx, f_idx, u, v, z, area, x0, x1, y0, y1, height, width) -> None:
    """Depth-test every covered pixel centre of the selected triangles into ``zbuf``.

    Work is proportional to the covered area: each (triangle, row) pair gets its exact
    x-span from the three edge lines, then spans expand to pixels.
    """
    su, sv, sz, sa = u[b_idx, f_idx], v[b_idx, f_idx], z[b_idx, f_idx], area[b_idx, f_idx]
    # normalised edge functions w_i(x, y) = A_i x + B_i y + C_i (barycentric of vertex i)
    a_u, a_v = su[:, [1, 2, 0]], sv[:, [1, 2, 0]]
    b_u, b_v = su[:, [2, 0, 1]], sv[:, [2, 0, 1]]
    inv_area = 1.0 / sa[:, None]
    coef_a = -(b_v - a_v) * inv_area
    coef_b = (b_u - a_u) * inv_area
    coef_c = ((b_v - a_v) * a_u - (b_u - a_u) * a_v) * inv_area
    # 1/z is affine in screen space: 1/z = P x + Q y + R
    inv_z = 1.0 / sz
    plane_p = (coef_a * inv_z).sum(1)
    plane_q = (coef_b * inv_z).sum(1)
    plane_r = (coef_c * inv_z).sum(1)
    ty0 = y0[b_idx, f_idx].long()
    rows = y1[b_idx, f_idx].long() - ty0 + 1
    row_tri = torch.repeat_interleave(torch.arange(len(rows)), rows)
    row_start = torch.cumsum(rows, 0) - rows
    row_y = ty0[row_tri] + (torch.arange(len(row_tri)) - row_start[row_tri])
    fy = row_y.float()
    ra, rd = coef_a[row_tri], coef_b[row_tri] * fy[:, None] + coef_c[row_tri]
    bound = -rd / torch.where(ra == 0, torch.ones_like(ra), ra)
    lower = torch.where(ra > 0, bound, torch.full_like(bound, -float("inf"))).amax(1)
    upper = torch.where(ra < 0, bound, torch.full_like(bound, float("inf"))).amin(1)
    blocked = ((ra == 0) & (rd < 0)).any(1)
    xl = torch.maximum(torch.ceil(lower - _SPAN_EPS), x0[b_idx, f_idx][row_tri]).clamp(min=0)
    xr = torch.minimum(torch.floor(upper + _SPAN_EPS), x1[b_idx, f_idx][row_tri]).clamp(max=width - 1)
    count = torch.where(blocked, torch.zeros_like(xl), (xr - xl + 1).clamp(min=0)).long()
    pix_row = torch.repeat_interleave(torch.arange(len(count)), count)
    pix_start = torch.cumsum(count, 0) - count
    px = xl.long()[pix_row] + (torch.arange(len(pix_row)) - pix_start[pix_row])
    py = row_y[pix_row]
    tri = row_tri[pix_row]
    inv = plane_p[tri] * px.float() + plane_q[tri] * py.float() + plane_r[tri]
    depth = (1.0 / inv).float()
    key = (depth.view(torch.int32).long() << 32) | f_idx[tri]
    pixel = b_idx[tri] * (height * width) + py * width + px
    zbuf.scatter_reduce_(0, pixel, key, reduce="amin")


def rasterize(
    screen: torch.Tensor, faces: torch.Tensor, height: int, width: int, cull_backfaces: bool = True
) -> Fragments:
    """Rasterise ``screen`` vertices (B, V, 3) = (u, v, z camera depth) of triangles ``faces`` (F, 3).

    Front faces are those wound clockwise in image coordinates (y down), which is what a
    counter-clockwise (outward) mesh becomes under an OpenCV camera.
    """
    batch = screen.shape[0]
    tri = screen[:, faces]  # (B, F, 3, 3)
    u, v, z = tri[..., 0], tri[..., 1], tri[..., 2]
    area = _edge(u[..., 0], v[..., 0], u[..., 1], v[..., 1], u[..., 2], v[..., 2])
    valid = (z > NEAR_Z).all(-1)
    valid &= area < 0 if cull_backfaces else area != 0
    x0 = torch.ceil(u.min(-1).values).clamp(min=0)
    x1 = torch.floor(u.max(-1).values).clamp(max=width - 1)
    y0 = torch.ceil(v.min(-1).values).clamp(min=0)
    y1 = torch.floor(v.max(-1).values).clamp(max=height - 1)
    valid &= (x1 >= x0) & (y1 >= y0)
    b_idx, f_idx = valid.nonzero(as_tuple=True)
    zbuf = torch.full((batch * height * width,), _EMPTY, dtype=torch.int64)
    if b_idx.numel():
        _scan_triangles(zbuf, b_idx, f_idx, u, v, z, area, x0, x1, y0, y1, height, width)
    hit = zbuf != _EMPTY
    triangle = torch.full((batch * height * width,), -1, dtype=torch.int64)
    bary = torch.zeros((batch * height * width, 3), dtype=torch.float32)
    depth_out = torch.full((batch * height * width,), float("inf"), dtype=torch.float32)
    pixel = hit.nonzero(as_tuple=True)[0]
    if pixel.numel():
        f = zbuf[pixel] & 0xFFFFFFFF
        b = pixel // (height * width)
        rest = pixel % (height * width)
        fy, fx = (rest // width).float(), (rest % width).float()
        su, sv, sz = u[b, f], v[b, f], z[b, f]
        sa = area[b, f]
        w0 = _edge(su[:, 1], sv[:, 1], su[:, 2], sv[:, 2], fx, fy) / sa
        w1 = _edge(su[:, 2], sv[:, 2], su[:, 0], sv[:, 0], fx, fy) / sa
        w2 = 1.0 - w0 - w1
        pw = torch.stack([w0 / sz[:, 0], w1 / sz[:, 1], w2 / sz[:, 2]], dim=1)
        inv_z = pw.sum(dim=1)
        triangle[pixel] = f
        bary[pixel] = (pw / inv_z[:, None]).float()
        depth_out[pixel] = (1.0 / inv_z).float()
    return Fragments(
        triangle=triangle.view(batch, height, width),
        bary=bary.view(batch, height, width, 3),
        depth=depth_out.view(batch, height, width),
    )


def interpolate(fragments: Fragments, faces: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
    """Interpolate per-vertex ``attributes`` (B, V, C) or (V, C) at every pixel → (B, H, W, C).

    Background pixels get 0.
    """
    batch = fragments.triangle.shape[0]
    tri = fragments.triangle.clamp(min=0)
    corner = faces[tri]  # (B, H, W, 3)
    if attributes.dim() == 2:
        values = attributes[corner]  # (B, H, W, 3, C)
    else:
        b = torch.arange(batch).view(batch, 1, 1, 1).expand_as(corner)
        values = attributes[b, corner]
    out = (values * fragments.bary[..., None]).sum(dim=3)
    return out * (fragments.triangle >= 0)[..., None]

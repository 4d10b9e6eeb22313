"""Vectorised triangle rasteriser with a z-buffer (torch, CPU), exact perspective GT.

Why not OpenGL: no GPU/display here, and ground truth must be exact. Each triangle's
rows get their exact pixel span from its three edge lines (work ∝ covered area, all in
tensor ops), and a single ``scatter_reduce(amin)`` on a 64-bit key
(depth bits << 32 | triangle index) resolves visibility. A second pass recomputes the
winning triangle's barycentrics per pixel and makes them perspective-correct, so
depth, canonical coordinates and any vertex attribute are exact for the planar
triangles that are drawn. Pixel centres sit at integer coordinates (core/crop.py's convention).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

NEAR_Z = 1e-3
_EMPTY = torch.iinfo(torch.int64).max
_NUM_FACES_SLOT = 1 << 24  # triangle ids are packed as image * slot + triangle
_SPAN_EPS = 1e-4  # pixels; spans are slightly inclusive so shared edges never crack


@dataclass
class Fragments:
    """Per-pixel rasterisation result for a batch of images."""

    triangle: torch.Tensor  # (B, H, W) int64, -1 = background
    bary: torch.Tensor  # (B, H, W, 3) float32 perspective-correct barycentrics (0 on background)
    depth: torch.Tensor  # (B, H, W) float32 camera z, +inf on background


def _edge(ax, ay, bx, by, px, py):
    return (bx - ax) * (py - ay) - (by - ay) * (px - ax)


def _take(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rows of ``table`` (much faster than advanced indexing on CPU)."""
    return table.index_select(0, index)


def _scan_triangles(
    zbuf: torch.Tensor, rec: torch.Tensor, ids: torch.Tensor, height: int, width: int
) -> None:
    """Depth-test every covered pixel centre of the triangles ``rec`` (records, packed ``ids``) into ``zbuf``.

    Work is proportional to the covered area: each (triangle, row) pair gets its exact
    x-span from the three edge lines, then spans expand to pixels.
    """
    su, sv, sz, sa = rec[:, 0:3], rec[:, 3:6], rec[:, 6:9], rec[:, 9:10]
    x0, x1, y0, y1 = rec[:, 10], rec[:, 11], rec[:, 12], rec[:, 13]
    # normalised edge functions w_i(x, y) = A_i x + B_i y + C_i (barycentric of vertex i)
    a_u, a_v = su[:, [1, 2, 0]], sv[:, [1, 2, 0]]
    b_u, b_v = su[:, [2, 0, 1]], sv[:, [2, 0, 1]]
    inv_area = 1.0 / sa
    coef_a = -(b_v - a_v) * inv_area
    coef_b = (b_u - a_u) * inv_area
    coef_c = ((b_v - a_v) * a_u - (b_u - a_u) * a_v) * inv_area
    # 1/z is affine in screen space: 1/z = P x + Q y + R
    inv_z = 1.0 / sz
    plane = torch.stack([(coef_a * inv_z).sum(1), (coef_b * inv_z).sum(1), (coef_c * inv_z).sum(1)], 1)
    rows = (y1 - y0).long() + 1
    row_tri = torch.repeat_interleave(torch.arange(len(rows)), rows)
    row_start = torch.cumsum(rows, 0) - rows
    per_tri = torch.cat([coef_a, coef_b, coef_c, plane, torch.stack([y0, x0, x1], 1)], 1)
    rt = _take(per_tri, row_tri)
    row_y = rt[:, 12] + (torch.arange(len(row_tri)) - _take(row_start, row_tri)).float()
    ra, rd = rt[:, 0:3], rt[:, 3:6] * row_y[:, None] + rt[:, 6:9]
    bound = -rd / torch.where(ra == 0, torch.ones_like(ra), ra)
    lower = torch.where(ra > 0, bound, torch.full_like(bound, -float("inf"))).amax(1)
    upper = torch.where(ra < 0, bound, torch.full_like(bound, float("inf"))).amin(1)
    blocked = ((ra == 0) & (rd < 0)).any(1)
    xl = torch.maximum(torch.ceil(lower - _SPAN_EPS), rt[:, 13]).clamp(min=0)
    xr = torch.minimum(torch.floor(upper + _SPAN_EPS), rt[:, 14]).clamp(max=width - 1)
    count = torch.where(blocked, torch.zeros_like(xl), (xr - xl + 1).clamp(min=0)).long()
    # per row: 1/z at the row start and its slope; the pixel index of the row start; the triangle id
    row_float = torch.stack([rt[:, 9], rt[:, 10] * row_y + rt[:, 11] + rt[:, 9] * xl], 1)
    row_long = torch.stack([_take(ids, row_tri), row_y.long() * width + xl.long()], 1)
    pix_row = torch.repeat_interleave(torch.arange(len(count)), count)
    pix_start = torch.cumsum(count, 0) - count
    dx = torch.arange(len(pix_row)) - _take(pix_start, pix_row)
    pf = _take(row_float, pix_row)
    pl = _take(row_long, pix_row)
    depth = (1.0 / (pf[:, 1] + pf[:, 0] * dx.float())).float()
    tri_lin = pl[:, 0]
    key = (depth.view(torch.int32).long() << 32) | (tri_lin % _NUM_FACES_SLOT)
    pixel = (tri_lin // _NUM_FACES_SLOT) * (height * width) + pl[:, 1] + dx
    zbuf.scatter_reduce_(0, pixel, key, reduce="amin")


def rasterize(
    screen: torch.Tensor, faces: torch.Tensor, height: int, width: int, cull_backfaces: bool = True
) -> Fragments:
    """Rasterise ``screen`` vertices (B, V, 3) = (u, v, z camera depth) of triangles ``faces`` (F, 3).

    Front faces are those wound clockwise in image coordinates (y down), which is what a
    counter-clockwise (outward) mesh becomes under an OpenCV camera.
    """
    batch = screen.shape[0]
    num_faces = faces.shape[0]
    if num_faces >= _NUM_FACES_SLOT:
        raise ValueError(f"at most {_NUM_FACES_SLOT - 1} triangles per image, got {num_faces}")
    tri = screen.index_select(1, faces.reshape(-1)).view(batch, num_faces, 3, 3)
    u, v, z = tri[..., 0], tri[..., 1], tri[..., 2]
    area = _edge(u[..., 0], v[..., 0], u[..., 1], v[..., 1], u[..., 2], v[..., 2])
    valid = (z > NEAR_Z).all(-1)
    valid &= area < 0 if cull_backfaces else area != 0
    x0 = torch.ceil(u.amin(-1)).clamp(min=0)
    x1 = torch.floor(u.amax(-1)).clamp(max=width - 1)
    y0 = torch.ceil(v.amin(-1)).clamp(min=0)
    y1 = torch.floor(v.amax(-1)).clamp(max=height - 1)
    valid &= (x1 >= x0) & (y1 >= y0)
    # one record per (image, triangle): u(3) v(3) z(3) area x0 x1 y0 y1; id = image * slot + triangle
    records = torch.cat([u, v, z, area[..., None], torch.stack([x0, x1, y0, y1], -1)], -1).view(
        batch * num_faces, 14
    )
    valid_lin = valid.view(-1).nonzero(as_tuple=True)[0]
    ids = (valid_lin // num_faces) * _NUM_FACES_SLOT + valid_lin % num_faces
    zbuf = torch.full((batch * height * width,), _EMPTY, dtype=torch.int64)
    if valid_lin.numel():
        _scan_triangles(zbuf, _take(records, valid_lin), ids, height, width)
    triangle = torch.full((batch * height * width,), -1, dtype=torch.int64)
    bary = torch.zeros((batch * height * width, 3), dtype=torch.float32)
    depth_out = torch.full((batch * height * width,), float("inf"), dtype=torch.float32)
    pixel = (zbuf != _EMPTY).nonzero(as_tuple=True)[0]
    if pixel.numel():
        f = _take(zbuf, pixel) & 0xFFFFFFFF
        b = pixel // (height * width)
        rest = pixel % (height * width)
        fy, fx = (rest // width).float(), (rest % width).float()
        rec = _take(records, b * num_faces + f)
        su, sv, sz, sa = rec[:, 0:3], rec[:, 3:6], rec[:, 6:9], rec[:, 9]
        w0 = _edge(su[:, 1], sv[:, 1], su[:, 2], sv[:, 2], fx, fy) / sa
        w1 = _edge(su[:, 2], sv[:, 2], su[:, 0], sv[:, 0], fx, fy) / sa
        w2 = 1.0 - w0 - w1
        pw = torch.stack([w0 / sz[:, 0], w1 / sz[:, 1], w2 / sz[:, 2]], dim=1)
        inv_z = pw.sum(dim=1)
        triangle.index_copy_(0, pixel, f)
        bary.index_copy_(0, pixel, (pw / inv_z[:, None]).float())
        depth_out.index_copy_(0, pixel, (1.0 / inv_z).float())
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

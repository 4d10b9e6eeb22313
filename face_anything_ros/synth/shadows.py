"""Cast shadows of the directional light, per vertex (a small shadow map per head).

Each head is rasterised orthographically from its light's direction; a vertex is lit
when nothing lies between it and the light (its depth matches the shadow map's).
Vertices are ~4 mm apart, so Gouraud interpolation gives soft shadow edges (nose,
brows and jaw shadows under side or top light) at a fraction of per-pixel cost.
"""

from __future__ import annotations

import torch

from face_anything_ros.synth.raster import rasterize

SHADOW_MAP_SIZE = 64
SHADOW_BIAS_M = 0.01
SHADOW_FAR_M = 10.0  # keeps the (perspective-style) depth interpolation practically orthographic


def _light_frames(directions: torch.Tensor) -> torch.Tensor:
    """(P, 3, 3) right-handed bases whose third row looks from the light towards the scene."""
    forward = -torch.nn.functional.normalize(directions, dim=1)
    helper = torch.tensor([0.0, 1.0, 0.0]).expand_as(forward).clone()
    helper[forward[:, 1].abs() > 0.9] = torch.tensor([1.0, 0.0, 0.0])
    right = torch.nn.functional.normalize(torch.cross(helper, forward, dim=1), dim=1)
    down = torch.cross(forward, right, dim=1)
    return torch.stack([right, down, forward], dim=1)


def vertex_shadows(
    points: torch.Tensor, faces: torch.Tensor, light_directions: torch.Tensor, bounds: torch.Tensor
) -> torch.Tensor:
    """(P, V, 1) 1 = lit, 0 = in shadow, for heads ``points`` (P, V, 3) and unit directions to the light (P, 3).

    The map covers the vertices selected by the bool mask ``bounds`` (V,) (the head, not the torso).
    """
    local = torch.einsum("pij,pvj->pvi", _light_frames(light_directions), points)
    low = local[:, bounds, :2].amin(dim=1, keepdim=True)
    high = local[:, bounds, :2].amax(dim=1, keepdim=True)
    scale = (SHADOW_MAP_SIZE - 1) / (high - low).amax(dim=2, keepdim=True).clamp(min=1e-6)
    xy = (local[..., :2] - low) * scale
    screen = torch.cat([xy, local[..., 2:3] + SHADOW_FAR_M], dim=2)
    frags = rasterize(screen, faces, SHADOW_MAP_SIZE, SHADOW_MAP_SIZE, cull_backfaces=True)
    zbuf = frags.depth.view(len(points), -1)
    # the nearest surface over the vertex's 2x2 pixel neighbourhood (robust against self-shadow acne)
    x0 = xy[..., 0].floor().long().clamp(0, SHADOW_MAP_SIZE - 2)
    y0 = xy[..., 1].floor().long().clamp(0, SHADOW_MAP_SIZE - 2)
    nearest = None
    for dy in (0, 1):
        for dx in (0, 1):
            sample = zbuf.gather(1, (y0 + dy) * SHADOW_MAP_SIZE + x0 + dx)
            nearest = (
                sample
                if nearest is None
                else torch.maximum(nearest, torch.where(torch.isinf(sample), nearest, sample))
            )
    lit = screen[..., 2] <= nearest + SHADOW_BIAS_M
    return lit.float()[..., None]

"""Per-pixel skin shading: micro-normals from the pore texture, sharp specular, an oilier T-zone.

Real skin photographed at training resolution shows broken-up, sharp highlights on the
forehead and nose (an oily layer over a bumpy surface) and a soft diffuse under them
(light scatters under the skin, which blurs the pores out of the diffuse). Per-vertex
(Gouraud) specular cannot show either: it gives smooth blobs. Here the lighting is
evaluated per pixel from the interpolated normal, tilted by the gradient of a fine
height texture; the diffuse sees only part of that tilt. Only the image changes, never
the ground-truth maps.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

if TYPE_CHECKING:  # appearance imports this module
    from face_anything_ros.synth.appearance import Lighting

BUMP_TILES = 2.5  # the pore texture repeats this often across the face UV square (≈1 px bumps at 128 px)
UV_SPAN_M = 0.155  # metres of (frontal) face per UV unit: where UV is stretched, bumps get larger and flatter
BUMP_CHANNELS = ((3, 0.65), (1, 0.35))  # (fine-texture channel, weight) that make the height field
DIFFUSE_BUMP_SHARE = 0.25  # subsurface scattering blurs the pores out of the diffuse light
FRESNEL_BOOST = 3.0  # extra specular at grazing half-angles (Schlick-like, skin F0 is small)
REFERENCE_EXPONENT = 40.0  # a lobe this sharp keeps the peak of the old shading; sharper lobes peak higher
AMBIENT_OCCLUSION_KEY = 0.35  # the direct light's floor in fully occluded creases
MAX_TINT_SATURATION = (0.3, 0.5)  # key, fill: how coloured a tinted light can get


@dataclass(frozen=True)
class BumpTexture:
    """A fine height field looked up in face UV space, with the scale that gives its gradient unit RMS."""

    height: torch.Tensor  # (1, 1, R, R)
    gradient_scale: float


def make_bump_texture(fine: torch.Tensor) -> BumpTexture:
    """Height field from channels of the fine skin texture (pores follow the same noise as the albedo)."""
    height = sum(weight * fine[:, channel] for channel, weight in BUMP_CHANNELS)[:, None]
    gy, gx = np.gradient(height[0, 0].numpy())
    rms = float(np.sqrt(np.mean(gx**2 + gy**2) / 2))
    return BumpTexture(height=height.contiguous(), gradient_scale=1.0 / max(rms, 1e-6))


def bump_gradient(bump: BumpTexture, uv: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """(P, 2) height gradient along u and v (unit RMS) at face UVs (P, 2); ``offset`` (P, 2) shifts each person.

    Differentiates the sampled height (central differences, one texel) rather than sampling a
    gradient texture, so the mirrored tiles of the lookup stay consistent.
    """
    grid = uv * (2 * BUMP_TILES) - BUMP_TILES + offset
    texel = 2.0 / bump.height.shape[-1]
    steps = torch.tensor([[texel, 0.0], [-texel, 0.0], [0.0, texel], [0.0, -texel]])
    points = (grid[:, None, :] + steps[None]).view(1, 1, -1, 2)
    h = F.grid_sample(bump.height, points, mode="bilinear", padding_mode="reflection", align_corners=False)
    h = h.view(-1, 4)
    gradient = torch.stack([h[:, 0] - h[:, 1], h[:, 2] - h[:, 3]], dim=1) * 0.5  # grid (x, y) = (u, v) scaled
    return gradient * bump.gradient_scale


def micro_normals(
    normal: torch.Tensor,
    tangent_u: torch.Tensor,
    tangent_v: torch.Tensor,
    gradient: torch.Tensor,
    tilt: torch.Tensor,
) -> torch.Tensor:
    """Unit normals (P, 3) tilted against the height gradient (P, 2) by ``tilt`` (P, 1) in the tangent plane.

    The slope is per metre of surface (gradient per UV unit / |dP/du|), so stretched UV gives flatter bumps.
    """
    out = normal
    for k, tangent in enumerate((tangent_u, tangent_v)):
        length = tangent.norm(dim=-1, keepdim=True).clamp(min=1e-6)
        slope = tilt * gradient[:, k : k + 1] * (UV_SPAN_M / length).clamp(max=1.5)
        in_plane = F.normalize(tangent - (tangent * normal).sum(-1, keepdim=True) * normal, dim=-1)
        out = out - slope * in_plane
    return F.normalize(out, dim=-1)


def surface_tangents(corners: torch.Tensor, corner_uv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """dP/du and dP/dv (P, 3) of the triangles (P, 3 corners, 3) with UVs (P, 3, 2) (0 where the UVs are degenerate)."""
    e1, e2 = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    d1, d2 = corner_uv[:, 1] - corner_uv[:, 0], corner_uv[:, 2] - corner_uv[:, 0]
    det = (d1[:, 0] * d2[:, 1] - d2[:, 0] * d1[:, 1])[:, None]
    inverse = torch.where(det.abs() > 1e-12, 1.0 / det, torch.zeros_like(det))
    along_u = (e1 * d2[:, 1:2] - e2 * d1[:, 1:2]) * inverse
    along_v = (e2 * d1[:, 0:1] - e1 * d2[:, 0:1]) * inverse
    return along_u, along_v


def tzone_weight(template_cm: torch.Tensor) -> torch.Tensor:
    """(P,) 0..1: forehead, nose and (less) chin, where skin is oilier (neutral template cm, y up)."""
    x, y, z = template_cm[:, 0].abs(), template_cm[:, 1], template_cm[:, 2]
    forehead = torch.sigmoid((y - 3.8) / 0.5) * torch.sigmoid((4.8 - x) / 0.6)
    nose = torch.sigmoid((1.6 - x) / 0.35) * torch.sigmoid((y + 2.2) / 0.4) * torch.sigmoid((4.5 - y) / 0.4)
    chin = 0.6 * torch.sigmoid((-6.8 - y) / 0.6) * torch.sigmoid((2.5 - x) / 0.6)
    return torch.maximum(torch.maximum(forehead, nose), chin) * torch.sigmoid((z - 2.5) / 0.5)


def diffuse_normals(geometric: torch.Tensor, micro: torch.Tensor) -> torch.Tensor:
    """The normals the diffuse light sees: only part of the micro-normal tilt (subsurface scattering)."""
    return F.normalize(geometric + DIFFUSE_BUMP_SHARE * (micro - geometric), dim=-1)


def pixel_lighting(
    geometric: torch.Tensor,  # (P, 3) unit interpolated normal
    diffuse_normal: torch.Tensor,  # (P, 3) unit, see diffuse_normals (== geometric off the face skin)
    shading: torch.Tensor,  # (P, 3) unit micro-normal (== geometric off the face skin)
    point: torch.Tensor,  # (P, 3) camera-frame position
    lit: torch.Tensor,  # (P, 1) 1 = lit by the key light, 0 = in its shadow
    occlusion: torch.Tensor,  # (P, 1) ambient occlusion
    light: torch.Tensor,  # (P, LIGHT_VECTOR_SIZE) appearance.lighting_vector of each pixel's head
    strength: torch.Tensor,  # (P, 1) specular strength
    exponent: torch.Tensor,  # (P, 1) Blinn-Phong exponent
) -> tuple[torch.Tensor, torch.Tensor]:
    """Diffuse + ambient shade (P, 3) and specular (P, 3): wrapped Lambert, fill light, normalised Blinn-Phong."""
    ldir, lcol, amb, wrap = light[:, 0:3], light[:, 3:6], light[:, 6:9], light[:, 9:10]
    ndotl = (diffuse_normal * ldir).sum(-1, keepdim=True)
    diffuse = ((ndotl + wrap) / (1 + wrap)).clamp(min=0)
    fill = light[:, 13:16] * (diffuse_normal * light[:, 10:13]).sum(-1, keepdim=True).clamp(min=0)
    key_floor = AMBIENT_OCCLUSION_KEY + (1 - AMBIENT_OCCLUSION_KEY) * occlusion
    shade = amb * occlusion + (lcol * diffuse * lit + fill) * key_floor
    view = -F.normalize(point, dim=-1)
    half = F.normalize(ldir + view, dim=-1)
    ndoth = (shading * half).sum(-1, keepdim=True).clamp(min=0)
    facing = ((geometric * ldir).sum(-1, keepdim=True) * 4).clamp(0, 1)  # the light is in front
    fresnel = 1 + FRESNEL_BOOST * (1 - (half * view).sum(-1, keepdim=True).clamp(0, 1)).pow(5)
    peak = ((exponent + 8) / (REFERENCE_EXPONENT + 8)).sqrt()
    specular = lcol * (strength * peak * fresnel * facing * occlusion * lit) * ndoth.pow(exponent)
    return shade, specular


def _tint(rng: np.random.Generator, max_saturation: float) -> np.ndarray:
    rgb = np.asarray(colorsys.hsv_to_rgb(rng.uniform(0, 1), rng.uniform(0.05, max_saturation), 1.0))
    return rgb / rgb.max()


def tint_lighting(light: Lighting, rng: np.random.Generator, probability: float) -> Lighting:
    """Sometimes colour the key and/or the fill light (fluorescent, LED, sodium, sky), as mixed real lighting does.

    Always draws the same number of numbers from ``rng``, so the probability changes no other sample.
    """
    draws = rng.random(2)
    key, fill = (_tint(rng, s) for s in MAX_TINT_SATURATION)
    return replace(
        light,
        colour=light.colour * (key if draws[0] < probability else 1.0),
        fill_colour=light.fill_colour * (fill if draws[1] < probability else 1.0),
    )

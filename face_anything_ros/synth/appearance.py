"""Procedural appearance: skin/hair/eye/mouth albedo and lighting, evaluated per pixel.

Skin detail is a solid texture (3D noise volumes sampled at the pixel's neutral
template position), so it sticks to the surface through pose and expression and
needs no UV seams. Sharp facial features (lips, brows, eye make-up, blush) come from
a region atlas drawn once in the template's UV space. Per-person parameters (skin
tone, hair colour/hairline, make-up, beard, eye colour) are small arrays indexed
by the pixel's sample. Shading: wrapped Lambert + Blinn-Phong specular + ambient,
with coloured light.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from face_anything_ros.face_template import load_face_template
from face_anything_ros.synth.config import SynthConfig
from face_anything_ros.synth.mesh import (
    LABEL_EYE,
    LABEL_MOUTH,
    LABEL_SKIN,
    LEFT_BROW,
    LEFT_EYE,
    OUTER_LIPS,
    RIGHT_BROW,
    RIGHT_EYE,
)

# sRGB skin tones from very light to very dark (Fitzpatrick-like range)
SKIN_TONES = np.array(
    [
        [250, 224, 204], [241, 199, 170], [226, 178, 142], [205, 150, 112], [176, 120, 84],
        [141, 92, 62], [108, 68, 45], [78, 49, 34], [56, 36, 27],
    ],
    dtype=np.float32,
) / 255.0  # fmt: skip
HAIR_COLOURS = np.array(
    [[20, 16, 14], [45, 32, 24], [80, 56, 38], [120, 85, 55], [170, 130, 80], [210, 180, 130], [140, 60, 30],
     [150, 150, 150], [220, 220, 215]],
    dtype=np.float32,
) / 255.0  # fmt: skip
IRIS_COLOURS = (
    np.array(
        [[60, 35, 20], [90, 60, 35], [40, 25, 15], [70, 100, 130], [80, 110, 80], [110, 90, 60]],
        dtype=np.float32,
    )
    / 255.0
)
ATLAS_SIZE = 256
NOISE_RES = 32
NOISE_CHANNELS = 4
IRIS_RADIUS = 0.058  # canonical units (≈5.8 mm)
PUPIL_RADIUS = 0.022
NUM_PERSON_PARAMS = 32  # width of the per-person parameter vector (see PersonLook.to_vector)


@lru_cache(maxsize=1)
def eye_center_canonical() -> tuple[float, float]:
    """|x| and y of the eye centres in canonical units (mean of the eye contour)."""
    canonical = load_face_template().canonical
    left = canonical[list(LEFT_EYE)].mean(axis=0)
    return float(left[0]), float(left[1])


@lru_cache(maxsize=1)
def region_atlas() -> np.ndarray:
    """(4, A, A) float32 in UV space: lips, brows, eye make-up area, cheeks."""
    template = load_face_template()
    uv = np.asarray(template.uvs)
    px = np.stack([uv[:, 0] * (ATLAS_SIZE - 1), (1.0 - uv[:, 1]) * (ATLAS_SIZE - 1)], 1)

    def poly(indices: tuple[int, ...], blur: float, dilate: int = 0) -> np.ndarray:
        img = np.zeros((ATLAS_SIZE, ATLAS_SIZE), np.uint8)
        cv2.fillPoly(img, [np.round(px[list(indices)]).astype(np.int32)], 255)
        if dilate:
            img = cv2.dilate(img, np.ones((dilate, dilate), np.uint8))
        return cv2.GaussianBlur(img.astype(np.float32) / 255.0, (0, 0), blur)

    lips = poly(OUTER_LIPS, 1.0)
    brows = np.maximum(poly(RIGHT_BROW, 1.2), poly(LEFT_BROW, 1.2))
    eyes = np.maximum(poly(RIGHT_EYE, 3.0, dilate=9), poly(LEFT_EYE, 3.0, dilate=9))
    cheeks = np.zeros_like(lips)
    for idx in (205, 425):
        cv2.circle(cheeks, tuple(int(v) for v in np.round(px[idx])), 14, 1.0, -1)
    cheeks = cv2.GaussianBlur(cheeks, (0, 0), 8.0)
    atlas = np.stack([lips, brows, eyes, cheeks]).astype(np.float32)
    atlas.setflags(write=False)
    return atlas


def make_noise_volume(rng: np.random.Generator) -> torch.Tensor:
    """(1, C, R, R, R) smooth random noise in [-1, 1] per channel (different smoothness)."""
    channels = []
    for sigma in (1.0, 1.5, 2.5, 4.0)[:NOISE_CHANNELS]:
        vol = rng.normal(size=(NOISE_RES,) * 3).astype(np.float32)
        vol = torch.from_numpy(vol)[None, None]
        k = int(3 * sigma) * 2 + 1
        g = torch.exp(-((torch.arange(k) - k // 2) ** 2) / (2 * sigma**2))
        g = g / g.sum()
        for dim in range(3):
            shape = [1, 1, 1, 1, 1]
            shape[2 + dim] = k
            pad = [0, 0, 0, 0, 0, 0]
            pad[2 * (2 - dim)] = pad[2 * (2 - dim) + 1] = k // 2
            vol = F.conv3d(F.pad(vol, pad, mode="circular"), g.view(shape))
        vol = vol / vol.abs().amax().clamp(min=1e-6)
        channels.append(vol[0, 0])
    return torch.stack(channels)[None]


@dataclass
class PersonLook:
    """Per-person appearance parameters (sampled once per face)."""

    skin: np.ndarray  # (3,) linear-ish albedo
    hair: np.ndarray  # (3,)
    lip: np.ndarray  # (3,)
    iris: np.ndarray  # (3,)
    makeup: np.ndarray  # (3,) eye make-up colour
    makeup_strength: float
    lipstick: float
    blush: float
    brow_density: float
    beard: float  # 0 none .. 1 full
    hairline: float  # template-cm height above which hair covers the head (lower = more hair)
    hair_back: float  # how far hair comes down at the back/sides
    bald: float
    noise_offset: np.ndarray  # (3,)
    freckles: float
    specular: float
    roughness: float
    wrinkles: float

    def to_vector(self) -> np.ndarray:
        v = np.concatenate(
            [
                self.skin, self.hair, self.lip, self.iris, self.makeup,
                [self.makeup_strength, self.lipstick, self.blush, self.brow_density, self.beard, self.hairline,
                 self.hair_back, self.bald], self.noise_offset,
                [self.freckles, self.specular, self.roughness, self.wrinkles],
            ]
        ).astype(np.float32)  # fmt: skip
        out = np.zeros(NUM_PERSON_PARAMS, np.float32)
        out[: len(v)] = v
        return out


def _linear(srgb) -> np.ndarray:
    return np.power(np.clip(np.asarray(srgb, dtype=np.float32), 0, 1), 2.2)


def sample_look(rng: np.random.Generator, config: SynthConfig) -> PersonLook:
    """Appearance of one person; colours are chosen in sRGB and stored as linear albedo."""
    t = rng.uniform(0, len(SKIN_TONES) - 1)
    lo = int(np.floor(t))
    skin = SKIN_TONES[lo] * (1 - (t - lo)) + SKIN_TONES[min(lo + 1, len(SKIN_TONES) - 1)] * (t - lo)
    skin = np.clip(skin * rng.normal(1.0, 0.04, 3), 0.02, 1.0)
    hair = HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] * rng.uniform(0.8, 1.15)
    if rng.random() < 0.03:  # dyed
        hair = rng.uniform(0.1, 0.8, 3)
    skin, hair = _linear(skin), _linear(hair)
    makeup = rng.random() < config.makeup_probability
    lip_base = skin * np.array([0.85, 0.5, 0.52]) * rng.uniform(0.75, 1.0)
    lipstick_colour = _linear(
        rng.choice([[0.6, 0.05, 0.1], [0.75, 0.3, 0.35], [0.45, 0.1, 0.2], [0.8, 0.45, 0.4]])
    )
    lipstick = rng.uniform(0.4, 0.9) if makeup and rng.random() < 0.6 else 0.0
    lip = lip_base * (1 - lipstick) + np.asarray(lipstick_colour) * lipstick
    male_like = rng.random() < 0.5
    beard = 0.0
    if male_like and rng.random() < config.beard_probability * 2:
        beard = rng.uniform(0.15, 1.0)
    has_hair = rng.random() < config.hair_probability
    return PersonLook(
        skin=skin.astype(np.float32),
        hair=np.clip(hair, 0, 1).astype(np.float32),
        lip=np.clip(lip, 0, 1).astype(np.float32),
        iris=(IRIS_COLOURS[rng.integers(len(IRIS_COLOURS))] * rng.uniform(0.7, 1.3)).astype(np.float32),
        makeup=np.asarray(
            rng.choice([[0.1, 0.08, 0.08], [0.35, 0.25, 0.3], [0.2, 0.2, 0.35], [0.4, 0.3, 0.2]]), np.float32
        ),
        makeup_strength=rng.uniform(0.3, 0.8) if makeup else 0.0,
        lipstick=lipstick,
        blush=rng.uniform(0.0, 0.25) + (rng.uniform(0.1, 0.3) if makeup else 0.0),
        brow_density=rng.uniform(0.35, 0.95),
        beard=beard,
        hairline=rng.uniform(6.5, 9.5) if has_hair else 40.0,
        hair_back=rng.uniform(-9.0, 2.0) if not male_like else rng.uniform(-4.0, 2.0),
        bald=0.0 if has_hair else 1.0,
        noise_offset=rng.uniform(-1, 1, 3).astype(np.float32),
        freckles=rng.uniform(0, 1) if rng.random() < 0.15 else 0.0,
        specular=rng.uniform(*config.specular_range),
        roughness=rng.uniform(0.0, 1.0),
        wrinkles=rng.uniform(0, 1) ** 2,
    )


@dataclass
class Lighting:
    direction: np.ndarray  # (3,) unit vector towards the light, camera frame
    colour: np.ndarray  # (3,)
    ambient: np.ndarray  # (3,)
    wrap: float


def sample_lighting(rng: np.random.Generator) -> Lighting:
    # mostly from the front/above, sometimes hard side light
    azimuth = rng.normal(0.0, 0.9)
    elevation = rng.normal(0.4, 0.4)
    direction = np.array(
        [np.sin(azimuth) * np.cos(elevation), -np.sin(elevation), -np.cos(azimuth) * np.cos(elevation)]
    )
    temperature = rng.uniform(-1, 1)
    colour = np.array([1.0 + 0.15 * temperature, 1.0, 1.0 - 0.2 * temperature]) * rng.uniform(0.6, 1.3)
    ambient = rng.uniform(0.15, 0.55) * np.clip(rng.normal(1.0, 0.08, 3), 0.7, 1.3)
    return Lighting(
        direction=direction / np.linalg.norm(direction),
        colour=colour,
        ambient=ambient,
        wrap=rng.uniform(0, 0.6),
    )


def _sample_noise(volume: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Sample (N, C) from the noise volume at coords (N, 3) in volume units (mirror-tiled)."""
    grid = coords.view(1, 1, 1, -1, 3)
    out = F.grid_sample(volume, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return out.view(volume.shape[1], -1).T


def _sample_atlas(atlas: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    grid = torch.stack([uv[:, 0] * 2 - 1, (1 - uv[:, 1]) * 2 - 1], 1).view(1, 1, -1, 2)
    out = F.grid_sample(atlas[None], grid, mode="bilinear", padding_mode="border", align_corners=True)
    return out.view(atlas.shape[0], -1).T


@dataclass
class PixelInputs:
    """Attributes of every rendered pixel (flattened over batch and image)."""

    sample: torch.Tensor  # (N,) long index into per-sample tables
    label: torch.Tensor  # (N,) int
    template_cm: torch.Tensor  # (N, 3) neutral template position (for solid textures)
    uv: torch.Tensor  # (N, 2)
    canonical: torch.Tensor  # (N, 3) (0 on non-face)
    mouth_v: torch.Tensor  # (N,)
    normal: torch.Tensor  # (N, 3) camera frame, unit
    view: torch.Tensor  # (N, 3) unit vector pixel → camera


def shade_pixels(
    px: PixelInputs,
    people: torch.Tensor,  # (B, NUM_PERSON_PARAMS)
    gaze: torch.Tensor,  # (B, 2) canonical offset of the irises
    lights: torch.Tensor,  # (B, 10) direction(3) colour(3) ambient(3) wrap(1)
    noise: torch.Tensor,  # noise volume
) -> tuple[torch.Tensor, torch.Tensor]:
    """Linear RGB (N, 3) of every pixel and a hair-cover flag (N,) (hair hides face pixels)."""
    p = people[px.sample]
    skin, hair, lip, iris, makeup = p[:, 0:3], p[:, 3:6], p[:, 6:9], p[:, 9:12], p[:, 12:15]
    makeup_s, _lipstick, blush, brow_d, beard, hairline, hair_back, bald = (p[:, 15 + i] for i in range(8))
    offset = p[:, 23:26]
    freckles, spec_s, rough, wrinkles = (p[:, 26 + i] for i in range(4))
    pos = px.template_cm
    n = _sample_noise(noise, pos / 12.0 + offset)  # low frequency, ~10 cm
    m = _sample_noise(noise, pos / 2.5 + offset * 3.0)  # mid, ~2 cm
    h = _sample_noise(noise, pos * 2.2 + offset * 7.0)  # fine: pores / stubble
    atlas = _sample_atlas(torch.from_numpy(region_atlas()), px.uv)
    is_face_tri = px.label < LABEL_MOUTH
    lips_w = atlas[:, 0] * is_face_tri
    brow_w = atlas[:, 1] * is_face_tri
    eye_w = atlas[:, 2] * is_face_tri
    cheek_w = atlas[:, 3] * is_face_tri

    albedo = skin * (1.0 + 0.12 * n[:, :1] + 0.06 * m[:, 1:2] + 0.05 * h[:, 2:3])
    redness = torch.tensor([1.05, 0.9, 0.9])
    albedo = albedo * (1 + (0.4 * cheek_w * (0.3 + blush))[:, None] * (redness - 1) * 2)
    freckle = (freckles * (h[:, 3] > 0.35).float() * (pos[:, 1] > -3).float())[:, None]
    albedo = albedo * (1 - 0.25 * freckle)
    albedo = albedo * (1 - (wrinkles * 0.15 * torch.relu(m[:, 0]) * (pos[:, 1] > 4).float())[:, None])
    albedo = torch.lerp(albedo, makeup, (eye_w * makeup_s * 0.7)[:, None])
    albedo = torch.lerp(albedo, lip, lips_w[:, None])
    brow_pattern = (0.6 + 0.4 * h[:, 0]).clamp(0, 1)
    albedo = torch.lerp(albedo, hair * 0.8, (brow_w * brow_d * brow_pattern).clamp(0, 1)[:, None])
    # beard: below the nose and along the jaw, stubble-like noise
    beard_zone = torch.sigmoid((-2.4 - pos[:, 1] - 0.25 * pos[:, 0].abs()) / 0.4) * (pos[:, 2] > -3.5)
    beard_zone = beard_zone * (1 - lips_w)
    beard_cov = (beard_zone * beard * (0.55 + 0.45 * h[:, 1])).clamp(0, 1)
    albedo = torch.lerp(albedo, hair * 0.7, beard_cov[:, None])

    # hair on the head: above a hairline that drops towards the back of the head
    back = (-pos[:, 2] / 10.0).clamp(0, 1)
    hair_height = hairline - (hairline - hair_back) * back
    hair_w = torch.sigmoid((pos[:, 1] - hair_height + 0.5 * m[:, 2]) / 0.4) * (1 - bald)
    hair_w = torch.where(px.label == LABEL_SKIN, hair_w, hair_w * (pos[:, 2] < 6.0))
    strands = 0.75 + 0.25 * _sample_noise(noise, pos * torch.tensor([2.5, 0.4, 2.5]) + offset * 5)[:, 0:1]
    albedo = torch.lerp(albedo, hair * strands, hair_w[:, None])
    hair_cover = (hair_w > 0.5) & (px.label < LABEL_MOUTH)

    # eyes: sclera, iris, pupil from the canonical position relative to the eye centre
    eye = px.label == LABEL_EYE
    if eye.any():
        c = px.canonical[eye]
        side = torch.sign(c[:, 0])
        ex, ey = eye_center_canonical()
        center = torch.stack([side * ex, torch.full_like(side, ey)], 1)
        rel = c[:, :2] - center - gaze[px.sample[eye]]
        r = rel.norm(dim=1)
        lid_shadow = (1 - 4.0 * (c[:, 1:2] - ey).clamp(min=0)).clamp(min=0.5)
        sclera = torch.tensor([0.62, 0.55, 0.5]) * lid_shadow
        iris_col = iris[eye] * (
            0.8 + 0.4 * _sample_noise(noise, torch.cat([rel * 40, r[:, None] * 0], 1))[:, 3:4]
        )
        col = torch.where((r < IRIS_RADIUS)[:, None], iris_col, sclera)
        col = torch.where((r < PUPIL_RADIUS)[:, None], torch.full_like(col, 0.02), col)
        albedo[eye] = col
    mouth = px.label == LABEL_MOUTH
    if mouth.any():
        mv = px.mouth_v[mouth]
        teeth = ((mv < 0.22) | (mv > 0.85)).float()[:, None]
        albedo[mouth] = teeth * torch.tensor([0.75, 0.72, 0.65]) + (1 - teeth) * torch.tensor(
            [0.12, 0.03, 0.03]
        )

    # lighting
    light = lights[px.sample]
    ldir, lcol, amb, wrap = light[:, 0:3], light[:, 3:6], light[:, 6:9], light[:, 9:10]
    ndotl = (px.normal * ldir).sum(1, keepdim=True)
    diffuse = ((ndotl + wrap) / (1 + wrap)).clamp(min=0)
    half = F.normalize(ldir + px.view, dim=1)
    ndoth = (px.normal * half).sum(1, keepdim=True).clamp(min=0)
    exponent = (12 + 60 * (1 - rough))[:, None]
    is_hair = hair_w[:, None]
    spec_strength = spec_s[:, None] * (1 - 0.7 * is_hair) * (1 - 0.5 * beard_cov[:, None])
    spec_strength = torch.where(eye[:, None], torch.full_like(spec_strength, 0.8), spec_strength)
    spec_strength = torch.where(mouth[:, None], torch.zeros_like(spec_strength), spec_strength)
    exponent = torch.where(eye[:, None], torch.full_like(exponent, 200.0), exponent)
    specular = spec_strength * ndoth.pow(exponent) * (ndotl > 0)
    cavity = torch.where(mouth[:, None], torch.full_like(ndotl, 0.35), torch.ones_like(ndotl))
    rgb = cavity * albedo * (amb + lcol * diffuse) + lcol * specular
    return rgb, hair_cover


def lighting_vector(light: Lighting) -> np.ndarray:
    return np.concatenate([light.direction, light.colour, light.ambient, [light.wrap]]).astype(np.float32)

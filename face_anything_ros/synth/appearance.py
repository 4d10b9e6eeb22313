"""Procedural appearance: skin/hair/eye/mouth albedo and lighting, evaluated per pixel.

Skin detail is a solid texture (3D noise volumes sampled at the pixel's neutral
template position), so it sticks to the surface through pose and expression and
needs no UV seams. Sharp facial features (lips, brows, eye make-up, blush) come from
a region atlas drawn once in the template's UV space. Per-person parameters (skin
tone, hair colour/hairline, make-up, beard, eye colour) are small arrays indexed
by the pixel's sample. Shading is per pixel (synth/shading.py): wrapped Lambert +
Blinn-Phong specular on pore micro-normals + ambient, with coloured light.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from face_anything_ros.core.face_template import load_face_template
from face_anything_ros.synth.config import SynthConfig
from face_anything_ros.synth.mesh import (
    LABEL_CLOTH,
    LABEL_EYE,
    LABEL_MOUTH,
    LABEL_SKIN,
    LEFT_BROW,
    LEFT_EYE,
    OUTER_LIPS,
    RIGHT_BROW,
    RIGHT_EYE,
)
from face_anything_ros.synth.shading import (
    BumpTexture,
    bump_gradient,
    diffuse_normals,
    micro_normals,
    pixel_lighting,
    tzone_weight,
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
FINE_RES = 256
FINE_TILES = 4.0  # fine texture repeats across the face UV square (≈0.15 mm per texel)
RIGHT_EYE_UPPER_FULL = (33, 246, 161, 160, 159, 158, 157, 173, 133)
LEFT_EYE_UPPER_FULL = (263, 466, 388, 387, 386, 385, 384, 398, 362)
RIGHT_EYE_LOWER_FULL = (33, 7, 163, 144, 145, 153, 154, 155, 133)
LEFT_EYE_LOWER_FULL = (263, 249, 390, 373, 374, 380, 381, 382, 362)
NOSTRILS = (79, 309)
IRIS_RADIUS = 0.058  # canonical units (≈5.8 mm)
PUPIL_RADIUS = 0.022
CATCHLIGHT_OFFSET = 0.03  # canonical units per unit of the light direction's image-plane component
CATCHLIGHT_RADIUS = 0.009
SCLERA_LINEAR = (0.42, 0.37, 0.33)
TEETH_LINEAR = (0.5, 0.46, 0.38)
MOUTH_LINEAR = (0.03, 0.006, 0.006)
NUM_PERSON_PARAMS = 40  # width of the per-person parameter vector (see PersonLook.to_vector)
PERSON_NOISE_OFFSET = slice(23, 26)  # where PersonLook.noise_offset sits in that vector
PIXEL_PERSON_COLUMNS = [
    0,
    1,
    2,
    3,
    4,
    5,
    20,
    21,
    22,
    23,
    24,
    25,
    27,
    28,
    38,
    39,
]  # skin, hair, hairline, hair_back, bald, offset, specular, shininess, T-zone oil, bump


@lru_cache(maxsize=1)
def _atlas_tensor() -> torch.Tensor:
    return torch.from_numpy(region_atlas().copy())


@lru_cache(maxsize=1)
def eye_center_canonical() -> tuple[float, float]:
    """|x| and y of the eye centres in canonical units (mean of the eye contour)."""
    canonical = load_face_template().canonical
    left = canonical[list(LEFT_EYE)].mean(axis=0)
    return float(left[0]), float(left[1])


@lru_cache(maxsize=1)
def region_atlas() -> np.ndarray:
    """(7, A, A) float32 in UV space: lips, brows, eye make-up area, cheeks, lashes, sockets, nostrils."""
    template = load_face_template()
    uv = np.asarray(template.uvs)
    px = np.stack([uv[:, 0] * (ATLAS_SIZE - 1), (1.0 - uv[:, 1]) * (ATLAS_SIZE - 1)], 1)

    def poly(indices: tuple[int, ...], blur: float, dilate: int = 0) -> np.ndarray:
        img = np.zeros((ATLAS_SIZE, ATLAS_SIZE), np.uint8)
        cv2.fillPoly(img, [np.round(px[list(indices)]).astype(np.int32)], 255)
        if dilate:
            img = cv2.dilate(img, np.ones((dilate, dilate), np.uint8))
        return cv2.GaussianBlur(img.astype(np.float32) / 255.0, (0, 0), blur)

    def lines(contours: tuple[tuple[int, ...], ...], thickness: int, blur: float) -> np.ndarray:
        img = np.zeros((ATLAS_SIZE, ATLAS_SIZE), np.uint8)
        for contour in contours:
            cv2.polylines(
                img, [np.round(px[list(contour)]).astype(np.int32)], False, 255, thickness, cv2.LINE_AA
            )
        return cv2.GaussianBlur(img.astype(np.float32) / 255.0, (0, 0), blur)

    lips = poly(OUTER_LIPS, 1.0)
    brows = np.maximum(poly(RIGHT_BROW, 1.5, dilate=3), poly(LEFT_BROW, 1.5, dilate=3))
    eyes = np.maximum(poly(RIGHT_EYE, 3.0, dilate=9), poly(LEFT_EYE, 3.0, dilate=9))
    cheeks = np.zeros_like(lips)
    for idx in (205, 425):
        cv2.circle(cheeks, tuple(int(v) for v in np.round(px[idx])), 14, 1.0, -1)
    cheeks = cv2.GaussianBlur(cheeks, (0, 0), 8.0)
    # lash line: dark upper (thick) and lower (thin) lid margins
    lashes = np.maximum(
        lines((RIGHT_EYE_UPPER_FULL, LEFT_EYE_UPPER_FULL), 3, 0.8),
        0.5 * lines((RIGHT_EYE_LOWER_FULL, LEFT_EYE_LOWER_FULL), 1, 0.7),
    )
    # darker skin in the eye sockets / lid crease and the nostrils
    socket = np.clip(eyes * 1.2 - lashes, 0, 1) * 0.6
    nostrils = np.zeros_like(lips)
    for idx in NOSTRILS:
        cv2.ellipse(nostrils, tuple(int(v) for v in np.round(px[idx])), (4, 2), 0, 0, 360, 1.0, -1)
    nostrils = cv2.GaussianBlur(nostrils, (0, 0), 1.2)
    atlas = np.stack([lips, brows, eyes, cheeks, lashes, socket, nostrils]).astype(np.float32)
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


def make_fine_texture(rng: np.random.Generator) -> torch.Tensor:
    """(1, C, R, R) fine 2D noise in [-1, 1] for pores/stubble/freckles, looked up in face UV space."""
    channels = []
    for sigma in (0.8, 1.2, 1.6, 2.5)[:NOISE_CHANNELS]:
        plane = cv2.GaussianBlur(
            rng.normal(size=(FINE_RES, FINE_RES)).astype(np.float32),
            (0, 0),
            sigma,
            borderType=cv2.BORDER_REFLECT,
        )
        channels.append(plane / max(float(np.abs(plane).max()), 1e-6))
    return torch.from_numpy(np.stack(channels))[None]


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
    shininess: float  # Blinn-Phong exponent
    wrinkles: float
    cloth: np.ndarray  # (3,) main clothing colour
    cloth_second: np.ndarray  # (3,) stripe colour
    stripe_frequency: float  # radians per cm, 0 = plain
    stripe_slant: float
    tzone_oil: float = 0.0  # extra specular on forehead, nose and chin (x specular)
    bump: float = 0.0  # micro-normal tilt from the pore texture

    def to_vector(self) -> np.ndarray:
        v = np.concatenate(
            [
                self.skin, self.hair, self.lip, self.iris, self.makeup,
                [self.makeup_strength, self.lipstick, self.blush, self.brow_density, self.beard, self.hairline,
                 self.hair_back, self.bald], self.noise_offset,
                [self.freckles, self.specular, self.shininess, self.wrinkles], self.cloth, self.cloth_second,
                [self.stripe_frequency, self.stripe_slant, self.tzone_oil, self.bump],
            ]
        ).astype(np.float32)  # fmt: skip
        out = np.zeros(NUM_PERSON_PARAMS, np.float32)
        out[: len(v)] = v
        return out


def _linear(srgb) -> np.ndarray:
    return np.power(np.clip(np.asarray(srgb, dtype=np.float32), 0, 1), 2.2)


def sample_look(rng: np.random.Generator, config: SynthConfig, optics: np.random.Generator) -> PersonLook:
    """Appearance of one person; colours are chosen in sRGB and stored as linear albedo.

    The skin optics added later (T-zone oil, bump) come from their own generator ``optics``,
    so adding them left every earlier person as it was.
    """
    t = rng.uniform(0, len(SKIN_TONES) - 1)
    lo = int(np.floor(t))
    skin = SKIN_TONES[lo] * (1 - (t - lo)) + SKIN_TONES[min(lo + 1, len(SKIN_TONES) - 1)] * (t - lo)
    # undertone: redder (pink), more yellow (olive/golden) or neutral, plus brightness variation
    undertone = rng.choice([[1.04, 0.97, 0.97], [1.0, 1.0, 0.9], [0.98, 1.0, 0.96], [1.0, 1.0, 1.0]])
    skin = np.clip(
        skin * np.asarray(undertone) * rng.normal(1.0, 0.03, 3) * rng.uniform(0.9, 1.08), 0.02, 1.0
    )
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
        brow_density=rng.uniform(0.55, 1.0),
        beard=beard,
        hairline=rng.uniform(6.5, 9.5) if has_hair else 40.0,
        hair_back=rng.uniform(-9.0, 2.0) if not male_like else rng.uniform(-4.0, 2.0),
        bald=0.0 if has_hair else 1.0,
        noise_offset=rng.uniform(-1, 1, 3).astype(np.float32),
        freckles=rng.uniform(0, 1) if rng.random() < 0.15 else 0.0,
        specular=rng.uniform(*config.specular_range),
        shininess=float(np.exp(np.interp(rng.uniform(0, 1), [0, 1], np.log(config.specular_exponent_range)))),
        wrinkles=rng.uniform(0, 1) ** 2,
        cloth=_linear(rng.uniform(0.05, 0.9, 3) * rng.uniform(0.3, 1.0)),
        cloth_second=_linear(rng.uniform(0.05, 0.9, 3)),
        stripe_frequency=float(rng.uniform(0.5, 3.0)) if rng.random() < 0.3 else 0.0,
        stripe_slant=float(rng.normal(0, 0.5)),
        tzone_oil=float(optics.uniform(*config.tzone_oil_range)),
        bump=float(optics.uniform(*config.skin_bump_range)),
    )


@dataclass
class Lighting:
    direction: np.ndarray  # (3,) unit vector towards the light, camera frame
    colour: np.ndarray  # (3,)
    ambient: np.ndarray  # (3,)
    wrap: float
    fill_direction: np.ndarray  # (3,) a second, unshadowed light (bounce / window / screen)
    fill_colour: np.ndarray  # (3,)


LIGHT_VECTOR_SIZE = 16  # direction(3) colour(3) ambient(3) wrap(1) fill direction(3) fill colour(3)


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
    fill = np.array([-direction[0] + rng.normal(0, 0.5), rng.normal(0, 0.4), -abs(rng.normal(0.8, 0.3))])
    fill_colour = rng.uniform(0.0, 0.4) * np.clip(rng.normal(1.0, 0.2, 3), 0.4, 1.6)
    # exposure: the brightest a surface can get stays near white, as a camera's auto-exposure would do
    total = float((colour + ambient + fill_colour).max())
    exposure = rng.uniform(0.55, 1.3) / max(total, 1e-6)  # some under- and over-exposed shots
    colour, ambient, fill_colour = colour * exposure, ambient * exposure, fill_colour * exposure
    return Lighting(
        direction=direction / np.linalg.norm(direction),
        colour=colour,
        ambient=ambient,
        wrap=rng.uniform(0, 0.6),
        fill_direction=fill / np.linalg.norm(fill),
        fill_colour=fill_colour,
    )


def _sample_noise(volume: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Sample (N, C) from the noise volume at coords (N, 3) in volume units (mirror-tiled)."""
    grid = coords.view(1, 1, 1, -1, 3)
    out = F.grid_sample(volume, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return out.view(volume.shape[1], -1).T


def vertex_noise(volume: torch.Tensor, template_cm: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """(P, V, 4) noise at the vertices of P people (offsets (P, 3)): low frequency, then 3 mid channels."""
    coords_low = template_cm[None] / 12.0 + offsets[:, None]
    coords_mid = template_cm[None] / 2.5 + offsets[:, None] * 3.0
    both = torch.cat([coords_low, coords_mid], dim=1).reshape(-1, 3)
    values = _sample_noise(volume, both).view(offsets.shape[0], 2, -1, volume.shape[1])
    return torch.cat([values[:, 0, :, :1], values[:, 1, :, :3]], dim=-1)


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
    vertex_noise: torch.Tensor  # (N, 4) low/mid frequency skin noise interpolated from the vertices
    normal: torch.Tensor  # (N, 3) interpolated vertex normal, camera frame (not unit)
    point: torch.Tensor  # (N, 3) camera-frame position
    lit: torch.Tensor  # (N, 1) key-light visibility (cast shadows, interpolated)
    occlusion: torch.Tensor  # (N, 1) ambient occlusion (interpolated)
    skin: torch.Tensor  # (S,) indices of the face-skin pixels (LABEL_FACE), which get micro-normals
    tangent_u: torch.Tensor  # (S, 3) dP/du of each skin pixel's triangle (micro-normal frame)
    tangent_v: torch.Tensor  # (S, 3) dP/dv


def _rows(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return table.index_select(0, index)


def _face_detail(
    albedo: torch.Tensor, px: PixelInputs, p: torch.Tensor, h: torch.Tensor, idx: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Make-up, lips, brows, blush, freckles, wrinkles, beard on face-surface pixels ``idx``.

    Returns the new albedo rows and the beard coverage (which dulls the specular).
    """
    pos, hh, a = _rows(px.template_cm, idx), _rows(h, idx), _rows(albedo, idx)
    pp = _rows(p, _rows(px.sample, idx))
    m = _rows(px.vertex_noise, idx)[:, 1:]
    atlas = _sample_atlas(_atlas_tensor(), _rows(px.uv, idx))
    lips_w, brow_w, eye_w, cheek_w = atlas[:, 0:1], atlas[:, 1:2], atlas[:, 2:3], atlas[:, 3:4]
    lash_w, socket_w, nostril_w = atlas[:, 4:5], atlas[:, 5:6], atlas[:, 6:7]
    skin_red = torch.tensor([0.1, -0.1, -0.1])
    a = a * (1 + cheek_w * (0.3 + pp[:, 17:18]) * 0.8 * skin_red)
    freckle = pp[:, 26:27] * (hh[:, 3:4] > 0.55) * (pos[:, 1:2] > -3) * (pos[:, 2:3] > 3)
    wrinkle = pp[:, 29:30] * 0.15 * torch.relu(m[:, 0:1]) * (pos[:, 1:2] > 4)
    a = a * (1 - 0.25 * freckle - wrinkle - 0.25 * socket_w) * (1 - 0.8 * nostril_w)
    a = torch.lerp(a, pp[:, 12:15], eye_w * pp[:, 15:16] * 0.7)  # eye make-up
    a = torch.lerp(a, pp[:, 6:9], lips_w)
    brow = (brow_w * pp[:, 18:19] * (0.7 + 0.5 * hh[:, 0:1])).clamp(0, 1)
    a = torch.lerp(a, pp[:, 3:6] * 0.45, brow)
    a = torch.lerp(a, pp[:, 3:6] * 0.15, (lash_w * (0.7 + 0.3 * pp[:, 15:16])).clamp(0, 1))
    # beard: below the nose and along the jaw, stubble-like noise
    zone = (
        torch.sigmoid((-2.4 - pos[:, 1:2] - 0.25 * pos[:, 0:1].abs()) / 0.4)
        * (pos[:, 2:3] > -3.5)
        * (1 - lips_w)
    )
    beard = (zone * pp[:, 19:20] * (0.55 + 0.45 * hh[:, 1:2])).clamp(0, 1)
    a = torch.lerp(a, pp[:, 3:6] * 0.7, beard)
    return a, beard[:, 0]


def _clothing(pos: torch.Tensor, pp: torch.Tensor) -> torch.Tensor:
    """Shirt/jacket: two colours in stripes (frequency 0 = plain) with a darker collar line."""
    freq = pp[:, 36:37]
    stripes = 0.5 + 0.5 * torch.sin(pos[:, 1:2] * freq + pp[:, 37:38] * pos[:, 0:1] * freq)
    colour = torch.lerp(pp[:, 30:33], pp[:, 33:36], (stripes > 0.5).float() * (freq > 0.05))
    return colour


def _eyes(
    px: PixelInputs,
    p: torch.Tensor,
    h: torch.Tensor,
    gaze: torch.Tensor,
    lights: torch.Tensor,
    idx: torch.Tensor,
) -> torch.Tensor:
    """Sclera, iris and pupil from the canonical position relative to the eye centre."""
    c = _rows(px.canonical, idx)
    sample = _rows(px.sample, idx)
    side = torch.sign(c[:, 0])
    ex, ey = eye_center_canonical()
    center = torch.stack([side * ex, torch.full_like(side, ey)], 1)
    rel = c[:, :2] - center - _rows(gaze, sample)
    r = rel.norm(dim=1, keepdim=True)
    lid_shadow = (1 - 4.0 * (c[:, 1:2] - ey).clamp(min=0)).clamp(min=0.5)
    sclera = torch.tensor(SCLERA_LINEAR) * lid_shadow
    iris = _rows(p, sample)[:, 9:12] * (0.8 + 0.4 * _rows(h, idx)[:, 2:3]) * (0.6 + 0.4 * (r / IRIS_RADIUS))
    col = torch.where(r < IRIS_RADIUS, iris, sclera)
    col = torch.where(r < PUPIL_RADIUS, torch.full_like(col, 0.01), col)
    # catchlight: the light source reflected on the cornea, offset towards the light
    ldir = _rows(lights, sample)[:, 0:2] * torch.tensor(
        [1.0, -1.0]
    )  # camera x right / y down → canonical x / y up
    glint = (rel - CATCHLIGHT_OFFSET * ldir).norm(dim=1, keepdim=True) < CATCHLIGHT_RADIUS
    return torch.where(glint, torch.full_like(col, 1.0), col)


def shade_pixels(
    px: PixelInputs,
    people: torch.Tensor,  # (B, NUM_PERSON_PARAMS)
    gaze: torch.Tensor,  # (B, 2) canonical offset of the irises
    lights: torch.Tensor,  # (B, LIGHT_VECTOR_SIZE), see lighting_vector
    noise: torch.Tensor,  # noise volume (hair strands)
    fine: torch.Tensor,  # fine 2D texture (face detail)
    bump: BumpTexture,  # pore height field (micro-normals)
) -> tuple[torch.Tensor, torch.Tensor]:
    """Linear RGB (N, 3) of every pixel and a hair-cover flag (N,) (hair hides face pixels)."""
    p = _rows(people[:, PIXEL_PERSON_COLUMNS], px.sample)  # the few parameters every pixel needs
    pos = px.template_cm
    offset = p[:, 9:12]
    n = px.vertex_noise
    albedo = p[:, 0:3] * (1.0 + 0.12 * n[:, 0:1] + 0.06 * n[:, 2:3])
    label = px.label
    face_idx = (label < LABEL_MOUTH).nonzero(as_tuple=True)[0]
    beard = torch.zeros(len(label))
    # fine noise (pores, stubble, freckles, iris) only where it is seen: the face surface
    h = torch.zeros(len(label), NOISE_CHANNELS)
    if face_idx.numel():
        uv = _rows(px.uv, face_idx) * (2 * FINE_TILES) - FINE_TILES + _rows(offset, face_idx)[:, :2] * 7.0
        grid = uv.view(1, 1, -1, 2)
        h[face_idx] = F.grid_sample(
            fine, grid, mode="bilinear", padding_mode="reflection", align_corners=False
        )[0, :, 0].T
        albedo[face_idx] *= 1.0 + 0.05 * h[face_idx, 2:3]
        albedo[face_idx], beard[face_idx] = _face_detail(albedo, px, people, h, face_idx)

    # hair on the head: above a hairline that drops towards the back of the head
    back = (-pos[:, 2] / 10.0).clamp(0, 1)
    hairline, hair_back, bald = p[:, 6], p[:, 7], p[:, 8]
    hair_height = hairline - (hairline - hair_back) * back
    hair_w = torch.sigmoid((pos[:, 1] - hair_height + 0.5 * n[:, 3]) / 0.4) * (1 - bald)
    hair_w = torch.where((label == LABEL_SKIN) | (pos[:, 2] < 6.0), hair_w, torch.zeros_like(hair_w))
    hair_w = torch.where(label == LABEL_CLOTH, torch.zeros_like(hair_w), hair_w)
    hairy = (hair_w > 0.02).nonzero(as_tuple=True)[0]
    if hairy.numel():
        stretched = pos[hairy] * torch.tensor([3.0, 0.4, 3.0]) + offset[hairy] * 5
        strands = 0.7 + 0.3 * _sample_noise(noise, stretched)[:, 0:1]
        albedo[hairy] = torch.lerp(albedo[hairy], p[hairy, 3:6] * strands, hair_w[hairy, None])
    hair_cover = (hair_w > 0.5) & (label < LABEL_MOUTH)

    cloth_idx = (label == LABEL_CLOTH).nonzero(as_tuple=True)[0]
    if cloth_idx.numel():
        albedo[cloth_idx] = _clothing(_rows(pos, cloth_idx), _rows(people, _rows(px.sample, cloth_idx)))
    eye_idx = (label == LABEL_EYE).nonzero(as_tuple=True)[0]
    if eye_idx.numel():
        albedo[eye_idx] = _eyes(px, people, h, gaze, lights, eye_idx)
    mouth = label == LABEL_MOUTH
    mouth_idx = mouth.nonzero(as_tuple=True)[0]
    if mouth_idx.numel():
        mv = px.mouth_v[mouth_idx, None]
        teeth = ((mv < 0.22) | (mv > 0.85)).float()
        albedo[mouth_idx] = teeth * torch.tensor(TEETH_LINEAR) + (1 - teeth) * torch.tensor(MOUTH_LINEAR)

    # light per pixel (synth/shading.py): pores tilt the face-skin normals, the T-zone is oilier;
    # hair, beard and the mouth cavity dull it
    geometric = F.normalize(px.normal, dim=-1)
    shading_normal, diffuse_normal = geometric, geometric
    oil = torch.zeros(len(label), 1)
    skin_idx = px.skin
    if skin_idx.numel():
        gradient = bump_gradient(bump, _rows(px.uv, skin_idx), _rows(offset, skin_idx)[:, :2] * 7.0)
        skin_geometric = _rows(geometric, skin_idx)
        micro = micro_normals(
            skin_geometric, px.tangent_u, px.tangent_v, gradient, _rows(p, skin_idx)[:, 15:16]
        )
        shading_normal = geometric.index_copy(0, skin_idx, micro)
        diffuse_normal = geometric.index_copy(0, skin_idx, diffuse_normals(skin_geometric, micro))
        oil[skin_idx] = tzone_weight(_rows(pos, skin_idx))[:, None]
    dull = ((1 - 0.7 * hair_w) * (1 - 0.5 * beard))[:, None]
    shade, specular = pixel_lighting(
        geometric, diffuse_normal, shading_normal, px.point, px.lit, px.occlusion, _rows(lights, px.sample),
        strength=p[:, 12:13] * (1 + p[:, 14:15] * oil) * dull, exponent=p[:, 13:14] * (1 + 0.5 * oil),
    )  # fmt: skip
    if mouth_idx.numel():
        specular[mouth_idx] = 0.0
        shade[mouth_idx] *= 0.35
    rgb = albedo * shade + specular
    return rgb, hair_cover


def lighting_vector(light: Lighting) -> np.ndarray:
    return np.concatenate(
        [light.direction, light.colour, light.ambient, [light.wrap], light.fill_direction, light.fill_colour]
    ).astype(np.float32)

"""Identity (shape) and expression deformation of the render mesh.

Both are smooth displacement fields over the template, so vertices move while
keeping their canonical coordinate. Identity = global/axis scales + a symmetric sum
of gaussian bumps at fixed anchors (random displacement per identity, a little
asymmetry). Expression = hand-built blendshapes from landmark regions (smile,
pucker, brows, blinks, …) plus a jaw rotation about a hinge axis below the ears.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from face_anything_ros.synth.mesh import (
    LABEL_SKIN,
    LEFT_EYE_LOWER,
    LEFT_EYE_UPPER,
    RIGHT_EYE_LOWER,
    RIGHT_EYE_UPPER,
    RenderMesh,
    build_render_mesh,
)

NUM_ANCHORS = 28  # per half face; mirrored → 56 bumps
ANCHOR_SIGMA_CM = (2.2, 4.5)
JAW_HINGE_CM = np.array([0.0, -0.5, -3.0])
MOUTH_LINE_Y_CM = -4.27
MOUTH_HALF_WIDTH_CM = 2.5
EXPRESSIONS = (
    "jaw_open",
    "smile_r",
    "smile_l",
    "pucker",
    "brow_up_r",
    "brow_up_l",
    "frown",
    "blink_r",
    "blink_l",
    "stretch_r",
    "stretch_l",
    "puff",
    "jaw_side",
    "lip_press",
)
NUM_EXPRESSIONS = len(EXPRESSIONS)
EYE_OPENNESS_RANGE = (0.05, 0.45)  # fraction of the lid gap the upper lid is raised above the template


@dataclass(frozen=True)
class DeformationBasis:
    """Precomputed fields on one render mesh (template cm)."""

    anchor_weights: np.ndarray  # (V, 2K) gaussian weights (right anchors then mirrored left ones)
    blendshapes: np.ndarray  # (E, V, 3) cm displacement per unit expression (jaw_open row unused)
    jaw_weight: np.ndarray  # (V,) 0..1 how much a vertex follows the jaw
    movable: np.ndarray  # (V,) 1 for face/head shell vertices, 0 for neck (not deformed by identity bumps)
    identity_modes: np.ndarray  # (K, V, 3) cm displacement per unit of each structured identity mode


# Structured shape variation real faces show (each scaled by a coefficient in [-1, 1]).
IDENTITY_MODES = (
    "nose_size",
    "nose_length",
    "jaw_width",
    "face_length",
    "eye_spacing",
    "cheeks",
    "forehead",
    "lips",
    "chin",
)


def _identity_modes(
    points: np.ndarray, lm: np.ndarray, face_w: np.ndarray, movable: np.ndarray
) -> np.ndarray:
    """Displacement fields for IDENTITY_MODES (template cm, about ±10-15 % of the feature)."""
    modes = np.zeros((len(IDENTITY_MODES), len(points), 3))
    nose_center = lm[4]
    w_nose = _gauss(points, nose_center, 1.6) * face_w
    modes[0] = w_nose[:, None] * (points - nose_center) * 0.15
    modes[1] = w_nose[:, None] * np.array([0.0, -0.25, 0.35])
    lower = _smoothstep((-2.0 - points[:, 1]) / 4.0) * movable
    modes[2] = lower[:, None] * np.stack(
        [points[:, 0] * 0.1, np.zeros(len(points)), np.zeros(len(points))], 1
    )
    modes[3] = lower[:, None] * np.stack(
        [np.zeros(len(points)), (points[:, 1] + 2.0) * 0.08, np.zeros(len(points))], 1
    )
    for eye in (lm[159], lm[386]):
        modes[4] += (_gauss(points, eye, 1.4) * face_w)[:, None] * np.array([0.2 * np.sign(eye[0]), 0.0, 0.0])
    for cheek in (np.array([-4.5, -2.0, 3.5]), np.array([4.5, -2.0, 3.5])):
        modes[5] += (_gauss(points, cheek, 2.0) * face_w)[:, None] * np.array(
            [0.3 * np.sign(cheek[0]), 0.0, 0.3]
        )
    modes[6] = (_gauss(points, lm[151], 2.5) * face_w)[:, None] * np.array([0.0, 0.2, 0.45])
    mouth = 0.5 * (lm[13] + lm[14])
    w_lips = _gauss(points, mouth, 0.9) * face_w
    modes[7] = w_lips[:, None] * np.stack(
        [np.zeros(len(points)), np.tanh((points[:, 1] - mouth[1]) / 0.4) * 0.15, np.full(len(points), 0.15)],
        1,
    )
    modes[8] = (_gauss(points, lm[152], 1.8) * face_w)[:, None] * np.array([0.0, -0.35, 0.3])
    return modes


def _gauss(points: np.ndarray, center: np.ndarray, sigma: float) -> np.ndarray:
    return np.exp(-np.sum((points - center) ** 2, axis=-1) / (2 * sigma**2))


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _blink_field(points: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """Downward displacement that closes one eye: 1×gap on the upper lid, 0 on the lower."""
    order_u, order_l = np.argsort(upper[:, 0]), np.argsort(lower[:, 0])
    x = points[:, 0]
    y_up = np.interp(x, upper[order_u, 0], upper[order_u, 1])
    y_lo = np.interp(x, lower[order_l, 0], lower[order_l, 1])
    gap = np.maximum(y_up - y_lo, 0.0)
    center = 0.5 * (upper[:, 0].min() + upper[:, 0].max())
    half = 0.5 * (upper[:, 0].max() - upper[:, 0].min()) + 0.4
    lateral = np.exp(-(((x - center) / half) ** 6))
    y = points[:, 1]
    inside = np.clip((y - y_lo) / np.maximum(y_up - y_lo, 1e-3), 0.0, 1.0)
    above = np.exp(-(((y - y_up) / 0.9) ** 2))
    weight = np.where(y <= y_up, inside, above)
    depth_ok = (points[:, 2] > upper[:, 2].min() - 1.5).astype(float)
    field = np.zeros_like(points)
    field[:, 1] = -gap * weight * lateral * depth_ok
    field[:, 2] = 0.12 * weight * lateral * depth_ok  # the closing lid bulges a little
    return field


@lru_cache(maxsize=4)
def build_deformation_basis(subdivisions: int) -> DeformationBasis:
    """Fields on ``build_render_mesh(subdivisions)`` (cached)."""
    mesh = build_render_mesh(subdivisions)
    points = np.asarray(mesh.vertices_cm)
    is_face = mesh.is_face_vertex
    skin_vertices = np.unique(mesh.faces[mesh.labels == LABEL_SKIN])
    movable = np.zeros(len(points))
    movable[is_face] = 1.0
    head = np.zeros(len(points), dtype=bool)
    head[skin_vertices] = True
    head &= points[:, 1] > -12.0  # the neck stays put, the skull follows
    movable[head & ~is_face] = 1.0

    rng = np.random.default_rng(12345)  # fixed anchor layout, not a per-sample choice
    face_points = points[is_face]
    right = face_points[face_points[:, 0] <= 0.3]
    anchors = right[rng.choice(len(right), NUM_ANCHORS, replace=False)]
    sigmas = rng.uniform(*ANCHOR_SIGMA_CM, NUM_ANCHORS)
    mirrored = anchors * np.array([-1.0, 1.0, 1.0])
    weights = (
        np.concatenate(
            [
                np.stack([_gauss(points, a, s) for a, s in zip(anchors, sigmas, strict=True)], 1),
                np.stack([_gauss(points, a, s) for a, s in zip(mirrored, sigmas, strict=True)], 1),
            ],
            axis=1,
        )
        * movable[:, None]
    )

    lm = points[mesh.landmark_index]
    shapes = np.zeros((NUM_EXPRESSIONS, len(points), 3))
    face_w = is_face.astype(float)
    for side, corner, cheek, brow in ((-1, 61, 205, 105), (1, 291, 425, 334)):
        idx = EXPRESSIONS.index("smile_r" if side < 0 else "smile_l")
        w = _gauss(points, lm[corner], 1.4) * face_w
        wc = _gauss(points, lm[cheek], 2.0) * face_w
        shapes[idx] = w[:, None] * [0.6 * side, 0.75, -0.5] + wc[:, None] * [0.15 * side, 0.45, 0.2]
        idx = EXPRESSIONS.index("stretch_r" if side < 0 else "stretch_l")
        shapes[idx] = w[:, None] * [0.5 * side, -0.15, -0.1]
        idx = EXPRESSIONS.index("brow_up_r" if side < 0 else "brow_up_l")
        above_eye = _smoothstep((points[:, 1] - 3.0) / 1.0)
        wb = _gauss(points, lm[brow], 2.2) * face_w * above_eye
        shapes[idx] = wb[:, None] * [0.0, 1.0, 0.08]
    mouth_center = 0.5 * (lm[13] + lm[14])
    wm = _gauss(points, mouth_center, 1.5) * face_w
    shapes[EXPRESSIONS.index("pucker")] = wm[:, None] * np.stack(
        [-0.3 * (points[:, 0] - mouth_center[0]), np.zeros(len(points)), np.full(len(points), 0.7)], 1
    )
    shapes[EXPRESSIONS.index("lip_press")] = wm[:, None] * np.stack(
        [
            np.zeros(len(points)),
            -0.25 * np.tanh((points[:, 1] - mouth_center[1]) / 0.3),
            np.full(len(points), -0.15),
        ],
        1,
    )
    frown = np.zeros((len(points), 3))
    for inner in (107, 336):
        wf = _gauss(points, lm[inner], 1.3) * face_w
        frown += wf[:, None] * [-0.4 * np.sign(lm[inner][0]), -0.5, 0.15]
    shapes[EXPRESSIONS.index("frown")] = frown
    for side, upper, lower in ((-1, RIGHT_EYE_UPPER, RIGHT_EYE_LOWER), (1, LEFT_EYE_UPPER, LEFT_EYE_LOWER)):
        idx = EXPRESSIONS.index("blink_r" if side < 0 else "blink_l")
        field = _blink_field(points, lm[list(upper)], lm[list(lower)]) * face_w[:, None]
        field *= (np.sign(points[:, 0]) == side)[:, None]
        shapes[idx] = field
    puff = np.zeros((len(points), 3))
    for side in (-1, 1):
        wp = _gauss(points, np.array([4.6 * side, -3.0, 3.0]), 1.8) * face_w
        puff += wp[:, None] * [0.45 * side, 0.0, 0.3]
    shapes[EXPRESSIONS.index("puff")] = puff

    # jaw: everything below the mouth line (sharp at the lips, broad on the cheeks) follows the jaw
    x, y = points[:, 0], points[:, 1]
    line = MOUTH_LINE_Y_CM + np.clip(np.abs(x) - MOUTH_HALF_WIDTH_CM, 0, None) * 0.75
    width = 0.12 + 0.5 * np.clip(np.abs(x) - 1.5, 0, None) + 0.3 * np.clip(MOUTH_LINE_Y_CM - y - 1.0, 0, None)
    jaw = _smoothstep(0.5 + (line - y) / (2 * width))
    jaw = np.where(is_face & (mesh.mouth_v <= 0.01), 0.0, jaw)
    jaw = np.where(is_face & (mesh.mouth_v >= 0.99), 1.0, jaw)
    jaw *= movable * (points[:, 2] > -8.0)
    shapes[EXPRESSIONS.index("jaw_side")] = jaw[:, None] * [0.5, 0.0, 0.0]
    modes = _identity_modes(points, lm, face_w, movable)
    for array in (weights, shapes, jaw, movable, modes):
        array.setflags(write=False)
    return DeformationBasis(
        anchor_weights=weights, blendshapes=shapes, jaw_weight=jaw, movable=movable, identity_modes=modes
    )


@dataclass(frozen=True)
class Identity:
    """Shape of one person (cm-space displacement field + scales)."""

    offsets_cm: np.ndarray  # (V, 3)
    scale: np.ndarray  # (3,) per-axis scale of the head (applied after offsets)


def sample_identity(
    basis: DeformationBasis,
    rng: np.random.Generator,
    bump_cm: float,
    scale_range: tuple[float, float],
    axis_std: float,
) -> Identity:
    k = basis.anchor_weights.shape[1] // 2
    disp = rng.normal(0.0, bump_cm, (k, 3))
    mirrored = disp * np.array([-1.0, 1.0, 1.0])
    asym = rng.normal(0.0, 0.25 * bump_cm, (2 * k, 3))
    offsets = basis.anchor_weights @ (np.concatenate([disp, mirrored]) + asym)
    coefficients = rng.uniform(-1.0, 1.0, len(IDENTITY_MODES))
    offsets = offsets + np.einsum("k,kvc->vc", coefficients, basis.identity_modes)
    # the template's eyes are narrow (a squint); people open them wider: a negative blink, per identity
    openness = rng.uniform(*EYE_OPENNESS_RANGE)
    for name in ("blink_r", "blink_l"):
        offsets = offsets - openness * basis.blendshapes[EXPRESSIONS.index(name)]
    scale = rng.uniform(*scale_range) * np.exp(rng.normal(0.0, axis_std, 3))
    return Identity(offsets_cm=offsets, scale=scale)


def deform(
    mesh: RenderMesh,
    basis: DeformationBasis,
    identity: Identity,
    expressions: np.ndarray,
    jaw_max_deg: float,
) -> np.ndarray:
    """Deformed vertices in metres (T, V, 3) for expression weights (T, E) in [0, 1] (jaw_side in [-1, 1])."""
    neutral = np.asarray(mesh.vertices_cm) + identity.offsets_cm
    expr = np.asarray(expressions, dtype=np.float64)
    disp = np.einsum("te,evc->tvc", expr[:, 1:], basis.blendshapes[1:])
    verts = neutral[None] + disp
    angle = np.deg2rad(jaw_max_deg) * expr[:, 0]
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    rel_y = verts[..., 1] - JAW_HINGE_CM[1]
    rel_z = verts[..., 2] - JAW_HINGE_CM[2]
    rot_y = cos * rel_y - sin * rel_z  # positive angle: chin down and back
    rot_z = sin * rel_y + cos * rel_z
    w = basis.jaw_weight[None]
    verts[..., 1] += w * (rot_y - rel_y)
    verts[..., 2] += w * (rot_z - rel_z)
    return verts * identity.scale * 0.01

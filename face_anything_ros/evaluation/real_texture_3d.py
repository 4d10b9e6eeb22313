"""The 3D real-texture test set: each reserved photo as the texture of a face surface moved as a head.

Why: the planar real-texture set (``real_texture.py``) moves a photo as a plane, so it has no
parallax, no self-occlusion and no depth: a 3D method is tested on a motion no head makes, and depth
on real faces is not measured at all. Here the photo is pasted onto a face surface and that surface
is moved in 3D:

* surface: the template posed and deformed onto MediaPipe's 468 landmarks of the still photo
  (``runtime/landmark_fit.py``), in centimetres of the template (an average face size), textured by the
  landmarks' own photo pixels (a triangle of the mesh shows the photo's triangle between its three
  landmarks);
* motion: the planar set's motion specs (slow, fast, expression) as head rotation about the head's
  centre, distance change and translation in front of a pinhole camera; expressions by the
  generator's expression modes at the landmarks (smile, jaw open, brows up);
* scene: the photo's own surroundings with the face inpainted, still (a head moving in front of a
  fixed background), the planar set's lighting change and occluder;
* ground truth, exact for that surface (the generator's rasteriser, ``runtime/mesh_raster.py``):
  tracks of surface points with visibility by the depth buffer, the facing test and the occluder;
  metric depth; face mask; canonical coordinates.

Caveat, stated wherever the set is reported: the surface comes from the face mesh's own landmarks
on the photo and the template's shape space, so the ``mediapipe`` baselines (which place landmarks
by the same model) and above all the ``template`` depth baseline (whose shape is this surface's) are
favoured here; the depth of the real person is not known, only that of this surface.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from face_anything_ros.core.camera import Intrinsics, project
from face_anything_ros.core.face_template import load_face_template
from face_anything_ros.core.sequence_format import SequenceData, write_sequence
from face_anything_ros.evaluation.real_texture import (
    MOTION_SPECS,
    MotionSpec,
    Occluder,
    _oscillation,
    base_view,
    light_and_occlude,
    load_photo,
    make_occluder,
    motion_time,
    photo_motion_variants,
    pinhole_intrinsics,
)
from face_anything_ros.runtime.landmark_fit import fit_landmarks, load_landmark_basis
from face_anything_ros.runtime.mesh_raster import MeshFragments, interpolate_vertex_values, rasterize_mesh

LOG = logging.getLogger(__name__)

TEXTURE_SIDE = 512  # the photo's face crop is sampled at this resolution (then area-filtered by the render)
SUPERSAMPLE = 2  # frames are rendered at 2x and area-downsampled (no aliasing at the face's edge)
LANDMARK_NOISE_CM = 0.3  # ridge prior of the surface fit (the runtime mesh prior's default)
# expression mode coefficients (unit prior) at full strength of a spec's ``expression``
EXPRESSION_PEAKS = {
    "expression_smile_r": 2.0,
    "expression_smile_l": 2.0,
    "expression_jaw_open": 1.5,
    "expression_brow_up_r": 1.5,
    "expression_brow_up_l": 1.5,
}
VISIBILITY_DEPTH_TOLERANCE = 0.01  # a surface point within 1 % of the depth buffer's z is the visible one
INPAINT_RADIUS_PX = 9


@dataclass(frozen=True)
class TexturedFace:
    """One photo's face as a textured surface (template frame, cm) and its background."""

    shape_cm: np.ndarray  # (468, 3) the fitted surface in the template's frame (x right, y up, z out)
    photo_rotation: np.ndarray  # (3, 3) template frame -> camera frame of the photo's own view
    texture: np.ndarray  # (TEXTURE_SIDE, TEXTURE_SIDE, 3) uint8, the photo's face crop
    texture_uv: np.ndarray  # (468, 2) texture pixel of each vertex
    background: np.ndarray  # (S, S, 3) uint8, the same crop at the output size, face inpainted
    landmarks_px: np.ndarray  # (468, 2) the landmarks in the output-size crop (frame 0's face)
    px_per_cm: float  # output-size pixels per template cm in the photo's view


def textured_face(photo: np.ndarray, size: int) -> TexturedFace:
    """Fit the template to the photo's landmarks and keep the photo as its texture."""
    texture, landmarks = base_view(photo, TEXTURE_SIDE)
    # MediaPipe's z is a depth offset at the scale of x: camera-like axes (x right, y down, z away)
    fit = fit_landmarks(landmarks, LANDMARK_NOISE_CM)
    centred = (fit.vertices - fit.vertices.mean(axis=0)) @ fit.rotation / fit.scale
    shape_cm = centred + load_face_template().vertices_cm.mean(axis=0)
    scale = size / TEXTURE_SIDE
    background = cv2.resize(texture, (size, size), interpolation=cv2.INTER_AREA)
    hull = cv2.convexHull((landmarks[:, :2] * scale).astype(np.int32))
    face_area = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(face_area, hull, 255)
    face_area = cv2.dilate(face_area, np.ones((9, 9), np.uint8))
    background = cv2.inpaint(background, face_area, INPAINT_RADIUS_PX, cv2.INPAINT_TELEA)
    return TexturedFace(
        shape_cm=shape_cm,
        photo_rotation=fit.rotation,
        texture=texture,
        texture_uv=landmarks[:, :2],
        background=background,
        landmarks_px=landmarks[:, :2] * scale,
        px_per_cm=fit.scale * scale,
    )


@dataclass(frozen=True)
class HeadMotion:
    """Per frame: rotation (camera frame, about the head centre), head centre (m), expression (cm)."""

    rotations: np.ndarray  # (T, 3, 3)
    centres_m: np.ndarray  # (T, 3)
    expression_cm: np.ndarray  # (T, 468, 3) displacement of each vertex in the template frame


def head_motion(
    face: TexturedFace, spec: MotionSpec, camera: Intrinsics, num_frames: int, rng: np.random.Generator
) -> HeadMotion:
    """The planar set's motion spec as a head's motion; frame 0 shows the face where the photo has it."""
    focal, size = camera.fx, camera.width
    distance = focal / (100.0 * face.px_per_cm)  # metres at which the face appears at the photo's size
    centre_px = face.landmarks_px.mean(axis=0)
    centre0 = np.array([*(centre_px - (size - 1) / 2) * distance / focal, distance])
    phases = rng.uniform(0, 2 * np.pi, size=5)
    drift = rng.normal(size=2)
    drift /= np.linalg.norm(drift)
    travel_m = spec.translation_per_frame * size * spec.motion_period_frames / (2 * np.pi) * distance / focal
    basis = load_landmark_basis()
    modes = {name: basis.modes[i] for i, name in enumerate(basis.names)}
    peak = sum(EXPRESSION_PEAKS[name] * modes[name] for name in EXPRESSION_PEAKS)
    rotations, centres, expressions = [], [], []
    for t in range(num_frames):
        angle = 2 * np.pi * motion_time(spec, t) / spec.motion_period_frames
        yaw = _oscillation(spec.yaw_deg, angle, phases[0])
        pitch = _oscillation(spec.pitch_deg, 0.7 * angle, phases[1])
        roll = _oscillation(spec.roll_deg, 1.3 * angle, phases[2])
        rotations.append(cv2.Rodrigues(np.radians([pitch, yaw, roll]))[0])
        scale = 1.0 + _oscillation(spec.scale_amplitude, 0.5 * angle, phases[3])
        shift = drift * _oscillation(travel_m, angle, phases[4])
        centres.append(np.array([centre0[0] + shift[0], centre0[1] + shift[1], distance / scale]))
        profile = 0.5 - 0.5 * np.cos(2 * np.pi * motion_time(spec, t) / (1.5 * spec.motion_period_frames))
        expressions.append(spec.expression * profile * peak)
    return HeadMotion(np.stack(rotations), np.stack(centres), np.stack(expressions))


def camera_vertices(face: TexturedFace, motion: HeadMotion, t: int) -> np.ndarray:
    """(468, 3) vertices of frame ``t`` in the camera frame (metres)."""
    shape = face.shape_cm + motion.expression_cm[t]
    centred = (shape - face.shape_cm.mean(axis=0)) / 100.0
    return centred @ (motion.rotations[t] @ face.photo_rotation).T + motion.centres_m[t]


def screen_points(points: np.ndarray, camera: Intrinsics) -> np.ndarray:
    """(V, 3) screen (u, v, z) of camera-frame points: the rasteriser's input."""
    return np.column_stack([project(points, camera), points[:, 2]])


@dataclass(frozen=True)
class RenderedFrame:
    image: np.ndarray  # (S, S, 3) uint8, lighting and occluder applied
    fragments: MeshFragments  # at the output size


def render(
    face: TexturedFace,
    vertices: np.ndarray,
    camera: Intrinsics,
    t: int,
    spec: MotionSpec,
    occluder: Occluder | None,
) -> RenderedFrame:
    """Frame ``t``: the textured surface over the still background, rendered at 2x and downsampled."""
    faces = load_face_template().faces
    size = camera.width
    big = size * SUPERSAMPLE
    fine = rasterize_mesh(
        screen_points(vertices, camera.scaled_to(big, big)), faces, big, big, perspective=True
    )
    uv = interpolate_vertex_values(fine, faces, face.texture_uv).astype(np.float32)
    sampled = cv2.remap(
        face.texture, uv[..., 0], uv[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )
    background = cv2.resize(face.background, (big, big), interpolation=cv2.INTER_LINEAR)
    covered = fine.triangle >= 0
    composite = np.where(covered[..., None], sampled, background)
    image = cv2.resize(composite, (size, size), interpolation=cv2.INTER_AREA)
    fragments = rasterize_mesh(screen_points(vertices, camera), faces, size, size, perspective=True)
    return RenderedFrame(light_and_occlude(image, t, spec, occluder), fragments)


def surface_points(fragments: MeshFragments, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(triangle, barycentrics) of the surface under integer ``pixels`` (N, 2 x, y)."""
    x, y = pixels[:, 0], pixels[:, 1]
    return fragments.triangle[y, x], fragments.bary[y, x]


def track_points(
    vertices: np.ndarray,
    camera: Intrinsics,
    fragments: MeshFragments,
    triangles: np.ndarray,
    bary: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Image positions (N, 2) of surface points in one frame and whether each is seen: in the image,
    on a triangle facing the camera and not behind another part of the surface."""
    corners = load_face_template().faces[triangles]  # (N, 3)
    points = np.einsum("nk,nkd->nd", bary, vertices[corners])
    screen = screen_points(points, camera)
    a, b, c = (vertices[corners[:, k]] for k in range(3))
    # outward (counter-clockwise) triangles face the camera where their normal points towards it
    facing = np.einsum("nd,nd->n", np.cross(b - a, c - a), -points) > 0
    height, width = fragments.triangle.shape
    pixel = np.rint(screen[:, :2]).astype(np.int64)
    inside = (pixel[:, 0] >= 0) & (pixel[:, 0] < width) & (pixel[:, 1] >= 0) & (pixel[:, 1] < height)
    safe = np.clip(pixel, 0, [width - 1, height - 1])
    buffer = fragments.depth[safe[:, 1], safe[:, 0]]
    unhidden = ~(buffer < screen[:, 2] * (1 - VISIBILITY_DEPTH_TOLERANCE))  # NaN (at the silhouette): seen
    return screen[:, :2], inside & facing & unhidden


def sample_surface_queries(
    rendered: list[RenderedFrame],
    vertices: list[np.ndarray],
    camera: Intrinsics,
    occluder: Occluder | None,
    num_points: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Queries on seen face pixels, half in frame 0, the rest at random frames: (queries (N, 3) t, x, y;
    tracks (T, N, 2); visible (T, N); canonical coordinate of each point (N, 3))."""
    num_frames = len(rendered)
    query_frames = np.where(
        np.arange(num_points) < num_points // 2, 0, rng.integers(0, num_frames, num_points)
    )
    triangles = np.zeros(num_points, dtype=np.int64)
    bary = np.zeros((num_points, 3))
    for t in np.unique(query_frames):
        chosen = np.flatnonzero(query_frames == t)
        seen = rendered[t].fragments.triangle >= 0
        ys, xs = np.nonzero(seen)
        pixels = np.column_stack([xs, ys])
        if occluder is not None:
            pixels = pixels[~occluder.covers(int(t), pixels.astype(np.float64))]
        picks = pixels[rng.choice(len(pixels), size=len(chosen), replace=len(pixels) < len(chosen))]
        triangles[chosen], bary[chosen] = surface_points(rendered[t].fragments, picks)
    tracks = np.zeros((num_frames, num_points, 2))
    visible = np.zeros((num_frames, num_points), dtype=bool)
    for t in range(num_frames):
        tracks[t], visible[t] = track_points(vertices[t], camera, rendered[t].fragments, triangles, bary)
        if occluder is not None:
            visible[t] &= ~occluder.covers(t, tracks[t])
    # a query is where its point is in its own frame (the pixel centre it was drawn from, up to rounding)
    queries = np.column_stack([query_frames, tracks[query_frames, np.arange(num_points)]])
    visible[query_frames, np.arange(num_points)] = True
    template = load_face_template()
    query_canonical = np.einsum(
        "nk,nkd->nd", bary, template.canonical.astype(np.float64)[template.faces[triangles]]
    )
    return queries, tracks, visible, query_canonical


def ground_truth_maps(
    rendered: RenderedFrame, t: int, occluder: Occluder | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Depth (m, NaN off the seen face), face mask and canonical coordinates (NaN off-face) of a frame."""
    fragments = rendered.fragments
    mask = fragments.triangle >= 0
    if occluder is not None:
        mask &= ~occluder.covered_pixels(t, *mask.shape)
    template = load_face_template()
    canonical = interpolate_vertex_values(fragments, template.faces, template.canonical.astype(np.float64))
    depth = np.where(mask, fragments.depth, np.nan)
    canonical[~mask] = np.nan
    return depth.astype(np.float32), mask, canonical.astype(np.float32)


def make_sequence_3d(
    photo_name: str,
    spec: MotionSpec,
    size: int = 256,
    num_frames: int = 24,
    num_points: int = 64,
    seed: int = 0,
) -> tuple[str, SequenceData]:
    """One photo x motion sequence with its exact ground truth."""
    rng = np.random.default_rng(seed)
    face = textured_face(load_photo(photo_name), size)
    intrinsics = pinhole_intrinsics(size)
    camera = Intrinsics.from_mapping(intrinsics)
    motion = head_motion(face, spec, camera, num_frames, rng)
    occluder = make_occluder(face.landmarks_px, size, num_frames, rng) if spec.occluder else None
    vertices = [camera_vertices(face, motion, t) for t in range(num_frames)]
    rendered = [render(face, vertices[t], camera, t, spec, occluder) for t in range(num_frames)]
    queries, tracks, visible, query_canonical = sample_surface_queries(
        rendered, vertices, camera, occluder, num_points, rng
    )
    maps = [ground_truth_maps(rendered[t], t, occluder) for t in range(num_frames)]
    depth, mask, canonical = (np.stack(m) for m in zip(*maps, strict=True))
    data = SequenceData(
        frames=np.stack([r.image for r in rendered]),
        intrinsics=intrinsics,
        depth=depth,
        mask=mask,
        instances=mask.astype(np.uint8),
        queries=queries.astype(np.float32),
        tracks=tracks.astype(np.float32),
        visible=visible,
        canonical=canonical,
        query_canonical=query_canonical.astype(np.float32),
    )
    return f"real3d_{photo_name}_{spec.name}", data


def build_real_texture_3d_set(
    out_dir: Path,
    size: int = 256,
    num_frames: int = 24,
    num_points: int = 64,
    specs: tuple[MotionSpec, ...] = MOTION_SPECS,
) -> list[Path]:
    """Write every photo x motion sequence to ``out_dir`` in the evaluation format (with depth, mask,
    canonical coordinates)."""
    written = []
    for photo, spec, seed in photo_motion_variants(num_frames, specs):
        name, data = make_sequence_3d(photo, spec, size, num_frames, num_points, seed)
        folder = write_sequence(out_dir / name, data)
        LOG.info("wrote %s (%d frames, %d queries)", folder, num_frames, num_points)
        written.append(folder)
    return written

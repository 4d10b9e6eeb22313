"""The render mesh: the subdivided face template plus non-face head geometry.

The face part is the 468-vertex template, midpoint-subdivided (new vertices take the
linear interpolation of their edge's canonical coordinates, so canonical stays a
function on the template surface; positions are Phong-tessellated so the surface is
smoother than the flat template). Triangles spanning the eye openings are labelled
``EYE`` (face, drawn as an eyeball), those spanning the mouth opening ``MOUTH``
(non-face, drawn as the mouth cavity). A head shell, neck and ears (label ``SKIN``,
non-face) are attached around the face oval so silhouettes, ears and hair look like
a head and occlude like one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from face_anything_ros.core.face_template import load_face_template

LABEL_FACE = 0
LABEL_EYE = 1
LABEL_MOUTH = 2
LABEL_SKIN = 3
LABEL_CLOTH = 4
FACE_LABELS = (LABEL_FACE, LABEL_EYE)

# MediaPipe landmark contours (subject's right = negative x).
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
RIGHT_EYE_UPPER = (246, 161, 160, 159, 158, 157, 173)
RIGHT_EYE_LOWER = (7, 163, 144, 145, 153, 154, 155)
LEFT_EYE_UPPER = (466, 388, 387, 386, 385, 384, 398)
LEFT_EYE_LOWER = (249, 390, 373, 374, 380, 381, 382)
INNER_LIP_UPPER = (191, 80, 81, 82, 13, 312, 311, 310, 415)
INNER_LIP_LOWER = (95, 88, 178, 87, 14, 317, 402, 318, 324)
MOUTH_CORNERS_INNER = (78, 308)
OUTER_LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
RIGHT_BROW = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
LEFT_BROW = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
             152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)  # fmt: skip
NOSE_TIP = 1
CHIN = 152

# Head geometry in template centimetres (template: nose tip z≈7.5, cheeks at x≈±7.7).
HEAD_CENTER_CM = np.array([0.0, 1.5, -3.5])
HEAD_RADII_CM = np.array([8.0, 12.0, 9.5])
HEAD_BACK_POLE = np.array([0.0, 0.15, -1.0])
SHELL_RINGS = 10
NECK_CENTER_CM = np.array([0.0, 0.0, -4.5])
NECK_RADII_CM = np.array([5.3, 5.8])
NECK_Y_RANGE_CM = (-26.0, -4.0)
NECK_SEGMENTS = 24
NECK_RINGS = 5
EAR_CENTER_CM = np.array([7.4, 0.3, -4.0])
EAR_RADII_CM = np.array([0.9, 3.1, 1.9])
EAR_SEGMENTS = (12, 8)
TORSO_CENTER_CM = np.array([0.0, -38.0, -5.5])
TORSO_RADII_CM = np.array([21.0, 16.0, 11.0])
TORSO_SQUARENESS = 0.55  # superellipsoid exponent in x/y: < 1 gives shoulders rather than a ball
TORSO_SEGMENTS = (24, 10)


@dataclass(frozen=True)
class RenderMesh:
    """Neutral render mesh in template centimetres with per-vertex attributes."""

    vertices_cm: np.ndarray  # (V, 3) float64 neutral positions
    faces: np.ndarray  # (F, 3) int64
    labels: np.ndarray  # (F,) int8 LABEL_*
    canonical: np.ndarray  # (V, 3) float32, NaN on non-face vertices
    uvs: np.ndarray  # (V, 2) float32 face texture coordinates (0 outside the face)
    mouth_v: np.ndarray  # (V,) float32 0 upper inner lip .. 1 lower inner lip (mouth cavity shading)
    landmark_index: np.ndarray  # (468,) indices of the template vertices in this mesh
    is_face_vertex: np.ndarray  # (V,) bool
    head_weight: np.ndarray  # (V,) 1 follows the head pose, 0 the torso (neck blends)

    @property
    def num_vertices(self) -> int:
        return int(self.vertices_cm.shape[0])


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    tri = vertices[faces]
    face_normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals = np.zeros_like(vertices)
    for corner in range(3):
        np.add.at(normals, faces[:, corner], face_normals)
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


def subdivide(
    vertices: np.ndarray, faces: np.ndarray, attributes: np.ndarray, smooth: float = 0.75
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One midpoint subdivision (each triangle → 4).

    Attributes of new vertices are the exact edge midpoints (so canonical coordinates
    stay linear on the template surface); positions are Phong-tessellated by ``smooth``.
    Child triangles keep their parent's order (parent i → children 4i..4i+3).
    """
    normals = vertex_normals(vertices, faces)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    edges_sorted = np.sort(edges, axis=1)
    unique, inverse = np.unique(edges_sorted, axis=0, return_inverse=True)
    a, b = unique[:, 0], unique[:, 1]
    mid = 0.5 * (vertices[a] + vertices[b])

    def project(point: np.ndarray, origin: np.ndarray, normal: np.ndarray) -> np.ndarray:
        return point - np.sum((point - origin) * normal, axis=1, keepdims=True) * normal

    phong = 0.5 * (project(mid, vertices[a], normals[a]) + project(mid, vertices[b], normals[b]))
    new_vertices = np.concatenate([vertices, (1 - smooth) * mid + smooth * phong])
    new_attributes = np.concatenate([attributes, 0.5 * (attributes[a] + attributes[b])])
    n = len(vertices)
    num_faces = len(faces)
    m01, m12, m20 = (n + inverse[k * num_faces : (k + 1) * num_faces].ravel() for k in range(3))
    v0, v1, v2 = faces[:, 0], faces[:, 1], faces[:, 2]
    children = np.stack(
        [
            np.stack([v0, m01, m20], 1),
            np.stack([m01, v1, m12], 1),
            np.stack([m20, m12, v2], 1),
            np.stack([m01, m12, m20], 1),
        ],
        axis=1,
    ).reshape(-1, 3)
    return new_vertices, children, new_attributes


def _boundary_loop(faces: np.ndarray) -> np.ndarray:
    """Vertices of the (single) boundary loop, in order."""
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    key = np.sort(edges, axis=1)
    unique, counts = np.unique(key, axis=0, return_counts=True)
    boundary = {tuple(e) for e in unique[counts == 1]}
    directed = {int(e[0]): int(e[1]) for e in edges if tuple(sorted(e)) in boundary}
    start = next(iter(directed))
    loop = [start]
    while directed[loop[-1]] != start:
        loop.append(directed[loop[-1]])
    return np.asarray(loop, dtype=np.int64)


def _slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b)
    omega = np.arccos(np.clip(np.sum(a * b, axis=-1, keepdims=True), -1.0, 1.0))
    sin = np.maximum(np.sin(omega), 1e-9)
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / sin


def _head_shell(boundary_xyz: np.ndarray, first_index: int) -> tuple[np.ndarray, np.ndarray]:
    """Rings from the face oval back to a pole behind the head (ellipsoidal skull).

    Returns new vertices (excluding the boundary ring) and faces whose indices use the
    boundary ring as ring 0 (indices ``-1 - k`` for boundary vertex k, fixed by the caller).
    """
    unit = (boundary_xyz - HEAD_CENTER_CM) / HEAD_RADII_CM
    rho0 = np.linalg.norm(unit, axis=1, keepdims=True)
    rings = []
    for j in range(1, SHELL_RINGS):
        t = j / SHELL_RINGS
        direction = _slerp(unit, HEAD_BACK_POLE, t)
        rho = 1.0 + (rho0 - 1.0) * (1.0 - t) ** 3
        rings.append(HEAD_CENTER_CM + HEAD_RADII_CM * direction * rho)
    pole = HEAD_CENTER_CM + HEAD_RADII_CM * HEAD_BACK_POLE / np.linalg.norm(HEAD_BACK_POLE)
    new_vertices = np.concatenate([*rings, pole[None]])
    n = len(boundary_xyz)

    def ring_index(j: int, k: np.ndarray) -> np.ndarray:
        k = k % n
        if j == 0:
            return -1 - k
        return first_index + (j - 1) * n + k

    faces = []
    k = np.arange(n)
    for j in range(SHELL_RINGS - 1):
        a, b = ring_index(j, k), ring_index(j, k + 1)
        c, d = ring_index(j + 1, k), ring_index(j + 1, k + 1)
        faces += [np.stack([a, c, b], 1), np.stack([b, c, d], 1)]
    pole_index = np.full(n, first_index + (SHELL_RINGS - 1) * n)
    faces.append(
        np.stack([ring_index(SHELL_RINGS - 1, k), pole_index, ring_index(SHELL_RINGS - 1, k + 1)], 1)
    )
    return new_vertices, np.concatenate(faces)


def _neck(first_index: int) -> tuple[np.ndarray, np.ndarray]:
    angles = np.linspace(0, 2 * np.pi, NECK_SEGMENTS, endpoint=False)
    ys = np.linspace(NECK_Y_RANGE_CM[0], NECK_Y_RANGE_CM[1], NECK_RINGS)
    verts = np.array(
        [
            [
                NECK_CENTER_CM[0] + NECK_RADII_CM[0] * np.sin(a),
                y,
                NECK_CENTER_CM[2] + NECK_RADII_CM[1] * np.cos(a) - 0.12 * (y - NECK_Y_RANGE_CM[1]),
            ]
            for y in ys
            for a in angles
        ]
    )
    faces = []
    for j in range(NECK_RINGS - 1):
        for k in range(NECK_SEGMENTS):
            a = first_index + j * NECK_SEGMENTS + k
            b = first_index + j * NECK_SEGMENTS + (k + 1) % NECK_SEGMENTS
            c, d = a + NECK_SEGMENTS, b + NECK_SEGMENTS
            faces += [[a, b, c], [b, d, c]]
    return verts, np.asarray(faces, dtype=np.int64)


def _ellipsoid(
    first_index: int, center: np.ndarray, radii: np.ndarray, segments: tuple[int, int], rot: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A UV-sphere ellipsoid (vertices, faces with poles)."""
    n_lon, n_lat = segments
    lats = np.linspace(0, np.pi, n_lat + 1)[1:-1]
    lons = np.linspace(0, 2 * np.pi, n_lon, endpoint=False)
    unit = np.array([[np.sin(t) * np.cos(p), np.cos(t), np.sin(t) * np.sin(p)] for t in lats for p in lons])
    unit = np.concatenate([unit, [[0, 1, 0], [0, -1, 0]]])
    verts = center + (unit * radii) @ rot.T
    faces = []
    top, bottom = first_index + len(unit) - 2, first_index + len(unit) - 1
    for i in range(n_lat - 2):
        for k in range(n_lon):
            a = first_index + i * n_lon + k
            b = first_index + i * n_lon + (k + 1) % n_lon
            faces += [[a, a + n_lon, b], [b, a + n_lon, b + n_lon]]
    faces += [[top, first_index + k, first_index + (k + 1) % n_lon] for k in range(n_lon)]
    last = first_index + (n_lat - 2) * n_lon
    faces += [[bottom, last + (k + 1) % n_lon, last + k] for k in range(n_lon)]
    return verts, np.asarray(faces, dtype=np.int64)


def _ear(first_index: int, side: float) -> tuple[np.ndarray, np.ndarray]:
    """A flattened ellipsoid on one side of the head (side = -1 right, +1 left)."""
    center = EAR_CENTER_CM * np.array([side, 1.0, 1.0])
    tilt = np.deg2rad(15.0) * side  # ears lean back a little and stick out
    rot = np.array([[np.cos(tilt), 0, np.sin(tilt)], [0, 1, 0], [-np.sin(tilt), 0, np.cos(tilt)]])
    return _ellipsoid(first_index, center, EAR_RADII_CM, EAR_SEGMENTS, rot)


def _orient_outward(vertices: np.ndarray, faces: np.ndarray, center: np.ndarray) -> np.ndarray:
    """Flip triangles whose normal points towards ``center`` (closed-ish convex parts)."""
    tri = vertices[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    inward = np.sum(normal * (tri.mean(axis=1) - center), axis=1) < 0
    faces = faces.copy()
    faces[inward] = faces[inward][:, [0, 2, 1]]
    return faces


def _triangle_labels(faces: np.ndarray) -> np.ndarray:
    eye = set(RIGHT_EYE) | set(LEFT_EYE)
    mouth = set(INNER_LIP_UPPER) | set(INNER_LIP_LOWER) | set(MOUTH_CORNERS_INNER)
    labels = np.full(len(faces), LABEL_FACE, dtype=np.int8)
    for i, tri in enumerate(faces):
        if all(int(v) in mouth for v in tri):
            labels[i] = LABEL_MOUTH
        elif all(int(v) in eye for v in tri):
            labels[i] = LABEL_EYE
    return labels


@lru_cache(maxsize=4)
def build_render_mesh(subdivisions: int = 1) -> RenderMesh:
    """Build (once per subdivision level) the neutral render mesh."""
    template = load_face_template()
    verts = np.asarray(template.vertices_cm, dtype=np.float64)
    faces = np.asarray(template.faces, dtype=np.int64)
    labels = _triangle_labels(faces)
    mouth_v0 = np.full(len(verts), 0.5)
    mouth_v0[list(INNER_LIP_UPPER)] = 0.0
    mouth_v0[list(INNER_LIP_LOWER)] = 1.0
    attributes = np.concatenate(
        [template.canonical.astype(np.float64), template.uvs, mouth_v0[:, None]], axis=1
    )
    for _ in range(subdivisions):
        verts, faces, attributes = subdivide(verts, faces, attributes)
        labels = np.repeat(labels, 4)
    num_face_vertices = len(verts)
    num_face_faces = len(faces)

    loop = _boundary_loop(faces)
    shell_v, shell_f = _head_shell(verts[loop], num_face_vertices)
    shell_f = np.where(shell_f < 0, loop[(-1 - shell_f) % len(loop)], shell_f)
    all_v = [verts, shell_v]
    all_f = [faces, shell_f]
    offset = num_face_vertices + len(shell_v)
    neck_v, neck_f = _neck(offset)
    neck_f = _orient_outward(
        np.concatenate([*all_v, neck_v]), neck_f, NECK_CENTER_CM + np.array([0.0, -15.0, 0.0])
    )
    all_v.append(neck_v)
    all_f.append(neck_f)
    offset += len(neck_v)
    for side in (-1.0, 1.0):
        ear_v, ear_f = _ear(offset, side)
        ear_f = _orient_outward(np.concatenate([*all_v, ear_v]), ear_f, ear_v.mean(axis=0))
        all_v.append(ear_v)
        all_f.append(ear_f)
        offset += len(ear_v)
    torso_v, torso_f = _ellipsoid(offset, TORSO_CENTER_CM, TORSO_RADII_CM, TORSO_SEGMENTS, np.eye(3))
    rel = (torso_v - TORSO_CENTER_CM) / TORSO_RADII_CM
    rel[:, :2] = np.sign(rel[:, :2]) * np.abs(rel[:, :2]) ** TORSO_SQUARENESS
    torso_v = TORSO_CENTER_CM + rel * TORSO_RADII_CM
    torso_f = _orient_outward(np.concatenate([*all_v, torso_v]), torso_f, TORSO_CENTER_CM)
    all_v.append(torso_v)
    all_f.append(torso_f)
    vertices = np.concatenate(all_v)
    faces_all = np.concatenate(all_f)
    # shell faces: orient consistently with the face part (outward from head centre)
    shell_range = slice(num_face_faces, num_face_faces + len(shell_f))
    faces_all[shell_range] = _orient_outward(vertices, faces_all[shell_range], HEAD_CENTER_CM)
    labels_all = np.concatenate(
        [
            labels,
            np.full(len(faces_all) - num_face_faces - len(torso_f), LABEL_SKIN, dtype=np.int8),
            np.full(len(torso_f), LABEL_CLOTH, dtype=np.int8),
        ]
    )
    body_weight = np.ones(len(vertices), dtype=np.float32)  # 1 = moves with the head, 0 = with the torso
    body_weight[len(vertices) - len(torso_v) :] = 0.0
    neck = slice(offset - 2 * len(ear_v) - len(neck_v), offset - 2 * len(ear_v))
    body_weight[neck] = np.clip(
        (vertices[neck, 1] - NECK_Y_RANGE_CM[0]) / (NECK_Y_RANGE_CM[1] - NECK_Y_RANGE_CM[0]), 0, 1
    )

    num_vertices = len(vertices)
    canonical = np.full((num_vertices, 3), np.nan, dtype=np.float32)
    canonical[:num_face_vertices] = attributes[:, :3]
    uvs = np.zeros((num_vertices, 2), dtype=np.float32)
    uvs[:num_face_vertices] = attributes[:, 3:5]
    mouth_v = np.full(num_vertices, 0.5, dtype=np.float32)
    mouth_v[:num_face_vertices] = attributes[:, 5]
    is_face = np.zeros(num_vertices, dtype=bool)
    is_face[:num_face_vertices] = True
    for array in (vertices, faces_all, labels_all, canonical, uvs, mouth_v, is_face, body_weight):
        array.setflags(write=False)
    return RenderMesh(
        vertices_cm=vertices,
        faces=faces_all,
        labels=labels_all,
        canonical=canonical,
        uvs=uvs,
        mouth_v=mouth_v,
        landmark_index=np.arange(template.num_vertices),
        is_face_vertex=is_face,
        head_weight=body_weight,
    )

"""The neutral face template that defines canonical facial coordinates.

Every module that speaks about "canonical coordinates" (synthetic data, model
targets, tracking, mesh publishing, pose) goes through this file, so the
convention lives in exactly one place:

* The template is MediaPipe's canonical face mesh (468 vertices, centimetres,
  face looking along +z, y up), shipped in ``assets/face_template``.
* A canonical coordinate is ``(vertex_cm - CANONICAL_CENTER_CM) / CANONICAL_UNIT_CM``:
  the template's bounding-box centre maps to the origin and one canonical unit is
  10 cm, so canonical values lie inside roughly [-1, 1]^3.
* One canonical unit is ``CANONICAL_UNIT_M`` metres for the average adult face.
  The metric depth model (runtime geometry) relies on this prior.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

CANONICAL_UNIT_CM = 10.0
CANONICAL_UNIT_M = CANONICAL_UNIT_CM / 100.0
# canonical (y up, face towards +z) -> OpenCV camera axes (y down, z forward): a frontal face's rotation
CANONICAL_TO_CAMERA = np.diag([1.0, -1.0, -1.0])

TEMPLATE_OBJ = "canonical_face_model.obj"

# Named MediaPipe landmark indices (subject's left/right), used for named
# tracking queries, evaluation and debugging overlays.
NAMED_LANDMARKS: dict[str, int] = {
    "nose_tip": 1,
    "right_eye_outer": 33,
    "right_eye_inner": 133,
    "left_eye_inner": 362,
    "left_eye_outer": 263,
    "mouth_right": 61,
    "mouth_left": 291,
    "upper_lip": 13,
    "lower_lip": 14,
    "chin": 152,
    "forehead": 10,
    "right_cheek": 234,
    "left_cheek": 454,
}


@dataclass(frozen=True)
class FaceTemplate:
    """The template mesh and its canonical coordinates."""

    vertices_cm: np.ndarray  # (V, 3) float64, centimetres
    faces: np.ndarray  # (F, 3) int64, 0-based vertex indices
    uvs: np.ndarray  # (V, 2) float64, texture coordinate per vertex
    canonical: np.ndarray  # (V, 3) float32 canonical coordinates

    @property
    def num_vertices(self) -> int:
        return int(self.vertices_cm.shape[0])


def _parse_obj(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse the OBJ's vertices, faces and per-vertex UVs (``f v/vt`` style)."""
    vertices: list[list[float]] = []
    texcoords: list[list[float]] = []
    faces: list[list[int]] = []
    face_uv_refs: list[tuple[int, int]] = []
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "v":
            vertices.append([float(x) for x in parts[1:4]])
        elif parts[0] == "vt":
            texcoords.append([float(x) for x in parts[1:3]])
        elif parts[0] == "f":
            tri = []
            for corner in parts[1:4]:
                refs = corner.split("/")
                vi = int(refs[0]) - 1
                tri.append(vi)
                if len(refs) > 1 and refs[1]:
                    face_uv_refs.append((vi, int(refs[1]) - 1))
            faces.append(tri)
    verts = np.asarray(vertices, dtype=np.float64)
    tex = np.asarray(texcoords, dtype=np.float64)
    uvs = np.zeros((len(verts), 2), dtype=np.float64)
    for vi, ti in face_uv_refs:
        uvs[vi] = tex[ti]
    return verts, np.asarray(faces, dtype=np.int64), uvs


def template_center_cm(vertices_cm: np.ndarray) -> np.ndarray:
    """Bounding-box centre of the template, the canonical origin."""
    return 0.5 * (vertices_cm.min(axis=0) + vertices_cm.max(axis=0))


@lru_cache(maxsize=1)
def load_face_template() -> FaceTemplate:
    """Load the shipped template (cached; the arrays are read-only)."""
    text = (
        resources.files("face_anything_ros")
        .joinpath("assets", "face_template", TEMPLATE_OBJ)
        .read_text(encoding="utf-8")
    )
    verts, faces, uvs = _parse_obj(text)
    canonical = ((verts - template_center_cm(verts)) / CANONICAL_UNIT_CM).astype(np.float32)
    for array in (verts, faces, uvs, canonical):
        array.setflags(write=False)
    return FaceTemplate(vertices_cm=verts, faces=faces, uvs=uvs, canonical=canonical)


def canonical_to_template_cm(canonical: np.ndarray) -> np.ndarray:
    """Inverse of the canonical normalisation (canonical units to template cm)."""
    template = load_face_template()
    return np.asarray(canonical) * CANONICAL_UNIT_CM + template_center_cm(template.vertices_cm)


def canonical_to_rgb(canonical: np.ndarray) -> np.ndarray:
    """Map canonical coordinates to uint8 RGB colours (the NOCS-style colour map).

    The same face point gets the same colour in every frame, which is what makes
    correspondence visible in overlays and in RViz. NaNs map to black.
    """
    c = np.asarray(canonical, dtype=np.float32)
    rgb = np.clip((c + 1.0) * 0.5, 0.0, 1.0) * 255.0
    rgb = np.nan_to_num(rgb, nan=0.0)
    return rgb.astype(np.uint8)

"""Per-vertex ambient occlusion of the neutral head, computed once with the rasteriser.

Eye sockets, the sides of the nose, under the chin and behind the ears receive less
ambient light; without it the synthetic faces look flat and the jaw merges with the
neck. The head is rendered orthographically from many directions and each vertex
counts the (cosine-weighted) directions from which it is not hidden.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from face_anything_ros.synth.mesh import build_render_mesh
from face_anything_ros.synth.raster import rasterize

AO_DIRECTIONS = 40
AO_RESOLUTION = 128
AO_DEPTH_EPS_CM = 0.25
AO_FAR_CM = 200.0  # orthographic depth offset (keeps the perspective-style depth interpolation exact enough)


def _fibonacci_sphere(count: int) -> np.ndarray:
    i = np.arange(count) + 0.5
    phi = np.arccos(1 - 2 * i / count)
    theta = np.pi * (1 + 5**0.5) * i
    return np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], 1)


def _basis(direction: np.ndarray) -> np.ndarray:
    helper = np.array([0.0, 1.0, 0.0]) if abs(direction[1]) < 0.9 else np.array([1.0, 0.0, 0.0])
    a = np.cross(helper, direction)
    a /= np.linalg.norm(a)
    b = np.cross(direction, a)
    return np.stack([a, b, direction])


@lru_cache(maxsize=4)
def vertex_ambient_occlusion(subdivisions: int) -> np.ndarray:
    """(V,) float32 in [0, 1]: 1 = fully open to the sky, lower = occluded."""
    mesh = build_render_mesh(subdivisions)
    verts = np.asarray(mesh.vertices_cm)
    faces = torch.from_numpy(np.array(mesh.faces))
    tri = verts[mesh.faces]
    face_normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normals = np.zeros_like(verts)
    for corner in range(3):
        np.add.at(normals, mesh.faces[:, corner], face_normals)
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-9)
    center = 0.5 * (verts.min(0) + verts.max(0))
    radius = np.linalg.norm(verts - center, axis=1).max()
    scale = (AO_RESOLUTION - 1) / (2 * radius)
    directions = _fibonacci_sphere(AO_DIRECTIONS)  # towards the light
    screens = []
    for d in directions:
        local = (verts - center) @ _basis(-d).T  # view looks along -d (from the light towards the head)
        screens.append(
            np.stack(
                [
                    local[:, 0] * scale + AO_RESOLUTION / 2,
                    local[:, 1] * scale + AO_RESOLUTION / 2,
                    local[:, 2] + AO_FAR_CM,
                ],
                1,
            )
        )
    screen = torch.tensor(np.stack(screens), dtype=torch.float32)
    frags = rasterize(screen, faces, AO_RESOLUTION, AO_RESOLUTION, cull_backfaces=False)
    zbuf = frags.depth.numpy()
    xi = np.clip(np.round(screen[..., 0].numpy()).astype(int), 0, AO_RESOLUTION - 1)
    yi = np.clip(np.round(screen[..., 1].numpy()).astype(int), 0, AO_RESOLUTION - 1)
    seen = zbuf[np.arange(AO_DIRECTIONS)[:, None], yi, xi]
    visible = screen[..., 2].numpy() <= seen + AO_DEPTH_EPS_CM  # (D, V)
    weight = np.clip(normals @ directions.T, 0, None).T  # (D, V) cosine towards each direction
    ao = (visible * weight).sum(0) / np.maximum(weight.sum(0), 1e-6)
    ao = ao.astype(np.float32)
    ao.setflags(write=False)
    return ao

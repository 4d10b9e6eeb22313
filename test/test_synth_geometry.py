"""Ground truth of the synthetic renderer agrees with the mesh it rendered."""

from __future__ import annotations

import numpy as np
import torch

from face_anything_ros.core.camera import Intrinsics
from face_anything_ros.core.face_template import load_face_template
from face_anything_ros.synth.appearance import NUM_PERSON_PARAMS
from face_anything_ros.synth.camera import rotation_from_euler
from face_anything_ros.synth.deform import EXPRESSIONS, build_deformation_basis, deform, sample_identity
from face_anything_ros.synth.mesh import FACE_LABELS, build_render_mesh
from face_anything_ros.synth.raster import rasterize
from face_anything_ros.synth.render import MeshRenderer

SIZE = 96


def _render_one_head(yaw: float, jaw: float = 0.4):
    mesh = build_render_mesh(1)
    basis = build_deformation_basis(1)
    rng = np.random.default_rng(3)
    identity = sample_identity(basis, rng, 0.45, (0.9, 1.1), 0.05)
    expressions = np.zeros((1, len(EXPRESSIONS)))
    expressions[0, EXPRESSIONS.index("jaw_open")] = jaw
    expressions[0, EXPRESSIONS.index("smile_l")] = 0.7
    local = deform(mesh, basis, identity, expressions, 22.0)[0]
    verts = local @ rotation_from_euler(yaw, 10.0, -5.0).T + np.array([0.01, -0.005, 0.45])
    cam = Intrinsics(120.0, 121.0, 47.3, 48.1, width=SIZE, height=SIZE)
    renderer = MeshRenderer(
        mesh, torch.zeros(1, 4, 2, 2, 2), torch.zeros(1, 4, 2, 2), np.ones(mesh.num_vertices, np.float32)
    )
    frames = renderer.render(
        verts[None, None].astype(np.float32),
        cam.as_array()[None],
        SIZE,
        SIZE,
        np.zeros((1, SIZE, SIZE, 3), np.float32),
        np.zeros((1, 1, NUM_PERSON_PARAMS), np.float32),
        np.zeros((1, 1, 2), np.float32),
        np.array([[[0, 0, -1, 1, 1, 1, 0.3, 0.3, 0.3, 0.0, 0, 0, -1, 0.1, 0.1, 0.1]]], np.float32),
    )
    return mesh, verts, cam, frames


def _mesh_point_with_canonical(mesh, verts, canonical: np.ndarray) -> tuple[np.ndarray, float]:
    """Deformed mesh point whose (linearly interpolated) canonical coordinate is ``canonical``.

    Searches the face triangles in canonical space, independently of the rasteriser.
    """
    faces = np.asarray(mesh.faces)[np.isin(mesh.labels, FACE_LABELS)]
    tri = np.asarray(mesh.canonical, dtype=np.float64)[faces]  # (F, 3, 3)
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    d = canonical - tri[:, 0]
    # least-squares barycentrics in each triangle's plane
    a11, a12, a22 = (e1 * e1).sum(1), (e1 * e2).sum(1), (e2 * e2).sum(1)
    b1, b2 = (d * e1).sum(1), (d * e2).sum(1)
    det = a11 * a22 - a12 * a12
    s = (a22 * b1 - a12 * b2) / det
    t = (a11 * b2 - a12 * b1) / det
    bary = np.stack([1 - s - t, s, t], 1)
    residual = np.linalg.norm(tri[:, 0] + s[:, None] * e1 + t[:, None] * e2 - canonical, axis=1)
    outside = np.clip(-bary, 0, None).sum(1)
    best = int(np.argmin(residual + outside))
    return (verts[faces[best]] * bary[best][:, None]).sum(0), float(residual[best] + outside[best])


def test_depth_unprojects_onto_the_mesh_point_with_the_pixels_canonical_coordinate():
    mesh, verts, cam, frames = _render_one_head(yaw=25.0)
    ys, xs = np.nonzero(frames.mask[0])
    assert len(ys) > 500
    rng = np.random.default_rng(0)
    errors = []
    for i in rng.choice(len(ys), 60, replace=False):
        y, x = ys[i], xs[i]
        z = frames.depth[0, y, x]
        point = np.array([(x - cam.cx) / cam.fx * z, (y - cam.cy) / cam.fy * z, z])
        mesh_point, canonical_miss = _mesh_point_with_canonical(mesh, verts, frames.canonical[0, y, x])
        assert canonical_miss < 1e-4
        errors.append(np.linalg.norm(point - mesh_point))
    assert max(errors) < 2e-4  # metres: exact up to float32


def test_ground_truth_is_nan_exactly_where_the_mask_is_off():
    _, _, _, frames = _render_one_head(yaw=-60.0)
    mask = frames.mask[0]
    assert np.all(np.isfinite(frames.depth[0][mask])) and np.all(np.isnan(frames.depth[0][~mask]))
    assert np.all(np.isfinite(frames.canonical[0][mask])) and np.all(np.isnan(frames.canonical[0][~mask]))
    # the head shell and neck are drawn (z-buffer) but are not face
    assert np.isfinite(frames.zbuffer[0]).sum() > mask.sum()


def test_template_landmarks_keep_their_canonical_coordinates_through_subdivision():
    mesh = build_render_mesh(1)
    template = load_face_template()
    np.testing.assert_allclose(mesh.canonical[: template.num_vertices], template.canonical)
    assert np.isnan(mesh.canonical[~mesh.is_face_vertex]).all()


def test_rasteriser_covers_a_quad_without_cracks_and_interpolates_depth_exactly():
    # a tilted plane quad made of two triangles, seen by a pinhole camera
    corners = np.array([[-0.1, -0.1, 1.0], [0.1, -0.1, 1.2], [0.1, 0.1, 1.2], [-0.1, 0.1, 1.0]])
    f, c = 100.0, 31.5
    screen = np.stack(
        [f * corners[:, 0] / corners[:, 2] + c, f * corners[:, 1] / corners[:, 2] + c, corners[:, 2]], 1
    )
    faces = torch.tensor([[0, 2, 1], [0, 3, 2]])
    frags = rasterize(torch.tensor(screen, dtype=torch.float32)[None], faces, 64, 64, cull_backfaces=False)
    covered = frags.triangle[0] >= 0
    ys, xs = np.nonzero(covered.numpy())
    # every pixel centre strictly inside the quad's image is covered (no crack on the diagonal)
    from matplotlib.path import Path

    quad = Path(screen[:, :2])
    grid = np.stack(np.meshgrid(np.arange(64), np.arange(64)), -1).reshape(-1, 2)
    inside = quad.contains_points(grid, radius=-1e-3).reshape(64, 64)
    assert np.all(covered.numpy()[inside])
    # depth equals the ray/plane intersection
    normal = np.cross(corners[1] - corners[0], corners[3] - corners[0])
    rays = np.stack([(xs - c) / f, (ys - c) / f, np.ones_like(xs, dtype=float)], 1)
    t = (corners[0] @ normal) / (rays @ normal)
    np.testing.assert_allclose(frags.depth[0].numpy()[ys, xs], t, rtol=1e-5)

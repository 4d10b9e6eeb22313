"""Face-mesh prior: the landmark fit, the prior maps against the generator's ground truth, fusion, bad input."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from face_anything_ros.core.camera import Intrinsics
from face_anything_ros.core.face_template import load_face_template
from face_anything_ros.runtime.config import MeshPriorConfig
from face_anything_ros.runtime.detection import Detection
from face_anything_ros.runtime.landmark_fit import LandmarkFitError, fit_landmarks, load_landmark_basis
from face_anything_ros.runtime.mesh_prior import MeshPrior, build_prior_maps, enclosed_holes, fuse_crop_maps
from face_anything_ros.runtime.postprocess import CropMaps
from face_anything_ros.synth.camera import rotation_from_euler
from face_anything_ros.synth.config import SynthConfig
from face_anything_ros.synth.deform import build_deformation_basis, deform, sample_identity
from face_anything_ros.synth.landmark_basis import landmark_modes
from face_anything_ros.synth.mesh import build_render_mesh
from face_anything_ros.synth.raster import interpolate, rasterize

SIZE = 128
FOCAL = 260.0  # crop pixels
DISTANCE_M = 0.6


def generator_face(seed: int, yaw: float = 20.0, pitch: float = -8.0) -> tuple[np.ndarray, object]:
    """Camera-frame vertices (V, 3) m of a generator face (random identity and expression) and its mesh."""
    cfg = SynthConfig()
    mesh = build_render_mesh(cfg.subdivisions)
    basis = build_deformation_basis(cfg.subdivisions)
    rng = np.random.default_rng(seed)
    identity = sample_identity(basis, rng, cfg.identity_bump_cm, cfg.global_scale_range, cfg.axis_scale_std)
    expressions = rng.uniform(0.0, 0.6, (1, basis.blendshapes.shape[0]))
    local = deform(mesh, basis, identity, expressions, cfg.jaw_open_max_deg)[0]
    rotation = rotation_from_euler(np.array(yaw), np.array(pitch), np.array(4.0))
    centre = local[: load_face_template().num_vertices].mean(axis=0)
    return (local - centre) @ rotation.T + np.array([0.0, 0.0, DISTANCE_M]), mesh


def mesh_landmarks(camera_vertices: np.ndarray) -> np.ndarray:
    """What the face mesh reports for the 468 template vertices: pixels and a weak-perspective depth."""
    points = camera_vertices[: load_face_template().num_vertices]
    xy = FOCAL * points[:, :2] / points[:, 2:3] + SIZE / 2
    z = (points[:, 2] - points[:, 2].mean()) * FOCAL / points[:, 2].mean()
    return np.column_stack([xy, z])


def test_shipped_basis_matches_the_generator():
    modes, names = landmark_modes()
    shipped = load_landmark_basis()
    assert shipped.names == names
    np.testing.assert_allclose(shipped.modes, modes, atol=1e-5)


def test_fit_reproduces_a_known_deformation_from_its_own_projected_vertices():
    template = load_face_template().vertices_cm
    modes = load_landmark_basis().modes
    rng = np.random.default_rng(3)
    truth = template + np.einsum("m,mvc->vc", rng.normal(0.0, 1.0, len(modes)), modes)
    rotation = rotation_from_euler(np.array(25.0), np.array(10.0), np.array(-5.0))
    targets = 2.5 * truth @ rotation.T + np.array([60.0, 70.0, 5.0])
    fit = fit_landmarks(targets, noise_cm=0.02, iterations=6)
    assert fit.residual_cm < 0.05, fit.residual_cm
    shape_error = np.linalg.norm(fit.vertices - targets, axis=1) / 2.5
    deformation = np.linalg.norm(truth - template, axis=1)
    assert np.median(shape_error) < 0.1 * np.median(deformation), (
        np.median(shape_error),
        np.median(deformation),
    )
    # the neutral template (no deformation) posed as well as possible is much worse
    neutral = fit_landmarks(targets, noise_cm=1e4, iterations=2)
    assert neutral.residual_cm > 5 * fit.residual_cm


def test_fit_matches_a_generator_face_through_a_perspective_camera():
    vertices, _ = generator_face(seed=5)
    fit = fit_landmarks(mesh_landmarks(vertices), noise_cm=0.3)
    assert fit.residual_cm < 0.25, fit.residual_cm  # cm; perspective and the linearised jaw remain


def test_prior_maps_agree_with_the_generators_ground_truth():
    vertices, mesh = generator_face(seed=11)
    screen = np.column_stack([FOCAL * vertices[:, :2] / vertices[:, 2:3] + SIZE / 2, vertices[:, 2]])
    faces = torch.from_numpy(np.array(mesh.faces))
    fragments = rasterize(torch.from_numpy(screen).float()[None], faces, SIZE, SIZE)
    gt_canonical = interpolate(fragments, faces, torch.from_numpy(np.nan_to_num(mesh.canonical)))[0].numpy()
    gt_depth = fragments.depth[0].numpy()
    on_face = (fragments.triangle[0] >= 0).numpy() & torch.from_numpy(mesh.is_face_vertex)[
        faces[fragments.triangle[0].clamp(min=0)]
    ].all(-1).numpy()
    gt_relative = gt_depth / np.median(gt_depth[on_face])

    prior = build_prior_maps(mesh_landmarks(vertices), FOCAL, SIZE, MeshPriorConfig())
    both = on_face & prior.coverage
    iou = both.sum() / (on_face | prior.coverage).sum()
    assert iou > 0.9, iou
    canonical_error = np.linalg.norm(prior.canonical[both] - gt_canonical[both], axis=1)
    assert np.median(canonical_error) < 0.02, np.median(canonical_error)  # canonical units (2 mm)
    depth_absrel = np.abs(prior.relative_depth[both] - gt_relative[both]) / gt_relative[both]
    assert np.median(depth_absrel) < 0.004, np.median(depth_absrel)
    flat_absrel = np.abs(1.0 - gt_relative[both]) / gt_relative[both]
    assert np.median(depth_absrel) < 0.3 * np.median(flat_absrel)


def network_maps(prior_canonical: np.ndarray, coverage: np.ndarray, error: float) -> CropMaps:
    """Network-like maps: the prior's face with a constant canonical error and a hole (a lens)."""
    mask = coverage.copy()
    mask[50:60, 40:55] = False
    canonical = np.where(mask[..., None], prior_canonical + error, np.nan).astype(np.float32)
    depth = np.where(mask, 1.0, np.nan).astype(np.float32)
    confidence = np.where(mask, 1.0, 0.0).astype(np.float32)
    return CropMaps(depth, canonical, mask.astype(np.float32), mask, confidence)


def test_fusion_weights_by_uncertainty_and_fills_enclosed_holes_only():
    vertices, _ = generator_face(seed=2, yaw=0.0, pitch=0.0)
    config = MeshPriorConfig(network_error_scale=0.05, prior_error=0.05)
    prior = build_prior_maps(mesh_landmarks(vertices), FOCAL, SIZE, config)
    crop = network_maps(prior.canonical, prior.coverage, error=0.04)
    assert enclosed_holes(crop.mask, 3)[55, 47]
    fused = fuse_crop_maps(crop, prior, config)
    inside = crop.mask & prior.coverage
    # equal uncertainty (confidence 1 -> 0.05 = prior_error): the fused map sits halfway
    np.testing.assert_allclose(fused.canonical[inside] - prior.canonical[inside], 0.02, atol=1e-5)
    assert fused.mask[55, 47] and np.allclose(fused.canonical[55, 47], prior.canonical[55, 47])
    assert (fused.confidence[inside] > crop.confidence[inside]).all()  # two estimates: less uncertain
    confident = fuse_crop_maps(
        CropMaps(crop.relative_depth, crop.canonical, crop.mask_probability, crop.mask, crop.confidence * 10),
        prior,
        config,
    )
    assert np.abs(confident.canonical[inside] - prior.canonical[inside] - 0.04).max() < 0.001
    # an occluder entering from the crop border is not a hole: stays non-face
    open_gap = crop.mask.copy()
    open_gap[:, 60:70] = False
    assert not enclosed_holes(open_gap, 3)[64, 64]


def detection_with(landmarks: np.ndarray) -> Detection:
    xy = landmarks[:, :2]
    box = np.concatenate([np.nanmin(xy, axis=0), np.nanmax(xy, axis=0)])
    return Detection(box_xyxy=box, score=float("nan"), landmarks=xy, landmarks_z=landmarks[:, 2])


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("nan", "nonfinite"),
        ("collinear", "degenerate"),
        ("outside", "outside_crop"),
        ("tiny", "too_small"),
        ("shape", "shape"),
        ("depth_length", "shape"),
    ],
)
def test_bad_landmarks_drop_the_prior_with_a_counter(damage, reason):
    from face_anything_ros.core.crop import CropBox

    points = mesh_landmarks(generator_face(seed=1)[0])
    if damage == "nan":
        points[17, 1] = np.nan
    elif damage == "collinear":
        t = np.linspace(0.0, 1.0, len(points))
        points = np.column_stack([20 + 80 * t, 30 + 50 * t, 3 * t])
    elif damage == "outside":
        points[:, 0] += 0.8 * SIZE  # the crop barely holds the face
    elif damage == "tiny":
        points = (points - SIZE / 2) * 0.05 + SIZE / 2
    elif damage == "shape":
        points = points[:400]
    detection = detection_with(points)
    if damage == "depth_length":  # x, y for every landmark but depths for only some
        detection = replace(detection, landmarks_z=points[:100, 2])
    prior = MeshPrior(MeshPriorConfig(enabled=True), SIZE)
    box = CropBox(cx=SIZE / 2 - 0.5, cy=SIZE / 2 - 0.5, side=SIZE)  # crop pixels = image pixels
    intrinsics = Intrinsics(fx=FOCAL, fy=FOCAL, cx=SIZE / 2, cy=SIZE / 2, width=SIZE, height=SIZE)
    crop = network_maps(np.zeros((SIZE, SIZE, 3), np.float32), np.ones((SIZE, SIZE), bool), 0.0)
    fused = prior.apply([crop], prior.priors([detection], [box], [intrinsics]))
    assert fused[0] is crop
    assert prior.drops == {reason: 1} and prior.used == 0


def test_a_fit_error_names_its_reason():
    with pytest.raises(LandmarkFitError) as caught:
        fit_landmarks(np.full((468, 3), np.nan), noise_cm=0.3)
    assert caught.value.reason == "nonfinite"


def test_a_face_under_min_face_px_gets_no_prior_and_is_counted():
    from face_anything_ros.core.crop import CropBox

    detection = detection_with(mesh_landmarks(generator_face(seed=1)[0]))
    side = float(np.ptp(detection.landmarks, axis=0).max())
    box = CropBox(cx=SIZE / 2 - 0.5, cy=SIZE / 2 - 0.5, side=SIZE)
    intrinsics = Intrinsics(fx=FOCAL, fy=FOCAL, cx=SIZE / 2, cy=SIZE / 2, width=SIZE, height=SIZE)
    for limit, expected in ((side - 1.0, True), (side + 1.0, False)):
        prior = MeshPrior(MeshPriorConfig(min_face_px=limit), SIZE)
        assert (prior.priors([detection], [box], [intrinsics])[0] is not None) is expected
        assert prior.drops == ({} if expected else {"small_face": 1})

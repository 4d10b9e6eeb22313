"""Back-projection, Umeyama/RANSAC and the metric scale model."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from face_anything_ros.core.camera import Intrinsics
from face_anything_ros.core.crop import crop_box_from_face_box
from face_anything_ros.core.face_template import load_face_template
from face_anything_ros.runtime.config import GeometryConfig
from face_anything_ros.runtime.geometry import (
    RELIEF_FACTOR_RANGE,
    backproject,
    fit_face_geometry,
    ransac_similarity,
    rescale_relief,
    umeyama,
)

FRONTAL = np.diag([1.0, -1.0, -1.0])  # canonical -> camera for a face looking at the camera


def test_backprojection_of_constant_depth_is_a_plane_through_the_rays():
    k = Intrinsics(100.0, 100.0, 2.0, 1.0, width=5, height=3)
    points = backproject(np.full((3, 5), 2.0, dtype=np.float32), k)
    np.testing.assert_allclose(points[..., 2], 2.0)
    np.testing.assert_allclose(points[1, 2], [0.0, 0.0, 2.0])  # the principal point
    np.testing.assert_allclose(points[0, 4], [2 * 2 / 100, -2 / 100, 2.0], rtol=1e-6)


def test_umeyama_recovers_an_exact_similarity():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(50, 3))
    rotation = Rotation.from_euler("xyz", [30, -20, 70], degrees=True).as_matrix()
    dst = 0.7 * src @ rotation.T + [1.0, 2.0, 3.0]
    scale, r, t = umeyama(src[None], dst[None])
    assert scale[0] == pytest.approx(0.7)
    np.testing.assert_allclose(r[0], rotation, atol=1e-9)
    np.testing.assert_allclose(t[0], [1.0, 2.0, 3.0], atol=1e-9)


def test_ransac_ignores_a_third_of_gross_outliers():
    rng = np.random.default_rng(1)
    src = rng.normal(size=(300, 3)) * 0.05
    rotation = Rotation.from_euler("y", 25, degrees=True).as_matrix()
    dst = 2.0 * src @ rotation.T + [0.0, 0.0, 1.0]
    dst[:100] += rng.normal(size=(100, 3)) * 0.3
    fit = ransac_similarity(src, dst, np.ones(300), 0.005)
    assert fit.valid
    assert fit.scale == pytest.approx(2.0, rel=1e-6)
    assert not fit.inliers[:100].any() and fit.inliers[100:].all()


def render_template_crop(rotation, translation_m, size=128, hfov_deg=50.0, image=(640, 480)):
    """Exact crop maps of the template face placed at a known pose (per-vertex splats + hole fill)."""
    template = load_face_template()
    intrinsics = Intrinsics.from_fov(*image, hfov_deg)
    points = 0.1 * template.canonical.astype(np.float64) @ rotation.T + translation_m
    u = intrinsics.fx * points[:, 0] / points[:, 2] + intrinsics.cx
    v = intrinsics.fy * points[:, 1] / points[:, 2] + intrinsics.cy
    box = crop_box_from_face_box((u.min(), v.min(), u.max(), v.max()))
    k = intrinsics.for_crop(box, size)
    pu = k.fx * points[:, 0] / points[:, 2] + k.cx
    pv = k.fy * points[:, 1] / points[:, 2] + k.cy
    depth = np.full((size, size), np.nan, dtype=np.float32)
    canonical = np.full((size, size, 3), np.nan, dtype=np.float32)
    order = np.argsort(-points[:, 2])  # far first, near overwrite
    for i in order:
        x, y = round(pu[i]), round(pv[i])
        depth[y, x] = points[i, 2]
        canonical[y, x] = template.canonical[i]
    return depth, canonical, k


@pytest.mark.parametrize("metric_scale", ["similarity", "pnp"])
def test_metric_scale_and_pose_of_a_template_face_are_recovered(metric_scale):
    rotation = Rotation.from_euler("y", 20, degrees=True).as_matrix() @ FRONTAL
    translation = np.array([0.05, -0.02, 0.8])
    depth, canonical, k = render_template_crop(rotation, translation)
    median = float(np.nanmedian(depth))
    weight = np.isfinite(depth).astype(np.float32)
    geometry = fit_face_geometry(
        depth / median, canonical, weight, k, GeometryConfig(metric_scale=metric_scale)
    )
    assert geometry.pose_valid
    assert geometry.median_depth_m == pytest.approx(median, rel=0.01)
    np.testing.assert_allclose(geometry.rotation, rotation, atol=0.02)
    np.testing.assert_allclose(geometry.translation, translation, atol=0.01)
    assert geometry.scale == pytest.approx(0.1)


def test_perspective_refit_takes_the_distance_from_the_image_not_from_a_flattened_relief():
    """The network's depth relief is too flat on real faces; the similarity's scale then absorbs the
    missing relief, while perspective-n-point on the same pixels gets the distance from image size."""
    depth, canonical, k = render_template_crop(FRONTAL, np.array([0.05, -0.02, 0.8]))
    median = float(np.nanmedian(depth))
    flattened = 1.0 + 0.3 * (depth / median - 1.0)  # 30 % of the true relief
    weight = np.isfinite(depth).astype(np.float32)
    errors = {}
    for metric_scale in ("similarity", "pnp"):
        geometry = fit_face_geometry(
            flattened, canonical, weight, k, GeometryConfig(metric_scale=metric_scale)
        )
        assert geometry.pose_valid
        errors[metric_scale] = abs(geometry.median_depth_m / median - 1.0)
    assert errors["pnp"] < 0.005 < errors["similarity"], errors  # measured: 0.0003 and 0.0175


def test_too_few_face_pixels_give_an_invalid_pose_not_a_guess():
    depth = np.ones((16, 16), dtype=np.float32)
    canonical = np.zeros((16, 16, 3), dtype=np.float32)
    weight = np.zeros((16, 16), dtype=np.float32)
    weight[0, :5] = 1
    geometry = fit_face_geometry(depth, canonical, weight, Intrinsics(20, 20, 8, 8, 16, 16), GeometryConfig())
    assert not geometry.pose_valid
    assert math.isnan(geometry.median_depth_m) and np.isnan(geometry.rotation).all()


def test_relief_rescaling_scales_the_relief_about_the_median_and_keeps_nan():
    depth = np.array([[0.98, 1.0, np.nan], [1.02, 1.04, 1.0]], dtype=np.float32)
    # a face at half the reference distance, a network that misses all of the 1/D law: twice the relief
    rescaled = rescale_relief(depth, reference_m=0.8, exponent=1.0, distance_m=0.4)
    np.testing.assert_allclose(rescaled[np.isfinite(depth)], [0.96, 1.0, 1.04, 1.08, 1.0], rtol=1e-6)
    assert np.isnan(rescaled[0, 2])
    assert np.nanmedian(rescaled) == pytest.approx(np.nanmedian(depth))  # the metric scale is kept
    partly = rescale_relief(depth, reference_m=0.8, exponent=0.5, distance_m=0.4)  # misses half of it
    assert np.nanmax(partly) - np.nanmin(partly) == pytest.approx(np.sqrt(2) * 0.06, rel=1e-4)
    far = rescale_relief(depth, reference_m=0.8, exponent=1.0, distance_m=100.0)  # a bad fit: bounded
    assert np.nanmax(far) - np.nanmin(far) == pytest.approx(RELIEF_FACTOR_RANGE[0] * 0.06, rel=1e-4)


@pytest.mark.parametrize(
    ("reference", "exponent", "distance"),
    [
        (float("nan"), 0.6, 0.5),
        (0.8, float("nan"), 0.5),
        (0.8, 0.6, float("nan")),
        (0.0, 0.6, 0.5),
        (0.8, 0.6, -1),
    ],
)
def test_relief_is_left_as_predicted_when_the_calibration_or_the_distance_is_unknown(
    reference, exponent, distance
):
    depth = np.array([0.97, 1.0, 1.03], dtype=np.float32)
    assert rescale_relief(depth, reference, exponent, distance) is depth

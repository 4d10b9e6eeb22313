"""Per-track distance smoothing (runtime/distance_smoothing.py) and moving a face along its rays."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from face_anything_ros.runtime.config import GeometryConfig
from face_anything_ros.runtime.distance_smoothing import DistanceSmoother
from face_anything_ros.runtime.geometry import FaceGeometry, invalid_geometry, rescale_distance

FPS = 30.0


def _geometry(distance_m: float) -> FaceGeometry:
    """A face straight ahead and slightly left of the optical axis at median depth ``distance_m``."""
    return FaceGeometry(
        median_depth_m=distance_m,
        rotation=Rotation.from_euler("y", 20, degrees=True).as_matrix(),
        translation=np.array([-0.1, 0.05, 1.0]) * distance_m,
        scale=0.1,
        pose_valid=True,
    )


def _smoothed(distances, config: GeometryConfig | None = None, stamps=None) -> np.ndarray:
    smoother = DistanceSmoother(config or GeometryConfig())
    stamps = np.arange(len(distances)) / FPS if stamps is None else stamps
    return np.array(
        [smoother(0, _geometry(d), t).median_depth_m for d, t in zip(distances, stamps, strict=True)]
    )


def test_rescale_distance_moves_the_face_along_its_rays_and_keeps_its_rotation():
    geometry = _geometry(1.0)
    moved = rescale_distance(geometry, 1.25)
    assert moved.median_depth_m == 1.25
    np.testing.assert_allclose(moved.translation, 1.25 * geometry.translation)
    np.testing.assert_array_equal(moved.rotation, geometry.rotation)
    assert moved.scale == geometry.scale and moved.pose_valid


def test_a_flickering_still_face_gets_a_steady_distance_with_the_right_mean():
    rng = np.random.default_rng(0)
    raw = np.exp(rng.normal(0.0, 0.035, 300))  # 1 m with the fit's measured 3.5 % frame-to-frame noise
    smooth = _smoothed(raw)
    raw_step, smooth_step = (np.abs(np.diff(np.log(d[30:]))).mean() for d in (raw, smooth))
    assert smooth_step < 0.5 * raw_step
    assert np.exp(np.log(smooth[30:]).mean()) == pytest.approx(1.0, abs=0.01)


def test_a_face_walking_towards_the_camera_is_followed_with_little_lag():
    raw = np.linspace(2.0, 0.5, 45)  # 1.5 m in 1.5 s
    smooth = _smoothed(raw)
    assert np.abs(smooth / raw - 1.0).max() < 0.1
    assert smooth[-1] / raw[-1] == pytest.approx(1.0, abs=0.06)


def test_off_no_pose_and_new_tracks_leave_the_distance_as_fitted():
    raw = [1.0, 1.2, 0.9]
    np.testing.assert_array_equal(_smoothed(raw, GeometryConfig(distance_smoothing=False)), raw)
    smoother = DistanceSmoother(GeometryConfig())
    smoother(0, _geometry(1.0), 0.0)
    assert smoother(0, invalid_geometry(), 1 / FPS).pose_valid is False
    assert smoother(1, _geometry(2.0), 1 / FPS).median_depth_m == 2.0  # another track: its own filter
    assert smoother(0, _geometry(1.2), 2 / FPS).median_depth_m < 1.2  # track 0 kept its state
    smoother.forget_all_but({1})
    assert smoother(0, _geometry(1.2), 3 / FPS).median_depth_m == 1.2  # forgotten: starts again


def test_a_timestamp_going_backwards_restarts_the_filter():
    smooth = _smoothed([1.0, 1.0, 1.3], stamps=[5.0, 5.0 + 1 / FPS, 0.0])  # a looped bag
    assert smooth[-1] == pytest.approx(1.3)

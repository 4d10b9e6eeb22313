"""The face's distance from the template posed on the face mesh's landmarks (runtime/landmark_distance.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from face_anything_ros.core.camera import Intrinsics
from face_anything_ros.core.face_template import CANONICAL_UNIT_M
from face_anything_ros.runtime.config import GeometryConfig, PipelineConfig
from face_anything_ros.runtime.geometry import FaceGeometry, invalid_geometry
from face_anything_ros.runtime.landmark_distance import (
    landmark_distance_ratio,
    template_points_m,
    with_landmark_distance,
)

CAMERA = Intrinsics(fx=500.0, fy=500.0, cx=320.0, cy=240.0, width=640, height=480)
ROTATION = cv2.Rodrigues(np.array([0.05, 0.3, -0.02]))[0]
TRANSLATION = np.array([0.03, -0.01, 0.8])


def landmarks_at(translation: np.ndarray) -> np.ndarray:
    points = template_points_m() @ ROTATION.T + translation
    return points[:, :2] / points[:, 2:] * CAMERA.fx + np.array([CAMERA.cx, CAMERA.cy])


def network_geometry(distance_scale: float) -> FaceGeometry:
    """A valid pose whose distance is ``distance_scale`` times the true one."""
    return FaceGeometry(
        median_depth_m=0.8 * distance_scale,
        rotation=ROTATION,
        translation=TRANSLATION * distance_scale,
        scale=CANONICAL_UNIT_M,
        pose_valid=True,
    )


def test_the_ratio_is_the_true_distance_over_the_networks():
    ratio = landmark_distance_ratio(network_geometry(1.2), landmarks_at(TRANSLATION), CAMERA)
    assert ratio == pytest.approx(1 / 1.2, rel=1e-4)


def test_the_log_average_moves_the_distance_by_the_weighted_share_of_the_ratio():
    geometry = network_geometry(1.2)
    ratio = landmark_distance_ratio(geometry, landmarks_at(TRANSLATION), CAMERA)
    half = with_landmark_distance(geometry, ratio, 0.5)
    assert half.median_depth_m == pytest.approx(0.8 * np.sqrt(1.2), rel=1e-4)
    np.testing.assert_allclose(half.translation, TRANSLATION * np.sqrt(1.2), rtol=1e-4)
    np.testing.assert_array_equal(half.rotation, geometry.rotation)
    full = with_landmark_distance(geometry, ratio, 1.0)
    assert full.median_depth_m == pytest.approx(0.8, rel=1e-4)
    assert with_landmark_distance(geometry, ratio, 0.0) is geometry


@pytest.mark.parametrize(
    "landmarks, geometry",
    [
        (None, network_geometry(1.0)),  # a BlazeFace or carried face: no landmarks
        (landmarks_at(TRANSLATION), invalid_geometry()),  # no pose from the network
        (np.full((468, 2), np.nan), network_geometry(1.0)),  # NaN landmarks
        (np.zeros((468, 2)), network_geometry(1.0)),  # degenerate: every landmark on one pixel
        (landmarks_at(TRANSLATION)[:100], network_geometry(1.0)),  # not the 468 of the face mesh
        (landmarks_at(TRANSLATION), network_geometry(2.0)),  # the two disagree by 2x: one fit failed
    ],
)
def test_no_ratio_where_either_distance_is_missing_or_they_disagree(landmarks, geometry):
    ratio = landmark_distance_ratio(geometry, landmarks, CAMERA)
    assert np.isnan(ratio)
    assert with_landmark_distance(geometry, ratio, 0.5) is geometry


def test_the_weight_is_validated():
    with pytest.raises(ValueError, match="landmark_distance_weight"):
        PipelineConfig(geometry=GeometryConfig(landmark_distance_weight=1.5)).validate()

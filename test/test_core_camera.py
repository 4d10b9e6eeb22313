"""core/camera.py: the one Intrinsics (validation, K / P / FOV / mapping, crops, resizing) and the default."""

from __future__ import annotations

import math

import numpy as np
import pytest

from face_anything_ros.core.camera import Intrinsics, focal_from_fov, project, resolve_intrinsics
from face_anything_ros.core.crop import (
    CropBox,
    crop_affine,
    crop_to_image_pixels,
    image_from_crop_affine,
    image_to_crop_pixels,
)


@pytest.mark.parametrize(
    "values",
    [
        dict(fx=math.nan, fy=500, cx=320, cy=240),
        dict(fx=500, fy=500, cx=math.inf, cy=240),
        dict(fx=0, fy=500, cx=320, cy=240),
        dict(fx=500, fy=-1, cx=320, cy=240),
    ],
)
def test_invalid_intrinsics_raise_clear_errors(values):
    with pytest.raises(ValueError, match=r"intrinsics|focal"):
        Intrinsics(**values, width=640, height=480)


def test_zero_image_size_is_rejected():
    with pytest.raises(ValueError, match="size"):
        Intrinsics(500, 500, 320, 240, width=0, height=480)


def test_default_pinhole_from_horizontal_fov():
    k = Intrinsics.from_fov(640, 480, 90.0)
    assert k.fx == pytest.approx(320.0) and k.fy == k.fx
    assert (k.cx, k.cy) == (320.0, 240.0)


def test_fov_outside_zero_to_180_degrees_is_refused():
    with pytest.raises(ValueError, match="FOV"):
        focal_from_fov(180.0, 640)


def test_projection_matrix_and_mapping_give_the_same_camera():
    p = np.array([[500.0, 0.0, 320.0, 0.0], [0.0, 510.0, 240.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    from_p = Intrinsics.from_matrix(p, 640, 480)
    assert from_p == Intrinsics.from_matrix(p[:, :3], 640, 480)
    assert Intrinsics.from_mapping(from_p.as_dict()) == from_p
    with pytest.raises(ValueError, match="missing cy"):
        Intrinsics.from_mapping({"fx": 1, "fy": 1, "cx": 0, "width": 2, "height": 2})


def test_crop_camera_projects_a_point_where_the_crop_shows_it():
    camera = Intrinsics.from_fov(640, 480, 60.0)
    box = CropBox(cx=300.0, cy=200.0, side=100.0)
    crop = camera.for_crop(box, 128)
    point = np.array([0.01, -0.02, 0.6])
    u, v = project(point, camera)
    cu, cv = project(point, crop)
    # pixel-centre convention of core/crop.crop_affine: crop = (image + 0.5 - corner) * scale - 0.5
    scale = 128 / box.side
    assert cu == pytest.approx((u + 0.5 - box.x0) * scale - 0.5)
    assert cv == pytest.approx((v + 0.5 - box.y0) * scale - 0.5)


def test_default_camera_is_the_fov_pinhole_and_known_cameras_are_scaled_to_the_frame():
    assert resolve_intrinsics(None, 640, 480, 60.0) == Intrinsics.from_fov(640, 480, 60.0)
    known = Intrinsics(500.0, 500.0, 319.5, 239.5, 640, 480)
    assert resolve_intrinsics(known, 640, 480) is known
    half = resolve_intrinsics(known, 320, 240)
    assert (half.fx, half.cx, half.width) == (250.0, 159.5, 320)
    assert math.isclose(half.cy, 119.5)


def test_crop_pixels_map_back_to_the_image_pixels_they_were_cut_from():
    box = CropBox(cx=300.0, cy=200.0, side=100.0)
    image_points = np.array([[260.0, 170.5], [333.3, 249.0]])
    affine = crop_affine(box, 128)
    crop_points = image_points @ affine[:, :2].T + affine[:, 2]
    np.testing.assert_allclose(crop_points, image_to_crop_pixels(image_points, box, 128), atol=1e-9)
    np.testing.assert_allclose(crop_to_image_pixels(crop_points, box, 128), image_points, atol=1e-9)
    np.testing.assert_allclose(image_from_crop_affine(box, 128)[:, :2], np.eye(2) * box.side / 128)

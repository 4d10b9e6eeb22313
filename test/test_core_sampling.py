"""core/sampling.py: the one bilinear sampler (plain fields, NaN-aware face maps, snapping)."""

from __future__ import annotations

import cv2
import numpy as np

from face_anything_ros.core.sampling import sample_bilinear, sample_nearest


def test_dense_field_matches_opencv_remap_inside_and_clamps_at_the_border():
    rng = np.random.default_rng(0)
    field = rng.normal(size=(20, 30, 2)).astype(np.float32)
    points = np.array([[3.25, 4.5], [0.0, 0.0], [28.9, 18.2], [-3.0, 5.0], [40.0, 25.0]])
    xy = points.astype(np.float32)
    reference = cv2.remap(
        field, xy[:, :1], xy[:, 1:], interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    ).reshape(-1, 2)
    np.testing.assert_allclose(sample_bilinear(field, points), reference, atol=0.05)  # remap: 1/32 px steps
    np.testing.assert_allclose(sample_bilinear(field, points[3:4])[0], field[5, 0], rtol=1e-6)


def test_scalar_map_is_exact_bilinear_and_non_finite_positions_give_nan():
    image = np.arange(12, dtype=np.float32).reshape(3, 4)  # value = 4 y + x
    values = sample_bilinear(image, np.array([[1.5, 0.25], [np.nan, 1.0]]))
    assert values.shape == (2,)
    np.testing.assert_allclose(values[0], 4 * 0.25 + 1.5)
    assert np.isnan(values[1])


def test_unknown_neighbours_drop_out_and_the_rest_are_reweighted():
    image = np.array([[1.0, np.nan], [3.0, 5.0]])
    # (0.5, 0.5): three known neighbours with weight 1/4 each
    np.testing.assert_allclose(sample_bilinear(image, np.array([[0.5, 0.5]])), [(1 + 3 + 5) / 3])


def test_a_point_just_off_the_face_snaps_to_the_nearest_face_pixel_within_the_radius():
    canonical = np.full((8, 8, 3), np.nan, np.float32)
    canonical[4, 5] = [0.1, 0.2, 0.3]
    point = np.array([[3.4, 3.6]])
    assert np.isnan(sample_bilinear(canonical, point)).all()  # no snapping by default
    np.testing.assert_allclose(sample_bilinear(canonical, point, 2)[0], [0.1, 0.2, 0.3], rtol=1e-6)
    assert np.isnan(sample_bilinear(canonical, np.array([[0.0, 0.0]]), 2)).all()


def test_nearest_reads_the_rounded_pixel_and_fills_outside_and_unknown():
    image = np.array([[1.0, 2.0], [np.nan, 4.0]])
    points = np.array([[0.6, 0.4], [0.2, 0.8], [5.0, 0.0], [np.nan, 0.0]])
    np.testing.assert_array_equal(sample_nearest(image, points, fill=0.0), [2.0, 0.0, 0.0, 0.0])
    assert np.isnan(sample_nearest(image, points)[1:]).all()
    assert sample_nearest(np.dstack([image, image]), points[:1]).shape == (1, 2)

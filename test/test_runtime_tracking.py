"""Canonical lookup: nearest predicted canonical, sub-pixel refinement, visibility; query sets; One-Euro."""

from __future__ import annotations

import numpy as np
import pytest

from face_anything_ros.core.face_template import NAMED_LANDMARKS, load_face_template
from face_anything_ros.runtime.config import TrackingConfig
from face_anything_ros.runtime.tracking import (
    OneEuroFilter,
    TrackFilters,
    build_query_set,
    locate_canonical,
    template_vertex_normals,
)


def linear_field(height=40, width=50):
    """canonical(x, y) = (0.01 x, 0.02 y, 0.001 x y) — smooth, injective, known inverse."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    return np.stack([0.01 * x, 0.02 * y, 0.001 * x * y], axis=-1).astype(np.float32)


def canonical_at(x, y):
    return np.array([0.01 * x, 0.02 * y, 0.001 * x * y])


def test_lookup_finds_sub_pixel_positions():
    field = linear_field()
    targets = np.array([[10.3, 7.6], [25.5, 20.25], [3.0, 30.0], [41.8, 2.1]])
    queries = np.stack([canonical_at(x, y) for x, y in targets])
    pixels, visible = locate_canonical(field, np.ones(field.shape[:2]), queries)
    assert visible.all()
    np.testing.assert_allclose(pixels, targets, atol=0.05)


def test_invalid_pixels_are_never_returned():
    field = linear_field()
    weight = np.ones(field.shape[:2])
    weight[:, :20] = 0.0  # the left part is not face
    field[5, 5] = np.nan
    pixels, _ = locate_canonical(field, weight, canonical_at(10, 10)[None])
    assert pixels[0, 0] >= 19.0


def test_queries_far_from_every_prediction_are_not_visible():
    field = linear_field()
    _, visible = locate_canonical(field, np.ones(field.shape[:2]), np.array([[5.0, 5.0, 5.0]]))
    assert not visible[0]


def test_no_valid_pixel_gives_nan_and_invisible():
    field = linear_field()
    pixels, visible = locate_canonical(field, np.zeros(field.shape[:2]), canonical_at(3, 3)[None])
    assert np.isnan(pixels).all() and not visible.any()


def test_default_query_set_is_the_named_landmarks_and_dense_adds_every_template_vertex():
    template = load_face_template()
    queries = build_query_set(TrackingConfig())  # the node's default: the named landmarks only
    assert queries.names == tuple(NAMED_LANDMARKS)
    np.testing.assert_array_equal(queries.canonical[0], template.canonical[NAMED_LANDMARKS["nose_tip"]])
    dense = build_query_set(TrackingConfig(dense_vertices=True))
    assert dense.names[: len(NAMED_LANDMARKS)] == tuple(NAMED_LANDMARKS)
    assert len(dense.names) == len(NAMED_LANDMARKS) + template.num_vertices


def test_custom_query_set_with_extra_points():
    config = TrackingConfig(landmarks=["chin"], dense_vertices=False, extra_queries=[[0.0, 0.0, 0.4]])
    queries = build_query_set(config)
    assert queries.names == ("chin", "extra_0")
    assert queries.canonical.shape == (2, 3) and queries.normals.shape == (2, 3)


def test_template_normals_point_out_of_the_face():
    normals = template_vertex_normals()
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-6)
    assert normals[NAMED_LANDMARKS["nose_tip"], 2] > 0.8  # the nose tip looks along +z


def test_one_euro_passes_the_first_sample_and_smooths_jitter():
    rng = np.random.default_rng(0)
    smoother = OneEuroFilter(min_cutoff_hz=1.0, beta=0.0, d_cutoff_hz=1.0)
    first = np.array([[100.0, 50.0]])
    assert np.array_equal(smoother(first, 0.0), first)
    noisy = [first + rng.normal(scale=2.0, size=(1, 2)) for _ in range(60)]
    smoothed = np.array([smoother(sample, (k + 1) / 30) for k, sample in enumerate(noisy)])
    assert np.std(smoothed[10:] - first) < 0.5 * np.std(np.array(noisy)[10:] - first)


def test_one_euro_with_high_beta_follows_fast_motion():
    smoother = OneEuroFilter(min_cutoff_hz=1.0, beta=10.0, d_cutoff_hz=1.0)
    for k in range(30):
        out = smoother(np.array([10.0 * k]), k / 30)
    assert out[0] == pytest.approx(290.0, abs=10.0)


def test_track_filters_keep_one_filter_per_track_until_the_track_is_forgotten():
    filters = TrackFilters(min_cutoff_hz=1.0, beta=0.0, d_cutoff_hz=1.0)
    assert filters(0, np.array([0.0]), 0.0)[0] == 0.0
    assert filters(1, np.array([10.0]), 0.0)[0] == 10.0  # its own filter: the first value passes
    held = filters(0, np.array([1.0]), 1 / 30)[0]
    assert 0.0 < held < 1.0  # track 0 kept its state
    filters.forget_all_but({1})
    assert filters(0, np.array([1.0]), 2 / 30)[0] == 1.0  # forgotten: starts again
    assert filters(1, np.array([0.0]), 1 / 30)[0] > 0.0  # track 1 still filtered


def test_pixel_weight_is_the_inverse_variance_of_a_laplace_head_and_zero_where_unusable():
    from face_anything_ros.runtime.postprocess import split_crop_maps
    from face_anything_ros.runtime.tracking import pixel_weight

    mask = np.array([[True, True, True, False]])
    confidence = np.array([[1.0, 2.0, np.nan, 3.0]], dtype=np.float32)
    np.testing.assert_allclose(pixel_weight(mask, confidence, 0.0), [[1.0, 4.0, 0.0, 0.0]])
    assert pixel_weight(mask, confidence, 1.5).tolist() == [[0.0, 4.0, 0.0, 0.0]]
    # the crop maps' confidence is relative to the weights' typical confidence
    outputs = {
        "mask_logits": np.full((1, 1, 2, 2), 10.0, np.float32),
        "depth": np.ones((1, 1, 2, 2), np.float32),
        "canonical": np.zeros((1, 3, 2, 2), np.float32),
        "confidence": np.full((1, 1, 2, 2), 9.0, np.float32),
    }
    (crop,) = split_crop_maps(outputs, 0.5, confidence_reference=4.5)
    np.testing.assert_allclose(crop.confidence, 2.0)


def test_symmetric_inverse_matches_numpy_on_normal_matrices_of_the_lookup():
    """The adjugate inverse the sub-pixel fit uses equals LAPACK's on 3x3-grid normal matrices."""
    from face_anything_ros.runtime.tracking import _DESIGN, _symmetric_inverse_3x3

    rng = np.random.default_rng(3)
    weights = (rng.random((200, 9)) < 0.7) * rng.uniform(0.2, 2.0, size=(200, 9))
    weights[weights.astype(bool).sum(axis=1) < 4] = 1.0  # the fit needs 4 pixels; never collinear then
    matrices = np.einsum("nk,ki,kj->nij", weights, _DESIGN, _DESIGN)
    np.testing.assert_allclose(
        _symmetric_inverse_3x3(matrices), np.linalg.inv(matrices), rtol=1e-9, atol=1e-12
    )

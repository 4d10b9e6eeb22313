"""The per-frame path's fast reductions give numpy's own answers, NaN, inf and empty cases included."""

from __future__ import annotations

import numpy as np
import pytest

from face_anything_ros.core.fast_reductions import finite_vectors, median, norms, row_dots, squared_norms


@pytest.mark.parametrize("shape", [(128, 128, 3), (481, 2), (7, 1), (0, 2), (5, 4, 3, 2)])
def test_finite_vectors_is_isfinite_all_over_the_last_axis(shape):
    rng = np.random.default_rng(0)
    values = rng.normal(size=shape).astype(np.float32)
    spoiled = rng.random(shape) < 0.05
    values[spoiled] = rng.choice([np.nan, np.inf, -np.inf], size=int(spoiled.sum()))
    np.testing.assert_array_equal(finite_vectors(values), np.isfinite(values).all(axis=-1))


def test_finite_vectors_of_no_components_is_true():
    assert finite_vectors(np.zeros((4, 0))).tolist() == [True] * 4


@pytest.mark.parametrize("count", [1, 2, 7, 480, 481])
def test_median_equals_numpy_for_odd_and_even_counts(count):
    values = np.random.default_rng(count).normal(size=count)
    assert median(values) == float(np.median(values))


def test_median_with_inf_matches_numpy_and_nan_or_empty_gives_nan():
    values = np.array([3.0, np.inf, -1.0, 2.0])
    assert median(values) == float(np.median(values))
    assert np.isnan(median(np.array([1.0, np.nan, 2.0])))
    assert np.isnan(median(np.array([])))


@pytest.mark.parametrize("shape", [(481, 2), (468, 9, 3), (0, 2)])
def test_norms_equal_numpy(shape):
    vectors = np.random.default_rng(1).normal(size=shape)
    vectors.flat[:3] = [np.nan, np.inf, 0.0] if vectors.size else []
    np.testing.assert_array_equal(squared_norms(vectors), (vectors**2).sum(axis=-1))
    np.testing.assert_array_equal(norms(vectors), np.linalg.norm(vectors, axis=-1))


@pytest.mark.parametrize("shape", [(481, 3), (481, 2), (0, 3)])
def test_row_dots_equal_numpy_summed_in_component_order(shape):
    rng = np.random.default_rng(2)
    u, v = rng.normal(size=shape), rng.normal(size=shape)
    expected = sum(u[..., c] * v[..., c] for c in range(shape[-1]))  # numpy's sum may pair them otherwise
    np.testing.assert_array_equal(row_dots(u, v), expected)
    np.testing.assert_allclose(row_dots(u, v), (u * v).sum(axis=-1), rtol=1e-12, atol=1e-12)

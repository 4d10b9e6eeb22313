"""The simulated consistently wrong lookup used to choose fusion settings (evaluation/lookup_bias.py)."""

from __future__ import annotations

import numpy as np
import pytest

from face_anything_ros.evaluation.lookup_bias import smooth_canonical_offsets


def test_offsets_are_bounded_the_same_per_point_and_vary_smoothly_across_the_face():
    offsets = smooth_canonical_offsets(2.0, seed=3)
    rng = np.random.default_rng(0)
    canonical = rng.uniform(-1, 1, size=(500, 3))
    first = offsets(canonical)
    assert first.shape == (500, 2) and np.abs(first).max() <= 2.0
    np.testing.assert_array_equal(offsets(canonical), first)  # a point is wrong alike in every frame
    np.testing.assert_array_equal(smooth_canonical_offsets(2.0, seed=3)(canonical), first)  # reproducible
    assert np.abs(first).mean() > 0.8  # a real offset, not a few hundredths
    near = offsets(canonical + 0.005)  # 0.5 mm away on the face: nearly the same offset
    assert np.abs(near - first).max() < 0.3
    assert np.corrcoef(first[:, 0], smooth_canonical_offsets(2.0, seed=4)(canonical)[:, 0])[0, 1] < 0.5


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_a_bad_amplitude_is_refused(bad):
    with pytest.raises(ValueError, match="amplitude"):
        smooth_canonical_offsets(bad)

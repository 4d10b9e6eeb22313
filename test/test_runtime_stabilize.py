"""Crop stabilisation: jitter inside the dead band keeps the box, real moves are taken at once."""

from __future__ import annotations

import numpy as np
import pytest

from face_anything_ros.runtime.stabilize import BoxStabilizer

BOX = np.array([100.0, 100.0, 200.0, 200.0])  # 100 px face: dead band 0.02 = 2 px


def test_jitter_inside_the_dead_band_keeps_the_first_box():
    stabilizer = BoxStabilizer(0.02)
    assert stabilizer(1, BOX) is not None
    for shift in ([1.5, -1.0, 1.5, -1.0], [-1.0, 1.9, -1.0, 1.9], [0.0, 0.0, 1.9, 1.9]):
        np.testing.assert_array_equal(stabilizer(1, BOX + np.array(shift)), BOX)


def test_a_move_beyond_the_dead_band_is_taken_at_once_and_becomes_the_new_reference():
    stabilizer = BoxStabilizer(0.02)
    stabilizer(1, BOX)
    moved = BOX + 3.0
    np.testing.assert_array_equal(stabilizer(1, moved), moved)
    np.testing.assert_array_equal(stabilizer(1, moved + 1.0), moved)
    grown = BOX + np.array([-3.0, -3.0, 3.0, 3.0])  # same centre, 6 px larger
    np.testing.assert_array_equal(stabilizer(1, grown), grown)


def test_tracks_are_independent_forgotten_and_zero_disables():
    stabilizer = BoxStabilizer(0.02)
    stabilizer(1, BOX)
    np.testing.assert_array_equal(stabilizer(2, BOX + 1.0), BOX + 1.0)  # another face, its own box
    stabilizer.forget_all_but({2})
    np.testing.assert_array_equal(stabilizer(1, BOX + 1.0), BOX + 1.0)  # track 1 starts afresh
    off = BoxStabilizer(0.0)
    off(1, BOX)
    np.testing.assert_array_equal(off(1, BOX + 0.1), BOX + 0.1)
    with pytest.raises(ValueError):
        BoxStabilizer(-0.1)

"""Stable face ids: Hungarian assignment with gating, birth and death."""

from __future__ import annotations

import numpy as np

from face_anything_ros.runtime.config import IdConfig
from face_anything_ros.runtime.ids import IdAssigner, iou_matrix


def box(cx, cy, side=100.0):
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])


def ids_of(tracks):
    return [t.track_id for t in tracks]


def test_iou_of_identical_disjoint_and_half_overlapping_boxes():
    iou = iou_matrix(np.stack([box(0, 0)]), np.stack([box(0, 0), box(500, 0), box(50, 0)]))
    np.testing.assert_allclose(iou[0], [1.0, 0.0, 1.0 / 3.0])


def test_ids_follow_moving_faces_whatever_the_detection_order():
    assigner = IdAssigner(IdConfig())
    first = ids_of(assigner.update(np.stack([box(100, 100), box(400, 100)])))
    # next frame: both moved right by 20 px, detector lists them in the other order
    second = ids_of(assigner.update(np.stack([box(420, 100), box(120, 100)])))
    assert second == [first[1], first[0]]


def test_global_assignment_beats_greedy_choice():
    # Track A at x=0, track B at x=150. Detection d1 at x=40 overlaps A best (IoU .67), d2 at
    # x=-100 overlaps only A. Greedy would give d1 to A and orphan B; the optimum keeps both.
    assigner = IdAssigner(IdConfig())
    a, b = ids_of(assigner.update(np.stack([box(0, 0, 200), box(150, 0, 200)])))
    tracks = assigner.update(np.stack([box(40, 0, 200), box(-100, 0, 200)]))
    assert ids_of(tracks) == [b, a]


def test_far_jump_is_gated_into_a_new_id():
    assigner = IdAssigner(IdConfig())
    (old,) = ids_of(assigner.update(np.stack([box(100, 100)])))
    (new,) = ids_of(assigner.update(np.stack([box(900, 600)])))
    assert new != old


def test_track_survives_missed_frames_then_dies_and_ids_are_not_reused():
    assigner = IdAssigner(IdConfig(max_missed_frames=2))
    (first,) = ids_of(assigner.update(np.stack([box(100, 100)])))
    for _ in range(2):
        assigner.update(np.zeros((0, 4)))
    (again,) = ids_of(assigner.update(np.stack([box(105, 100)])))
    assert again == first  # came back within max_missed_frames
    for _ in range(3):
        assigner.update(np.zeros((0, 4)))
    assert assigner.tracks == []
    (reborn,) = ids_of(assigner.update(np.stack([box(105, 100)])))
    assert reborn != first


def test_age_counts_frames_since_birth():
    assigner = IdAssigner(IdConfig())
    ages = [assigner.update(np.stack([box(100 + 5 * k, 100)]))[0].age for k in range(4)]
    assert ages == [0, 1, 2, 3]

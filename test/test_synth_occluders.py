"""Glasses: transparent lenses keep the face under them (only the frames occlude); sunglasses occlude.
Passing occluders cross a face on their own path and hide its ground truth there."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from face_anything_ros.core.face_template import load_face_template
from face_anything_ros.synth import FaceSequenceGenerator, SynthConfig
from face_anything_ros.synth.occluders import (
    LEFT_EYE_CORNERS,
    RIGHT_EYE_CORNERS,
    Occluder,
    draw_occluders,
    sample_passing_occluder,
)

SIZE = 160


def face_landmarks() -> np.ndarray:
    """The template's 468 vertices as a frontal face filling the picture (x right, y down)."""
    vertices = load_face_template().vertices_cm
    return np.column_stack([SIZE / 2 + 7.0 * vertices[:, 0], SIZE / 2 - 7.0 * (vertices[:, 1] - 1.0)])


def glasses(opaque: bool) -> Occluder:
    params = {
        "thickness": 0.02,
        "tint": 0.3,
        "round": 0.9,
        "opaque": opaque,
        "reflection": 0.4,
        "reflection_angle": 45.0,
        "reflection_width": 0.3,
        "rim": 0.2,
    }
    return Occluder("glasses", np.array([0.1, 0.1, 0.1]), params)


def draw(opaque: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    landmarks = face_landmarks()
    image = np.full((SIZE, SIZE, 3), 0.6)
    covered = np.zeros((SIZE, SIZE), bool)
    draw_occluders(image, covered, [glasses(opaque)], landmarks, frame=0, yaw_deg=0.0)
    return image, covered, landmarks


def lens_centres(landmarks: np.ndarray) -> list[tuple[int, int]]:
    centres = [0.5 * (landmarks[a] + landmarks[b]) for a, b in (RIGHT_EYE_CORNERS, LEFT_EYE_CORNERS)]
    return [(round(c[1]), round(c[0])) for c in centres]


def test_transparent_lenses_keep_the_face_and_the_frames_occlude():
    image, covered, landmarks = draw(opaque=False)
    assert covered.any()  # the frames
    for row, col in lens_centres(landmarks):
        assert not covered[row, col]  # the face continues under the lens
        assert not np.allclose(image[row, col], 0.6)  # but the lens changes how it looks
    assert not covered[SIZE - 20, SIZE // 2]  # far from the glasses nothing changes
    np.testing.assert_allclose(image[SIZE - 20, SIZE // 2], 0.6)


def test_sunglasses_lenses_are_opaque_occluders():
    _, covered, landmarks = draw(opaque=True)
    for row, col in lens_centres(landmarks):
        assert covered[row, col]


def test_a_passing_occluder_moves_on_its_own_straight_path_and_only_while_it_passes():
    landmarks = np.repeat(face_landmarks()[None], 12, axis=0)  # a still face: any motion is the object's
    passing = sample_passing_occluder(np.random.default_rng(3), landmarks, 12)
    assert passing is not None and 1 <= passing.first < passing.last <= 11
    for t in range(12):
        image = np.full((SIZE, SIZE, 3), 0.6)
        covered = np.zeros((SIZE, SIZE), bool)
        passing.draw(image, covered, t)
        assert covered.any() == (passing.first <= t <= passing.last)
        if covered.any():
            x, y = np.clip(np.round(passing.centre(t)).astype(int), 0, SIZE - 1)
            assert covered[y, x] or not (0 < x < SIZE - 1 and 0 < y < SIZE - 1)
            assert image[covered].std() > 0.02  # textured: flow can follow it
    centres = np.array([passing.centre(t) for t in range(passing.first, passing.last + 1)])
    steps = np.diff(centres, axis=0)
    assert np.linalg.norm(steps, axis=1).min() > 1.0  # it moves although the face does not
    np.testing.assert_allclose(steps, np.broadcast_to(steps[0], steps.shape), atol=1e-9)  # straight, steady
    assert (
        np.linalg.norm(centres.mean(axis=0) - face_landmarks().mean(axis=0)) < 0.2 * SIZE
    )  # across the face


def test_sequences_with_a_passing_occluder_lose_the_face_ground_truth_under_it():
    config = SynthConfig(queries_per_sequence=64, max_faces_per_frame=1, passing_occluder_probability=1.0)
    seq = FaceSequenceGenerator(config, seed=5).sample_sequence(12, image_size=(128, 128))
    plain = FaceSequenceGenerator(replace(config, passing_occluder_probability=0.0), seed=5).sample_sequence(
        12, image_size=(128, 128)
    )
    changed = np.any(seq["frames"] != plain["frames"], axis=(1, 2, 3))
    assert changed.any() and not changed.all()  # the same sequence, plus the object in the frames it passes
    assert (seq["mask"] <= plain["mask"]).all()  # where it covers the face, the face's ground truth is gone
    assert seq["mask"].sum() < plain["mask"].sum()
    assert (~seq["visible"] & plain["visible"]).any()  # tracked points hidden by it
    assert not (seq["visible"] & ~plain["visible"]).any()

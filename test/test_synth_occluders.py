"""Glasses: transparent lenses keep the face under them (only the frames occlude); sunglasses occlude."""

from __future__ import annotations

import numpy as np

from face_anything_ros.core.face_template import load_face_template
from face_anything_ros.synth.occluders import LEFT_EYE_CORNERS, RIGHT_EYE_CORNERS, Occluder, draw_occluders

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

"""Baselines: chained flow trackers on a known translation, mesh interpolation, template depth."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from face_anything_ros.core.camera import Intrinsics
from face_anything_ros.core.face_template import load_face_template
from face_anything_ros.evaluation.baselines.flow import FlowConfig, track_flow
from face_anything_ros.evaluation.baselines.lk import track_lk
from face_anything_ros.evaluation.baselines.mediapipe_mesh import landmarks_to_tracks
from face_anything_ros.evaluation.baselines.template_depth import render_depth, template_depth
from face_anything_ros.runtime.landmark_distance import fit_template_pose, template_points_m

SIZE = 128
STEP = np.array([1.5, -0.75])  # px per frame


def translated_frames(num_frames: int = 6) -> np.ndarray:
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (SIZE, SIZE, 3)).astype(np.float32), (0, 0), 2.0)
    texture = cv2.normalize(texture, None, 0, 255, cv2.NORM_MINMAX)
    frames = []
    for t in range(num_frames):
        shift = np.array([[1, 0, STEP[0] * t], [0, 1, STEP[1] * t]], dtype=np.float64)
        frames.append(
            cv2.warpAffine(texture, shift, (SIZE, SIZE), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        )
    return np.clip(np.stack(frames), 0, 255).astype(np.uint8)


def translation_queries() -> tuple[np.ndarray, np.ndarray]:
    """Points in the middle, queried at frame 0 and at frame 4 (tracked backwards too)."""
    xy = np.array([[50.0, 50.0], [70.0, 60.0], [60.0, 75.0], [45.0, 65.0]])
    query_frames = np.array([0, 0, 4, 4])
    base = xy - STEP * query_frames[:, None]
    queries = np.column_stack([query_frames, xy])
    truth = np.stack([base + STEP * t for t in range(6)])
    return queries, truth


@pytest.mark.parametrize(
    "tracker",
    [
        track_lk,
        lambda f, q: track_flow(f, q, FlowConfig("dis")),
        lambda f, q: track_flow(f, q, FlowConfig("farneback")),
    ],
    ids=["lk", "dis", "farneback"],
)
def test_chained_trackers_follow_a_pure_translation(tracker):
    frames = translated_frames()
    queries, truth = translation_queries()
    tracks, visible = tracker(frames, queries)
    error = np.linalg.norm(tracks - truth, axis=-1)
    assert error.max() < 0.25, error
    assert visible.all()


def test_chained_tracker_starts_at_the_query_pixel():
    frames = translated_frames()
    queries, _ = translation_queries()
    tracks, _ = track_lk(frames, queries)
    np.testing.assert_array_equal(tracks[4, 2:], queries[2:, 1:])


def projected_template(shift: np.ndarray) -> np.ndarray:
    """(468, 3) 'landmarks' of a frontal template in a 256 px image, moved by ``shift``."""
    canonical = load_face_template().canonical.astype(np.float64)
    xy = canonical[:, :2] * np.array([100.0, -100.0]) + 128.0 + shift
    return np.column_stack([xy, -canonical[:, 2] * 100.0])


def test_mesh_barycentric_tracks_follow_landmarks_exactly():
    shifts = [np.array([3.0 * t, -2.0 * t]) for t in range(4)]
    landmarks = [{0: projected_template(s)} for s in shifts]
    landmarks[2] = {}  # a frame without a face: point held, invisible
    queries = np.array([[0, 128.0, 128.0], [0, 110.3, 140.7], [1, 150.2, 100.1]])
    tracks, visible = landmarks_to_tracks(landmarks, queries, 4)
    for t in (0, 1, 3):
        expected = queries[:, 1:] - shifts[queries[0, 0].astype(int)] + shifts[t]
        expected[2] = queries[2, 1:] - shifts[1] + shifts[t]
        np.testing.assert_allclose(tracks[t], expected, atol=1e-6)
    assert not visible[2].any()
    np.testing.assert_allclose(tracks[2], tracks[1])


def test_mesh_points_follow_their_own_face_when_two_are_in_view():
    still = projected_template(np.array([-70.0, 0.0])) * np.array([0.5, 0.5, 1.0]) + np.array(
        [0.0, 64.0, 0.0]
    )
    moving = [
        projected_template(np.array([60.0 + 4.0 * t, 0.0])) * np.array([0.5, 0.5, 1.0]) for t in range(3)
    ]
    # face ids swap order between frames on purpose: identity, not list position, carries a point
    landmarks = [{3: still, 5: moving[0]}, {5: moving[1], 3: still}, {5: moving[2]}]
    q_still = still[1, :2]
    q_moving = moving[0][1, :2]
    queries = np.array([[0, *q_still], [0, *q_moving]])
    tracks, visible = landmarks_to_tracks(landmarks, queries, 3)
    np.testing.assert_allclose(tracks[1, 0], q_still, atol=1e-6)
    np.testing.assert_allclose(tracks[2, 1], moving[2][1, :2], atol=1e-6)
    assert visible[1].all() and visible[2, 1] and not visible[2, 0]  # face 3 gone at t=2


def test_mesh_query_outside_the_face_is_never_visible():
    landmarks = [{0: projected_template(np.zeros(2))}] * 2
    tracks, visible = landmarks_to_tracks(landmarks, np.array([[0, 2.0, 2.0]]), 2)
    assert not visible[1, 0]
    np.testing.assert_allclose(tracks[1, 0], [2.0, 2.0])


def test_render_depth_of_a_fronto_parallel_triangle_is_its_depth():
    camera = Intrinsics(fx=100.0, fy=100.0, cx=32.0, cy=32.0, width=64, height=64)
    vertices = np.array([[-0.1, -0.1, 0.5], [0.1, -0.1, 0.5], [0.0, 0.1, 0.5]])
    depth = render_depth(vertices, np.array([[0, 1, 2]]), camera, (64, 64))
    assert np.nanmax(np.abs(depth - 0.5)) < 1e-6
    assert np.isfinite(depth[32, 32]) and np.isnan(depth[0, 0])


def test_template_fit_recovers_a_known_pose_and_renders_its_depth():
    camera = Intrinsics(fx=300.0, fy=300.0, cx=128.0, cy=128.0, width=256, height=256)
    rotation = cv2.Rodrigues(np.array([0.1, -0.2, 0.05]))[0]
    translation = np.array([0.01, -0.02, 0.6])
    points = template_points_m() @ rotation.T + translation
    landmarks = points[:, :2] / points[:, 2:] * 300.0 + 128.0
    fitted_rotation, fitted_translation = fit_template_pose(landmarks, camera)
    np.testing.assert_allclose(fitted_translation, translation, atol=1e-4)
    np.testing.assert_allclose(fitted_rotation, rotation, atol=1e-4)
    truth = render_depth(points, load_face_template().faces, camera, (256, 256))
    depth = template_depth(
        [{0: np.column_stack([landmarks, np.zeros(len(landmarks))])}, {}], camera, (256, 256)
    )
    assert np.nanmax(np.abs(depth[0] - truth)) < 1e-3
    assert np.isnan(depth[1]).all()


def test_flat_depth_is_the_median_face_depth_and_scores_the_relief():
    from face_anything_ros.evaluation import metrics as M
    from face_anything_ros.evaluation.baselines.flat_depth import flat_depth

    gt = np.array([[[0.5, 0.6, 0.7, np.nan]]], dtype=np.float32)
    mask = np.array([[[True, True, True, True]]])
    flat = flat_depth(gt, mask)
    np.testing.assert_allclose(flat[0, 0, :3], 0.6)
    assert np.isnan(flat[0, 0, 3])
    summary = M.summarize_depth(M.depth_frame_samples(flat[0], gt[0], mask[0]))
    assert summary["absrel_aligned"] == pytest.approx((0.1 / 0.5 + 0 + 0.1 / 0.7) / 3, rel=1e-5)

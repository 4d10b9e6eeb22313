"""The real-texture set: warps are exact, ground-truth tracks land on the same texture."""

from __future__ import annotations

import cv2
import numpy as np

from face_anything_ros.core.face_template import load_face_template
from face_anything_ros.evaluation.real_texture import (
    MOTION_SPECS,
    MotionSpec,
    build_warp,
    make_occluder,
    make_sequence,
    render_frame,
)

SIZE = 128
NUM_FRAMES = 8


def fake_landmarks() -> np.ndarray:
    """Template landmarks laid out frontally in the middle of the image (no detector needed)."""
    canonical = load_face_template().canonical.astype(np.float64)
    return canonical[:, :2] * np.array([40.0, -40.0]) + SIZE / 2


def textured_base() -> np.ndarray:
    rng = np.random.default_rng(3)
    noise = cv2.GaussianBlur(rng.uniform(0, 255, (SIZE, SIZE, 3)).astype(np.float32), (0, 0), 1.5)
    return cv2.normalize(noise, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


def sample(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    xy = points.astype(np.float32)
    return cv2.remap(image.astype(np.float32), xy[:, :1], xy[:, 1:2], cv2.INTER_LINEAR).reshape(
        len(points), -1
    )


def test_warp_inverse_undoes_forward():
    spec = MOTION_SPECS[1]  # the fast one: largest motion
    warp = build_warp(spec, fake_landmarks(), SIZE, NUM_FRAMES, np.random.default_rng(0))
    points = np.random.default_rng(1).uniform(20, SIZE - 20, size=(200, 2))
    for t in range(NUM_FRAMES):
        np.testing.assert_allclose(warp.inverse(t, warp.forward(t, points)), points, atol=1e-4)


def test_ground_truth_tracks_land_on_the_same_texture():
    spec = MotionSpec(
        name="check", lighting=0.0, occluder=False, expression=1.0, yaw_deg=20.0, static_frames=1
    )
    base = textured_base()
    landmarks = fake_landmarks()
    warp = build_warp(spec, landmarks, SIZE, NUM_FRAMES, np.random.default_rng(0))
    points = np.random.default_rng(2).uniform(40, SIZE - 40, size=(300, 2))
    expected = sample(base, points)
    frame = render_frame(base, warp, NUM_FRAMES - 1, spec, None)
    moved = warp.forward(NUM_FRAMES - 1, points)
    assert np.linalg.norm(moved - points, axis=1).mean() > 2.0  # the warp really moves things
    at_truth = np.abs(sample(frame, moved) - expected).mean()
    at_start = np.abs(sample(frame, points) - expected).mean()
    assert at_truth < 3.0, at_truth
    assert at_start > 4 * at_truth


def test_occluder_hides_points_and_draws_over_them():
    spec = MotionSpec(name="occ", lighting=0.0, expression=0.0, static_frames=1)
    base = textured_base()
    rng = np.random.default_rng(0)
    warp = build_warp(spec, fake_landmarks(), SIZE, NUM_FRAMES, rng)
    occluder = make_occluder(fake_landmarks(), SIZE, NUM_FRAMES, rng)
    t = occluder.first
    centre = occluder.centre(t)
    assert occluder.covers(t, centre[None])[0]
    assert not occluder.covers(occluder.last + 1, centre[None])[0]
    frame = render_frame(base, warp, t, spec, occluder)
    x, y = np.round(centre).astype(int)
    np.testing.assert_array_equal(frame[y, x], occluder.texture[y, x])


def test_astronaut_sequence_has_static_start_and_visible_queries():
    spec = MotionSpec(name="slow", static_frames=3)
    seq = make_sequence("astronaut", spec, size=SIZE, num_frames=NUM_FRAMES, num_points=16, seed=0)
    assert seq.frames.shape == (NUM_FRAMES, SIZE, SIZE, 3)
    np.testing.assert_allclose(seq.tracks[0], seq.tracks[2])  # static start frames
    assert np.abs(seq.tracks[-1] - seq.tracks[0]).max() > 1.0
    query_frames = seq.queries[:, 0].astype(int)
    assert seq.visible[query_frames, np.arange(16)].all()
    np.testing.assert_allclose(seq.queries[:, 1:], seq.tracks[query_frames, np.arange(16)])
    assert (~seq.visible).any()  # the occluder passes over some points


def test_make_real_texture_cli_writes_valid_sequence_folders(tmp_path, capsys):
    from face_anything_ros.cli.main import main
    from face_anything_ros.core.sequence_format import read_sequence

    out = tmp_path / "rt"
    rc = main(
        ["evaluate", "--make-real-texture", str(out), "--frames", "3", "--size", "128", "--points", "4"]
    )
    assert rc == 0, capsys.readouterr().out
    folders = sorted(p for p in out.iterdir() if p.is_dir())
    assert len(folders) == 6  # 2 photos x slow / fast / expression
    seq = read_sequence(folders[0])  # the shared strict reader accepts it
    assert seq.frames.shape == (3, 128, 128, 3) and seq.tracks.shape == (3, 4, 2) and seq.depth is None

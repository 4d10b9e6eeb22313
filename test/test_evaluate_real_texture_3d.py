"""The 3D real-texture set: the surface sits where the photo's face is, ground truth is self-consistent,
parallax and self-occlusion are real, and the command writes folders the strict reader accepts."""

from __future__ import annotations

import functools

import numpy as np

from face_anything_ros.core.camera import Intrinsics
from face_anything_ros.evaluation.real_texture import MotionSpec, load_photo, pinhole_intrinsics
from face_anything_ros.evaluation.real_texture_3d import (
    HeadMotion,
    camera_vertices,
    head_motion,
    make_sequence_3d,
    screen_points,
    textured_face,
    track_points,
)
from face_anything_ros.runtime.mesh_raster import rasterize_mesh
from face_anything_ros.synth.mesh import NOSE_TIP

SIZE = 128
NUM_FRAMES = 8


@functools.lru_cache(maxsize=1)
def astronaut_face():
    return textured_face(load_photo("astronaut"), SIZE)


def camera() -> Intrinsics:
    return Intrinsics.from_mapping(pinhole_intrinsics(SIZE))


def test_frame_zero_puts_the_surface_where_the_photo_has_the_face():
    face = astronaut_face()
    motion = head_motion(face, MotionSpec(name="slow"), camera(), NUM_FRAMES, np.random.default_rng(0))
    screen = screen_points(camera_vertices(face, motion, 0), camera())
    error = np.linalg.norm(screen[:, :2] - face.landmarks_px, axis=1)
    face_side = np.ptp(face.landmarks_px[:, 0])
    # the fit's own residual plus perspective: a few percent of the face
    assert np.median(error) < 0.03 * face_side, np.median(error)


def test_tracks_land_on_their_canonical_coordinate_and_depth_is_the_surface():
    spec = MotionSpec(name="fast", yaw_deg=25.0, translation_per_frame=0.02, motion_period_frames=6.0)
    _, seq = make_sequence_3d("astronaut", spec, size=SIZE, num_frames=NUM_FRAMES, num_points=32, seed=1)
    assert np.abs(seq.tracks[-1] - seq.tracks[0]).max() > 2.0  # it moves
    query_frames = seq.queries[:, 0].astype(int)
    np.testing.assert_allclose(seq.queries[:, 1:], seq.tracks[query_frames, np.arange(32)])
    errors = []
    for t in range(NUM_FRAMES):
        pixel = np.rint(seq.tracks[t][seq.visible[t]]).astype(int)
        found = seq.canonical[t][pixel[:, 1], pixel[:, 0]]
        errors.append(np.abs(found - seq.query_canonical[seq.visible[t]]).sum(axis=1))
    errors = np.concatenate(errors)
    errors = errors[np.isfinite(errors)]
    assert np.median(errors) < 0.02, np.median(errors)  # pixel rounding only (~1 mm)
    face = seq.mask
    assert np.isfinite(seq.depth[face]).all() and np.isnan(seq.depth[~face]).all()
    assert 0.1 < np.median(seq.depth[face]) < 2.0  # metres, a head in front of a webcam


def test_nose_hides_the_far_cheek_and_the_near_one_stays():
    """Parallax and self-occlusion (what the planar set cannot show): a strongly turned head."""
    face = astronaut_face()
    still = head_motion(face, MotionSpec(name="s", yaw_deg=0.0), camera(), 1, np.random.default_rng(0))
    turned = HeadMotion(
        rotations=np.array([np.array(_yaw(70.0))]),
        centres_m=still.centres_m,
        expression_cm=still.expression_cm,
    )
    triangle_of = {int(v): i for i, tri in enumerate(_faces()) for v in tri}
    vertex = np.arange(len(face.shape_cm))
    triangles = np.array([triangle_of[int(v)] for v in vertex])
    bary = (_faces()[triangles] == vertex[:, None]).astype(float)  # each vertex as a surface point
    seen = {}
    for name, motion in (("still", still), ("turned", turned)):
        vertices = camera_vertices(face, motion, 0)
        fragments = rasterize_mesh(screen_points(vertices, camera()), _faces(), SIZE, SIZE, perspective=True)
        seen[name] = track_points(vertices, camera(), fragments, triangles, bary)[1]
    x = face.shape_cm[:, 0] - face.shape_cm[NOSE_TIP, 0]
    far, near = x < -4.0, x > 4.0  # cheeks 4 cm left / right of the nose tip (template frame)
    side_seen = sorted([seen["turned"][far].mean(), seen["turned"][near].mean()])
    assert side_seen[0] < 0.3 and side_seen[1] > 0.7, side_seen
    assert seen["still"][far].mean() > 0.8 and seen["still"][near].mean() > 0.8


def test_make_real_texture_3d_cli_writes_valid_sequence_folders(tmp_path, capsys):
    from face_anything_ros.cli.main import main
    from face_anything_ros.core.sequence_format import read_sequence

    out = tmp_path / "rt3d"
    rc = main(
        ["evaluate", "--make-real-texture-3d", str(out), "--frames", "3", "--size", "96", "--points", "4"]
    )
    assert rc == 0, capsys.readouterr().out
    folders = sorted(p for p in out.iterdir() if p.is_dir())
    assert len(folders) == 6  # 2 photos x slow / fast / expression
    seq = read_sequence(folders[0])  # the shared strict reader accepts it, depth and mask included
    assert seq.frames.shape == (3, 96, 96, 3) and seq.tracks.shape == (3, 4, 2)
    assert seq.depth is not None and seq.mask is not None and seq.mask[0].sum() > 100
    rc = main(["evaluate", "--make-real-texture-3d", str(out), "--frames", "1"])
    assert rc == 2 and "--frames >= 2" in capsys.readouterr().out


def _yaw(degrees: float) -> np.ndarray:
    angle = np.radians(degrees)
    return np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]])


def _faces() -> np.ndarray:
    from face_anything_ros.core.face_template import load_face_template

    return load_face_template().faces

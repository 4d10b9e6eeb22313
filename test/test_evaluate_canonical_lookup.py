"""The method's tracking plumbing: canonical lookup is exact when fed ground-truth canonical maps."""

from __future__ import annotations

import numpy as np

from face_anything_ros.evaluation import metrics as M
from face_anything_ros.evaluation.method import mask_face_boxes, track_by_canonical_lookup

SIZE = 128
NUM_FRAMES = 6


def canonical_of_base(points: np.ndarray) -> np.ndarray:
    """A smooth, one-to-one canonical field over a face-sized disc of the base image."""
    u = (points[..., 0] - 64.0) / 60.0
    v = -(points[..., 1] - 64.0) / 60.0
    return np.stack([u, v, 0.3 * (1.0 - u**2 - v**2)], axis=-1)


def motion(t: int) -> tuple[np.ndarray, np.ndarray]:
    angle = 0.05 * t
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) * (1.0 + 0.02 * t)
    return rotation, np.array([2.3 * t, -1.7 * t])


def ground_truth_maps() -> tuple[np.ndarray, np.ndarray]:
    """Canonical maps (T, H, W, 3), NaN off the face, and the face weight maps."""
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    pixels = np.stack([xs, ys], axis=-1)
    maps, weights = [], []
    for t in range(NUM_FRAMES):
        a, b = motion(t)
        base = (pixels - b) @ np.linalg.inv(a).T
        on_face = np.linalg.norm(base - 64.0, axis=-1) < 45.0
        canonical = canonical_of_base(base)
        canonical[~on_face] = np.nan
        maps.append(canonical.astype(np.float32))
        weights.append(on_face.astype(np.float32))
    return np.stack(maps), np.stack(weights)


def test_lookup_tracking_with_ground_truth_maps_is_exact():
    maps, weights = ground_truth_maps()
    rng = np.random.default_rng(0)
    base_points = 64.0 + rng.uniform(-30, 30, size=(40, 2))
    truth = np.stack([base_points @ motion(t)[0].T + motion(t)[1] for t in range(NUM_FRAMES)])
    query_frames = rng.integers(0, NUM_FRAMES, size=40)
    queries = np.column_stack([query_frames, truth[query_frames, np.arange(40)]])
    tracks, visible = track_by_canonical_lookup(maps, weights, queries)
    gt_visible = np.ones((NUM_FRAMES, 40), bool)
    summary = M.summarize_tracking(
        M.tracking_samples(tracks, visible, truth, gt_visible, query_frames, (SIZE, SIZE))
    )
    assert summary["epe_median_px"] < 0.05, summary
    assert summary["delta_avg"] == 1.0
    assert summary["occlusion_accuracy"] == 1.0


def test_lookup_marks_points_that_leave_the_face_invisible():
    maps, weights = ground_truth_maps()
    weights[3:] = 0.0  # the face vanishes from frame 3 on
    queries = np.array([[0, 64.0, 64.0]])
    tracks, visible = track_by_canonical_lookup(maps, weights, queries)
    assert visible[:3, 0].all() and not visible[3:, 0].any()
    np.testing.assert_allclose(tracks[3:, 0], np.repeat(tracks[2:3, 0], NUM_FRAMES - 3, axis=0))


def test_query_off_the_predicted_face_is_never_visible():
    maps, weights = ground_truth_maps()
    queries = np.array([[1, 2.0, 2.0]])  # a corner pixel, far from the face
    tracks, visible = track_by_canonical_lookup(maps, weights, queries)
    assert visible[:, 0].tolist() == [t == 1 for t in range(NUM_FRAMES)]
    np.testing.assert_allclose(tracks[:, 0], np.tile([2.0, 2.0], (NUM_FRAMES, 1)))


def test_ground_truth_boxes_one_per_face_even_when_an_occluder_splits_it():
    mask = np.zeros((64, 64), bool)
    mask[5:25, 5:20] = True  # face 1, cut in two by a 3 px wide occluder
    mask[14:17, 5:20] = False
    mask[40:60, 30:50] = True  # face 2
    mask[0, 63] = True  # a stray pixel is no face
    boxes = sorted(mask_face_boxes(mask), key=lambda b: b[0])
    assert len(boxes) == 2
    np.testing.assert_array_equal(boxes[0], [5, 5, 20, 25])
    np.testing.assert_array_equal(boxes[1], [30, 40, 50, 60])


def test_instance_labels_keep_touching_faces_apart_and_a_cut_face_whole():
    from face_anything_ros.evaluation.method import ground_truth_faces, label_boxes

    mask = np.zeros((64, 64), bool)
    instances = np.zeros((64, 64), np.uint8)
    mask[10:40, 5:30] = True
    instances[10:40, 5:30] = 1
    mask[10:40, 30:55] = True  # a second face touching the first
    instances[10:40, 30:55] = 2
    mask[20:23, 30:55] = False  # an occluder cuts the second face in two
    labels, boxes = ground_truth_faces(mask, instances)
    assert len(boxes) == 2 and len(ground_truth_faces(mask, None)[1]) == 1  # the mask alone merges them
    np.testing.assert_array_equal(boxes[1], [30, 10, 55, 40])
    assert labels[30, 40] == labels[15, 40] == 1 and labels[20, 40] == -1
    np.testing.assert_array_equal(np.array(label_boxes(labels)), np.array(boxes))


def test_lookup_on_the_generators_ground_truth_canonical_is_near_exact(tmp_path, capsys):
    """The oracle row: canonical lookup fed the synthetic generator's own canonical maps."""
    import json

    from face_anything_ros.cli.main import main

    data = tmp_path / "synth"
    assert (
        main(
            [
                "synth",
                "--out",
                str(data),
                "--sequences",
                "1",
                "--frames",
                "4",
                "--size",
                "128",
                "--split",
                "test",
            ]
        )
        == 0
    )
    out = tmp_path / "out"
    assert main(["evaluate", str(data), "--out", str(out), "--no-model", "--baselines", "none"]) == 0
    capsys.readouterr()
    oracle = json.loads((out / "metrics.json").read_text())["methods"]["oracle: lookup on GT canonical"]
    assert oracle["epe_median_px"] < 0.2, oracle
    assert oracle["delta_avg"] > 0.9, oracle


def test_with_two_faces_a_point_stays_on_its_own_face():
    maps, weights = ground_truth_maps()
    # face A (id 7, left) and face B (id 9, right, 128 px away) share one canonical space; A's
    # prediction is slightly off after frame 0, so a whole-frame nearest search jumps to B
    face_a = maps.copy()
    face_a[1:] += 0.02
    both = np.concatenate([face_a, maps], axis=2)
    weight = np.concatenate([weights, weights], axis=2)
    ids = np.concatenate([np.where(weights > 0, 7, -1), np.where(weights > 0, 9, -1)], axis=2).astype(
        np.int32
    )
    queries = np.array([[0, 64.0, 64.0]])
    kept, _ = track_by_canonical_lookup(both, weight, queries, face_ids=ids)
    jumped, _ = track_by_canonical_lookup(both, weight, queries)
    assert np.all(kept[:, 0, 0] < SIZE)  # stays on face A
    assert np.all(jumped[1:, 0, 0] >= SIZE)  # without face ids it lands on face B

"""Metric definitions on hand-built cases whose answers are known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from face_anything_ros.evaluation import metrics as M


def test_depth_absrel_and_delta_on_face_pixels_only():
    gt = np.full((2, 2), 2.0)
    pred = np.array([[2.0, 2.2], [1.96, 100.0]])  # the 100 sits off the face
    mask = np.array([[True, True], [True, False]])
    s = M.summarize_depth(M.depth_frame_samples(pred, gt, mask))
    assert s["absrel_metric"] == pytest.approx((0 + 0.1 + 0.02) / 3)
    assert s["delta105_metric"] == pytest.approx(2 / 3)  # 2.2 / 2 = 1.1 fails, 2 / 1.96 = 1.02 passes
    assert s["depth_coverage"] == 1.0


def test_depth_median_alignment_removes_a_global_scale():
    rng = np.random.default_rng(0)
    gt = rng.uniform(0.4, 0.6, size=(16, 16))
    s = M.summarize_depth(M.depth_frame_samples(1.7 * gt, gt))
    assert s["absrel_aligned"] == pytest.approx(0.0, abs=1e-12)
    assert s["delta105_aligned"] == 1.0
    assert s["absrel_metric"] == pytest.approx(0.7)
    assert s["delta105_metric"] == 0.0


def test_depth_nan_predictions_lower_coverage_not_absrel():
    gt = np.ones((1, 4))
    pred = np.array([[1.0, np.nan, 1.0, np.nan]])
    s = M.summarize_depth(M.depth_frame_samples(pred, gt))
    assert s["depth_coverage"] == 0.5
    assert s["absrel_metric"] == 0.0


def test_depth_nan_ground_truth_pixels_are_ignored():
    gt = np.array([[1.0, np.nan, 0.0]])
    pred = np.array([[1.1, 5.0, 5.0]])
    samples = M.depth_frame_samples(pred, gt)
    assert samples.gt_pixels == 1
    assert M.summarize_depth(samples)["absrel_metric"] == pytest.approx(0.1)


def test_depth_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shapes differ"):
        M.depth_frame_samples(np.ones((2, 2)), np.ones((3, 3)))


def test_canonical_error_on_ground_truth_face_pixels_with_coverage():
    gt = np.full((1, 2, 3, 3), np.nan)
    gt[0, 0] = [[0.1, 0.2, 0.3]] * 3  # three face pixels in the first row, none in the second
    pred = np.zeros((1, 2, 3, 3))
    pred[0, 0, 0] = [0.1, 0.2, 0.3]  # exact
    pred[0, 0, 1] = [0.11, 0.18, 0.3]  # L1 0.03
    pred[0, 0, 2] = np.nan  # not predicted: coverage, not error
    s = M.summarize_canonical(M.CanonicalSamples.concat([M.canonical_samples(pred, gt)] * 2))
    assert s["canonical_coverage"] == pytest.approx(2 / 3)
    assert s["canonical_error_median"] == pytest.approx(0.015)
    assert s["canonical_error_mean"] == pytest.approx(0.015)
    assert M.summarize_canonical(M.CanonicalSamples()) == {}
    with pytest.raises(ValueError, match="shapes differ"):
        M.canonical_samples(pred[:, :1], gt)


def test_delta_avg_per_face_size_uses_the_face_under_each_point():
    """Two faces in a 256 px frame, 20 px and 100 px on a side: a point on each, wrong by 3 px."""
    labels = np.full((2, 256, 256), -1)
    labels[:, 10:30, 10:30] = 0  # 20 x 20: √400 = 20 px
    labels[:, 100:200, 100:200] = 1  # 100 px
    gt = np.array([[[15.0, 15.0], [150.0, 150.0], [250.0, 5.0]]] * 2)  # the third point on no face
    sides = M.point_face_sides(labels, gt)
    np.testing.assert_allclose(sides, [[20.0, 100.0, np.nan]] * 2)
    pred = gt.copy()
    pred[:, 1, 0] += 3.0  # only the large face's point is off (3 px: inside 4, 8 and 16 px)
    visible = np.ones((2, 3), bool)
    s = M.summarize_tracking(
        M.tracking_samples(pred, visible, gt, visible, np.zeros(3, int), (256, 256), sides)
    )
    assert s["delta_avg_faces_lt40"] == 1.0
    assert s["delta_avg_faces_ge80"] == pytest.approx(3 / 5)
    assert "delta_avg_faces_40_80" not in s  # no point on a face of that size
    with pytest.raises(ValueError, match="face sizes"):
        M.tracking_samples(pred, visible, gt, visible, np.zeros(3, int), (256, 256), sides[:, :2])


def _static_gt(num_frames=4, num_points=3):
    gt = np.zeros((num_frames, num_points, 2))
    gt[..., 0] = np.arange(num_points) * 10.0
    return gt, np.ones((num_frames, num_points), bool), np.zeros(num_points, int)


def test_tracking_perfect_prediction_scores_one():
    gt, vis, q = _static_gt()
    s = M.summarize_tracking(M.TrackingSamples.concat([M.tracking_samples(gt, vis, gt, vis, q, (256, 256))]))
    assert s["delta_avg"] == 1.0
    assert s["epe_median_px"] == 0.0
    assert s["occlusion_accuracy"] == 1.0
    assert s["tracked_points"] == 9  # query frame 0 is excluded: 3 frames x 3 points


def test_tracking_thresholds_scale_to_256_pixels():
    gt, vis, q = _static_gt(num_frames=2, num_points=1)
    pred = gt.copy()
    pred[1, 0, 0] += 6.0  # 6 px in a 512-wide image = 3 px at 256
    s = M.summarize_tracking(M.tracking_samples(pred, vis, gt, vis, q, (512, 512)))
    # within 4, 8, 16 but not 1, 2
    assert s["delta_avg"] == pytest.approx(3 / 5)
    assert s["epe_median_px"] == pytest.approx(6.0)


def test_tracking_excludes_query_frame_and_scores_position_on_visible_only():
    gt, vis, _ = _static_gt(num_frames=3, num_points=2)
    q = np.array([0, 2])
    pred = gt.copy()
    pred[0, 0] += 100.0  # query frame of point 0: not scored
    pred[1, 1] += 100.0  # point 1 occluded at t=1: position not scored
    vis[1, 1] = False
    pred_vis = np.ones_like(vis)  # predicted visible everywhere: wrong at (1, 1)
    samples = M.tracking_samples(pred, pred_vis, gt, vis, q, (256, 256))
    s = M.summarize_tracking(samples)
    assert s["delta_avg"] == 1.0
    assert s["occlusion_accuracy"] == pytest.approx(3 / 4)


def test_tracking_nan_prediction_counts_as_miss():
    gt, vis, q = _static_gt(num_frames=2, num_points=2)
    pred = gt.copy()
    pred[1, 0] = np.nan
    s = M.summarize_tracking(M.tracking_samples(pred, vis, gt, vis, q, (256, 256)))
    assert s["delta_avg"] == pytest.approx(0.5)


def test_jitter_measured_only_on_static_ground_truth_frames():
    num_frames = 5
    gt = np.zeros((num_frames, 1, 2))
    gt[3:, 0, 0] = 5.0  # moves between frames 2 and 3 only
    vis = np.ones((num_frames, 1), bool)
    pred = gt.copy()
    pred[:, 0, 1] = [0.0, 0.2, 0.0, 0.2, 0.2]  # wobbles 0.2 px in y
    samples = M.tracking_samples(pred, vis, gt, vis, np.array([0]), (256, 256))
    # static pairs: (0,1), (1,2), (3,4) -> motions 0.2, 0.2, 0.0
    assert samples.jitter_px.size == 3
    assert M.summarize_tracking(samples)["jitter_px"] == pytest.approx(0.4 / 3)


def test_pooling_two_sequences_equals_one_concatenated():
    rng = np.random.default_rng(1)
    parts = []
    errors = []
    for _ in range(2):
        gt, vis, q = _static_gt(num_frames=3, num_points=4)
        noise = rng.normal(scale=3.0, size=gt.shape)
        parts.append(M.tracking_samples(gt + noise, vis, gt, vis, q, (256, 256)))
        errors.append(np.linalg.norm(noise, axis=-1)[1:].ravel())
    s = M.summarize_tracking(M.TrackingSamples.concat(parts))
    assert s["epe_median_px"] == pytest.approx(np.median(np.concatenate(errors)))


def test_speed_summary():
    s = M.summarize_speed([10.0, 30.0])
    assert s["ms_per_frame"] == 20.0
    assert s["fps"] == 50.0
    assert np.isnan(M.summarize_speed([])["fps"])


def test_after_occlusion_marks_points_that_reappear_after_being_hidden():
    # point 0 queried at t=0, hidden at t=2, back at t=3, 4; point 1 queried at t=4, hidden at t=1
    vis = np.ones((5, 2), bool)
    vis[2, 0] = False
    vis[1, 1] = False
    since = M.occluded_since_query(vis, np.array([0, 4]))
    assert since[:, 0].tolist() == [False, False, True, True, True]
    assert since[:, 1].tolist() == [True, True, False, False, False]


def test_delta_after_occlusion_scores_only_reappeared_points():
    gt = np.zeros((4, 2, 2))
    vis = np.ones((4, 2), bool)
    vis[1, 0] = False  # point 0 reappears at t = 2, 3
    pred = gt.copy()
    pred[2:, 0] += 50.0  # ... where it is lost
    s = M.summarize_tracking(M.tracking_samples(pred, vis, gt, vis, np.zeros(2, int), (256, 256)))
    assert s["delta_avg_after_occlusion"] == 0.0
    assert s["points_after_occlusion"] == 2
    assert s["delta_avg"] == pytest.approx(3 / 5)


def test_aligned_depth_is_aligned_per_face_so_two_faces_at_wrong_relative_distances_still_score_their_shape():
    from face_anything_ros.evaluation.baselines.flat_depth import flat_depth
    from face_anything_ros.evaluation.method import mask_faces

    yy, xx = np.mgrid[0:64, 0:128]
    mask = ((xx - 30) ** 2 + (yy - 32) ** 2 < 20**2) | ((xx - 96) ** 2 + (yy - 32) ** 2 < 20**2)
    bump = 0.02 * np.cos(np.hypot(xx % 64 - 32, yy - 32) / 20)
    gt = np.where(xx < 64, 0.5, 2.0) + bump  # a near and a far face, each with a shape
    pred = (
        np.where(xx < 64, 0.5, 1.0) * (gt / np.where(xx < 64, 0.5, 2.0)) * 1.3
    )  # far face at half its distance
    labels = mask_faces(mask)[0]
    assert set(np.unique(labels)) == {-1, 0, 1}
    per_face = M.summarize_depth(M.depth_frame_samples(pred, gt, mask, labels))
    per_frame = M.summarize_depth(M.depth_frame_samples(pred, gt, mask))
    assert per_face["absrel_aligned"] < 1e-9 < 0.1 < per_frame["absrel_aligned"]
    assert per_face["absrel_metric"] == per_frame["absrel_metric"]  # metric depth is not aligned at all
    flat = flat_depth(gt[None], mask[None])[0]
    assert np.nanmedian(flat[xx < 64]) == pytest.approx(np.median(gt[mask & (xx < 64)]))
    assert np.nanmedian(flat[xx >= 64]) == pytest.approx(np.median(gt[mask & (xx >= 64)]))


def test_shared_depth_rows_score_ours_and_the_template_on_the_same_pixels_only():
    from face_anything_ros.evaluation.evaluate import SequencePredictions, shared_depth_rows
    from face_anything_ros.evaluation.report import OURS, OURS_ON_SHARED, TEMPLATE, TEMPLATE_ON_SHARED

    ours = np.full((2, 4, 4), np.nan)
    ours[:, :, :3] = 1.0  # columns 0-2
    template = np.full((2, 4, 4), np.nan)
    template[:, :, 1:] = 2.0  # columns 1-3
    rows = shared_depth_rows(
        {OURS: SequencePredictions(depth=ours), TEMPLATE: SequencePredictions(depth=template)}
    )
    for name, value in ((OURS_ON_SHARED, 1.0), (TEMPLATE_ON_SHARED, 2.0)):
        depth = rows[name].depth
        assert np.isnan(depth[:, :, [0, 3]]).all()  # only one of the two predicts there
        assert (depth[:, :, 1:3] == value).all()
    assert shared_depth_rows({OURS: SequencePredictions(depth=ours)}) == {}


def _two_face_frame(left_scale: float, right_scale: float, right_depth: float = 2.0) -> M.DepthSamples:
    """A frame with face 0 (left half, true depth 1 m) and face 1 (right half) at the given metric scales."""
    gt = np.ones((4, 8))
    gt[:, 4:] = right_depth
    labels = np.zeros((4, 8), dtype=np.int32)
    labels[:, 4:] = 1
    pred = gt * np.where(labels == 0, left_scale, right_scale)
    return M.depth_frame_samples(pred, gt, face_labels=labels)


def test_depth_flicker_is_the_frame_to_frame_change_of_each_face_metric_scale():
    frames = [_two_face_frame(1.00, 0.9), _two_face_frame(1.05, 0.9), _two_face_frame(1.00, 0.9)]
    steps = M.depth_scale_steps(frames)
    # face 0 jumps by 5 % twice, face 1 is steadily 10 % short: bias is not flicker
    assert sorted(steps) == pytest.approx([0.0, 0.0, np.log(1.05), np.log(1.05)])
    pooled = M.DepthSamples.concat(frames)
    pooled.scale_steps = steps
    assert M.summarize_depth(pooled)["depth_flicker_pct"] == pytest.approx(100 * np.log(1.05) / 2)


def test_depth_flicker_does_not_pair_a_label_that_became_another_face():
    # face 1's true depth moves from 2 m to 3 m: per-frame labels now name another face, not a flicker
    frames = [_two_face_frame(1.0, 0.8, right_depth=2.0), _two_face_frame(1.0, 1.2, right_depth=3.0)]
    assert M.depth_scale_steps(frames).tolist() == [0.0]


def test_depth_flicker_is_nan_without_face_labels_and_pooled_over_sequences():
    gt = np.ones((3, 3))
    unlabelled = [M.depth_frame_samples(gt, gt), M.depth_frame_samples(1.1 * gt, gt)]
    assert M.depth_scale_steps(unlabelled).size == 0
    assert np.isnan(M.summarize_depth(M.DepthSamples.concat(unlabelled))["depth_flicker_pct"])
    first, second = M.DepthSamples(scale_steps=np.array([0.01])), M.DepthSamples(scale_steps=np.array([0.03]))
    assert M.summarize_depth(M.DepthSamples.concat([first, second]))["depth_flicker_pct"] == pytest.approx(
        2.0
    )

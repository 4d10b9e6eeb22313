"""The generator's training API: shapes, crop policy, track ground truth, determinism, splits."""

from __future__ import annotations

import numpy as np
import pytest

from face_anything_ros.synth import FaceSequenceGenerator, SynthConfig


@pytest.fixture(scope="module")
def crops():
    return FaceSequenceGenerator(SynthConfig(), seed=5).sample_crops(6, size=64)


@pytest.fixture(scope="module")
def sequence():
    return FaceSequenceGenerator(SynthConfig(queries_per_sequence=96), seed=2).sample_sequence(
        6, image_size=(96, 112)
    )


def test_crops_follow_the_documented_contract(crops):
    assert crops["image"].shape == (6, 64, 64, 3) and crops["image"].dtype == np.uint8
    assert crops["depth"].shape == (6, 64, 64) and crops["depth"].dtype == np.float32
    assert crops["canonical"].shape == (6, 64, 64, 3) and crops["canonical"].dtype == np.float32
    assert crops["mask"].shape == (6, 64, 64) and crops["mask"].dtype == bool
    assert crops["intrinsics"].shape == (6, 4) and crops["intrinsics"].dtype == np.float32
    mask = crops["mask"]
    assert np.all(np.isfinite(crops["depth"][mask])) and np.all(np.isnan(crops["depth"][~mask]))
    assert np.all(np.isnan(crops["canonical"][~mask]))
    assert np.all(np.abs(crops["canonical"][mask]) < 1.0)
    assert np.all((crops["depth"][mask] > 0.1) & (crops["depth"][mask] < 3.0))


def test_crops_frame_the_face_like_the_crop_policy(crops):
    # the face box is 1/1.35 of the crop side before jitter (×0.85..1.2, centre ±8 %), so every crop
    # shows a face that covers a good part of it and is roughly centred
    for mask in crops["mask"]:
        if mask.sum() < 50:  # heavily occluded or profile
            continue
        ys, xs = np.nonzero(mask)
        assert 12 < xs.mean() < 52 and 12 < ys.mean() < 52
        assert max(np.ptp(xs), np.ptp(ys)) > 0.25 * 64


def test_crop_windows_have_a_time_axis_and_continuous_motion():
    gen = FaceSequenceGenerator(SynthConfig(), seed=9)
    w = gen.sample_crop_windows(2, 4, size=48)
    assert w["image"].shape == (2, 4, 48, 48, 3) and w["canonical"].shape == (2, 4, 48, 48, 3)
    assert w["intrinsics"].shape == (2, 4, 4)
    # consecutive frames of a window are similar views of one face: the face masks overlap a lot
    for b in range(2):
        for t in range(3):
            a, c = w["mask"][b, t], w["mask"][b, t + 1]
            if a.sum() > 100 and c.sum() > 100:
                assert (a & c).sum() / (a | c).sum() > 0.5


def test_tracked_pixels_show_the_querys_canonical_coordinate_in_every_visible_frame(sequence):
    seq = sequence
    queries, tracks, visible, qc = seq["queries"], seq["tracks"], seq["visible"], seq["query_canonical"]
    num_frames, n = visible.shape
    assert n > 20 and tracks.shape == (num_frames, n, 2) and queries.shape == (n, 3)
    height, width = seq["frames"].shape[1:3]
    canonical = seq["canonical"]
    errors = []
    for t in range(num_frames):
        for j in np.nonzero(visible[t])[0]:
            x, y = tracks[t, j]
            xi, yi = round(float(x)), round(float(y))
            assert 0 <= xi < width and 0 <= yi < height
            assert seq["mask"][t, yi, xi]
            # bilinear lookup of the canonical map at the sub-pixel track position
            x0, y0 = int(np.floor(x)), int(np.floor(y))
            patch = canonical[t, y0 : y0 + 2, x0 : x0 + 2]
            if patch.shape[:2] == (2, 2) and np.isfinite(patch).all():
                fx, fy = x - x0, y - y0
                value = (patch[0, 0] * (1 - fx) + patch[0, 1] * fx) * (1 - fy) + (
                    patch[1, 0] * (1 - fx) + patch[1, 1] * fx
                ) * fy
                errors.append(np.linalg.norm(value - qc[j]))
    errors = np.asarray(errors)
    assert len(errors) > 50
    # canonical units (1 = 0.1 m); the tail is bilinear interpolation across self-occlusion edges
    assert np.median(errors) < 0.01 and np.percentile(errors, 80) < 0.03
    # every query is visible at its own frame, at its own pixel
    for j, (t, x, y) in enumerate(queries):
        assert visible[int(t), j]
        np.testing.assert_allclose(tracks[int(t), j], (x, y), atol=1e-4)


def test_points_behind_other_surfaces_are_not_visible(sequence):
    seq = sequence
    tracks, visible, qc = seq["tracks"], seq["visible"], seq["query_canonical"]
    height, width = seq["frames"].shape[1:3]
    hidden = 0
    for t, j in zip(*np.nonzero(~visible), strict=True):
        x, y = np.round(tracks[t, j]).astype(int)
        if 0 <= x < width and 0 <= y < height:
            hidden += 1
            # whatever is seen at that pixel is not the tracked point
            seen = seq["canonical"][t, y, x]
            assert not seq["mask"][t, y, x] or np.linalg.norm(seen - qc[j]) > 0.005
    assert hidden > 0  # the far side of a head is always occluded by its near side


def test_same_seed_gives_identical_data_and_splits_differ():
    def batch(seed, split):
        return FaceSequenceGenerator(SynthConfig(), seed=seed, split=split).sample_crops(2, size=32)

    a, b = batch(1, "train"), batch(1, "train")
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    c, d = batch(1, "test"), batch(2, "train")
    assert not np.array_equal(a["image"], c["image"])
    assert not np.array_equal(a["image"], d["image"])


def test_train_and_test_people_come_from_disjoint_identity_ranges():
    train = FaceSequenceGenerator(SynthConfig(), seed=0, split="train")
    test = FaceSequenceGenerator(SynthConfig(), seed=0, split="test")
    from face_anything_ros.synth.generator import IDENTITY_RANGES

    lo, hi = IDENTITY_RANGES["test"]
    assert IDENTITY_RANGES["train"][1] <= lo
    rng_train, rng_test = train._rng, test._rng  # the identity index streams
    assert all(rng_train.integers(*IDENTITY_RANGES["train"]) < lo for _ in range(100))
    assert all(lo <= rng_test.integers(lo, hi) < hi for _ in range(100))


def test_unknown_split_is_rejected():
    with pytest.raises(ValueError, match="split"):
        FaceSequenceGenerator(SynthConfig(), split="validation")

"""``face-anything evaluate`` end to end on tiny generated sequences, including bad input."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from face_anything_ros.cli.main import main
from face_anything_ros.evaluation.sequence_io import write_ground_truth

SIZE = 96
NUM_FRAMES = 5
STEP = np.array([1.0, 0.5])


def make_sequence(folder: Path, with_depth: bool = True, with_tracks: bool = True) -> Path:
    """A textured plane translating by STEP px per frame, depth 0.5 m, in the evaluation format."""
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (SIZE, SIZE, 3)).astype(np.float32), (0, 0), 2.0)
    texture = cv2.normalize(texture, None, 0, 255, cv2.NORM_MINMAX)
    frames = np.stack(
        [
            cv2.warpAffine(
                texture,
                np.array([[1, 0, STEP[0] * t], [0, 1, STEP[1] * t]]),
                (SIZE, SIZE),
                borderMode=cv2.BORDER_REFLECT,
            )
            for t in range(NUM_FRAMES)
        ]
    ).astype(np.uint8)
    start = np.array([[30.0, 30.0], [50.0, 40.0], [40.0, 60.0]])
    tracks = np.stack([start + STEP * t for t in range(NUM_FRAMES)])
    queries = np.column_stack([np.zeros(3), start])
    intrinsics = {"fx": 100.0, "fy": 100.0, "cx": SIZE / 2, "cy": SIZE / 2, "width": SIZE, "height": SIZE}
    write_ground_truth(folder, frames, intrinsics, queries, tracks, np.ones((NUM_FRAMES, 3), bool))
    if not with_tracks:
        (folder / "tracks.npz").unlink()
    if with_depth:
        (folder / "depth").mkdir()
        for t in range(NUM_FRAMES):
            np.save(folder / "depth" / f"{t:06d}.npy", np.full((SIZE, SIZE), 0.5, np.float32))
    return folder


def run_cli(capsys, *args: str) -> tuple[int, str]:
    rc = main(["evaluate", *args])
    captured = capsys.readouterr()
    return rc, captured.out + captured.err


def test_baselines_run_end_to_end_and_write_the_ground_truth_format(tmp_path, capsys):
    seq = make_sequence(tmp_path / "data" / "seq_a")
    out = tmp_path / "out"
    rc, text = run_cli(capsys, str(seq.parent), "--out", str(out), "--no-model", "--baselines", "lk,dis")
    assert rc == 0, text
    assert "| lk |" in text and "| dis |" in text
    report = json.loads((out / "metrics.json").read_text())
    assert report["sequences"] == ["seq_a"]
    assert report["methods"]["lk"]["epe_median_px"] < 0.3
    assert report["best_flow_baseline"] in ("lk", "dis")
    with np.load(out / "seq_a" / "baselines" / "lk" / "tracks.npz") as pred:
        assert pred["tracks"].shape == (NUM_FRAMES, 3, 2)
        assert pred["visible"].shape == (NUM_FRAMES, 3)
    assert (out / "metrics.md").read_text().startswith("Sequences: 1")
    assert (out / "seq_a_tracks.png").is_file()


def test_unreadable_folder_is_one_clear_line_and_nonzero(tmp_path, capsys):
    rc, text = run_cli(capsys, str(tmp_path / "missing"), "--out", str(tmp_path / "out"), "--no-model")
    assert rc != 0
    assert text.strip().startswith("error:") and "Traceback" not in text
    assert len(text.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "breakage",
    [
        "no_intrinsics",
        "bad_intrinsics",
        "wrong_size_intrinsics",
        "nan_intrinsics",
        "mixed_frame_sizes",
        "corrupt_frame",
    ],
)
def test_broken_required_parts_fail_that_sequence_with_a_reason(tmp_path, capsys, breakage):
    good = make_sequence(tmp_path / "data" / "good")
    bad = make_sequence(tmp_path / "data" / "bad")
    if breakage == "no_intrinsics":
        (bad / "intrinsics.json").unlink()
    elif breakage == "bad_intrinsics":
        (bad / "intrinsics.json").write_text("{not json")
    elif breakage == "wrong_size_intrinsics":
        (bad / "intrinsics.json").write_text(
            json.dumps({"fx": 1, "fy": 1, "cx": 0, "cy": 0, "width": 640, "height": 480})
        )
    elif breakage == "nan_intrinsics":
        (bad / "intrinsics.json").write_text(
            '{"fx": NaN, "fy": 1, "cx": 0, "cy": 0, "width": 96, "height": 96}'
        )
    elif breakage == "corrupt_frame":
        (bad / "frames" / "000001.png").write_bytes(b"not a png")
    else:
        cv2.imwrite(str(bad / "frames" / "000002.png"), np.zeros((10, 10, 3), np.uint8))
    out = tmp_path / "out"
    rc, text = run_cli(capsys, str(good.parent), "--out", str(out), "--no-model", "--baselines", "lk")
    assert rc == 1
    assert "Traceback" not in text
    report = json.loads((out / "metrics.json").read_text())
    assert report["sequences"] == ["good"]  # the good one is still evaluated
    assert "bad" in report["failures"]


def test_missing_tracks_and_nan_depth_skip_only_those_metrics(tmp_path, capsys):
    seq = make_sequence(tmp_path / "seq", with_tracks=False)
    for path in (seq / "depth").glob("*.npy"):
        np.save(path, np.full((SIZE, SIZE), np.nan, np.float32))
    out = tmp_path / "out"
    rc, text = run_cli(capsys, str(seq), "--out", str(out), "--no-model")
    assert rc == 0, text
    skipped = json.loads((out / "metrics.json").read_text())["skipped"]["seq"]
    assert any("no tracks.npz" in reason for reason in skipped)
    assert any("NaN" in reason for reason in skipped)


def test_depth_of_the_wrong_size_is_skipped_with_a_reason(tmp_path, capsys):
    seq = make_sequence(tmp_path / "seq")
    np.save(seq / "depth" / "000001.npy", np.ones((7, 7), np.float32))
    out = tmp_path / "out"
    rc, _ = run_cli(capsys, str(seq), "--out", str(out), "--no-model", "--baselines", "lk")
    assert rc == 0
    report = json.loads((out / "metrics.json").read_text())
    assert any("shape" in r and "depth" in r for r in report["skipped"]["seq"])
    assert report["methods"]["lk"]["epe_median_px"] < 0.3  # tracking still scored


def test_tracks_file_with_wrong_shapes_is_skipped(tmp_path, capsys):
    seq = make_sequence(tmp_path / "seq")
    np.savez(
        seq / "tracks.npz",
        queries=np.zeros((3, 3)),
        tracks=np.zeros((2, 3, 2)),
        visible=np.ones((2, 3), bool),
    )
    out = tmp_path / "out"
    rc, _ = run_cli(capsys, str(seq), "--out", str(out), "--no-model", "--baselines", "lk")
    assert rc == 0
    report = json.loads((out / "metrics.json").read_text())
    assert any("tracks.npz unusable" in r and "T x N x 2" in r for r in report["skipped"]["seq"])
    assert "lk" not in report["methods"] or report["methods"]["lk"].get("epe_median_px") is None


def test_unknown_baseline_is_a_clear_error(tmp_path, capsys):
    seq = make_sequence(tmp_path / "seq")
    rc, text = run_cli(capsys, str(seq), "--out", str(tmp_path / "out"), "--baselines", "lk,raft")
    assert rc == 2 and "unknown baseline" in text and "Traceback" not in text


def test_max_frames_cuts_sequences_and_their_tracks(tmp_path, capsys):
    seq = make_sequence(tmp_path / "seq")
    out = tmp_path / "out"
    rc, _ = run_cli(
        capsys, str(seq), "--out", str(out), "--no-model", "--baselines", "lk", "--max-frames", "3"
    )
    assert rc == 0
    with np.load(out / "seq" / "baselines" / "lk" / "tracks.npz") as pred:
        assert pred["tracks"].shape == (3, 3, 2)


@pytest.mark.parametrize("content", ["runtime:\n  tracking: {landmark_anchoring: maybe}\n", "[1, 2"])
def test_a_bad_pipeline_config_is_one_clear_error(tmp_path, capsys, content):
    seq = make_sequence(tmp_path / "seq")
    bad = tmp_path / "runtime.yaml"
    bad.write_text(content)
    rc, text = run_cli(capsys, str(seq), "--out", str(tmp_path / "out"), "--pipeline-config", str(bad))
    assert rc == 1 and "error:" in text and "Traceback" not in text, text


def test_unreadable_instances_fall_back_to_the_mask_with_a_reason(tmp_path):
    from face_anything_ros.evaluation.sequence_io import load_sequence

    seq = make_sequence(tmp_path / "seq")
    (seq / "mask").mkdir()
    (seq / "instances").mkdir()
    for t in range(NUM_FRAMES):
        mask = np.zeros((SIZE, SIZE), np.uint8)
        mask[10:40, 10:30] = mask[10:40, 30:50] = 255  # two faces that touch
        cv2.imwrite(str(seq / "mask" / f"{t:06d}.png"), mask)
        instances = np.where(np.arange(SIZE) < 30, 1, 2).astype(np.uint8) * (mask > 0)
        cv2.imwrite(str(seq / "instances" / f"{t:06d}.png"), instances.astype(np.uint8))
    assert len(np.unique(load_sequence(seq).face_labels)) == 3  # two faces and off-face
    (seq / "instances" / "000001.png").write_bytes(b"not a png")
    loaded = load_sequence(seq)
    assert any("instances/000001.png unusable" in reason for reason in loaded.skipped)
    assert len(np.unique(loaded.face_labels)) == 2  # the mask alone: one face, nothing lost
    assert loaded.mask is not None and loaded.depth is not None

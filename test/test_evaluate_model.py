"""``face-anything evaluate`` through the real pipeline with a (tiny, untrained) model file.

Proves the plumbing, not the accuracy: the pipeline runs on every frame, our predictions are
written in the ground-truth format and scored next to the baselines.
"""

from __future__ import annotations

import json

import cv2
import numpy as np

from face_anything_ros.cli.main import main
from face_anything_ros.evaluation.real_texture import MotionSpec, make_sequence
from face_anything_ros.evaluation.sequence_io import write_ground_truth
from face_anything_ros.model import FaceAnythingModel, ModelConfig, save_model

NUM_FRAMES = 4
SIZE = 128


def test_evaluate_with_a_model_writes_our_predictions_in_the_ground_truth_format(tmp_path, capsys):
    seq = make_sequence(
        "astronaut", MotionSpec(name="tiny", occluder=False, static_frames=2), SIZE, NUM_FRAMES, 8
    )
    folder = tmp_path / "data" / seq.name
    write_ground_truth(folder, seq.frames, seq.intrinsics, seq.queries, seq.tracks, seq.visible)
    (folder / "depth").mkdir()
    (folder / "mask").mkdir()
    (folder / "canonical").mkdir()
    canonical = np.full((SIZE, SIZE, 3), np.nan, np.float16)
    canonical[30:100, 35:95] = 0.1  # ground-truth canonical coordinates on the "face"
    face = np.zeros((SIZE, SIZE), np.uint8)
    face[30:100, 35:95] = 255  # a box-shaped "face" mask: the ground-truth-box run uses it
    for t in range(NUM_FRAMES):  # a flat "face" at 0.6 m, so depth metrics run too
        np.save(folder / "depth" / f"{t:06d}.npy", np.full((SIZE, SIZE), 0.6, np.float32))
        cv2.imwrite(str(folder / "mask" / f"{t:06d}.png"), face)
        np.save(folder / "canonical" / f"{t:06d}.npy", canonical)
    config = ModelConfig(name="tiny", embed_dim=48, depth=2, num_heads=2, decoder_dim=16, image_size=64)
    weights = save_model(FaceAnythingModel(config), tmp_path / "tiny.pt")
    out = tmp_path / "out"
    runtime_yaml = tmp_path / "runtime.yaml"
    runtime_yaml.write_text("runtime:\n  tracking: {landmark_anchoring: true}\n")
    rc = main(
        [
            *("evaluate", str(folder), "--out", str(out), "--weights", str(weights)),
            *("--baselines", "lk,template", "--flip-average", "--detection", "union"),
            *("--pipeline-config", str(runtime_yaml)),
        ]
    )
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "| ours |" in text and "| ours (GT boxes) |" in text and "| lk |" in text
    assert (out / seq.name / "ours_gt_boxes" / "tracks.npz").is_file()
    with np.load(out / seq.name / "tracks.npz") as pred:
        assert pred["tracks"].shape == (NUM_FRAMES, 8, 2)
        assert pred["visible"].dtype == bool and pred["visible"].shape == (NUM_FRAMES, 8)
        # a query is its own pixel in its query frame
        query_frames = seq.queries[:, 0].astype(int)
        np.testing.assert_allclose(pred["tracks"][query_frames, np.arange(8)], seq.queries[:, 1:], atol=1e-4)
    depth_files = sorted((out / seq.name / "depth").glob("*.npy"))
    assert [p.stem for p in depth_files] == [f"{t:06d}" for t in range(NUM_FRAMES)]
    assert np.load(depth_files[0]).shape == (SIZE, SIZE)
    report = json.loads((out / "metrics.json").read_text())
    assert report["weights"].endswith(f"+ flip averaging; detector union; pipeline config {runtime_yaml}")
    ours = report["methods"]["ours"]
    assert ours["ms_per_frame"] > 0
    assert ours["stages_ms"]["model"] > 0  # the pipeline's own stage timings are reported
    assert ours["tracked_points"] > 0
    assert 0.0 <= ours["canonical_coverage"] <= 1.0  # the canonical map is scored where the set has one
    assert (
        "absrel_aligned" in ours and "template" in json.loads((out / "metrics.json").read_text())["methods"]
    )

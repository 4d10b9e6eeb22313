"""The README's main job: `face-anything demo` runs the real node over DDS and writes its pictures."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
from node_test_support import weights_for_tests


def _reject_non_json(constant: str) -> None:
    raise AssertionError(f"{constant} is not JSON: strict parsers reject it")


def test_demo_writes_pictures_outputs_summary_and_a_replayable_bag(tmp_path):
    out = tmp_path / "missing" / "demo"  # a missing output folder is created
    command = [sys.executable, "-m", "face_anything_ros.cli", "demo", "--out", str(out), "--frames", "2"]
    command += ["--stream-seconds", "1", "--weights", weights_for_tests()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"open {out / 'demo.png'}" in done.stdout
    picture = cv2.imread(str(out / "demo.png"))
    assert picture is not None and picture.shape[0] > 300 and picture.std() > 10
    assert cv2.imread(str(out / "overlay_grid.png")) is not None
    for index in range(2):
        assert np.load(out / "depth" / f"{index:06d}.npy").shape == (480, 640)
        assert (out / "overlay" / f"{index:06d}.png").is_file() and (
            out / "canonical" / f"{index:06d}.png"
        ).is_file()
    assert (out / "points" / "000000.ply").is_file()
    faces = [
        json.loads(line, parse_constant=_reject_non_json)
        for line in (out / "faces.jsonl").read_text().splitlines()
    ]
    assert [len(f["faces"]) for f in faces] == [1, 1]
    summary = json.loads((out / "summary.json").read_text(), parse_constant=_reject_non_json)
    assert summary["frames"] == 2 and len(summary["latency_ms_per_frame"]) == 2
    assert summary["node_diagnostics"]["frames_out"] == "2"
    assert summary["node_diagnostics"]["camera_info"] == "received"
    assert summary["streaming"]["frames_answered"] > 0
    assert (out / "sample_bag" / "metadata.yaml").is_file()
    assert "ready: image=/face_anything_demo/camera/image_raw" in (out / "node.log").read_text()

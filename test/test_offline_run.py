"""`face-anything run` over a short video clip, an image folder and one image writes every file."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from node_test_support import sample_frames, weights_for_tests

from face_anything_ros.cli import main as cli

FRAMES, INTRINSICS = sample_frames(3)


@pytest.fixture(scope="module")
def weights() -> str:
    return weights_for_tests()


def _run(capsys, weights: str, *args: str) -> tuple[int, str]:
    """The `face-anything run` command in this process (same code path, no interpreter start-up)."""
    code = cli.main(["run", "--weights", weights, *args])
    return code, capsys.readouterr().out


def _clip(path: Path) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (640, 480))
    for rgb in FRAMES:
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def _reject_non_json(constant: str) -> None:
    raise AssertionError(f"{constant} is not JSON: strict parsers reject it")


def test_run_on_a_short_clip_writes_video_depth_clouds_and_tracks(tmp_path, weights, capsys):
    code, stdout = _run(capsys, weights, str(_clip(tmp_path / "clip.mp4")), "--out", str(tmp_path / "out"))
    assert code == 0
    assert "run: 3 frames, 3 face detections" in stdout
    out = tmp_path / "out"
    video = cv2.VideoCapture(str(out / "overlay.mp4"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    for index in range(3):
        depth = np.load(out / "depth" / f"{index:06d}.npy")
        assert depth.shape == (480, 640) and depth.dtype == np.float32
        assert cv2.imread(str(out / "depth_vis" / f"{index:06d}.png")).shape == (480, 640, 3)
        assert cv2.imread(str(out / "canonical" / f"{index:06d}.png")).shape == (480, 640, 3)
        header = (out / "points" / f"{index:06d}.ply").read_bytes().split(b"end_header\n")[0].decode()
        vertices = int(header.split("element vertex ")[1].split()[0])
        assert vertices <= np.count_nonzero(np.isfinite(depth))  # face pixels with depth only
        assert vertices > 0
    tracks = np.load(out / "tracks.npz")
    assert tracks["tracks"].shape[:1] == (3,) and tracks["tracks"].shape[2] == 2
    assert tracks["visible"].shape == tracks["tracks"].shape[:2]
    assert tracks["queries"].shape == (tracks["tracks"].shape[1], 3)
    lines = [
        json.loads(line, parse_constant=_reject_non_json)
        for line in (out / "faces.jsonl").read_text().splitlines()
    ]
    assert [len(line["faces"]) for line in lines] == [1, 1, 1]
    assert len({line["faces"][0]["id"] for line in lines}) == 1


def test_run_on_an_image_folder_uses_its_intrinsics_and_on_a_single_image(tmp_path, weights, capsys):
    folder = tmp_path / "seq" / "frames"
    folder.mkdir(parents=True)
    for index, rgb in enumerate(FRAMES[:2]):
        cv2.imwrite(str(folder / f"{index:06d}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    intrinsics = {"fx": 500.0, "fy": 500.0, "cx": 320.0, "cy": 240.0, "width": 640, "height": 480}
    (tmp_path / "seq" / "intrinsics.json").write_text(json.dumps(intrinsics))
    code, _ = _run(capsys, weights, str(tmp_path / "seq"), "--out", str(tmp_path / "out_folder"))
    assert code == 0
    used = json.loads((tmp_path / "out_folder" / "intrinsics.json").read_text())
    assert used["fx"] == 500.0
    code, stdout = _run(capsys, weights, str(folder / "000001.png"), "--out", str(tmp_path / "out_one"))
    assert code == 0 and "run: 1 frames" in stdout
    assert (tmp_path / "out_one" / "depth" / "000000.npy").is_file()


def test_missing_input_is_a_one_line_error(tmp_path, weights, capsys):
    code, stdout = _run(capsys, weights, str(tmp_path / "nothing.mp4"), "--out", str(tmp_path / "out"))
    assert code == 2
    assert stdout.strip() == f"error: input {tmp_path / 'nothing.mp4'} does not exist"

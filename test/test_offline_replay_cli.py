"""`face-anything replay` as a command: summary lines, one-line errors, Ctrl-C leaves a valid bag."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from node_test_support import sample_frames, weights_for_tests
from rosbags.highlevel import AnyReader

from face_anything_ros.offline.bag_replay import OUTPUT_NAMESPACE
from face_anything_ros.outputs.image_bag import write_image_bag

FRAMES, INTRINSICS = sample_frames(4)


@pytest.fixture(scope="module")
def weights() -> str:
    return weights_for_tests()


def _count(bag: Path, topic: str) -> int:
    with AnyReader([bag]) as reader:
        return sum(1 for _ in reader.messages([c for c in reader.connections if c.topic == topic]))


def test_replay_command_prints_a_summary_and_fails_clearly_on_bad_input(tmp_path, weights):
    write_image_bag(tmp_path / "in", FRAMES[:2], None)  # no camera_info topic
    command = [sys.executable, "-m", "face_anything_ros.cli", "replay", "--weights", weights]
    done = subprocess.run(
        [*command, str(tmp_path / "in"), "--out", str(tmp_path / "out")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "2/2 images processed" in done.stdout and "no camera_info topic" in done.stdout
    missing = subprocess.run(
        [*command, str(tmp_path / "nope"), "--out", str(tmp_path / "o2")], capture_output=True, text=True
    )
    assert (
        missing.returncode == 2
        and missing.stdout.startswith("error: input bag")
        and "Traceback" not in missing.stderr
    )


def test_ctrl_c_mid_replay_leaves_a_valid_bag_with_the_frames_done(tmp_path, weights):
    total = len(FRAMES) * 40  # 160 images: a quiet CPU at ~50 fps still needs > 3 s, the signal comes at 2 s
    write_image_bag(tmp_path / "in", FRAMES * 40, INTRINSICS)
    command = [sys.executable, "-m", "face_anything_ros.cli", "replay", "--weights", weights]
    process = subprocess.Popen(
        [*command, str(tmp_path / "in"), "--out", str(tmp_path / "out")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (tmp_path / "out").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2.0)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stderr
    assert "stopped early: interrupted (Ctrl-C)" in stdout
    written = _count(tmp_path / "out", f"{OUTPUT_NAMESPACE}/faces")
    assert 0 < written < total

"""Lazy processing: a node nobody listens to runs no inference, measured in its process's CPU time.

The installed node runs as its own process; a camera streams frames to it, first with no
subscriber on any output (the camera client listens in another namespace), then with one. The
node's CPU seconds per streamed second must drop far below the listened-to figure, its
diagnostics must still report the camera's rate, and the first frame after a subscriber appears
must be answered.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import cv2
import pytest
from node_test_support import REPO, sample_frames, weights_for_tests

rclpy = pytest.importorskip("rclpy")

from face_anything_ros.devtools.node_rate import process_cpu_s  # noqa: E402
from face_anything_ros.ros.node_process import NodeLaunch, start_node, stop_node  # noqa: E402
from face_anything_ros.ros.stream_client import StreamClient, spinning_stream_clients  # noqa: E402

FRAMES, INTRINSICS = sample_frames(4)
FRAMES = [cv2.resize(f, (320, 240), interpolation=cv2.INTER_AREA) for f in FRAMES]
SMALL_INTRINSICS = INTRINSICS.scaled_to(320, 240)
EXECUTABLE = shutil.which("face_anything_node", path=str(Path(sys.executable).parent))
CAMERA, OUTPUTS = "/lazy_camera", "/lazy"
STREAM_S, RATE_HZ = 4.0, 15.0
IDLE_TO_BUSY_CPU_BOUND = 0.35  # idle costs only receiving the messages: a small fraction


def stream(client: StreamClient, seconds: float, first_stamp: int) -> list[int]:
    stamps, start = [], time.monotonic()
    index = 0
    while time.monotonic() - start < seconds:
        stamp = first_stamp + index
        client.send(FRAMES[index % len(FRAMES)], SMALL_INTRINSICS, stamp)
        stamps.append(stamp)
        index += 1
        time.sleep(max(0.0, start + index / RATE_HZ - time.monotonic()))
    return stamps


@pytest.fixture()
def spin():
    with spinning_stream_clients() as make_client:
        yield make_client


def test_no_inference_without_subscribers_and_resume_on_the_next_frame(tmp_path, spin):
    launch = NodeLaunch(
        executable=EXECUTABLE,
        namespace=OUTPUTS,
        params_file=REPO / "config" / "face_anything.yaml",
        remappings={"image": f"{CAMERA}/image_raw", "camera_info": f"{CAMERA}/camera_info"},
        parameters={"weights": weights_for_tests(), "qos_reliability": "reliable", "qos_depth": "1"},
    )
    log = tmp_path / "node.log"
    process = start_node(launch, log)
    try:
        camera = spin(CAMERA, "/nobody_listens_here", "lazy_test_camera")
        assert camera.wait_for_node(90.0, alive=lambda: process.poll() is None), log.read_text()
        time.sleep(1.0)  # start-up work settles
        cpu_before = process_cpu_s(process.pid)
        idle_stamps = stream(camera, STREAM_S, 1_000_000_000)
        idle_cpu = process_cpu_s(process.pid) - cpu_before
        values = camera.wait_for_diagnostics(lambda v: float(v.get("input_rate_hz", 0)) > 0, 5.0)
        assert values.get("state") == "idle (no subscriber)", values
        assert float(values["input_rate_hz"]) > 0 and values["frames_out"] == "0", values
        assert int(values["frames_idle"]) >= len(idle_stamps) // 2, values

        listener = spin("/lazy_listener_camera", OUTPUTS, "lazy_test_listener")
        deadline = time.monotonic() + 60.0
        first = None
        while first is None and time.monotonic() < deadline:  # resumes on the next frame
            stamp = 2_000_000_000 + int(1000 * (deadline - time.monotonic()))
            camera.send(FRAMES[0], SMALL_INTRINSICS, stamp)
            first = listener.wait_for(stamp, ("depth", "faces"), 2.0)
        assert first is not None, log.read_text()

        cpu_before = process_cpu_s(process.pid)
        busy_stamps = stream(camera, STREAM_S, 3_000_000_000)
        busy_cpu = process_cpu_s(process.pid) - cpu_before
        answered = sum(listener.wait_for(s, ("depth",), 0.0) is not None for s in busy_stamps)
        assert answered > 0
    finally:
        assert stop_node(process) == 0, log.read_text()
    print(
        f"node CPU over {STREAM_S:.0f} s at {RATE_HZ:.0f} Hz: idle {idle_cpu:.2f} s, listened to {busy_cpu:.2f} s"
    )
    assert idle_cpu < IDLE_TO_BUSY_CPU_BOUND * busy_cpu, (idle_cpu, busy_cpu)
    text = log.read_text()
    assert "a subscriber appeared: inference resumes" in text

"""The node started exactly as the launch files start it comes up, publishes, and refuses bad config.

`ros2 launch` is not installable here; launch_ros turns a Node action into
`<executable> --ros-args -r __ns:=... --params-file F -r image:=... -p name:=value`, which is
what these tests run (the installed `face_anything_node` console script).
"""

from __future__ import annotations

import itertools
import shutil
import sys
import time
from pathlib import Path

import cv2
import pytest
from node_test_support import REPO, sample_frames, weights_for_tests

rclpy = pytest.importorskip("rclpy")

from face_anything_ros.ros.node_process import NodeLaunch, start_node, stop_node  # noqa: E402
from face_anything_ros.ros.stream_client import (  # noqa: E402
    StreamClient,
    spinning_stream_clients,
    wait_for_reliable_match,
)

FRAMES, INTRINSICS = sample_frames(1)
# Fast DDS delivers best-effort samples larger than its shared-memory segment (~0.5 MB) over loopback
# UDP fragments that a default socket buffer drops (README: large images). The shipped input QoS is
# `auto` (match the camera); the launch test sends a 320x240 frame that arrives under any QoS, and
# test_auto_qos_receives_full_size_frames_from_a_reliable_camera proves the 640x480 case.
SMALL_FRAME = cv2.resize(FRAMES[0], (320, 240), interpolation=cv2.INTER_AREA)
SMALL_INTRINSICS = INTRINSICS.scaled_to(320, 240)
EXECUTABLE = shutil.which("face_anything_node", path=str(Path(sys.executable).parent))
START_TIMEOUT_S = 60.0


@pytest.fixture()
def client_factory():
    with spinning_stream_clients() as make_client:
        names = (f"launch_test_client_{n}" for n in itertools.count())
        yield lambda camera, outputs: make_client(camera, outputs, next(names))


def _send_until_answered(
    client: StreamClient,
    topics: tuple[str, ...],
    attempts: int = 5,
    first_stamp: int = 7_000_000_000,
    frame: tuple = (SMALL_FRAME, SMALL_INTRINSICS),
):
    """A frame may be lost while the node's input subscription is (re)matched: resend a few times."""
    rgb, intrinsics = frame
    for attempt in range(attempts):
        stamp = first_stamp + attempt
        client.send(rgb, intrinsics, stamp)
        outputs = client.wait_for(stamp, topics, 30.0)
        if outputs is not None:
            return stamp, outputs.messages
    raise AssertionError(f"no {topics} after {attempts} frames")


def _start_like_launch(tmp_path: Path, camera: str, **parameters: str):
    """Start the installed node as launch_ros does: shipped parameter file, camera topics remapped
    under ``camera``, outputs in /face_anything, ``-p`` overrides (log in tmp_path/node.log)."""
    launch = NodeLaunch(
        executable=EXECUTABLE,
        namespace="/face_anything",
        params_file=REPO / "config" / "face_anything.yaml",
        remappings={"image": f"{camera}/image_raw", "camera_info": f"{camera}/camera_info"},
        parameters={**parameters, "weights": weights_for_tests()},
    )
    return start_node(launch, tmp_path / "node.log")


def _connect(client_factory, camera: str, process, tmp_path: Path) -> StreamClient:
    """A client on ``camera``, returned once the node subscribes (fails with the node's log)."""
    client = client_factory(camera, "/face_anything")
    assert client.wait_for_node(START_TIMEOUT_S, alive=lambda: process.poll() is None), (
        tmp_path / "node.log"
    ).read_text()
    return client


def test_console_script_is_installed():
    assert EXECUTABLE, "face_anything_node is not on the virtual environment's PATH"


def test_node_started_like_single_camera_launch_comes_up_and_publishes(tmp_path, client_factory):
    # as launch/single_camera.launch.py with its default arguments
    process = _start_like_launch(tmp_path, "/camera", use_sim_time="false")
    try:
        client = _connect(client_factory, "/camera", process, tmp_path)
        stamp, messages = _send_until_answered(client, ("depth", "points", "faces", "face_mesh"))
        assert messages["faces"].header.frame_id == "camera_optical_frame"
        # the newest report may predate the frame (1 s period, faster answers): wait for a later one
        values = client.wait_for_diagnostics(lambda v: v.get("camera_info") == "received", 5.0)
        assert values["backend"] and values["camera_info"] == "received"
        image_type = client.kit.message_class("sensor_msgs/msg/Image")
        for _ in range(3):  # the same two problems, again and again: counted each time, logged once
            client.publish_raw(image_type(encoding="yuv422", width=4, height=4, step=8, data=bytes(32)))
            time.sleep(0.3)
            client.publish_raw(image_type(encoding="rgb8", width=4, height=4, step=12, data=bytes(30)))
            time.sleep(0.3)
        values = client.wait_for_diagnostics(lambda v: int(v.get("rejected_frames", 0)) >= 4, 10.0)
        assert int(values["rejected_frames"]) >= 4
        assert client.topology is not None or client.wait_for(stamp, ("faces",), 1.0)
    finally:
        assert stop_node(process) == 0, (tmp_path / "node.log").read_text()
    log = (tmp_path / "node.log").read_text()
    assert "inference backend:" in log and "ready: image=/camera/image_raw" in log
    assert log.count("unsupported encoding 'yuv422'") == 1 and log.count("data has 30 bytes") == 1


def test_auto_qos_receives_full_size_frames_from_a_reliable_camera(tmp_path, client_factory):
    """640x480 rgb8 (0.9 MB) frames never arrive best effort here; `auto` subscribes reliable to a
    reliable camera, so the shipped configuration gets every full-size frame."""
    process = _start_like_launch(tmp_path, "/full", use_sim_time="false")
    try:
        client = _connect(client_factory, "/full", process, tmp_path)  # publishes reliable, like most drivers
        assert FRAMES[0].shape[:2] == (480, 640)
        # the node subscribed before it saw this camera (best effort, the sensor default); auto then
        # re-subscribes reliable, and frames sent before that are lost (volatile, as for any late
        # subscriber): wait for the reliable subscription, then for the first frame it delivers
        assert wait_for_reliable_match(client, client.pub_image, 20.0), (
            "auto never subscribed reliable to a reliable camera: " + (tmp_path / "node.log").read_text()
        )
        stamp, _ = _send_until_answered(
            client, ("depth", "faces"), first_stamp=8_000_000_000, frame=(FRAMES[0], INTRINSICS)
        )
        for attempt in range(1, 4):  # from then on every full-size frame arrives, none resent
            stamp += 1
            client.send(FRAMES[0], INTRINSICS, stamp)
            outputs = client.wait_for(stamp, ("depth", "faces"), 30.0)
            assert outputs is not None, (
                f"full-size frame {attempt} lost: " + (tmp_path / "node.log").read_text()
            )
            assert outputs.messages["depth"].width == 640 and outputs.messages["depth"].height == 480
    finally:
        assert stop_node(process) == 0, (tmp_path / "node.log").read_text()
    log = (tmp_path / "node.log").read_text()
    assert "qos=auto(reliable)" in log or "input QoS now reliable" in log, log


def test_node_started_like_replay_launch_follows_sim_time(tmp_path, client_factory):
    process = _start_like_launch(  # as launch/replay_bag.launch.py
        tmp_path,
        "/sim",
        use_sim_time="true",
        qos_reliability="reliable",
        qos_depth="5",
        diagnostics_period_s="0.5",
    )
    try:
        client = _connect(client_factory, "/sim", process, tmp_path)
        clock_type = client.kit.message_class("rosgraph_msgs/msg/Clock")
        clock = client.create_publisher(clock_type, "/clock", 10)
        _send_until_answered(client, ("faces",), attempts=1)
        sim_time = client.kit.new("builtin_interfaces/msg/Time", sec=4242, nanosec=0)
        deadline = time.monotonic() + 20.0
        stamps = set()
        while time.monotonic() < deadline and 4242 not in stamps:
            clock.publish(clock_type(clock=sim_time))
            time.sleep(0.1)
            stamps = {d.header.stamp.sec for d in list(client.diagnostics)}
        assert 4242 in stamps, f"diagnostics stamped {sorted(stamps)}: the node does not use /clock"
    finally:
        stop_node(process)


def test_invalid_parameter_file_stops_the_node_with_a_clear_message(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("/**:\n  ros__parameters:\n    max_faces: 0\n")
    launch = NodeLaunch(executable=EXECUTABLE, params_file=bad)
    process = start_node(launch, tmp_path / "node.log")
    process.wait(60)
    log = (tmp_path / "node.log").read_text()
    assert process.returncode != 0
    assert "cannot start" in log and "max_faces" in log

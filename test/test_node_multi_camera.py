"""Several cameras = one node per camera, namespaced (config/multi_camera.yaml, as the launch file does).

Each camera's outputs carry only that camera's frames, and one camera's node going down does not
stop the others.
"""

from __future__ import annotations

import shutil
import sys
import threading
from pathlib import Path

import pytest
import yaml
from node_test_support import REPO, sample_frames, weights_for_tests

rclpy = pytest.importorskip("rclpy")
from rclpy.context import Context  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402

from face_anything_ros.ros.node_process import NodeLaunch, start_node, stop_node  # noqa: E402
from face_anything_ros.ros.stream_client import StreamClient  # noqa: E402

FRAMES, INTRINSICS = sample_frames(2)
CAMERAS = yaml.safe_load((REPO / "config" / "multi_camera.yaml").read_text(encoding="utf-8"))["cameras"]
EXECUTABLE = shutil.which("face_anything_node", path=str(Path(sys.executable).parent))


def _launch(camera: dict, weights: str) -> NodeLaunch:
    """What launch/multi_camera.launch.py builds for one camera entry."""
    overrides = {name: str(value) for name, value in (camera.get("parameters") or {}).items()}
    overrides.update(
        {"use_sim_time": "false", "weights": weights, "qos_reliability": "reliable", "qos_depth": "5"}
    )
    return NodeLaunch(
        executable=EXECUTABLE,
        namespace=f"/{camera['name']}/face_anything",
        params_file=REPO / "config" / "face_anything.yaml",
        remappings={"image": camera["image"], "camera_info": camera["camera_info"]},
        parameters=overrides,
    )


def test_each_camera_gets_its_own_node_and_only_its_own_outputs(tmp_path):
    weights = weights_for_tests()
    processes = {c["name"]: start_node(_launch(c, weights), tmp_path / f"{c['name']}.log") for c in CAMERAS}
    context = Context()
    rclpy.init(context=context)
    executor = SingleThreadedExecutor(context=context)
    clients = {}
    for camera in CAMERAS:
        name = camera["name"]
        camera_namespace = camera["image"].rsplit("/", 1)[0]
        clients[name] = StreamClient(
            camera_namespace, f"/{name}/face_anything", name=f"{name}_test", context=context
        )
        executor.add_node(clients[name])
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        for name, client in clients.items():
            assert client.wait_for_node(90.0, alive=lambda p=processes[name]: p.poll() is None), name
        stamp = 9_000_000_000
        for name, client in clients.items():
            client.send(FRAMES[0], INTRINSICS, stamp, frame_id=f"{name}_optical_frame")
        for name, client in clients.items():
            outputs = client.wait_for(stamp, ("depth", "faces", "points"), 60.0)
            assert outputs is not None, (tmp_path / f"{name}.log").read_text()
            frame_ids = {outputs.messages[topic].header.frame_id for topic in ("depth", "faces", "points")}
            assert frame_ids == {f"{name}_optical_frame"}, f"{name} got another camera's frames: {frame_ids}"
        first, *others = CAMERAS
        for camera in others:
            stop_node(processes[camera["name"]])
        survivor = clients[first["name"]]
        survivor.send(FRAMES[1], INTRINSICS, stamp + 1, frame_id="after")
        assert survivor.wait_for(stamp + 1, ("faces",), 60.0) is not None, "a stopped camera stalled another"
    finally:
        executor.shutdown()
        spinner.join(5.0)
        for client in clients.values():
            client.destroy_node()
        context.try_shutdown()
        for process in processes.values():
            stop_node(process)

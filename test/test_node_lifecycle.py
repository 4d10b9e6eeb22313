"""The node as a managed (lifecycle) node, driven through its real lifecycle services over DDS.

The installed ``face_anything_node`` runs as its own process with ``autostart:=false`` (what a
lifecycle manager starts); a client calls ``<node>/change_state`` and ``<node>/get_state`` and
watches the graph: what each state subscribes, publishes and processes.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pytest
from node_test_support import REPO, sample_frames, weights_for_tests

rclpy = pytest.importorskip("rclpy")
from lifecycle_msgs.msg import Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState, GetState  # noqa: E402

from face_anything_ros.ros.node_process import NodeLaunch, start_node, stop_node  # noqa: E402
from face_anything_ros.ros.stream_client import StreamClient, spinning_stream_clients  # noqa: E402

FRAMES, INTRINSICS = sample_frames(1)
EXECUTABLE = shutil.which("face_anything_node", path=str(Path(sys.executable).parent))
NODE = "/managed/face_anything_node"
CAMERA = "/managed_camera"
SERVICE_TIMEOUT_S = 90.0  # configure loads torch and the weights on a loaded 2-core machine


class LifecycleClient:
    """Calls a node's lifecycle services (what nav2's lifecycle manager or ``ros2 lifecycle`` does)."""

    def __init__(self, node, target: str) -> None:
        self._change = node.create_client(ChangeState, f"{target}/change_state")
        self._get = node.create_client(GetState, f"{target}/get_state")

    def _call(self, client, request):
        assert client.wait_for_service(SERVICE_TIMEOUT_S), f"{client.srv_name} not offered"
        future = client.call_async(request)
        deadline = time.monotonic() + SERVICE_TIMEOUT_S
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert future.done(), f"{client.srv_name} did not answer"
        return future.result()

    def change(self, transition_id: int) -> bool:
        return self._call(self._change, ChangeState.Request(transition=Transition(id=transition_id))).success

    def state(self) -> str:
        return self._call(self._get, GetState.Request()).current_state.label


@pytest.fixture()
def graph():
    with spinning_stream_clients() as make_client:
        yield make_client(CAMERA, "/managed", "lifecycle_test_camera")


def _start_managed(tmp_path: Path, weights: str):
    launch = NodeLaunch(
        executable=EXECUTABLE,
        namespace="/managed",
        params_file=REPO / "config" / "face_anything.yaml",
        remappings={"image": f"{CAMERA}/image_raw", "camera_info": f"{CAMERA}/camera_info"},
        parameters={"autostart": "false", "weights": weights, "diagnostics_period_s": "0.3"},
    )
    return start_node(launch, tmp_path / "node.log")


def _answered(client: StreamClient, stamp: int, timeout_s: float) -> bool:
    client.send(FRAMES[0], INTRINSICS, stamp)
    return client.wait_for(stamp, ("depth", "faces"), timeout_s) is not None


def _eventually(predicate, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_transitions_load_subscribe_pause_and_free(tmp_path, graph):
    client = graph
    process = _start_managed(tmp_path, weights_for_tests())
    log = tmp_path / "node.log"
    try:
        lifecycle = LifecycleClient(client, NODE)
        assert lifecycle.state() == "unconfigured", log.read_text()
        assert client.count_subscribers(client.image_topic) == 0  # unconfigured: no model, no inputs
        assert client.count_publishers("/managed/depth") == 0

        assert lifecycle.change(Transition.TRANSITION_CONFIGURE), log.read_text()
        assert lifecycle.state() == "inactive"
        assert _eventually(lambda: client.count_publishers("/managed/depth") == 1)
        assert client.count_subscribers(client.image_topic) == 0  # inactive: not subscribed

        assert lifecycle.change(Transition.TRANSITION_ACTIVATE)
        assert lifecycle.state() == "active"
        assert client.wait_for_node(10.0)
        assert _answered(client, 1_000_000_001, 60.0), log.read_text()

        assert lifecycle.change(Transition.TRANSITION_DEACTIVATE)
        assert lifecycle.state() == "inactive"
        assert _eventually(lambda: client.count_subscribers(client.image_topic) == 0)
        assert not _answered(client, 1_000_000_002, 2.0)  # paused: no inference
        status = client.wait_for_diagnostics(lambda v: v.get("state") == "inactive", 5.0)
        assert status.get("state") == "inactive"

        assert lifecycle.change(Transition.TRANSITION_ACTIVATE)  # resumes without reloading
        assert client.wait_for_node(10.0)
        assert _answered(client, 1_000_000_003, 60.0), log.read_text()

        assert lifecycle.change(Transition.TRANSITION_DEACTIVATE)
        assert lifecycle.change(Transition.TRANSITION_CLEANUP)
        assert lifecycle.state() == "unconfigured"
        assert _eventually(lambda: client.count_publishers("/managed/depth") == 0)

        assert lifecycle.change(Transition.TRANSITION_UNCONFIGURED_SHUTDOWN)
        assert lifecycle.state() == "finalized"
    finally:
        assert stop_node(process) == 0, log.read_text()
    text = log.read_text()
    assert text.count("[face_anything_ros.model.io] loaded") == 1  # re-activation reuses the model
    assert (
        "inactive: unsubscribed, inference stopped" in text and "unconfigured: model and publishers" in text
    )


def test_configure_with_missing_weights_fails_with_the_reason_and_stays_unconfigured(tmp_path, graph):
    process = _start_managed(tmp_path, str(tmp_path / "no_such_weights.pt"))
    log = tmp_path / "node.log"
    try:
        lifecycle = LifecycleClient(graph, NODE)
        assert not lifecycle.change(Transition.TRANSITION_CONFIGURE)
        assert lifecycle.state() == "unconfigured"
        assert _eventually(lambda: "configure failed:" in log.read_text())
        assert "no_such_weights.pt" in log.read_text().split("configure failed:", 1)[1]
        assert not lifecycle.change(Transition.TRANSITION_ACTIVATE)  # not from unconfigured
        assert lifecycle.state() == "unconfigured"
        assert process.poll() is None  # a failed transition is not a crash
    finally:
        assert stop_node(process) == 0, log.read_text()


def test_autostart_with_missing_weights_exits_with_the_reason(tmp_path):
    launch = NodeLaunch(executable=EXECUTABLE, parameters={"weights": str(tmp_path / "missing.pt")})
    process = start_node(launch, tmp_path / "node.log")
    process.wait(90)
    text = (tmp_path / "node.log").read_text()
    assert process.returncode == 1, text
    assert "cannot start: configure failed:" in text and "missing.pt" in text

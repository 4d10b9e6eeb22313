"""Diagnostics judged like diagnostic_updater: each level from the last window, never sticky.

Fast tests drive ``HealthMonitor`` through every state with explicit clocks; one test over DDS
checks that the node publishes those levels (stale, no camera_info, rate, recovery) with a
``hardware_id`` naming its device.
"""

from __future__ import annotations

import re
import threading
import time

import pytest
from node_test_support import sample_frames, weights_for_tests

from face_anything_ros.ros.diagnostics import (
    ERROR,
    OK,
    STALE,
    WARN,
    HealthMonitor,
    HealthSettings,
    NodeSituation,
    hardware_id,
)

SETTINGS = HealthSettings(window_s=2.0, expected_rate_hz=10.0, rate_tolerance=0.1, stale_after_s=3.0)


def situation(now_s: float, **changes) -> NodeSituation:
    base = dict(now_s=now_s, active=True, processing=True, image_publishers=1, camera_info_received=True)
    return NodeSituation(**{**base, **changes})


def streamed(monitor: HealthMonitor, start_s: float, end_s: float, rate_hz: float, kinds=("input", "output")):
    t = start_s
    while t < end_s:
        for kind in kinds:
            monitor.record(kind, t)
        t += 1.0 / rate_hz
    return monitor


def test_a_steady_stream_at_the_expected_rate_is_ok():
    monitor = streamed(HealthMonitor(SETTINGS), 0.0, 10.0, 12.0)
    health = monitor.assess(situation(10.0))
    assert (health.level, health.message) == (OK, "ok")
    assert float(health.values["rate_hz"]) == pytest.approx(12.0, rel=0.1)


def test_rate_below_the_expected_rate_warns_and_names_both_rates():
    monitor = streamed(HealthMonitor(SETTINGS), 0.0, 10.0, 5.0)
    health = monitor.assess(situation(10.0))
    assert health.level == WARN and re.search(
        r"output rate [45]\.\d Hz below the expected 10 Hz", health.message
    )


def test_no_expected_rate_means_no_frequency_check():
    monitor = streamed(HealthMonitor(HealthSettings(expected_rate_hz=0.0)), 0.0, 10.0, 1.0)
    assert monitor.assess(situation(10.0)).level == OK


def test_a_rejected_frame_warns_only_while_it_is_in_the_window():
    monitor = streamed(HealthMonitor(SETTINGS), 0.0, 10.0, 12.0)
    monitor.record("rejected", 9.5)
    assert monitor.assess(situation(10.0)).level == WARN
    streamed(monitor, 10.0, 12.0, 12.0)
    later = monitor.assess(situation(12.0))
    assert later.level == OK, later.message  # not sticky: lifetime counters do not set levels
    assert later.values["window_rejected"] == "0"


def test_failures_warn_and_all_failing_is_an_error():
    monitor = streamed(HealthMonitor(SETTINGS), 0.0, 10.0, 12.0)
    monitor.record("failed", 9.9)
    assert monitor.assess(situation(10.0)).level == WARN
    failing = streamed(HealthMonitor(SETTINGS), 0.0, 10.0, 12.0, kinds=("input", "failed"))
    health = failing.assess(situation(10.0))
    assert health.level == ERROR and "failed inference" in health.message


def test_no_image_with_publishers_warns_and_without_publishers_is_stale():
    monitor = streamed(HealthMonitor(SETTINGS), 0.0, 2.0, 12.0)
    quiet = monitor.assess(situation(6.0, image_publishers=2))
    assert quiet.level == WARN and "although 2 publisher(s)" in quiet.message
    gone = monitor.assess(situation(6.0, image_publishers=0))
    assert gone.level == STALE and "no publisher on image" in gone.message
    never = HealthMonitor(SETTINGS, since_s=0.0).assess(situation(4.0, image_publishers=0))
    assert never.level == STALE and never.values["seconds_since_last_image"] == "never"


def test_a_dead_camera_is_not_ok_at_zero_hz():
    monitor = streamed(HealthMonitor(HealthSettings(stale_after_s=3.0)), 0.0, 5.0, 30.0)
    assert monitor.assess(situation(5.0)).level == OK
    dead = monitor.assess(situation(20.0, image_publishers=0))
    assert dead.level == STALE and dead.values["rate_hz"] == "0.00"


def test_missing_camera_info_warns():
    monitor = streamed(HealthMonitor(SETTINGS), 0.0, 10.0, 12.0)
    health = monitor.assess(situation(10.0, camera_info_received=False))
    assert health.level == WARN and "no camera_info" in health.message


def test_idle_node_reports_the_input_rate_and_checks_it_against_the_expected_rate():
    monitor = streamed(HealthMonitor(SETTINGS), 0.0, 10.0, 12.0, kinds=("input",))
    idle = monitor.assess(situation(10.0, processing=False))
    assert idle.level == OK and idle.message.startswith("idle")
    assert float(idle.values["input_rate_hz"]) == pytest.approx(12.0, rel=0.1)
    slow = streamed(HealthMonitor(SETTINGS), 0.0, 10.0, 4.0, kinds=("input",))
    assert slow.assess(situation(10.0, processing=False)).message.startswith("input rate")


def test_an_inactive_node_is_ok_and_says_so():
    health = HealthMonitor(SETTINGS).assess(situation(100.0, active=False, image_publishers=0))
    assert health.level == OK and health.values["state"] == "inactive"


def test_the_worst_problem_comes_first_in_the_message():
    monitor = streamed(HealthMonitor(SETTINGS), 0.0, 1.0, 12.0)
    health = monitor.assess(situation(8.0, image_publishers=0, camera_info_received=False))
    assert health.level == STALE and health.message.index("no image") < health.message.index("camera_info")


def test_hardware_id_names_the_cpu_model():
    name = hardware_id("cpu")
    assert name.startswith("cpu (") and len(name) > len("cpu ()")


# --- over DDS ---------------------------------------------------------------------------------


def test_the_node_publishes_windowed_levels_with_its_device():
    rclpy = pytest.importorskip("rclpy")
    from rclpy.context import Context
    from rclpy.executors import MultiThreadedExecutor
    from rclpy.parameter import Parameter

    from face_anything_ros.ros.node import FaceAnythingNode
    from face_anything_ros.ros.stream_client import StreamClient

    frames, intrinsics = sample_frames(2)
    context = Context()
    rclpy.init(context=context)
    camera = "/diag_camera"
    node = FaceAnythingNode(
        context=context,
        namespace="/diag",
        cli_args=[
            "--ros-args",
            "-r",
            f"image:={camera}/image_raw",
            "-r",
            f"camera_info:={camera}/camera_info",
        ],
        parameter_overrides=[
            Parameter("weights", value=weights_for_tests()),
            Parameter("qos_reliability", value="reliable"),
            Parameter("diagnostics_period_s", value=0.2),
            Parameter("diagnostics_window_s", value=1.5),
            Parameter("stale_after_s", value=1.0),
        ],
    )
    executor = MultiThreadedExecutor(context=context)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    watcher = client = None

    def status_when(predicate, timeout_s: float = 20.0):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            statuses = [s for m in list(watcher.diagnostics)[-3:] for s in m.status if "/diag/" in s.name]
            if statuses and predicate(statuses[-1]):
                return statuses[-1]
            time.sleep(0.1)
        statuses = [s for m in list(watcher.diagnostics)[-1:] for s in m.status]
        raise AssertionError(f"no such status; last: {[(s.level, s.message) for s in statuses]}")

    def level(status) -> int:
        return status.level[0] if isinstance(status.level, bytes) else int(status.level)

    try:
        watcher = StreamClient("/diag_watch_only", "/diag", name="diag_watcher", context=context)
        executor.add_node(watcher)  # listens to the outputs, publishes on another camera topic
        stale = status_when(lambda s: level(s) == STALE)
        assert "no publisher on /diag_camera/image_raw" in stale.message
        assert stale.hardware_id.startswith("cpu (")

        client = StreamClient(camera, "/diag_elsewhere", name="diag_camera", context=context)
        executor.add_node(client)  # a publisher, but no image yet
        silent = status_when(lambda s: "although 1 publisher" in s.message)
        assert level(silent) == WARN

        def send_for(seconds: float, with_info: bool) -> None:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                client.send(frames[0], intrinsics if with_info else None, time.time_ns())
                time.sleep(0.1)

        send_for(1.0, with_info=False)
        assert "no camera_info" in status_when(lambda s: "no camera_info" in s.message, 5.0).message
        send_for(2.0, with_info=True)
        ok = status_when(lambda s: level(s) == OK, 5.0)
        assert ok.message == "ok"

        node.set_parameters([Parameter("expected_rate_hz", value=500.0)])  # live
        send_for(0.6, with_info=True)
        slow = status_when(lambda s: "below the expected 500 Hz" in s.message, 5.0)
        assert level(slow) == WARN
        node.set_parameters([Parameter("expected_rate_hz", value=0.0)])

        image_type = client.kit.message_class("sensor_msgs/msg/Image")
        client.publish_raw(image_type(encoding="yuv422", width=4, height=4, step=8, data=bytes(32)))
        assert level(status_when(lambda s: "rejected" in s.message, 5.0)) == WARN
        send_for(2.0, with_info=True)  # the window moves past the rejected frame: OK again
        assert status_when(lambda s: level(s) == OK, 5.0).message == "ok"
    finally:
        executor.shutdown()
        spinner.join(5.0)
        node.destroy_node()
        for other in (watcher, client):
            if other is not None:
                other.destroy_node()
        context.try_shutdown()

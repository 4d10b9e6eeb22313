"""Fault drills against the real node and replay (the CI form of ``face-anything stress faults``).

SIGINT after load and SIGTERM after bad input are proved by the soak and fuzz tests; here: a
backend that dies at run time, bad and hostile weights files, and a replay cut short by Ctrl-C.
"""

from __future__ import annotations

import pytest
from node_test_support import weights_for_tests

pytest.importorskip("rclpy")

from face_anything_ros.devtools.reliability import faults


@pytest.fixture(scope="module")
def weights() -> str:
    return weights_for_tests()


def test_backend_failing_at_run_time_falls_back_without_losing_a_frame(weights):
    result = faults.backend_fault_drill(weights, frames=5, fail_at_frame=2)
    assert result.passed, result.failures
    details = result.details
    assert details["frames_answered"] == details["frames_sent"] == details["node_frames_out"] == 5
    assert (details["backend_before"], details["backend_after"]) == ("onnxruntime", "eager")
    assert "CUDA out of memory" in details["backend_failures"][0]


def test_missing_corrupted_truncated_or_hostile_weights_stop_the_node_with_one_clear_error(weights, tmp_path):
    results = faults.weights_fault_drill(weights, tmp_path)
    assert len(results) == 4
    for result in results:
        assert result.passed, (result.name, result.failures, result.details)
        assert result.details["exit_code"] == 1
    hostile = next(r for r in results if "pickle_payload" in r.name)
    assert hostile.details["payload_executed"] is False


def test_replay_interrupted_mid_way_leaves_a_readable_bag_with_exactly_the_processed_frames(
    weights, tmp_path
):
    result = faults.replay_interrupt_drill(weights, tmp_path, images=150, interrupt_after=3)
    assert result.passed, (result.failures, result.details)
    processed = result.details["processed_reported"]
    assert result.details["output_messages"]["/face_anything/faces"] == processed


def test_sigterm_while_the_node_is_still_loading_exits_cleanly(weights, tmp_path):
    import signal

    result = faults.startup_signal_drill(weights, tmp_path, signal.SIGTERM)
    assert result.passed, (result.failures, result.details)
    assert result.details["said_stopped"]

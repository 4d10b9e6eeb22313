"""Short soak (the CI form of ``face-anything stress soak``): the real node process under overload.

300 frames of 0-8 composited faces at 30 Hz, faster than the node can process on this CPU: every
frame the node finished reaches the subscriber, none fails, the counts add up, latency stays
bounded, memory does not grow beyond the bound, and Ctrl-C ends the node with exit code 0.
"""

from __future__ import annotations

import math

import pytest
from node_test_support import weights_for_tests

pytest.importorskip("rclpy")

from face_anything_ros.devtools.reliability.soak import SoakConfig, SoakReport, run_soak

CONFIG = SoakConfig(frames=300, rate_hz=30.0, max_faces=8, warmup_rounds=1, rss_growth_bound_mib=64.0)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> SoakReport:
    folder = tmp_path_factory.mktemp("soak")
    return run_soak(CONFIG, weights_for_tests(), folder / "node.log")


def test_short_soak_passes_every_check(report):
    assert report.passed, report.failures


def test_the_load_is_above_what_the_node_processes(report):
    assert report.published == CONFIG.frames
    assert report.publish_rate_hz > 0.8 * CONFIG.rate_hz
    assert report.dropped_by_node + report.dropped_in_transport > 0
    assert 0 < report.processed < report.published


def test_every_frame_is_accounted_for_and_nothing_processed_is_lost(report):
    assert report.node_received == report.processed + report.dropped_by_node + report.rejected + report.failed
    assert report.published == report.node_received + report.dropped_in_transport
    assert report.outputs_received == {"faces": report.processed, "depth": report.processed}
    assert report.lost_after_processing == 0 and report.failed == 0 and report.rejected == 0


def test_latency_percentiles_are_reported_and_bounded(report):
    latency = report.latency_ms
    assert latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    assert math.isfinite(latency["max"]) and latency["max"] < 30_000  # newest-frame policy: no queue builds


def test_frames_carry_faces_and_the_node_reports_them(report):
    assert 3.0 < report.faces_sent_mean < 5.0  # uniform 0..8
    assert report.faces_reported_mean > 0.5


def test_memory_is_measured_and_within_the_bound(report):
    assert report.rss_start_mib > 100 and report.rss_end_mib > 100  # the node process, not this one
    assert report.rss_growth_mib <= CONFIG.rss_growth_bound_mib
    assert report.rss_peak_mib >= report.rss_start_mib


def test_ctrl_c_after_the_soak_exits_cleanly(report):
    assert report.shutdown["signal_name"] == "SIGINT"
    assert report.shutdown["return_code"] == 0 and not report.shutdown["traceback_in_log"]

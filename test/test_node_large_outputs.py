"""Large outputs (depth 32FC1, PointCloud2) reach subscribers in other processes, best effort too.

Real DDS end to end: the node started as users start it (its own Fast DDS profile), a camera in this
process streaming one synthetic face at 640x480 and 30 Hz, and two subscriber processes with Fast
DDS's default transports: a REP 2003 sensor-data (best-effort) one and a reliable one. Delivery is
counted against the node's own ``published_<output>`` counters over a measured window
(``face_anything_ros.devtools.large_sample_delivery``). Before the node's profile set a large
shared-memory segment, the best-effort subscriber got 42-78 % of the 640x480 depth images and clouds.
"""

from __future__ import annotations

import pytest

pytest.importorskip("rclpy")
from face_anything_ros.devtools.large_sample_delivery import DeliveryRun, format_summary, measure

MIN_BEST_EFFORT_PCT = 90.0
LARGE_OUTPUTS = ("depth", "points")


def test_best_effort_subscriber_in_another_process_gets_the_large_outputs_and_reliable_gets_all(tmp_path):
    summary = measure(DeliveryRun(sizes=[(640, 480)], hz=30.0, seconds=4.0, workdir=tmp_path))
    report = format_summary(summary)
    entry = summary["sizes"][0]
    assert min(entry["published"][topic] for topic in LARGE_OUTPUTS) >= 20, report  # the node kept up
    best_effort, reliable = entry["subscribers"]["best_effort"], entry["subscribers"]["reliable"]
    for topic in LARGE_OUTPUTS:
        assert best_effort[topic]["delivery_pct"] >= MIN_BEST_EFFORT_PCT, report
        assert reliable[topic]["received"] == entry["published"][topic], report


def test_the_node_profile_sets_a_large_segment_and_yields_to_a_builtin_transports_choice(monkeypatch):
    from face_anything_ros.ros.process_setup import FASTDDS_BUILTIN_TRANSPORTS_ENV, node_fastdds_profile

    monkeypatch.delenv(FASTDDS_BUILTIN_TRANSPORTS_ENV, raising=False)
    default = node_fastdds_profile().read_text()
    assert "<segment_size>16777216</segment_size>" in default and "heartbeat_period" in default
    monkeypatch.setenv(FASTDDS_BUILTIN_TRANSPORTS_ENV, "LARGE_DATA")
    writers_only = node_fastdds_profile().read_text()  # a profile's transports would override the choice
    assert "heartbeat_period" in writers_only and "transport_descriptor" not in writers_only

"""Fuzz the real node process's image input over DDS (the CI form of ``face-anything stress fuzz``).

Hostile images (unknown/measurement encodings, NaN/inf floats, empty, short steps, truncated or
long data, gigapixel headers with a few bytes, 2^32-1 steps) and bogus CameraInfo (NaN, zero,
negative K, zero or mismatched size), interleaved with valid frames in every colour encoding.
"""

from __future__ import annotations

import pytest
from node_test_support import weights_for_tests

pytest.importorskip("rclpy")

from face_anything_ros.reliability.fuzz import FuzzReport, run_fuzz
from face_anything_ros.reliability.fuzz_inputs import CATEGORY_WEIGHTS, PROCESSED

CASES = 40


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> FuzzReport:
    folder = tmp_path_factory.mktemp("fuzz")
    return run_fuzz(CASES, seed=1, weights=weights_for_tests(folder), log_path=folder / "node.log")


def test_fuzz_run_passes_every_check(report):
    assert not report.failures, report.failures


def test_every_category_was_tried(report):
    assert set(report.by_category) == set(CATEGORY_WEIGHTS)
    assert sum(report.by_category.values()) == CASES


def test_diagnostics_count_each_rejection_under_its_cause(report):
    assert report.counted == report.expected
    assert {"encoding", "size", "too_large", PROCESSED} <= set(report.counted)


def test_valid_frames_between_bad_ones_are_still_processed_with_faces(report):
    assert report.counted[PROCESSED] == report.expected[PROCESSED] > 0
    assert report.faces_in_valid_face_frames >= report.by_category["valid_face"]


def test_each_rejection_cause_is_logged_exactly_once(report):
    assert report.log_lines_per_cause == {cause: 1 for cause in report.expected if cause != PROCESSED}


def test_the_node_survives_and_sigterm_stops_it_cleanly(report):
    assert report.failed_frames == 0
    assert report.shutdown["signal_name"] == "SIGTERM"
    assert report.shutdown["return_code"] == 0 and not report.shutdown["traceback_in_log"]

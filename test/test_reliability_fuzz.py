"""Fuzz the real node process's image input over DDS (the CI form of ``face-anything stress fuzz``).

Hostile images (unknown/measurement encodings, NaN/inf floats, empty, short steps, truncated or
long data, gigapixel headers with a few bytes, 2^32-1 steps) and bogus CameraInfo (NaN, zero,
negative K, zero or mismatched size), interleaved with valid frames in every colour encoding.
"""

from __future__ import annotations

import pytest
from node_test_support import weights_for_tests

pytest.importorskip("rclpy")

from face_anything_ros.devtools.reliability.fuzz import FuzzReport, run_fuzz
from face_anything_ros.devtools.reliability.fuzz_inputs import CATEGORY_WEIGHTS, PROCESSED, FuzzInputs

CASES = 40


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> FuzzReport:
    folder = tmp_path_factory.mktemp("fuzz")
    return run_fuzz(CASES, seed=1, weights=weights_for_tests(), log_path=folder / "node.log")


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


def test_replaying_a_bag_of_fuzz_cases_processes_the_valid_and_skips_the_rest(tmp_path):
    """The offline path (rosbags + the same codec) gives the same verdicts and never stops early."""
    from face_anything_ros.devtools.reliability.fuzz import face_frame
    from face_anything_ros.devtools.reliability.fuzz_inputs import write_fuzz_bag
    from face_anything_ros.offline.bag_replay import replay_bag
    from face_anything_ros.offline.startup import load_params
    from face_anything_ros.outputs.params import build_pipeline

    cases = FuzzInputs(face_frame(), seed=2).cases(24)
    write_fuzz_bag(tmp_path / "in", cases)
    params = load_params(None, weights_for_tests())
    summary = replay_bag(tmp_path / "in", tmp_path / "out", build_pipeline(params), params)
    valid = sum(case.expect == PROCESSED for case in cases)
    assert (summary.images, summary.processed, summary.stopped_early) == (len(cases), valid, "")
    assert sum(summary.skipped.values()) == len(cases) - valid

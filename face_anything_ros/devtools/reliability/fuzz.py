"""Fuzz the running node's image input and check it survives, counts and logs every rejection.

Cases (``fuzz_inputs``) go to the node one at a time over DDS (reliable QoS); after each, the
driver waits for /diagnostics to show the node done with it, then checks the verdict: a valid
frame was processed and its outputs arrived, a bad one raised exactly its cause's counter
(``rejected_<kind>``) by one. At the end: the node is alive, nothing failed, each rejection
cause was logged exactly once, no traceback, and SIGTERM stops it with exit code 0.
"""

from __future__ import annotations

import logging
import re
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from face_anything_ros.devtools.reliability.fuzz_inputs import PROCESSED, FuzzCase, FuzzInputs
from face_anything_ros.devtools.reliability.node_session import NodeSession, node_session
from face_anything_ros.devtools.reliability.stress_client import counter, settled

LOGGER = logging.getLogger(__name__)
CASE_TIMEOUT_S = 60.0
OUTPUT_TIMEOUT_S = 10.0
FACE_FRAME_SIZE = (320, 240)
REJECTION_LOG = re.compile(r"image rejected \((\w+);")


@dataclass
class FuzzReport:
    cases: int = 0
    seed: int = 0
    weights: str = ""
    by_category: dict[str, int] = field(default_factory=dict)
    expected: dict[str, int] = field(default_factory=dict)  # processed / rejected_<kind> counts expected
    counted: dict[str, int] = field(default_factory=dict)  # the same, from the node's diagnostics
    log_lines_per_cause: dict[str, int] = field(default_factory=dict)
    faces_in_valid_face_frames: int = 0
    failed_frames: int = 0
    seconds: float = 0.0
    shutdown: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def face_frame() -> np.ndarray:
    import cv2

    from face_anything_ros.offline.frame_sources import open_frames
    from face_anything_ros.offline.sample import sample_dir

    _, rgb, _ = next(iter(open_frames(sample_dir()).frames()))
    return cv2.resize(rgb, FACE_FRAME_SIZE, interpolation=cv2.INTER_AREA)


def _publish(session: NodeSession, case: FuzzCase, stamp_ns: int) -> None:
    from face_anything_ros.outputs.image_bag import header

    client = session.client
    kit = client.kit
    msg_header = header(kit, stamp_ns, "camera_optical_frame")
    if case.camera_info_k is not None:
        width, height = case.camera_info_size
        info = kit.new("sensor_msgs/msg/CameraInfo", header=msg_header, width=width, height=height)
        info.k = kit.array(np.asarray(case.camera_info_k, np.float64), "float64")
        client.pub_info.publish(info)
    fields = dict(case.image)
    data = kit.array(np.frombuffer(fields.pop("data"), np.uint8), "uint8")
    client.pub_image.publish(kit.new("sensor_msgs/msg/Image", header=msg_header, data=data, **fields))


def _counts(values: dict[str, str]) -> Counter:
    found = Counter({PROCESSED: counter(values, "frames_out")})
    for key in values:
        if key.startswith("rejected_") and key != "rejected_frames":
            found[key.removeprefix("rejected_")] = counter(values, key)
    return found


def run_fuzz(
    cases: int, seed: int, weights: str, log_path: Path, progress: Callable[[int], Any] | None = None
) -> FuzzReport:
    report = FuzzReport(cases=cases, seed=seed, weights=weights)
    fuzz_cases = FuzzInputs(face_frame(), seed).cases(cases)
    parameters = {
        "weights": weights,
        "qos_reliability": "reliable",
        "qos_depth": "10",
        "diagnostics_period_s": "0.1",
    }
    expected: Counter = Counter()
    categories: Counter = Counter()
    with node_session(parameters, log_path) as session:
        baseline = session.client.wait_for_diagnostics(settled, CASE_TIMEOUT_S)  # after the handshake
        received = counter(baseline, "frames_in")
        bar = progress(len(fuzz_cases)) if progress else None
        start = time.monotonic()
        values = baseline
        try:
            for index, case in enumerate(fuzz_cases):
                stamp = 1_000_000_000 * (index + 1)
                before = _counts(values)
                _publish(session, case, stamp)
                values = session.client.wait_for_diagnostics(
                    lambda v, n=received + index + 1: settled(v, n), CASE_TIMEOUT_S
                )
                expected[case.expect] += 1
                categories[case.category] += 1
                if not settled(values, received + index + 1):
                    report.failures.append(
                        f"case {index} ({case.name}): node not done after {CASE_TIMEOUT_S:.0f} s"
                    )
                    if not session.alive():
                        report.failures.append(f"the node died at case {index}; see {log_path}")
                        break
                    continue
                change = _counts(values) - before
                if change != Counter({case.expect: 1}):
                    report.failures.append(
                        f"case {index} ({case.name}): expected {case.expect}, node counted {dict(change)}"
                    )
                if case.expect == PROCESSED and not session.client.wait_for_output(
                    stamp, OUTPUT_TIMEOUT_S, ("faces", "depth")
                ):
                    report.failures.append(f"case {index} ({case.name}): processed but outputs never arrived")
                if case.category == "valid_face":
                    report.faces_in_valid_face_frames += session.client.log.faces.get(stamp, 0)
                if bar is not None:
                    bar.update(1)
        except KeyboardInterrupt:  # Ctrl-C of the stress command: report the cases done so far
            report.failures.append(f"interrupted (Ctrl-C) after {sum(expected.values())} cases")
        report.seconds = time.monotonic() - start
        if bar is not None:
            bar.close()
        report.failed_frames = counter(values, "failed_frames")
        report.counted = dict(_counts(values) - _counts(baseline))
        alive = session.alive()
        shutdown = session.stop(signal.SIGTERM)
        log_text = session.log_text()
    report.expected = dict(expected)
    report.by_category = dict(categories)
    report.shutdown = vars(shutdown).copy()
    report.log_lines_per_cause = dict(Counter(REJECTION_LOG.findall(log_text)))
    _check(report, alive, log_text)
    return report


def _check(report: FuzzReport, alive: bool, log_text: str) -> None:
    rejected_causes = {cause for cause in report.expected if cause != PROCESSED}
    checks = [
        (alive, "the node was not alive after the last case"),
        (report.counted == report.expected, f"diagnostics {report.counted} != expected {report.expected}"),
        (report.failed_frames == 0, f"{report.failed_frames} frames failed inside the pipeline"),
        (
            report.log_lines_per_cause == dict.fromkeys(rejected_causes, 1),
            f"rejection log lines per cause {report.log_lines_per_cause} (want exactly one per cause)",
        ),
        ("frame processing failed" not in log_text, "the worker caught an unexpected exception (see log)"),
        (
            report.shutdown.get("return_code") == 0 and not report.shutdown.get("traceback_in_log"),
            f"unclean shutdown: {report.shutdown}",
        ),
    ]
    report.failures += [message for ok, message in checks if not ok]

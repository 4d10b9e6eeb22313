"""Soak: thousands of frames through the running node faster than it can process them.

The node runs in its own process (as launched on a robot) with reliable input QoS of depth 1, so
it always works on the newest frame and drops the rest (``LatestFrameWorker``). The run proves,
from the node's /diagnostics and the outputs received:
- every frame the node finished produced its outputs at the subscriber (nothing lost after
  processing), none failed or was rejected, and received = processed + dropped (accounting);
- latency (output arrival - input stamp, one wall clock) stays bounded (p50/p95/p99);
- resident memory after the run is within a stated bound of memory after warm-up;
- the node still exits cleanly (SIGINT -> exit code 0) at the end.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from face_anything_ros.devtools.reliability.load_frames import LoadFrameConfig, load_frames
from face_anything_ros.devtools.reliability.memory import MemorySampler
from face_anything_ros.devtools.reliability.node_session import NodeSession, node_session
from face_anything_ros.devtools.reliability.stress_client import counter, settled

LOGGER = logging.getLogger(__name__)
WARMUP_FRAME_TIMEOUT_S = 60.0
WARMUP_RESEND_S = 5.0  # resend an unanswered warm-up frame (a frame with 8 faces takes ~1 s here)
SETTLE_TIMEOUT_S = 120.0
SETTLE_POLL_S = 2.0  # re-check that the node is alive this often while waiting
DRAIN_WAIT_S = 1.0  # after the last publish, frames still in flight over DDS
RSS_PERIOD_S = 1.0
LATENCY_PERCENTILES = (50, 95, 99)


@dataclass(frozen=True)
class SoakConfig:
    """One soak run; ``rss_growth_bound_mib`` is the pass/fail memory bound."""

    frames: int = 10_000
    rate_hz: float = 30.0
    max_faces: int = 8
    width: int = 640
    height: int = 480
    face_source: str = "sample"
    rss_growth_bound_mib: float = 64.0
    qos_reliability: str = "reliable"  # the node's input QoS; auto (match the camera) is the shipped default
    warmup_rounds: int = 2  # lock-step frames per face count before the memory baseline
    camera_info_every: int = 30  # republish CameraInfo every N frames (a camera driver sends it with each)
    seed: int = 0


@dataclass
class SoakReport:
    config: dict[str, Any]
    weights: str
    published: int = 0
    publish_rate_hz: float = 0.0
    seconds: float = 0.0
    node_received: int = 0  # frames_in (image callbacks run)
    processed: int = 0  # frames_out
    dropped_by_node: int = 0  # replaced by a newer frame before inference (newest-frame policy)
    dropped_in_transport: int = 0  # published but never handed to the callback (KEEP_LAST 1 reader queue)
    rejected: int = 0
    failed: int = 0
    outputs_received: dict[str, int] = field(default_factory=dict)  # topic -> frames with that output
    lost_after_processing: int = 0  # processed but an output never arrived
    processed_rate_hz: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)
    faces_sent_mean: float = 0.0
    faces_reported_mean: float = 0.0  # faces in FaceTrackArray of the processed frames
    faces_reported_by_sent: dict[int, float] = field(
        default_factory=dict
    )  # faces composited -> mean reported
    rss_start_mib: float = 0.0
    rss_end_mib: float = 0.0
    rss_peak_mib: float = 0.0
    rss_growth_mib: float = 0.0
    rss_by_tenth_mib: list[float] = field(default_factory=list)  # RSS at 0%, 10%, ..., 100% of the run
    backend: str = ""
    shutdown: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def _messages(client: Any, frames: dict[int, list[np.ndarray]], width: int, height: int) -> tuple[dict, Any]:
    """Image messages per face count (built once; only the stamp changes) and one CameraInfo."""
    from face_anything_ros.core.camera import Intrinsics
    from face_anything_ros.outputs import conversions
    from face_anything_ros.outputs.image_bag import camera_info_message, header

    kit = client.kit
    images = {
        count: [
            conversions.image_message(kit, header(kit, 0, "camera_optical_frame"), rgb, "rgb8")
            for rgb in cycle
        ]
        for count, cycle in frames.items()
    }
    info = camera_info_message(
        kit, header(kit, 0, "camera_optical_frame"), Intrinsics.from_fov(width, height, 60.0)
    )
    return images, info


def _warm_up(session: NodeSession, images: dict, info: Any, rounds: int) -> None:
    """Lock-step frames with every face count (so every batch size has run once before the baseline).

    A frame is resent every ``WARMUP_RESEND_S`` until answered (best-effort input may lose it).
    """
    for _ in range(rounds):
        for count, cycle in images.items():
            deadline = time.monotonic() + WARMUP_FRAME_TIMEOUT_S
            answered = False
            while not answered and time.monotonic() < deadline and session.alive():
                stamp = time.time_ns()
                session.client.publish(cycle[0], stamp, info)
                answered = session.client.wait_for_output(stamp, WARMUP_RESEND_S, ("faces", "depth"))
            if not answered:
                raise RuntimeError(
                    f"warm-up frame with {count} faces got no output in {WARMUP_FRAME_TIMEOUT_S:.0f} s "
                    f"(node alive: {session.alive()}); see {session.log_path}"
                )


def _wait_settled(session: NodeSession, timeout_s: float) -> dict[str, str]:
    """Diagnostics once the node is done with every frame it got and two updates agree."""
    deadline = time.monotonic() + timeout_s
    previous: dict[str, str] = {}
    while time.monotonic() < deadline and session.alive():
        values = session.client.wait_for_diagnostics(settled, min(SETTLE_POLL_S, deadline - time.monotonic()))
        if settled(values) and values.get("frames_in") == previous.get("frames_in"):
            return values
        previous = values
    return session.client.diagnostics()


def _percentiles(latencies_ms: list[float]) -> dict[str, float]:
    if not latencies_ms:
        return {}
    values = {f"p{p}": float(np.percentile(latencies_ms, p)) for p in LATENCY_PERCENTILES}
    values["max"] = float(np.max(latencies_ms))
    values["mean"] = float(np.mean(latencies_ms))
    return values


def run_soak(
    config: SoakConfig,
    weights: str,
    log_path: Path,
    progress: Callable[[int], Any] | None = None,
) -> SoakReport:
    """Run the soak; ``progress(total)`` may return a tqdm-like bar (``update``, ``set_postfix``, ``close``)."""
    report = SoakReport(config=vars(config).copy(), weights=weights)
    frames = load_frames(
        LoadFrameConfig(
            config.width, config.height, config.max_faces, face_source=config.face_source, seed=config.seed
        )
    )
    parameters = {
        "weights": weights,
        "max_faces": str(config.max_faces),
        "qos_reliability": config.qos_reliability,
        "qos_depth": "1",
        "diagnostics_period_s": "0.5",
    }
    with node_session(parameters, log_path) as session:
        client = session.client
        images, info = _messages(client, frames, config.width, config.height)
        _warm_up(session, images, info, config.warmup_rounds)
        baseline = _wait_settled(session, SETTLE_TIMEOUT_S)
        report.backend = baseline.get("backend", "")
        sampler = MemorySampler(session.process.pid, RSS_PERIOD_S).start()
        report.rss_start_mib = sampler.sample()
        sent: dict[int, int] = {}  # stamp -> faces composited
        warmup_answered = len(client.log.arrival_ns["faces"])
        rng = np.random.default_rng(config.seed)
        bar = progress(config.frames) if progress else None
        start = time.monotonic()
        try:
            for index in range(config.frames):
                delay = start + index / config.rate_hz - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                count = int(rng.integers(0, config.max_faces + 1))
                stamp = time.time_ns()
                cycle = images[count]
                client.publish(
                    cycle[index % len(cycle)], stamp, info if index % config.camera_info_every == 0 else None
                )
                sent[stamp] = count
                if bar is not None:
                    bar.update(1)
                    if index % 50 == 0:
                        answered = len(client.log.arrival_ns["faces"]) - warmup_answered
                        bar.set_postfix(answered=answered, alive=session.alive())
                if not session.alive():
                    report.failures.append(f"the node died after {index + 1} frames; see {log_path}")
                    break
        except KeyboardInterrupt:  # Ctrl-C of the stress command: settle and report what was done
            report.failures.append(f"interrupted (Ctrl-C) after {len(sent)} frames: partial figures")
        report.seconds = time.monotonic() - start
        report.published = len(sent)
        if bar is not None:
            bar.close()
        time.sleep(DRAIN_WAIT_S)
        final = _wait_settled(session, SETTLE_TIMEOUT_S)
        time.sleep(DRAIN_WAIT_S)  # the last outputs travel after the counters settle
        report.rss_end_mib = sampler.sample()
        trace = sampler.stop()
        report.rss_peak_mib = trace.peak_mib
        report.rss_by_tenth_mib = [round(trace.at(report.seconds * tenth / 10), 1) for tenth in range(11)]
        shutdown = session.stop()
    _fill_counts(report, baseline, final, sent, client.log)
    report.rss_growth_mib = report.rss_end_mib - report.rss_start_mib
    report.shutdown = vars(shutdown).copy()
    _check(report, config, settled(final))
    return report


def _fill_counts(report: SoakReport, baseline: dict, final: dict, sent: dict[int, int], log: Any) -> None:
    def delta(key: str) -> int:
        return counter(final, key) - counter(baseline, key)

    report.node_received = delta("frames_in")
    report.processed = delta("frames_out")
    report.dropped_by_node = delta("dropped_frames")
    report.rejected = delta("rejected_frames")
    report.failed = delta("failed_frames")
    report.dropped_in_transport = report.published - report.node_received
    arrivals = {
        topic: {s: t for s, t in by_stamp.items() if s in sent} for topic, by_stamp in log.arrival_ns.items()
    }
    report.outputs_received = {topic: len(by_stamp) for topic, by_stamp in arrivals.items()}
    report.lost_after_processing = report.processed - min(report.outputs_received.values())
    faces = arrivals["faces"]
    report.latency_ms = _percentiles([(arrival - stamp) / 1e6 for stamp, arrival in faces.items()])
    report.publish_rate_hz = report.published / report.seconds if report.seconds else 0.0
    if faces:
        span_s = (max(faces.values()) - min(faces)) / 1e9  # first frame sent -> last output received
        report.processed_rate_hz = report.processed / span_s if span_s > 0 else 0.0
        report.faces_reported_mean = float(np.mean([log.faces[s] for s in faces]))
        by_sent: dict[int, list[int]] = {}
        for stamp in faces:
            by_sent.setdefault(sent[stamp], []).append(log.faces[stamp])
        report.faces_reported_by_sent = {count: float(np.mean(by_sent[count])) for count in sorted(by_sent)}
    report.faces_sent_mean = float(np.mean(list(sent.values()))) if sent else 0.0


def _check(report: SoakReport, config: SoakConfig, was_settled: bool) -> None:
    checks = [
        (was_settled, "the node never settled (frames received != processed + dropped + rejected + failed)"),
        (
            report.lost_after_processing == 0,
            f"{report.lost_after_processing} processed frames lost an output",
        ),
        (report.failed == 0, f"{report.failed} frames failed in inference"),
        (report.rejected == 0, f"{report.rejected} valid frames were rejected"),
        (
            report.rss_growth_mib <= config.rss_growth_bound_mib,
            f"RSS grew {report.rss_growth_mib:.1f} MiB > bound {config.rss_growth_bound_mib:.0f} MiB",
        ),
        (
            report.shutdown.get("return_code") == 0 and not report.shutdown.get("traceback_in_log"),
            f"unclean shutdown: {report.shutdown}",
        ),
    ]
    report.failures += [message for ok, message in checks if not ok]

"""Fault drills: each starts the real node (or replay) with one fault and checks how it ends.

- ``backend_fault_drill``: the inference backend raises "CUDA out of memory" after k frames;
  the backend chain must fall back and the stream must lose no frame (the failing one is retried).
- ``weights_fault_drill``: missing / corrupted / hostile weights give one clear error and a
  non-zero exit at start, and a weights file that carries a pickle payload never runs it.
- ``signal_drill``: SIGINT / SIGTERM while frames stream in: exit code 0 within seconds, no traceback.
- ``replay_interrupt_drill``: Ctrl-C in the middle of ``face-anything replay`` leaves a valid bag
  holding the outputs of exactly the images it reported as processed.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from face_anything_ros.devtools.reliability.failing_backend import failing_builder
from face_anything_ros.devtools.reliability.node_session import exit_code_within, node_launch, node_session
from face_anything_ros.offline.sample import sample_frames

LOGGER = logging.getLogger(__name__)
FRAME_TIMEOUT_S = 60.0
WEIGHTS_EXIT_TIMEOUT_S = 120.0
REPLAY_PROGRESS_TIMEOUT_S = 300.0
STARTUP_SIGNAL_ATTEMPTS = 3  # fresh nodes tried when the probe saw one only after it had loaded
SIGNAL_EXIT_BOUND_S = 10.0  # "within a few seconds": worker join (5 s) + rclpy shutdown
STREAM_RATE_HZ = 10.0
CANNOT_START = "cannot start"


@dataclass
class DrillResult:
    name: str
    passed: bool
    details: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def _result(name: str, details: dict[str, Any], checks: list[tuple[bool, str]]) -> DrillResult:
    failures = [message for ok, message in checks if not ok]
    return DrillResult(name, not failures, details, failures)


# --- backend failing at run time --------------------------------------------------------------


def backend_fault_drill(weights: str, frames: int = 6, fail_at_frame: int = 2) -> DrillResult:
    """In-process node over DDS whose onnxruntime backend raises CUDA OOM on frame ``fail_at_frame``."""
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter

    from face_anything_ros.devtools.reliability.node_session import (
        CAMERA_NAMESPACE,
        NODE_NAME,
        NODE_NAMESPACE,
    )
    from face_anything_ros.devtools.reliability.stress_client import StressClient
    from face_anything_ros.outputs import conversions
    from face_anything_ros.outputs.image_bag import camera_info_message, header
    from face_anything_ros.outputs.params import NodeParams, pipeline_config_from_params
    from face_anything_ros.ros.node import FaceAnythingNode
    from face_anything_ros.runtime.pipeline import FacePipeline

    images, intrinsics = sample_frames(frames)
    config = pipeline_config_from_params(NodeParams(weights=weights, backend="onnxruntime"))
    made: list = []
    # the chain's parity probe is call 1; frame i (with a face) is call i + 2
    builder = failing_builder("onnxruntime", fail_at_frame + 1, made)
    pipeline = FacePipeline(config, backend_builder=builder)
    backend_before = pipeline.backend_name
    context = Context()
    rclpy.init(context=context)
    node = FaceAnythingNode(
        pipeline=pipeline,
        context=context,
        namespace=NODE_NAMESPACE,
        cli_args=[
            "--ros-args",
            "-r",
            f"image:={CAMERA_NAMESPACE}/image_raw",
            "-r",
            f"camera_info:={CAMERA_NAMESPACE}/camera_info",
        ],
        parameter_overrides=[
            Parameter("qos_reliability", value="reliable"),
            Parameter("qos_depth", value=10),
            Parameter("diagnostics_period_s", value=0.2),
        ],
    )
    client = StressClient(
        CAMERA_NAMESPACE,
        NODE_NAMESPACE,
        f"{NODE_NAMESPACE}/{NODE_NAME}",
        "backend_drill_client",
        context=context,
    )
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    executor.add_node(client)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    answered, faces = [], []
    try:
        handshakes = client.handshake(FRAME_TIMEOUT_S)  # blank frames: no face, the model is not called
        if not handshakes:
            raise RuntimeError("the in-process node never answered a blank frame")
        kit = client.kit
        info = camera_info_message(kit, header(kit, 0, "camera_optical_frame"), intrinsics)
        messages = [
            conversions.image_message(kit, header(kit, 0, "camera_optical_frame"), f, "rgb8") for f in images
        ]
        for index, msg in enumerate(messages):
            stamp = 1_000_000_000 * (index + 1)
            client.publish(msg, stamp, info)
            answered.append(client.wait_for_output(stamp, FRAME_TIMEOUT_S, ("faces", "depth")))
            faces.append(client.log.faces.get(stamp, 0))
        stats = node.stats
        details = {
            "frames_sent": frames,
            "frames_answered": sum(answered),
            "faces_per_frame": faces,
            "backend_before": backend_before,
            "backend_after": pipeline.backend_name,
            "backend_failures": pipeline.backend_failures,
            "failing_backend_calls": made[0].calls if made else 0,
            "node_failed_frames": stats.failed,
            "node_frames_out": stats.frames_out - handshakes,
        }
    finally:
        executor.shutdown()
        node.destroy_node()
        client.destroy_node()
        context.try_shutdown()
    checks = [
        (backend_before == "onnxruntime", f"the drill did not start on onnxruntime ({backend_before})"),
        (all(answered), f"frames without outputs: {[i for i, ok in enumerate(answered) if not ok]}"),
        (all(n > 0 for n in faces), f"frames without a face (the model did not run on them): {faces}"),
        (details["node_failed_frames"] == 0, "the node counted failed frames"),
        (pipeline.backend_name == "eager", f"no fallback: backend is {pipeline.backend_name}"),
        (any("out of memory" in f for f in details["backend_failures"]), "the failure was not recorded"),
        (
            details["failing_backend_calls"] == fail_at_frame + 2,
            "the failing backend was not called on the failing frame",
        ),
    ]
    return _result("backend fails at run time (CUDA OOM) -> fallback, no frame lost", details, checks)


# --- bad weights ------------------------------------------------------------------------------


class _FileCreatingPayload:
    """A pickle that creates a file when unpickled by an unrestricted loader (code execution)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple:
        return (open, (self.marker, "w"))


def bad_weights_files(weights: str, folder: Path) -> dict[str, tuple[Path, Path | None]]:
    """case -> (weights path, marker file that must not appear): missing, corrupted, truncated, pickle payload."""
    from face_anything_ros.model.io import file_sha256, read_sidecar, sidecar_path

    folder.mkdir(parents=True, exist_ok=True)
    source = Path(weights)
    cases: dict[str, tuple[Path, Path | None]] = {"missing": (folder / "missing.pt", None)}
    raw = source.read_bytes()
    for name, damaged in (
        (
            "corrupted",
            raw[: len(raw) // 2]
            + bytes(b ^ 0xFF for b in raw[len(raw) // 2 : len(raw) // 2 + 4096])
            + raw[len(raw) // 2 + 4096 :],
        ),
        ("truncated", raw[: len(raw) // 3]),
    ):
        path = folder / f"{name}.pt"
        path.write_bytes(damaged)
        shutil.copy(sidecar_path(source), sidecar_path(path))
        cases[name] = (path, None)
    marker = folder / "payload_ran"
    hostile = folder / "pickle_payload.pt"
    hostile.write_bytes(pickle.dumps({"weights": _FileCreatingPayload(marker)}))
    info = read_sidecar(source)
    info["sha256"] = file_sha256(hostile)  # a consistent sidecar: only the loader stands in the way
    sidecar_path(hostile).write_text(json.dumps(info), encoding="utf-8")
    cases["pickle_payload"] = (hostile, marker)
    return cases


def weights_fault_drill(weights: str, folder: Path) -> list[DrillResult]:
    """Start one node per bad weights file (all at once) and check each exits with one clear error."""
    from face_anything_ros.ros.node_process import start_node

    cases = bad_weights_files(weights, folder)
    running = {
        name: (start_node(node_launch({"weights": str(path)}), folder / f"{name}.log"), marker)
        for name, (path, marker) in cases.items()
    }
    results = []
    for name, (process, marker) in running.items():
        code = exit_code_within(process, WEIGHTS_EXIT_TIMEOUT_S)
        log = (folder / f"{name}.log").read_text(encoding="utf-8", errors="replace")
        errors = [line for line in log.splitlines() if CANNOT_START in line]
        details = {"exit_code": code, "error_lines": errors}
        checks = [
            (
                code not in (0, None),
                f"exit code {code} (want non-zero, within {WEIGHTS_EXIT_TIMEOUT_S:.0f} s)",
            ),
            (len(errors) == 1, f"{len(errors)} '{CANNOT_START}' lines (want exactly one)"),
            ("Traceback" not in log, "a traceback in the log"),
            (bool(errors) and "weights" in errors[0], "the error does not name the weights"),
        ]
        if marker is not None:
            details["payload_executed"] = marker.exists()
            checks.append((not marker.exists(), "the pickle payload in the weights file RAN"))
        results.append(_result(f"weights {name} -> one clear error, non-zero exit", details, checks))
    return results


# --- signals ----------------------------------------------------------------------------------


def signal_drill(weights: str, folder: Path, signum: int) -> DrillResult:
    """Stream frames at the node and send ``signum`` once it answers; it must exit 0 promptly."""
    images, _ = sample_frames(4)
    name = signal.Signals(signum).name
    folder.mkdir(parents=True, exist_ok=True)
    parameters = {"weights": weights, "qos_reliability": "reliable"}
    with node_session(parameters, folder / f"signal_{name}.log") as session:
        client = session.client
        from face_anything_ros.outputs import conversions
        from face_anything_ros.outputs.image_bag import header

        kit = client.kit
        messages = [
            conversions.image_message(kit, header(kit, 0, "camera_optical_frame"), f, "rgb8") for f in images
        ]
        first = time.time_ns()
        client.publish(messages[0], first)
        answered = client.wait_for_output(first, FRAME_TIMEOUT_S)  # a face frame: the model runs
        stop_streaming = threading.Event()

        def stream() -> None:
            index = 0
            while not stop_streaming.wait(1.0 / STREAM_RATE_HZ):
                client.publish(messages[index % len(messages)], time.time_ns())
                index += 1

        streamer = threading.Thread(target=stream, daemon=True)
        streamer.start()
        time.sleep(1.0)  # mid-stream: the worker is busy with a frame
        shutdown = session.stop(signum)
        stop_streaming.set()
        streamer.join()
    details = {"answered_before_signal": answered, **vars(shutdown)}
    checks = [
        (answered, "the node never answered a frame before the signal"),
        (shutdown.return_code == 0, f"exit code {shutdown.return_code} (want 0)"),
        (
            shutdown.seconds <= SIGNAL_EXIT_BOUND_S,
            f"took {shutdown.seconds:.1f} s (bound {SIGNAL_EXIT_BOUND_S:.0f} s)",
        ),
        (not shutdown.traceback_in_log, "a traceback in the log"),
    ]
    return _result(f"{name} while streaming -> exit 0 within {SIGNAL_EXIT_BOUND_S:.0f} s", details, checks)


def startup_signal_drill(weights: str, folder: Path, signum: int) -> DrillResult:
    """``signum`` once the node exists in the ROS graph but is still loading its model: exit code 0.

    FaceAnythingNode joins the graph first (after ``rclpy.init`` installed the signal handlers) and
    subscribes to images only after the pipeline is built, so "node visible, no image subscription"
    is exactly the loading phase. The node runs under a namespace and camera topic of its own: a
    stale graph entry of an earlier node (same name, exited a moment ago, still in the DDS
    discovery data) can never pass for this process, which would get the signal before it started.
    """
    import dataclasses

    import rclpy
    from rclpy.context import Context
    from rclpy.node import Node

    from face_anything_ros.devtools.reliability.node_session import (
        CAMERA_NAMESPACE,
        NODE_NAME,
        NODE_NAMESPACE,
    )
    from face_anything_ros.ros.node_process import start_node, stop_node

    name = signal.Signals(signum).name
    folder.mkdir(parents=True, exist_ok=True)
    context = Context()
    rclpy.init(context=context)
    probe = Node(f"startup_drill_probe_{os.getpid()}", context=context)
    loading = seen = False
    code: int | None = None
    try:
        # the graph may show the node only after its model loaded (slow discovery, fast load): then
        # the moment was missed, that node is stopped and a fresh one tried; never signalled late
        for attempt in range(STARTUP_SIGNAL_ATTEMPTS):
            log_path = folder / f"startup_{name}_{attempt}.log"
            run_id = f"startup_{os.getpid()}_{time.monotonic_ns()}"
            namespace = f"{NODE_NAMESPACE}/{run_id}"
            image_topic = f"{CAMERA_NAMESPACE}/{run_id}/image_raw"
            launch = dataclasses.replace(
                node_launch({"weights": weights}),
                namespace=namespace,
                remappings={"image": image_topic, "camera_info": f"{CAMERA_NAMESPACE}/{run_id}/camera_info"},
            )
            process = start_node(launch, log_path)
            seen = loading = False
            deadline = time.monotonic() + WEIGHTS_EXIT_TIMEOUT_S
            while process.poll() is None and time.monotonic() < deadline:
                if (NODE_NAME, namespace) in probe.get_node_names_and_namespaces():
                    seen = True
                    loading = probe.count_subscribers(image_topic) == 0
                    break
                time.sleep(0.05)
            if seen and not loading and attempt + 1 < STARTUP_SIGNAL_ATTEMPTS:
                stop_node(process)
                continue
            process.send_signal(signum)
            code = exit_code_within(process, WEIGHTS_EXIT_TIMEOUT_S)
            break
    finally:
        probe.destroy_node()
        context.try_shutdown()
    log = log_path.read_text(encoding="utf-8", errors="replace")
    details = {
        "attempts": attempt + 1,
        "node_seen_in_graph": seen,
        "loading_at_signal": loading,
        "exit_code": code,
        "said_stopped": "stopped by a signal during start-up" in log,
    }
    checks = [
        (seen, f"{namespace}/{NODE_NAME} never appeared in the graph before the deadline"),
        (loading, "the signal did not arrive during start-up (node not seen loading)"),
        (code == 0, f"exit code {code} (want 0)"),
        (CANNOT_START not in log, f"a signal during start-up was reported as '{CANNOT_START}'"),
        ("Traceback" not in log, "a traceback in the log"),
    ]
    return _result(f"{name} during start-up -> exit 0", details, checks)


# --- interrupted replay -----------------------------------------------------------------------

SUMMARY = re.compile(r"replay: \S+: (\d+)/(\d+) images processed")


def replay_interrupt_drill(
    weights: str, folder: Path, images: int = 150, interrupt_after: int = 3
) -> DrillResult:
    """SIGINT to ``face-anything replay`` once its progress bar shows ``interrupt_after`` images done.

    The output bag must then hold the outputs of exactly the images the summary reports processed.
    """
    from face_anything_ros.offline.bag_replay import OUTPUT_NAMESPACE
    from face_anything_ros.outputs.image_bag import write_image_bag

    folder.mkdir(parents=True, exist_ok=True)
    frames, intrinsics = sample_frames(images)
    in_bag, out_bag = folder / "replay_in", folder / "replay_out"
    for bag in (in_bag, out_bag):
        shutil.rmtree(bag, ignore_errors=True)
    write_image_bag(in_bag, frames, intrinsics)
    command = [sys.executable, "-m", "face_anything_ros.cli", "replay", str(in_bag), "--out", str(out_bag)]
    process = subprocess.Popen(
        [*command, "--weights", weights],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        encoding="utf-8",  # tqdm draws with block characters: never depend on the locale here
        errors="replace",
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"},
    )
    stderr_lines: list[str] = []
    progressed = threading.Event()

    def watch_progress() -> None:  # tqdm draws "replay: ...| N/60" on stderr, separated by \r
        pattern = re.compile(rf"(\d+)/{images}\b")
        buffer = ""
        while chunk := process.stderr.read(1):
            buffer += chunk
            if chunk in "\r\n":
                found = pattern.findall(buffer)
                if found and int(found[-1]) >= interrupt_after:
                    progressed.set()
                stderr_lines.append(buffer)
                buffer = ""
        stderr_lines.append(buffer)

    watcher = threading.Thread(target=watch_progress, daemon=True)
    watcher.start()
    deadline = time.monotonic() + REPLAY_PROGRESS_TIMEOUT_S  # start-up (imports, model) is slow under load
    while not progressed.wait(0.5) and process.poll() is None and time.monotonic() < deadline:
        pass
    process.send_signal(signal.SIGINT)
    stdout = process.stdout.read()
    process.wait(FRAME_TIMEOUT_S)
    watcher.join(FRAME_TIMEOUT_S)
    stderr = "".join(stderr_lines)
    match = SUMMARY.search(stdout)
    processed = int(match.group(1)) if match else -1
    counts, stamps_ok, read_error = _read_output_bag(out_bag, in_bag, OUTPUT_NAMESPACE)
    details = {
        "exit_code": process.returncode,
        "progress_seen_before_signal": progressed.is_set(),
        "processed_reported": processed,
        "images_in_bag": images,
        "output_messages": counts,
        "read_error": read_error,
    }
    checks = [
        (
            details["progress_seen_before_signal"],
            f"the progress bar never showed {interrupt_after}/{images} before the signal",
        ),
        ("stopped early: interrupted" in stdout, "the summary does not say it was interrupted"),
        (0 < processed < images, f"processed {processed} of {images}: not interrupted mid-way"),
        ("Traceback" not in stderr, "a traceback on stderr"),
        (read_error == "", f"the output bag is not readable: {read_error}"),
        (
            all(
                counts.get(f"{OUTPUT_NAMESPACE}/{t}") == processed
                for t in ("faces", "depth", "points", "face_mesh")
            ),
            f"outputs in the bag {counts} != processed {processed}",
        ),
        (stamps_ok, "an output's stamp matches no input image"),
    ]
    return _result("replay interrupted (SIGINT) -> valid bag with everything processed", details, checks)


def _read_output_bag(out_bag: Path, in_bag: Path, namespace: str) -> tuple[dict[str, int], bool, str]:
    """(messages per topic, every output stamped like an input image, read error or "")."""
    from rosbags.highlevel import AnyReader

    from face_anything_ros.outputs.msg_types import face_anything_typestore

    typestore = face_anything_typestore()
    try:
        with AnyReader([in_bag], default_typestore=typestore) as reader:
            images = [c for c in reader.connections if c.msgtype == "sensor_msgs/msg/Image"]
            inputs = {_stamp_ns(reader.deserialize(raw, c.msgtype)) for c, _, raw in reader.messages(images)}
        counts: dict[str, int] = {}
        stamps_ok = True
        with AnyReader([out_bag], default_typestore=typestore) as reader:
            for connection, _, raw in reader.messages():
                counts[connection.topic] = counts.get(connection.topic, 0) + 1
                if connection.topic in (f"{namespace}/faces", f"{namespace}/depth"):
                    msg = reader.deserialize(raw, connection.msgtype)
                    stamps_ok &= _stamp_ns(msg) in inputs
        return counts, stamps_ok, ""
    except Exception as exc:  # any failure to read is the finding
        return {}, False, f"{type(exc).__name__}: {exc}"


def _stamp_ns(msg: Any) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)

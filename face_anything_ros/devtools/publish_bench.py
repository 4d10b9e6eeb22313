"""Time the node's output path: building and publishing each message, per frame.

``python -m face_anything_ros.devtools.publish_bench`` runs the real ``FacePipeline`` on the bundled
sample frames (one face, 640×480), hands the results to a real ``FaceAnythingNode`` and times, per
output, the message building (``conversions``) and ``publisher.publish`` with a subscriber in
another process (so every output is built and crosses Fast DDS as in deployment). ``--no-sink``
times the building alone (no subscriber: nothing crosses DDS).
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from face_anything_ros.outputs.output_table import OUTPUT_TABLE, ProcessedFrame, enabled_outputs
from face_anything_ros.outputs.params import NodeParams, build_pipeline

ALL_OUTPUTS_ON = {spec.enabled_by: True for spec in OUTPUT_TABLE}
SINK_TOPICS: tuple[tuple[str, str], ...] = tuple((spec.topic, spec.type_name) for spec in OUTPUT_TABLE)
DEFAULT_OUTPUTS = tuple(spec.name for spec in enabled_outputs(NodeParams()))  # on with the node's defaults
DISCOVERY_TIMEOUT_S = 20.0
SETTLE_S = 1.0  # after discovery, before timing
FRAME_GAP_S = 0.03  # between timed frames: lets the subscriber drain, as a 30 Hz camera would


@dataclass(frozen=True)
class SampleResults:
    """Pipeline results on the bundled sample frames (what the node publishes)."""

    frames: list[np.ndarray]
    results: list[Any]
    intrinsics: Any
    pipeline: Any


def sample_results(count: int = 12, weights: str | None = None) -> SampleResults:
    """Run the pipeline as the node builds it (``weights`` None = shipped) over the first ``count`` sample frames."""
    from face_anything_ros.offline.sample import sample_frames

    frames, intrinsics = sample_frames(count)
    pipeline = build_pipeline(NodeParams(weights=weights or ""))
    results = [pipeline.process(rgb, intrinsics, i / 30.0) for i, rgb in enumerate(frames)]
    return SampleResults(frames=frames, results=results, intrinsics=intrinsics, pipeline=pipeline)


Builder = Callable[[Any, np.ndarray, Any, Any], Any]  # (header, rgb, result, intrinsics) -> message


def table_builders(params: NodeParams | None = None) -> dict[str, Builder]:
    """Every row of the node's output table (outputs/output_table.py) with rclpy messages."""
    from face_anything_ros.outputs.message_kit import RclpyKit

    kit, params = RclpyKit(), params or NodeParams()

    def builder(spec: Any) -> Builder:
        return lambda header, rgb, result, intrinsics: spec.build(
            kit, ProcessedFrame(header, rgb, result, intrinsics), params
        )

    return {spec.name: builder(spec) for spec in OUTPUT_TABLE}


def build_times_ms(
    samples: SampleResults, repeats: int = 3, builders: dict[str, Builder] | None = None
) -> dict[str, list[float]]:
    """Milliseconds to build each output message (no publishing), one value per frame.

    ``builders``: name -> builder (default: every row of the output table). Each value is the best
    of ``repeats`` builds (as ``timeit`` does): on a CPU shared with other jobs the best run
    measures the work, the others mostly how long the scheduler kept us waiting.
    """
    from face_anything_ros.outputs.message_kit import RclpyKit

    builders = builders if builders is not None else table_builders()
    header = RclpyKit().new("std_msgs/msg/Header", frame_id="camera")
    times: dict[str, list[float]] = {name: [] for name in builders}
    for rgb, result in zip(samples.frames, samples.results, strict=True):
        for name, build in builders.items():
            best = np.inf
            for _ in range(repeats):
                start = time.perf_counter()
                build(header, rgb, result, samples.intrinsics)
                best = min(best, 1000.0 * (time.perf_counter() - start))
            times[name].append(best)
    return times


# Where conversions.py and the modules it imports lived before the one-way layout.
_CONVERSIONS_PATHS = ("face_anything_ros/outputs/conversions.py", "face_anything_ros/ros/conversions.py")
_MOVED_MODULES = {
    "face_anything_ros.face_template": "face_anything_ros.core.face_template",
    "face_anything_ros.ros.image_codec": "face_anything_ros.outputs.image_codec",
    "face_anything_ros.ros.message_kit": "face_anything_ros.outputs.message_kit",
}


def conversions_from_git(revision: str) -> ModuleType:
    """``conversions.py`` as it was at ``revision`` (for before/after numbers), old layout included."""
    repo = Path(__file__).resolve().parents[2]
    for path in _CONVERSIONS_PATHS:
        shown = subprocess.run(
            ["git", "-C", str(repo), "show", f"{revision}:{path}"], capture_output=True, text=True
        )
        if shown.returncode == 0:
            break
    else:
        raise FileNotFoundError(
            f"no conversions.py at {revision} (looked for {', '.join(_CONVERSIONS_PATHS)})"
        )
    for old, new in _MOVED_MODULES.items():  # the old source imports the modules under their old names
        sys.modules.setdefault(old, importlib.import_module(new))
    module = ModuleType(f"face_anything_ros.outputs.conversions_at_{revision}")
    sys.modules[module.__name__] = module  # dataclasses look their module up while it executes
    exec(compile(shown.stdout, f"{revision}:{path}", "exec"), module.__dict__)
    return module


def legacy_builders(conversions: ModuleType) -> dict[str, Builder]:
    """The node's first seven outputs built with another version of ``conversions`` (as the node then did)."""
    from face_anything_ros.core.face_template import canonical_to_rgb
    from face_anything_ros.outputs.message_kit import RclpyKit, RosbagsKit
    from face_anything_ros.outputs.msg_types import face_anything_typestore
    from face_anything_ros.outputs.visualize import overlay_image

    kit, cdr_kit = RclpyKit(), RosbagsKit(face_anything_typestore())

    def mesh(header: Any, rgb: np.ndarray, result: Any, intrinsics: Any) -> bytes:
        """As the node did before ``marker_cdr``: rosbags dataclasses, serialized by rosbags."""
        stamp = cdr_kit.new("builtin_interfaces/msg/Time", sec=header.stamp.sec, nanosec=header.stamp.nanosec)
        cdr_header = cdr_kit.new("std_msgs/msg/Header", stamp=stamp, frame_id=header.frame_id)
        markers = conversions.mesh_marker_array(cdr_kit, cdr_header, result)
        return bytes(cdr_kit.typestore.serialize_cdr(markers, markers.__msgtype__))

    return {
        "depth": lambda header, rgb, result, intrinsics: conversions.depth_message(kit, header, result.depth),
        "points": lambda header, rgb, result, intrinsics: conversions.point_cloud_message(
            kit, header, conversions.point_array(result, intrinsics, 1)
        ),
        "faces": lambda header, rgb, result, intrinsics: conversions.face_track_array(kit, header, result),
        "face_poses": lambda header, rgb, result, intrinsics: conversions.face_pose_array(
            kit, header, result
        ),
        "face_mesh": mesh,
        "canonical_image": lambda header, rgb, result, intrinsics: conversions.image_message(
            kit, header, canonical_to_rgb(result.canonical), "rgb8"
        ),
        "overlay": lambda header, rgb, result, intrinsics: conversions.image_message(
            kit, header, overlay_image(rgb, result), "rgb8"
        ),
    }


def publish_times_ms(node: Any, samples: SampleResults, rounds: int = 3) -> dict[str, list[float]]:
    """Per output build/publish ms and the whole ``publish_outputs`` ms ("total"), per frame."""
    from face_anything_ros.outputs.message_kit import RclpyKit

    header = RclpyKit().new("std_msgs/msg/Header", frame_id="camera")
    times: dict[str, list[float]] = {}
    for _ in range(rounds):
        for rgb, result in zip(samples.frames, samples.results, strict=True):
            start = time.perf_counter()
            per_output = node.publish_outputs(ProcessedFrame(header, rgb, result, samples.intrinsics))
            per_output["total"] = 1000.0 * (time.perf_counter() - start)
            for name, ms in per_output.items():
                times.setdefault(name, []).append(ms)
            time.sleep(FRAME_GAP_S)
    return times


def run_sink(seconds: float) -> None:
    """Subscribe to every output (deserialising, like a real consumer) for ``seconds``."""
    import rclpy
    from rclpy.executors import ExternalShutdownException

    from face_anything_ros.outputs.message_kit import RclpyKit
    from face_anything_ros.ros.qos import COLLECTOR_QOS

    rclpy.init()
    node = rclpy.create_node("face_anything_publish_bench_sink")
    kit = RclpyKit()
    for topic, type_name in SINK_TOPICS:
        node.create_subscription(kit.message_class(type_name), topic, lambda _msg: None, COLLECTOR_QOS)
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end and rclpy.ok():
            rclpy.spin_once(node, timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):  # terminated by the benchmark: done
        pass
    node.destroy_node()
    rclpy.try_shutdown()


def _wait_for_subscribers(node: Any) -> None:
    deadline = time.monotonic() + DISCOVERY_TIMEOUT_S
    while time.monotonic() < deadline:
        if all(count > 0 for count in node.output_subscriber_counts().values()):
            time.sleep(SETTLE_S)
            return
        time.sleep(0.1)
    raise RuntimeError(f"the subscriber process was not discovered within {DISCOVERY_TIMEOUT_S:.0f} s")


def _print_table(title: str, times: dict[str, list[float]]) -> None:
    print(f"\n{title}  (ms per frame: median / p90)")
    for name, values in times.items():
        print(f"  {name:28s} {np.median(values):7.2f} / {np.percentile(values, 90):7.2f}")
    if "total" in times:  # a publish table: the total is measured, not summed
        return
    frames = np.sum(list(times.values()), axis=0)
    defaults = np.sum([times[name] for name in DEFAULT_OUTPUTS if name in times], axis=0)
    print(f"  {'sum, default outputs':28s} {np.median(defaults):7.2f} / {np.percentile(defaults, 90):7.2f}")
    print(f"  {'sum, all of the above':28s} {np.median(frames):7.2f} / {np.percentile(frames, 90):7.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes over the 12 sample frames (default 3)")
    parser.add_argument("--no-sink", action="store_true", help="time message building only, no subscriber")
    parser.add_argument(
        "--compare-with",
        metavar="GIT_REV",
        help="also time the builders of conversions.py at this git revision, interleaved (before/after)",
    )
    parser.add_argument("--sink", type=float, metavar="SECONDS", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    if args.sink is not None:
        run_sink(args.sink)
        return 0

    import rclpy

    from face_anything_ros.ros.node import FaceAnythingNode

    samples = sample_results()
    faces = [len(r.faces) for r in samples.results]
    print(
        f"{len(samples.frames)} frames {samples.frames[0].shape[1]}x{samples.frames[0].shape[0]}, faces {faces}"
    )
    rclpy.init()
    node = FaceAnythingNode(pipeline=samples.pipeline)
    sink = None
    try:
        if args.compare_with:
            before = legacy_builders(conversions_from_git(args.compare_with))
            for _ in range(args.rounds):  # interleaved, so both see the same load
                _print_table(f"build only, at {args.compare_with}", build_times_ms(samples, builders=before))
                _print_table("build only, now", build_times_ms(samples))
        else:
            _print_table("build only, every output (best of 3 per frame)", build_times_ms(samples))
        if not args.no_sink:
            sink = subprocess.Popen(
                [sys.executable, "-m", "face_anything_ros.devtools.publish_bench", "--sink", "600"]
            )
            _wait_for_subscribers(node)
            defaults = node.params
            _print_table("node defaults, subscribed", publish_times_ms(node, samples, args.rounds))
            node.params = replace(defaults, **ALL_OUTPUTS_ON)
            _print_table("every output on, subscribed", publish_times_ms(node, samples, args.rounds))
    finally:
        if sink is not None:
            sink.terminate()
            sink.wait(10)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The face_anything ROS 2 node: a thin rclpy shell over ``runtime.pipeline.FacePipeline``.

Subscribes ``image`` + ``camera_info``; publishes ``depth``, ``points``, ``faces`` (+ ``face_poses``), ``face_mesh``,
``face_mesh_topology`` (latched), optionally ``canonical_image`` and ``overlay``, and
``/diagnostics``. Inference runs in a worker thread that always takes the newest frame, so the
subscription callback never blocks and latency never grows with a queue. Several cameras = one
node per camera in its own namespace (see launch/multi_camera.launch.py).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from importlib import resources
from typing import Any

import numpy as np
import rclpy
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import (
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)

from face_anything_ros.outputs import conversions
from face_anything_ros.outputs.camera_info import intrinsics_for_image, intrinsics_from_camera_info
from face_anything_ros.outputs.image_codec import ImageDecodeError, image_to_rgb8
from face_anything_ros.outputs.marker_cdr import mesh_marker_array_cdr
from face_anything_ros.outputs.message_kit import RclpyKit
from face_anything_ros.outputs.params import (
    NODE_NAME,
    PARAMETER_SPECS,
    NodeParams,
    ParameterError,
    ParamSpec,
    pipeline_config_from_params,
    with_values,
)
from face_anything_ros.outputs.visualize import overlay_image
from face_anything_ros.ros.frame_worker import LatestFrameWorker
from face_anything_ros.ros.qos import LATCHED_QOS, OUTPUT_QOS

LOGGER = logging.getLogger(__name__)
STATS_WINDOW = 100  # frames averaged in the diagnostics
FAILURE_LOG_PERIOD_S = 10.0  # at most one "inference failed" log line per this period
SILENT_CAMERA_HINT_S = 10.0  # publishers but no frame for this long: log the QoS hint once
QOS_ADAPT_PERIOD_S = 0.5  # how soon qos_reliability=auto follows a new camera publisher
FASTDDS_PROFILES_ENV = "FASTDDS_DEFAULT_PROFILES_FILE"


@dataclass
class Frame:
    """An image waiting for inference, with the intrinsics known when it arrived."""

    image: Any
    camera_info: Any
    received_s: float


@dataclass(frozen=True)
class Output:
    """One per-frame output: its name, the ``publish_*`` parameter that enables it, and its builder."""

    name: str
    enabled_by: str
    publisher: Any
    build: Callable[[Any, np.ndarray, Any, Any], Any]  # (header, rgb, result, intrinsics) -> message


@dataclass
class NodeStats:
    """Counters and recent timings reported on /diagnostics."""

    frames_in: int = 0
    frames_out: int = 0
    failed: int = 0
    incompatible_qos: int = 0  # publishers on `image` that can never match our QoS
    rejected: Counter = field(default_factory=Counter)
    latency_ms: deque = field(default_factory=lambda: deque(maxlen=STATS_WINDOW))
    stage_ms: dict[str, deque] = field(default_factory=dict)
    out_times: deque = field(default_factory=lambda: deque(maxlen=STATS_WINDOW))

    def add_timings(self, timings_ms: dict[str, float]) -> None:
        for stage, ms in timings_ms.items():
            self.stage_ms.setdefault(stage, deque(maxlen=STATS_WINDOW)).append(float(ms))


def _descriptor(spec: ParamSpec) -> ParameterDescriptor:
    descriptor = ParameterDescriptor(description=spec.description, read_only=not spec.live)
    if spec.choices:
        descriptor.additional_constraints = f"one of: {', '.join(spec.choices)}"
    if isinstance(spec.default, float) and spec.min_value is not None:
        descriptor.floating_point_range = [
            FloatingPointRange(from_value=float(spec.min_value), to_value=float(spec.max_value), step=0.0)
        ]
    elif isinstance(spec.default, int) and not isinstance(spec.default, bool) and spec.min_value is not None:
        descriptor.integer_range = [
            IntegerRange(from_value=int(spec.min_value), to_value=int(spec.max_value), step=1)
        ]
    return descriptor


class _RclpyLogHandler(logging.Handler):
    """Bridges the library's ``logging`` records to the node's rclpy logger."""

    def __init__(self, node: Node) -> None:
        super().__init__()
        self._logger = node.get_logger()

    def emit(self, record: logging.LogRecord) -> None:
        text = f"[{record.name}] {record.getMessage()}"
        if record.levelno >= logging.ERROR:
            self._logger.error(text)
        elif record.levelno >= logging.WARNING:
            self._logger.warning(text)
        elif record.levelno >= logging.INFO:
            self._logger.info(text)
        else:
            self._logger.debug(text)


class FaceAnythingNode(Node):
    """Image (+ CameraInfo) in; depth, point cloud, face tracks, mesh and diagnostics out."""

    def __init__(self, node_name: str = NODE_NAME, pipeline: Any | None = None, **node_kwargs: Any) -> None:
        """``pipeline``: an already-built FacePipeline to share (default: built from the parameters)."""
        super().__init__(node_name, **node_kwargs)
        self._kit = RclpyKit()
        self.params = NodeParams()
        self.add_on_set_parameters_callback(self._on_set_parameters)
        for spec in PARAMETER_SPECS:
            self.declare_parameter(spec.name, spec.default, _descriptor(spec))
        self.stats = NodeStats()
        self._logged_once: set[str] = set()
        self._camera_info: Any = None
        self._lock = threading.Lock()

        if pipeline is None:
            from face_anything_ros.runtime.pipeline import FacePipeline  # heavy: torch, model weights

            pipeline = FacePipeline(pipeline_config_from_params(self.params))
        self.pipeline = pipeline
        self.get_logger().info(f"inference backend: {self.pipeline.backend_name}")

        self._input_subscriptions: list[Any] = []
        self._input_reliability: ReliabilityPolicy | None = None
        self._subscribe_inputs(self._wanted_input_reliability() or qos_profile_sensor_data.reliability)
        self._started_s = time.monotonic()
        image_type = self._kit.message_class("sensor_msgs/msg/Image")
        self.pub_depth = self.create_publisher(image_type, "depth", OUTPUT_QOS)
        self.pub_points = self.create_publisher(
            self._kit.message_class("sensor_msgs/msg/PointCloud2"), "points", OUTPUT_QOS
        )
        self.pub_faces = self.create_publisher(
            self._kit.message_class(conversions.FACE_TRACK_ARRAY), "faces", OUTPUT_QOS
        )
        self.pub_poses = self.create_publisher(
            self._kit.message_class("geometry_msgs/msg/PoseArray"), "face_poses", OUTPUT_QOS
        )
        self.pub_mesh = self.create_publisher(
            self._kit.message_class("visualization_msgs/msg/MarkerArray"), "face_mesh", OUTPUT_QOS
        )
        self.pub_canonical = self.create_publisher(image_type, "canonical_image", OUTPUT_QOS)
        self.pub_overlay = self.create_publisher(image_type, "overlay", OUTPUT_QOS)
        self.pub_diagnostics = self.create_publisher(
            self._kit.message_class("diagnostic_msgs/msg/DiagnosticArray"), "/diagnostics", OUTPUT_QOS
        )
        topology = self.create_publisher(
            self._kit.message_class(conversions.FACE_MESH_TOPOLOGY), "face_mesh_topology", LATCHED_QOS
        )
        header = self._kit.new("std_msgs/msg/Header", stamp=self.get_clock().now().to_msg(), frame_id="")
        topology.publish(conversions.mesh_topology_message(self._kit, header))
        self._topology_publisher = topology  # keep it alive: late subscribers get the latched message
        self._outputs = self._make_outputs()

        self.worker: LatestFrameWorker[Frame] = LatestFrameWorker(self._process_frame)
        self.create_timer(self.params.diagnostics_period_s, self._publish_diagnostics)
        if self.params.qos_reliability == "auto":  # read-only: fixed for the node's life
            self.create_timer(QOS_ADAPT_PERIOD_S, self._adapt_input_qos)
        self.get_logger().info(
            f"ready: image={self.resolve_topic_name('image')} camera_info={self.resolve_topic_name('camera_info')} "
            f"qos={self.params.qos_reliability}({self._input_reliability.name.lower()})/{self.params.qos_depth}"
        )

    # --- parameters ---------------------------------------------------------------------------

    def _on_set_parameters(self, parameters: list[Any]) -> SetParametersResult:
        """Validate every change (declaration included); apply it to ``self.params`` if all pass."""
        known = {f.name for f in fields(NodeParams)}
        values = {p.name: p.value for p in parameters if p.name in known}
        try:
            updated = with_values(self.params, values)
        except ParameterError as exc:
            self.get_logger().warning(f"parameter rejected: {exc}")
            return SetParametersResult(successful=False, reason=str(exc))
        self.params = updated
        return SetParametersResult(successful=True)

    # --- inputs -------------------------------------------------------------------------------

    def _on_camera_info(self, msg: Any) -> None:
        with self._lock:
            self._camera_info = msg

    def _on_image(self, msg: Any) -> None:
        self.stats.frames_in += 1
        with self._lock:
            camera_info = self._camera_info
        self.worker.submit(Frame(image=msg, camera_info=camera_info, received_s=time.monotonic()))

    def _wanted_input_reliability(self) -> ReliabilityPolicy | None:
        """The input reliability the parameters ask for; None when ``auto`` has no publisher to match yet.

        ``auto`` matches the camera like rosbag2 does: reliable when every publisher on ``image`` is
        reliable (so large images are repaired by DDS instead of being lost as best-effort fragments),
        best effort as soon as one publisher is best effort (the only QoS that matches it).
        """
        if self.params.qos_reliability == "reliable":
            return ReliabilityPolicy.RELIABLE
        if self.params.qos_reliability == "best_effort":
            return ReliabilityPolicy.BEST_EFFORT
        publishers = self.get_publishers_info_by_topic(self.resolve_topic_name("image"))
        if not publishers:
            return None
        if all(info.qos_profile.reliability == ReliabilityPolicy.RELIABLE for info in publishers):
            return ReliabilityPolicy.RELIABLE
        return ReliabilityPolicy.BEST_EFFORT

    def _subscribe_inputs(self, reliability: ReliabilityPolicy) -> None:
        """(Re)create the image and camera_info subscriptions with ``reliability``."""
        for subscription in self._input_subscriptions:
            self.destroy_subscription(subscription)
        input_qos = QoSProfile(
            depth=self.params.qos_depth,
            reliability=reliability,
            durability=qos_profile_sensor_data.durability,
            history=HistoryPolicy.KEEP_LAST,
        )
        self._input_subscriptions = [
            self.create_subscription(
                self._kit.message_class("sensor_msgs/msg/Image"),
                "image",
                self._on_image,
                input_qos,
                event_callbacks=SubscriptionEventCallbacks(incompatible_qos=self._on_incompatible_qos),
            ),
            self.create_subscription(
                self._kit.message_class("sensor_msgs/msg/CameraInfo"),
                "camera_info",
                self._on_camera_info,
                input_qos,
            ),
        ]
        if self._input_reliability is not None:
            self.get_logger().info(
                f"input QoS now {reliability.name.lower()} to match the camera (qos_reliability=auto)"
            )
        self._input_reliability = reliability

    def _adapt_input_qos(self) -> None:
        """With ``qos_reliability: auto``, follow the camera's publishers as they come and go."""
        wanted = self._wanted_input_reliability()
        if wanted is not None and wanted != self._input_reliability:
            self._subscribe_inputs(wanted)

    def _on_incompatible_qos(self, info: Any) -> None:
        """A camera whose QoS cannot match ours never connects: say why, once, and count it."""
        self.stats.incompatible_qos += 1
        self._log_once(
            "incompatible_qos",
            f"a publisher on {self.resolve_topic_name('image')} offers a QoS incompatible with ours "
            f"(qos_reliability={self.params.qos_reliability}; policy id {info.last_policy_kind}): "
            "it will never deliver; set qos_reliability:=best_effort to accept any publisher",
        )

    def _check_silent_camera(self) -> None:
        """Publishers exist but no frame ever arrived: the large-image best-effort trap (README)."""
        if self.stats.frames_in or time.monotonic() - self._started_s < SILENT_CAMERA_HINT_S:
            return
        if self.count_publishers(self.resolve_topic_name("image")) > 0:
            self._log_once(
                "silent_camera",
                f"{self.resolve_topic_name('image')} has publishers but no image arrived in "
                f"{SILENT_CAMERA_HINT_S:.0f} s. With best_effort input, Fast DDS drops images larger than "
                "its shared-memory segment (~0.5 MB): publish the camera reliable (qos_reliability auto or "
                "reliable then matches it), or set FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA on both sides",
            )

    def _log_once(self, key: str, text: str, level: int = logging.WARNING) -> None:
        if key in self._logged_once:
            return
        self._logged_once.add(key)
        logger = self.get_logger()
        (logger.warning if level >= logging.WARNING else logger.info)(text)

    def _intrinsics(self, frame: Frame, width: int, height: int) -> Any:
        from face_anything_ros.runtime.geometry import Intrinsics

        intrinsics = intrinsics_from_camera_info(frame.camera_info) if frame.camera_info is not None else None
        if intrinsics is None:
            reason = "has not arrived (yet)" if frame.camera_info is None else "has an empty/invalid K"
            self._log_once(
                f"no_camera_info_{reason}",
                f"camera_info {reason}: assuming a pinhole with {self.params.default_fov_deg:.0f} deg "
                "horizontal field of view (metric depth and pose scale follow this assumption)",
            )
            return Intrinsics.from_fov(width, height, self.params.default_fov_deg)
        if (intrinsics.width, intrinsics.height) != (width, height):
            self._log_once(
                "camera_info_size",
                f"camera_info is {intrinsics.width}x{intrinsics.height} but images are {width}x{height}: "
                "scaling the intrinsics",
            )
        return intrinsics_for_image(intrinsics, width, height)

    # --- inference + outputs (worker thread) --------------------------------------------------

    def _process_frame(self, frame: Frame) -> None:
        msg = frame.image
        try:
            rgb = image_to_rgb8(msg)
        except ImageDecodeError as exc:
            self.stats.rejected[exc.kind] += 1
            self._log_once(  # keyed by kind only: hostile inputs cannot grow the set or flood the log
                f"reject:{exc.kind}",
                f"image rejected ({exc.kind}; logged once per cause, counted as rejected_{exc.kind}): {exc}",
            )
            return
        height, width = rgb.shape[:2]
        intrinsics = self._intrinsics(frame, width, height)
        stamp_s = msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec
        try:
            result = self.pipeline.process(rgb, intrinsics, stamp_s)
        except Exception as exc:
            self.stats.failed += 1
            self.get_logger().error(  # throttled: a persistent failure must not flood the log
                f"inference failed on frame at t={stamp_s:.3f} (all counted in failed_frames): {exc!r}",
                throttle_duration_sec=FAILURE_LOG_PERIOD_S,
            )
            return
        publish_start = time.perf_counter()
        self._publish_result(msg.header, rgb, result, intrinsics)
        timings = dict(result.timings_ms)
        timings["publish"] = 1000.0 * (time.perf_counter() - publish_start)
        self.stats.add_timings(timings)
        self.stats.latency_ms.append(1000.0 * (time.monotonic() - frame.received_s))
        self.stats.out_times.append(time.monotonic())
        self.stats.frames_out += 1

    def _publish_result(
        self,
        header: Any,
        rgb: np.ndarray,
        result: Any,
        intrinsics: Any,
        timings_ms: dict[str, float] | None = None,
    ) -> None:
        """Build and publish every enabled output that has a subscriber.

        Outputs are volatile, so a message published to nobody is dropped by DDS anyway: skipping it
        changes nothing downstream and saves the building (a late subscriber gets the next frame, as
        before). ``timings_ms`` (optional) receives build and publish times per output.
        """
        for output in self._outputs:
            if not getattr(self.params, output.enabled_by) or output.publisher.get_subscription_count() == 0:
                continue
            start = time.perf_counter()
            msg = output.build(header, rgb, result, intrinsics)
            built = time.perf_counter()
            output.publisher.publish(msg)
            if timings_ms is not None:
                timings_ms[f"{output.name}_build"] = 1000.0 * (built - start)
                timings_ms[f"{output.name}_publish"] = 1000.0 * (time.perf_counter() - built)

    def _make_outputs(self) -> tuple[Output, ...]:
        """The per-frame outputs in publishing order (the cheap, most used ones first)."""
        kit = self._kit

        def depth(header: Any, rgb: np.ndarray, result: Any, intrinsics: Any) -> Any:
            return conversions.depth_message(kit, header, result.depth)

        def points(header: Any, rgb: np.ndarray, result: Any, intrinsics: Any) -> Any:
            cloud = conversions.point_array(result, intrinsics, self.params.points_stride)
            return conversions.point_cloud_message(kit, header, cloud)

        def faces(header: Any, rgb: np.ndarray, result: Any, intrinsics: Any) -> Any:
            return conversions.face_track_array(kit, header, result)

        def poses(header: Any, rgb: np.ndarray, result: Any, intrinsics: Any) -> Any:
            return conversions.face_pose_array(kit, header, result)

        def mesh(header: Any, rgb: np.ndarray, result: Any, intrinsics: Any) -> Any:
            # thousands of points and colours: written straight to CDR and published serialized
            return mesh_marker_array_cdr(header, result)

        def canonical(header: Any, rgb: np.ndarray, result: Any, intrinsics: Any) -> Any:
            return conversions.image_message(
                kit, header, conversions.canonical_rgb_image(result.canonical), "rgb8"
            )

        def overlay(header: Any, rgb: np.ndarray, result: Any, intrinsics: Any) -> Any:
            return conversions.image_message(kit, header, overlay_image(rgb, result), "rgb8")

        return (
            Output("depth", "publish_depth", self.pub_depth, depth),
            Output("points", "publish_points", self.pub_points, points),
            Output("faces", "publish_faces", self.pub_faces, faces),
            Output("face_poses", "publish_faces", self.pub_poses, poses),
            Output("face_mesh", "publish_mesh", self.pub_mesh, mesh),
            Output("canonical_image", "publish_canonical_image", self.pub_canonical, canonical),
            Output("overlay", "publish_overlay", self.pub_overlay, overlay),
        )

    # --- diagnostics --------------------------------------------------------------------------

    def diagnostic_values(self) -> dict[str, Any]:
        """The numbers published on /diagnostics (also used by the demo's summary)."""
        stats, now = self.stats, time.monotonic()
        recent = [t for t in stats.out_times if now - t <= max(5.0, self.params.diagnostics_period_s)]
        rate = (
            (len(recent) - 1) / (recent[-1] - recent[0])
            if len(recent) > 1 and recent[-1] > recent[0]
            else 0.0
        )
        values: dict[str, Any] = {
            "backend": self.pipeline.backend_name,
            "rate_hz": f"{rate:.2f}",
            "frames_in": stats.frames_in,
            "frames_out": stats.frames_out,
            "dropped_frames": self.worker.dropped,
            "rejected_frames": sum(stats.rejected.values()),
            "failed_frames": stats.failed,
            "incompatible_qos_events": stats.incompatible_qos,
            "camera_info": "received"
            if self._camera_info is not None
            else f"none (default {self.params.default_fov_deg:.0f} deg FOV)",
            "latency_ms_mean": f"{np.mean(stats.latency_ms):.1f}" if stats.latency_ms else "n/a",
        }
        for stage, window in sorted(stats.stage_ms.items()):
            values[f"stage_ms_{stage}"] = f"{np.mean(window):.1f}"
        for reason, count in stats.rejected.items():
            values[f"rejected_{reason}"] = count
        return values

    def _publish_diagnostics(self) -> None:
        self._check_silent_camera()
        values = self.diagnostic_values()
        problems = int(values["rejected_frames"]) + int(values["failed_frames"])
        level, text = (1, "some input frames rejected or failed") if problems else (0, "ok")
        header = self._kit.new("std_msgs/msg/Header", stamp=self.get_clock().now().to_msg(), frame_id="")
        self.pub_diagnostics.publish(
            conversions.diagnostic_array(
                self._kit,
                header,
                name=f"face_anything: {self.get_fully_qualified_name()}",
                hardware_id=str(values["backend"]),
                level=level,
                message=text,
                values=values,
            )
        )

    def destroy_node(self) -> None:
        # also called by rclpy's context clean-up on a node whose __init__ failed half-way
        worker = getattr(self, "worker", None)
        if worker is not None:
            worker.stop()
        close = getattr(getattr(self, "pipeline", None), "close", None)
        if close is not None:
            close()
        super().destroy_node()


def use_node_writer_profile() -> None:
    """Point Fast DDS at the node's writer profile (50 ms heartbeats) unless the user chose a profile.

    With the default 3 s heartbeat, a subscriber that drops a fragment of a large reliable output
    (depth, points, images) while busy gets it repaired only 3 s later: measured as 3 s lock-step
    latencies in ``face-anything demo`` once outputs were built fast enough to leave back to back.
    Must run before ``rclpy.init``; affects only this process.
    """
    if FASTDDS_PROFILES_ENV not in os.environ:
        os.environ[FASTDDS_PROFILES_ENV] = str(
            resources.files("face_anything_ros").joinpath("assets", "fastdds", "node_writers.xml")
        )


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``face_anything_node`` (and of ``ros2 run face_anything_ros face_anything_node``)."""
    use_node_writer_profile()
    rclpy.init(args=argv if argv is not None else sys.argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    node = None
    try:
        node = FaceAnythingNode()
        logging.getLogger("face_anything_ros").addHandler(_RclpyLogHandler(node))
        logging.getLogger("face_anything_ros").propagate = False
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):  # SIGINT / SIGTERM: a clean stop, exit 0
        pass
    except Exception as exc:  # start-up errors (bad parameters, missing weights): one clear line
        if not rclpy.ok():  # SIGINT/SIGTERM while starting: rclpy shut the context down under us
            logging.getLogger(NODE_NAME).info("face_anything_node stopped by a signal during start-up")
            return 0
        message = str(exc) or type(exc).__name__
        logging.getLogger(NODE_NAME).error(f"face_anything_node cannot start: {message}")
        return 1
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

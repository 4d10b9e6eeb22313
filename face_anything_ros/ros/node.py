"""The face_anything ROS 2 node: a thin rclpy shell over ``runtime.pipeline.FacePipeline``.

Subscribes ``image`` (or ``<image>/compressed``, parameter ``image_transport``) + ``camera_info``;
publishes ``depth`` (+ ``depth/camera_info``), ``points``, ``faces`` (+ ``face_poses``), ``face_mesh``,
``detections`` (vision_msgs), face frames on ``/tf``, ``face_mesh_topology`` (latched), optionally
``canonical_image`` and ``overlay``, and ``/diagnostics``. Inference runs in a worker thread that always takes the newest frame, so the
subscription callback never blocks and latency never grows with a queue. Several cameras = one
node per camera in its own namespace (see launch/multi_camera.launch.py).

A lifecycle node (``ros/lifecycle.py``; ``autostart`` by default) that runs no inference while no
output has a subscriber (``ros/lazy.py``) and reports windowed health (``ros/diagnostics.py``).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import fields
from typing import Any

import numpy as np
import rclpy
from rcl_interfaces.msg import SetParametersResult
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import (
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)

from face_anything_ros.core.camera import Intrinsics, resolve_intrinsics
from face_anything_ros.outputs import conversions
from face_anything_ros.outputs.camera_info import intrinsics_from_camera_info
from face_anything_ros.outputs.image_codec import ImageDecodeError
from face_anything_ros.outputs.input_transport import decode_to_rgb8, input_transport
from face_anything_ros.outputs.message_kit import RclpyKit
from face_anything_ros.outputs.output_table import OUTPUT_TABLE, ProcessedFrame, output_header
from face_anything_ros.outputs.params import (
    NODE_NAME,
    PARAMETER_SPECS,
    NodeParams,
    ParameterError,
    build_pipeline,
    with_values,
)
from face_anything_ros.ros.diagnostics import HealthMonitor, HealthSettings, NodeSituation, hardware_id
from face_anything_ros.ros.frame_worker import LatestFrameWorker
from face_anything_ros.ros.input_qos import HISTORY_AND_DEPTH_OVERRIDES, pinned_reliability
from face_anything_ros.ros.lazy import DemandTracker, listened_outputs
from face_anything_ros.ros.lifecycle import release_accelerator_memory, start_managed
from face_anything_ros.ros.node_state import Frame, NodeStats, Output, Processed
from face_anything_ros.ros.parameters import parameter_descriptor
from face_anything_ros.ros.process_setup import bridge_library_logging, use_node_writer_profile
from face_anything_ros.ros.qos import LATCHED_QOS, OUTPUT_QOS, TF_QOS

LOGGER = logging.getLogger(__name__)
FAILURE_LOG_PERIOD_S = 10.0  # at most one "inference failed" log line per this period
SILENT_CAMERA_HINT_S = 10.0  # publishers but no frame for this long: log the QoS hint once
QOS_ADAPT_PERIOD_S = 0.5  # how soon qos_reliability=auto follows a new camera publisher


class FaceAnythingNode(LifecycleNode):
    """Image (+ CameraInfo) in; depth, point cloud, face tracks, mesh and diagnostics out.

    A managed (lifecycle) node: ``configure`` loads the weights and picks the backend, ``activate``
    subscribes and starts inference, ``deactivate`` stops it and releases the accelerator's cached
    memory, ``cleanup`` / ``shutdown`` free the model and the publishers. With ``autostart`` (the
    default) the node walks to active by itself, so plain ``ros2 run`` / launch files behave as a
    plain node; ``autostart:=false`` leaves it unconfigured for a lifecycle manager.
    """

    def __init__(self, node_name: str = NODE_NAME, pipeline: Any | None = None, **node_kwargs: Any) -> None:
        """``pipeline``: an already-built FacePipeline to share (default: built from the parameters
        on configure). Raises ``NodeStartError`` when autostart cannot reach active."""
        super().__init__(node_name, **node_kwargs)
        self._kit = RclpyKit()
        self.params = NodeParams()
        self.add_on_set_parameters_callback(self._on_set_parameters)
        for spec in PARAMETER_SPECS:
            self.declare_parameter(spec.name, spec.default, parameter_descriptor(spec))
        self.stats = NodeStats()
        self.health = HealthMonitor()
        self._demand = DemandTracker(self.get_logger().info)
        self._logged_once: set[str] = set()
        self._camera_info: Any = None
        self._lock = threading.Lock()
        self._given_pipeline = pipeline
        self.pipeline: Any = None
        self._input = input_transport(self.params.image_transport, self.resolve_topic_name("image"))
        self.worker: LatestFrameWorker[Frame] | None = None
        self._output_stage: LatestFrameWorker[Processed] | None = None
        self._outputs: tuple[Output, ...] = ()
        self._publishers_made: list[Any] = []
        self._input_subscriptions: list[Any] = []
        self._input_reliability: ReliabilityPolicy | None = None
        self._active_timers: list[Any] = []
        self._diagnostics_timer: Any = None
        self.pub_diagnostics: Any = None
        self._active = False
        self._started_s = time.monotonic()
        self.last_transition_error = ""
        if self.params.autostart:
            start_managed(self)

    # --- lifecycle ----------------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the weights, pick the backend, create the publishers; a failure says why and leaves
        the node unconfigured."""
        try:
            if self._given_pipeline is not None:
                self.pipeline = self._given_pipeline
            else:
                self.pipeline = build_pipeline(self.params)  # heavy: torch, model weights
            self.get_logger().info(f"inference backend: {self.pipeline.backend_name}")
            self._create_publishers()
        except Exception as exc:  # bad weights, backend, config: the transition fails with the reason
            return self._fail_transition("configure", exc)
        self.last_transition_error = ""
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Subscribe to the camera and start the inference worker."""
        try:
            self._started_s = time.monotonic()
            self.health.restart(self._started_s)
            self._demand = DemandTracker(self.get_logger().info)
            # two threads: frame t's messages are built and sent while the model runs on frame t+1
            self._output_stage = LatestFrameWorker(
                self._publish_processed, "face_anything_publish", keep_every=True
            )
            self.worker = LatestFrameWorker(self._process_frame)
            self._subscribe_inputs(self._wanted_input_reliability() or qos_profile_sensor_data.reliability)
            if self.params.qos_reliability == "auto" and self._pinned_reliability() is None:
                self._active_timers.append(self.create_timer(QOS_ADAPT_PERIOD_S, self._adapt_input_qos))
        except Exception as exc:  # e.g. an unusable qos_overrides value
            self._stop_inputs()
            return self._fail_transition("activate", exc)
        self._active = True
        self.get_logger().info(
            f"active, ready: image={self._input.topic} camera_info={self.resolve_topic_name('camera_info')} "
            f"qos={self.params.qos_reliability}({self._input_reliability.name.lower()})/{self.params.qos_depth}"
        )
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Unsubscribe, finish the frame in flight, release the accelerator's cached memory."""
        self._stop_inputs()
        if self.pipeline is not None:
            self.pipeline.reset()  # the stream restarts on the next activation
        release_accelerator_memory()
        self.get_logger().info("inactive: unsubscribed, inference stopped")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._free_configured()
        self.get_logger().info("unconfigured: model and publishers released")
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_inputs()
        self._free_configured()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """An error in a transition: free everything and go back to unconfigured."""
        self._stop_inputs()
        self._free_configured()
        return TransitionCallbackReturn.SUCCESS

    def _fail_transition(self, transition: str, exc: Exception) -> TransitionCallbackReturn:
        """FAILURE returns to the previous state: a failed configure frees what it made."""
        self.last_transition_error = str(exc) or type(exc).__name__
        self.get_logger().error(f"{transition} failed: {self.last_transition_error}")
        if transition == "configure":
            self._free_configured()
        return TransitionCallbackReturn.FAILURE

    def _stop_inputs(self) -> None:
        """Inactive: no subscription, no timer, no worker (the frame in flight is finished)."""
        self._active = False
        for timer in self._active_timers:
            self.destroy_timer(timer)
        self._active_timers = []
        for subscription in self._input_subscriptions:
            self.destroy_subscription(subscription)
        self._input_subscriptions = []
        self._input_reliability = None
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        if self._output_stage is not None:  # after the worker: publishes what it handed over
            self._output_stage.stop()
            self._output_stage = None

    def _free_configured(self) -> None:
        """Unconfigured: no publisher, no model (a pipeline given to the constructor is kept)."""
        if self._diagnostics_timer is not None:
            self.destroy_timer(self._diagnostics_timer)
            self._diagnostics_timer = None
        for publisher in self._publishers_made:
            self.destroy_publisher(publisher)
        self._publishers_made = []
        self._outputs = ()
        self.pub_diagnostics = None
        if self.pipeline is not None and self.pipeline is not self._given_pipeline:
            self.pipeline.close()
        self.pipeline = None
        release_accelerator_memory()

    def _create_publishers(self) -> None:
        """Every publisher of the node, in one place (per-frame outputs, latched topology, diagnostics)."""

        def publisher(type_name: str, topic: str, qos: QoSProfile = OUTPUT_QOS) -> Any:
            made = self.create_publisher(self._kit.message_class(type_name), topic, qos)
            self._publishers_made.append(made)
            return made

        # one publisher per row of the output table (outputs/output_table.py), in its publishing order
        self._outputs = tuple(
            Output(spec, publisher(spec.type_name, spec.topic, TF_QOS if spec.topic == "/tf" else OUTPUT_QOS))
            for spec in OUTPUT_TABLE
        )
        self.pub_diagnostics = publisher("diagnostic_msgs/msg/DiagnosticArray", "/diagnostics")
        topology = publisher(conversions.FACE_MESH_TOPOLOGY, "face_mesh_topology", LATCHED_QOS)
        header = self._kit.new("std_msgs/msg/Header", stamp=self.get_clock().now().to_msg(), frame_id="")
        topology.publish(conversions.mesh_topology_message(self._kit, header))  # latched for late subscribers
        self._diagnostics_timer = self.create_timer(
            self.params.diagnostics_period_s, self._publish_diagnostics
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
        """Count the frame; hand it to inference only when some output is listened to (lazy)."""
        now = time.monotonic()
        self.stats.frames_in += 1
        self.health.record("input", now)
        worker = self.worker
        if worker is None or not self._demand.update(bool(listened_outputs(self._outputs, self.params))):
            self.stats.frames_idle += 1
            return
        with self._lock:
            camera_info = self._camera_info
        if worker.submit(Frame(image=msg, camera_info=camera_info, received_s=now)):
            self.health.record("dropped", now)

    def _wanted_input_reliability(self) -> ReliabilityPolicy | None:
        """The input reliability the parameters ask for; None when ``auto`` has no publisher to match yet.

        ``auto`` matches the camera like rosbag2 does: reliable when every publisher on ``image`` is
        reliable (so large images are repaired by DDS instead of being lost as best-effort fragments),
        best effort as soon as one publisher is best effort (the only QoS that matches it).
        """
        pinned = self._pinned_reliability()
        if pinned is not None:
            return pinned
        if self.params.qos_reliability == "reliable":
            return ReliabilityPolicy.RELIABLE
        if self.params.qos_reliability == "best_effort":
            return ReliabilityPolicy.BEST_EFFORT
        publishers = self.get_publishers_info_by_topic(self._input.topic)
        if not publishers:
            return None
        if all(info.qos_profile.reliability == ReliabilityPolicy.RELIABLE for info in publishers):
            return ReliabilityPolicy.RELIABLE
        return ReliabilityPolicy.BEST_EFFORT

    def _pinned_reliability(self) -> ReliabilityPolicy | None:
        """Reliability set by ``qos_overrides.<image topic>.subscription.reliability`` (wins over auto)."""
        return pinned_reliability(self, self._input.topic)

    def _subscribe_inputs(self, reliability: ReliabilityPolicy) -> None:
        """(Re)create the image and camera_info subscriptions with ``reliability``.

        ``qos_overrides.<topic>.subscription.{history,depth,reliability}`` apply to each input.
        """
        for subscription in self._input_subscriptions:
            self.destroy_subscription(subscription)
        self._input_subscriptions = []

        def input_qos(resolved_topic: str) -> QoSProfile:
            return QoSProfile(
                depth=self.params.qos_depth,
                reliability=pinned_reliability(self, resolved_topic) or reliability,
                durability=qos_profile_sensor_data.durability,
                history=HistoryPolicy.KEEP_LAST,
            )

        self._input_subscriptions = [
            self.create_subscription(
                self._kit.message_class(self._input.type_name),
                self._input.topic,
                self._on_image,
                input_qos(self._input.topic),
                event_callbacks=SubscriptionEventCallbacks(incompatible_qos=self._on_incompatible_qos),
                qos_overriding_options=HISTORY_AND_DEPTH_OVERRIDES,
            ),
            self.create_subscription(
                self._kit.message_class("sensor_msgs/msg/CameraInfo"),
                "camera_info",
                self._on_camera_info,
                input_qos(self.resolve_topic_name("camera_info")),
                qos_overriding_options=HISTORY_AND_DEPTH_OVERRIDES,
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
        self.health.record("incompatible_qos", time.monotonic())
        self._log_once(
            "incompatible_qos",
            f"a publisher on {self._input.topic} offers a QoS incompatible with ours "
            f"(qos_reliability={self.params.qos_reliability}; policy id {info.last_policy_kind}): "
            "it will never deliver; set qos_reliability:=best_effort to accept any publisher",
        )

    def _check_silent_camera(self) -> None:
        """Publishers exist but no frame ever arrived: the large-image best-effort trap (README)."""
        if self.stats.frames_in or time.monotonic() - self._started_s < SILENT_CAMERA_HINT_S:
            return
        if self.count_publishers(self._input.topic) > 0:
            self._log_once(
                "silent_camera",
                f"{self._input.topic} has publishers but no image arrived in "
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

    def _intrinsics(self, frame: Frame, width: int, height: int) -> Intrinsics:
        info, rectified = frame.camera_info, self.params.rectified
        intrinsics = intrinsics_from_camera_info(info, rectified) if info is not None else None
        if intrinsics is None:
            reason = (
                "has not arrived (yet)"
                if info is None
                else f"has an empty/invalid {'P and K' if rectified else 'K'}"
            )
            self._log_once(
                f"no_camera_info_{reason}",
                f"camera_info {reason}: assuming a pinhole with {self.params.default_fov_deg:.0f} deg "
                "horizontal field of view (metric depth and pose scale follow this assumption)",
            )
        elif (intrinsics.width, intrinsics.height) != (width, height):
            self._log_once(
                "camera_info_size",
                f"camera_info is {intrinsics.width}x{intrinsics.height} but images are {width}x{height}: "
                "scaling the intrinsics",
            )
        return resolve_intrinsics(intrinsics, width, height, self.params.default_fov_deg)

    # --- inference + outputs (worker thread) --------------------------------------------------

    def _process_frame(self, frame: Frame) -> None:
        """Convert, infer, publish; every stage's ms goes to the diagnostics (``stage_ms_*``)."""
        msg = frame.image
        convert_start = time.perf_counter()
        timings = {"wait": 1000.0 * (time.monotonic() - frame.received_s)}  # received -> worker picked it
        try:
            rgb = decode_to_rgb8(msg)
        except ImageDecodeError as exc:
            self.stats.rejected[exc.kind] += 1
            self.health.record("rejected", time.monotonic())
            self._log_once(  # keyed by kind only: hostile inputs cannot grow the set or flood the log
                f"reject:{exc.kind}",
                f"image rejected ({exc.kind}; logged once per cause, counted as rejected_{exc.kind}): {exc}",
            )
            return
        height, width = rgb.shape[:2]
        intrinsics = self._intrinsics(frame, width, height)
        stamp_s = msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec
        timings["convert"] = 1000.0 * (time.perf_counter() - convert_start)
        try:
            result = self.pipeline.process(rgb, intrinsics, stamp_s)
        except Exception as exc:
            self.stats.failed += 1
            self.health.record("failed", time.monotonic())
            self.get_logger().error(  # throttled: a persistent failure must not flood the log
                f"inference failed on frame at t={stamp_s:.3f} (all counted in failed_frames): {exc!r}",
                throttle_duration_sec=FAILURE_LOG_PERIOD_S,
            )
            return
        timings.update(result.timings_ms)
        processed = Processed(
            output_header(self._kit, msg.header, self.params),
            rgb,
            result,
            intrinsics,
            timings,
            frame.received_s,
        )
        stage = self._output_stage
        if stage is not None:
            stage.submit(processed)  # waits while the previous frame is still being published
        else:
            self._publish_processed(processed)

    def _publish_processed(self, processed: Processed) -> None:
        """Output stage: build and publish, then count the frame as answered."""
        timings, publish_start = processed.timings_ms, time.perf_counter()
        frame = ProcessedFrame(processed.header, processed.rgb, processed.result, processed.intrinsics)
        timings.update(self.publish_outputs(frame))
        timings["publish"] = 1000.0 * (time.perf_counter() - publish_start)
        self.stats.add_timings(timings)
        self.stats.latency_ms.append(1000.0 * (time.monotonic() - processed.received_s))
        self.health.record("output", time.monotonic())
        self.stats.frames_out += 1

    def publish_outputs(self, frame: ProcessedFrame) -> dict[str, float]:
        """Build and publish every enabled output that has a subscriber; ms per output back.

        Outputs are volatile, so a message published to nobody is dropped by DDS anyway: skipping it
        changes nothing downstream and saves the building (a late subscriber gets the next frame).
        Returns ``<name>_build`` and ``<name>_publish`` milliseconds for each output published.
        """
        timings_ms: dict[str, float] = {}
        for output in listened_outputs(self._outputs, self.params):
            start = time.perf_counter()
            msg = output.spec.build(self._kit, frame, self.params)
            built = time.perf_counter()
            output.publisher.publish(msg)
            timings_ms[f"{output.name}_build"] = 1000.0 * (built - start)
            timings_ms[f"{output.name}_publish"] = 1000.0 * (time.perf_counter() - built)
            self.stats.published[output.name] += 1
        return timings_ms

    def output_subscriber_counts(self) -> dict[str, int]:
        """Subscribers of every per-frame output, by output name."""
        return {output.name: output.publisher.get_subscription_count() for output in self._outputs}

    # --- diagnostics --------------------------------------------------------------------------

    def _situation(self) -> NodeSituation:
        image_topic = self._input.topic
        return NodeSituation(
            now_s=time.monotonic(),
            active=self._active,
            processing=bool(listened_outputs(self._outputs, self.params)),
            image_publishers=self.count_publishers(image_topic),
            camera_info_received=self._camera_info is not None,
            image_topic=image_topic,
        )

    def assess_health(self) -> Any:
        """The windowed level, message and figures (``diagnostics.Health``) with the live thresholds."""
        params = self.params
        self.health.settings = HealthSettings(
            window_s=params.diagnostics_window_s,
            expected_rate_hz=params.expected_rate_hz,
            rate_tolerance=params.rate_tolerance,
            stale_after_s=params.stale_after_s,
        )
        return self.health.assess(self._situation())

    def diagnostic_values(self, health: Any | None = None) -> dict[str, Any]:
        """The numbers published on /diagnostics (also used by the demo's summary): the windowed
        figures of ``health`` first, then lifetime counters and mean stage timings."""
        stats = self.stats
        health = health or self.assess_health()
        values: dict[str, Any] = {
            "backend": self.pipeline.backend_name if self.pipeline is not None else "none (unconfigured)",
            **health.values,
            "frames_in": stats.frames_in,
            "frames_out": stats.frames_out,
            "frames_idle": stats.frames_idle,
            "dropped_frames": self.worker.dropped if self.worker is not None else 0,
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
        for output, count in stats.published.items():  # what subscribers' delivery is counted against
            values[f"published_{output}"] = count
        return values

    def _publish_diagnostics(self) -> None:
        if self._active:
            self._check_silent_camera()
        health = self.assess_health()
        values = self.diagnostic_values(health)
        device = str(self.pipeline.device) if self.pipeline is not None else "none"
        header = self._kit.new("std_msgs/msg/Header", stamp=self.get_clock().now().to_msg(), frame_id="")
        self.pub_diagnostics.publish(
            conversions.diagnostic_array(
                self._kit,
                header,
                name=f"face_anything: {self.get_fully_qualified_name()}",
                hardware_id=hardware_id(device),
                level=health.level,
                message=health.message,
                values=values,
            )
        )

    def destroy_node(self) -> None:
        # also called by rclpy's context clean-up on a node whose __init__ failed half-way
        if hasattr(self, "_publishers_made"):
            self._stop_inputs()
            self._free_configured()
        given = getattr(self, "_given_pipeline", None)
        if given is not None:  # a shared pipeline is closed with the node, as before
            given.close()
        super().destroy_node()


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``face_anything_node`` (and of ``ros2 run face_anything_ros face_anything_node``)."""
    use_node_writer_profile()
    rclpy.init(args=argv if argv is not None else sys.argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    node = None
    try:
        node = FaceAnythingNode()
        bridge_library_logging(node)
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

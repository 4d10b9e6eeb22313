"""A camera-side rclpy client of face_anything_node: publishes frames, collects every output by stamp.

Used by ``face-anything demo`` (the bundled sample through the real node over DDS) and by the
node's integration tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

from face_anything_ros.core.camera import Intrinsics
from face_anything_ros.outputs import conversions
from face_anything_ros.outputs.detections import DETECTION_2D_ARRAY
from face_anything_ros.outputs.image_bag import camera_info_message, header
from face_anything_ros.outputs.message_kit import RclpyKit
from face_anything_ros.ros.qos import COLLECTOR_QOS, LATCHED_QOS

RELIABLE = COLLECTOR_QOS
# output topic -> message type
OUTPUT_TOPICS: dict[str, str] = {
    "depth": "sensor_msgs/msg/Image",
    "depth/camera_info": "sensor_msgs/msg/CameraInfo",
    "detections": DETECTION_2D_ARRAY,
    "points": "sensor_msgs/msg/PointCloud2",
    "faces": conversions.FACE_TRACK_ARRAY,
    "face_poses": "geometry_msgs/msg/PoseArray",
    "face_mesh": "visualization_msgs/msg/MarkerArray",
    "canonical_image": "sensor_msgs/msg/Image",
    "overlay": "sensor_msgs/msg/Image",
}


def wait_for_subscriber(
    node: Node, topic: str, timeout_s: float, alive: Callable[[], bool] = lambda: True
) -> bool:
    """True once ``topic`` has a subscriber (the face node: model loaded, ready); False on timeout or
    when ``alive()`` turns false (the node process exited)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        if node.count_subscribers(topic) > 0:
            return True
        time.sleep(0.1)
    return False


def wait_for_reliable_match(
    node: Node, publisher: Any, timeout_s: float, alive: Callable[[], bool] = lambda: True
) -> bool:
    """True once every subscription on ``publisher``'s topic is reliable and ``publisher`` has
    matched one; False on timeout or when ``alive()`` turns false.

    A node with ``qos_reliability: auto`` that subscribed before it saw this publisher subscribes
    best effort first and re-subscribes reliable within ~0.5 s; a large frame sent before that is
    lost (volatile topic), so senders that need the first frame answered wait for this.
    """
    from rclpy.qos import ReliabilityPolicy

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        subscriptions = node.get_subscriptions_info_by_topic(publisher.topic_name)
        reliable = all(s.qos_profile.reliability == ReliabilityPolicy.RELIABLE for s in subscriptions)
        if subscriptions and reliable and publisher.get_subscription_count() > 0:
            return True
        time.sleep(0.1)
    return False


def stamp_ns_of(msg_header: Any) -> int:
    return int(msg_header.stamp.sec) * 1_000_000_000 + int(msg_header.stamp.nanosec)


@dataclass
class Received:
    """Outputs of one input frame, keyed by topic, with arrival times."""

    messages: dict[str, Any] = field(default_factory=dict)
    arrival_s: dict[str, float] = field(default_factory=dict)


class StreamClient(Node):
    """Publishes ``<camera>/image_raw`` + ``camera_info``; subscribes the node's outputs in ``<outputs>``."""

    def __init__(
        self,
        camera_namespace: str,
        output_namespace: str,
        name: str = "face_anything_client",
        **node_kwargs: Any,
    ) -> None:
        super().__init__(name, **node_kwargs)
        self.kit = RclpyKit()
        self.image_topic = f"{camera_namespace}/image_raw"
        self.camera_info_topic = f"{camera_namespace}/camera_info"
        self.pub_image = self.create_publisher(
            self.kit.message_class("sensor_msgs/msg/Image"), self.image_topic, RELIABLE
        )
        self.pub_info = self.create_publisher(
            self.kit.message_class("sensor_msgs/msg/CameraInfo"), self.camera_info_topic, RELIABLE
        )
        self._lock = threading.Condition()
        self.received: dict[int, Received] = {}
        self.sent_s: dict[int, float] = {}
        self.topology: Any = None
        self.diagnostics: list[Any] = []
        for topic, type_name in OUTPUT_TOPICS.items():
            self.create_subscription(
                self.kit.message_class(type_name),
                f"{output_namespace}/{topic}",
                self._collector(topic),
                RELIABLE,
            )
        self.create_subscription(
            self.kit.message_class(conversions.FACE_MESH_TOPOLOGY),
            f"{output_namespace}/face_mesh_topology",
            self._on_topology,
            LATCHED_QOS,
        )
        self.create_subscription(
            self.kit.message_class("diagnostic_msgs/msg/DiagnosticArray"),
            "/diagnostics",
            self._on_diagnostics,
            RELIABLE,
        )

    def _collector(self, topic: str) -> Callable[[Any], None]:
        def collect(msg: Any) -> None:
            msg_header = msg.markers[0].header if topic == "face_mesh" else msg.header
            with self._lock:
                entry = self.received.setdefault(stamp_ns_of(msg_header), Received())
                entry.messages[topic] = msg
                entry.arrival_s[topic] = time.monotonic()
                self._lock.notify_all()

        return collect

    def _on_topology(self, msg: Any) -> None:
        with self._lock:
            self.topology = msg
            self._lock.notify_all()

    def _on_diagnostics(self, msg: Any) -> None:
        with self._lock:
            self.diagnostics.append(msg)
            self._lock.notify_all()

    def latest_diagnostics(self) -> dict[str, str]:
        """Key/values of the newest /diagnostics message ({} before the first)."""
        with self._lock:
            if not self.diagnostics:
                return {}
            return {kv.key: kv.value for status in self.diagnostics[-1].status for kv in status.values}

    def wait_for_diagnostics(
        self, predicate: Callable[[dict[str, str]], bool], timeout_s: float
    ) -> dict[str, str]:
        """The newest diagnostics once ``predicate(values)`` holds, or the newest at the timeout."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            self._lock.wait_for(
                lambda: (
                    bool(self.diagnostics)
                    and predicate({kv.key: kv.value for s in self.diagnostics[-1].status for kv in s.values})
                ),
                max(0.0, deadline - time.monotonic()),
            )
        return self.latest_diagnostics()

    def wait_for_node(self, timeout_s: float, alive: Callable[[], bool] = lambda: True) -> bool:
        """Wait until the node subscribes to the image topic (model loaded, ready)."""
        return wait_for_subscriber(self, self.image_topic, timeout_s, alive)

    def send(
        self,
        rgb: np.ndarray,
        intrinsics: Intrinsics | None,
        stamp_ns: int,
        frame_id: str = "camera_optical_frame",
        encoding: str = "rgb8",
    ) -> None:
        """Publish CameraInfo (if intrinsics) and the frame with the same header."""
        msg_header = header(self.kit, stamp_ns, frame_id)
        if intrinsics is not None:
            self.pub_info.publish(camera_info_message(self.kit, msg_header, intrinsics))
        pixels = np.ascontiguousarray(rgb[..., ::-1]) if encoding in ("bgr8", "bgra8") else rgb
        self.sent_s[stamp_ns] = time.monotonic()
        self.pub_image.publish(conversions.image_message(self.kit, msg_header, pixels, encoding))

    def send_camera_info(
        self, intrinsics: Intrinsics, stamp_ns: int, frame_id: str = "camera_optical_frame"
    ) -> None:
        """Publish CameraInfo alone (e.g. before the first frame, so the node has it in time)."""
        self.pub_info.publish(camera_info_message(self.kit, header(self.kit, stamp_ns, frame_id), intrinsics))

    def publish_raw(self, msg: Any) -> None:
        """Publish an arbitrary (possibly malformed) Image message."""
        self.pub_image.publish(msg)

    def wait_for(self, stamp_ns: int, topics: tuple[str, ...], timeout_s: float) -> Received | None:
        """Outputs of frame ``stamp_ns`` once all ``topics`` arrived (None on timeout)."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            done = self._lock.wait_for(
                lambda: set(topics) <= set(self.received.get(stamp_ns, Received()).messages),
                max(0.0, deadline - time.monotonic()),
            )
            return self.received[stamp_ns] if done else None


@contextmanager
def spinning_stream_clients() -> Iterator[Callable[[str, str, str], StreamClient]]:
    """Yield ``make(camera, outputs, name) -> StreamClient``: clients in one fresh rclpy context, spun on a
    background thread from the first one on; on exit the executor stops and every client and the
    context are shut down, so callers (demo, probes, tests) never repeat that bookkeeping."""
    context = Context()
    rclpy.init(context=context)
    executor = SingleThreadedExecutor(context=context)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    clients: list[StreamClient] = []

    def make(camera: str, outputs: str, name: str) -> StreamClient:
        client = StreamClient(camera, outputs, name=name, context=context)
        executor.add_node(client)
        clients.append(client)
        if not spinner.is_alive():
            spinner.start()
        return client

    try:
        yield make
    finally:
        executor.shutdown()
        if spinner.is_alive():
            spinner.join(5.0)
        for client in clients:
            client.destroy_node()
        context.try_shutdown()

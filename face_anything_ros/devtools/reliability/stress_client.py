"""The camera side of a stress run: publishes Image + CameraInfo, timestamps every output it gets back.

Unlike ``ros.stream_client.StreamClient`` (which keeps whole messages for the demo) it keeps only
a few numbers per frame, so a 10,000-frame soak does not measure the client's own memory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

from face_anything_ros.outputs import conversions
from face_anything_ros.outputs.message_kit import RclpyKit
from face_anything_ros.ros.stream_client import stamp_ns_of, wait_for_subscriber

HANDSHAKE_PERIOD_S = 1.0
HANDSHAKE_SIZE = (64, 48)
QUEUE = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
WATCHED_OUTPUTS: dict[str, str] = {
    "faces": conversions.FACE_TRACK_ARRAY,
    "depth": "sensor_msgs/msg/Image",
}


@dataclass
class OutputLog:
    """Per input stamp: wall-clock arrival (ns) of each watched output, and faces reported."""

    arrival_ns: dict[str, dict[int, int]] = field(default_factory=dict)
    faces: dict[int, int] = field(default_factory=dict)


class StressClient(Node):
    """Publishes ``<camera>/image_raw`` and ``camera_info``; listens to ``<outputs>/{faces,depth}``."""

    def __init__(self, camera: str, outputs: str, node_fqn: str, name: str, **node_kwargs: Any) -> None:
        super().__init__(name, **node_kwargs)
        self.kit = RclpyKit()
        self.image_topic = f"{camera}/image_raw"
        self.pub_image = self.create_publisher(
            self.kit.message_class("sensor_msgs/msg/Image"), self.image_topic, QUEUE
        )
        self.pub_info = self.create_publisher(
            self.kit.message_class("sensor_msgs/msg/CameraInfo"), f"{camera}/camera_info", QUEUE
        )
        self._condition = threading.Condition()
        self.log = OutputLog(arrival_ns={topic: {} for topic in WATCHED_OUTPUTS})
        self._diagnostics: dict[str, str] = {}
        self._diagnostics_count = 0
        self._status_name = f"face_anything: {node_fqn}"
        for topic, type_name in WATCHED_OUTPUTS.items():
            self.create_subscription(
                self.kit.message_class(type_name), f"{outputs}/{topic}", self._collector(topic), QUEUE
            )
        self.create_subscription(
            self.kit.message_class("diagnostic_msgs/msg/DiagnosticArray"),
            "/diagnostics",
            self._on_diagnostics,
            QUEUE,
        )

    def _collector(self, topic: str) -> Callable[[Any], None]:
        arrivals = self.log.arrival_ns[topic]

        def collect(msg: Any) -> None:
            now = time.time_ns()
            stamp = stamp_ns_of(msg.header)
            with self._condition:
                arrivals.setdefault(stamp, now)
                if topic == "faces":
                    self.log.faces[stamp] = len(msg.faces)
                self._condition.notify_all()

        return collect

    def _on_diagnostics(self, msg: Any) -> None:
        for status in msg.status:
            if status.name == self._status_name:
                with self._condition:
                    self._diagnostics = {kv.key: kv.value for kv in status.values}
                    self._diagnostics_count += 1
                    self._condition.notify_all()

    # --- publishing ---------------------------------------------------------------------------

    def publish(self, image: Any, stamp_ns: int, camera_info: Any | None = None) -> None:
        """Publish ``image`` (and ``camera_info``) stamped ``stamp_ns`` (messages are reused)."""
        for msg in (camera_info, image):
            if msg is not None:
                msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
                (self.pub_info if msg is camera_info else self.pub_image).publish(msg)

    # --- waiting ------------------------------------------------------------------------------

    def wait_for_node(self, timeout_s: float, alive: Callable[[], bool]) -> bool:
        """True once the node subscribes to the image topic (model loaded), False on timeout/exit."""
        return wait_for_subscriber(self, self.image_topic, timeout_s, alive)

    def handshake(self, timeout_s: float, period_s: float = HANDSHAKE_PERIOD_S) -> int:
        """Send a blank frame every ``period_s`` until one is answered (DDS endpoints matched both ways).

        Seeing the node's subscription in the graph does not mean the first sample reaches it;
        a blank frame has no face, so the model is not run. Returns the frames sent (0: no answer).
        """
        from face_anything_ros.outputs import conversions
        from face_anything_ros.outputs.image_bag import header

        blank = np.full((HANDSHAKE_SIZE[1], HANDSHAKE_SIZE[0], 3), 127, np.uint8)
        msg = conversions.image_message(self.kit, header(self.kit, 0, "camera_optical_frame"), blank, "rgb8")
        deadline = time.monotonic() + timeout_s
        sent: list[int] = []
        while time.monotonic() < deadline:
            stamp = time.time_ns()
            self.publish(msg, stamp)
            sent.append(stamp)
            with self._condition:
                if self._condition.wait_for(
                    lambda: any(s in self.log.arrival_ns["faces"] for s in sent), period_s
                ):
                    return len(sent)
        return 0

    def wait_for_output(self, stamp_ns: int, timeout_s: float, topics: tuple[str, ...] = ("faces",)) -> bool:
        with self._condition:
            return self._condition.wait_for(
                lambda: all(stamp_ns in self.log.arrival_ns[t] for t in topics), timeout_s
            )

    def diagnostics(self) -> dict[str, str]:
        with self._condition:
            return dict(self._diagnostics)

    def wait_for_diagnostics(
        self, predicate: Callable[[dict[str, str]], bool], timeout_s: float
    ) -> dict[str, str]:
        """The node's newest diagnostics once ``predicate`` holds on a fresh message (or at the timeout)."""
        deadline = time.monotonic() + timeout_s
        with self._condition:
            seen = self._diagnostics_count
            self._condition.wait_for(
                lambda: self._diagnostics_count > seen and predicate(self._diagnostics),
                max(0.0, deadline - time.monotonic()),
            )
            return dict(self._diagnostics)


def counter(values: dict[str, str], key: str) -> int:
    """An integer diagnostics value (0 when absent)."""
    return int(values.get(key, 0) or 0)


FINISHED_KEYS = ("frames_out", "dropped_frames", "rejected_frames", "failed_frames")


def finished(values: dict[str, str]) -> int:
    """Frames the node is done with: processed, dropped (newer frame came), rejected or failed."""
    return sum(counter(values, key) for key in FINISHED_KEYS)


def settled(values: dict[str, str], received: int | None = None) -> bool:
    """The node is done with every frame it received (and received ``received`` of them, if given)."""
    frames_in = counter(values, "frames_in")
    return bool(values) and finished(values) == frames_in and received in (None, frames_in)

"""Our messages and sensor_msgs/Image travel over real DDS (rclpy + Fast DDS) without losing a field.

Also run as a script (``python test_foundation_dds.py publish SEED``) to publish from a second
process, so one test crosses a process boundary like the node and its consumers do.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

N_QUERY_POINTS = 5
N_MESH_VERTICES = 468
CROSS_PROCESS_TOPIC = "foundation_cross_process_faces"
pytestmark = pytest.mark.ros


def filled_face_track_array(msgs: ModuleType, seed: int) -> Any:
    """A FaceTrackArray (two faces) whose every leaf field differs from its default value."""
    rng = np.random.default_rng(seed)
    array_msg = msgs.FaceTrackArray()
    array_msg.header.stamp.sec = 1_700_000_000 + seed
    array_msg.header.stamp.nanosec = 123_456_789
    array_msg.header.frame_id = "camera_optical_frame"
    for index in range(2):
        face = msgs.FaceTrack()
        face.id = 41 + index
        face.age = 7 + index
        face.uuid.uuid = np.arange(1 + index, 17 + index, dtype=np.uint8)
        face.roi.x_offset, face.roi.y_offset, face.roi.width, face.roi.height = 10, 20, 300, 400
        face.roi.do_rectify = True
        face.confidence = 0.875
        face.detector = "face_mesh"
        face.pose_valid = True
        face.pose.position.x, face.pose.position.y, face.pose.position.z = 0.01, -0.02, 0.6
        face.pose.orientation.x, face.pose.orientation.y = 0.5, -0.5
        face.pose.orientation.z, face.pose.orientation.w = 0.5, 0.5
        face.scale = 0.125  # float32 fields: values exactly representable in float32
        face.query_names = [f"point_{i}" for i in range(N_QUERY_POINTS)]
        face.query_canonical = rng.uniform(-0.8, 0.8, N_QUERY_POINTS * 3).astype(np.float32)
        pixels = rng.uniform(0, 640, N_QUERY_POINTS * 2).astype(np.float32)
        pixels[:2] = np.nan  # an invisible point carries NaN
        face.pixels = pixels
        face.points = rng.uniform(-1, 1, N_QUERY_POINTS * 3).astype(np.float32)
        face.visible = [False] + [True] * (N_QUERY_POINTS - 1)
        face.pixel_uncertainty = rng.uniform(0.1, 4.0, N_QUERY_POINTS).astype(np.float32)
        face.mesh_vertices = rng.normal(0, 0.05, N_MESH_VERTICES * 3).astype(np.float32)
        # Python bools: rclpy serialises a *list* of numpy bools as all False (numpy arrays are fine).
        face.mesh_visible = (rng.uniform(size=N_MESH_VERTICES) > 0.3).tolist()
        array_msg.faces.append(face)
    return array_msg


def message_leaves(message: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf field of a message by dotted path; arrays as numpy arrays."""
    leaves: dict[str, Any] = {}
    for name in type(message).get_fields_and_field_types():
        value = getattr(message, name)
        path = f"{prefix}{name}"
        if hasattr(type(value), "get_fields_and_field_types"):
            leaves.update(message_leaves(value, f"{path}."))
        elif isinstance(value, list) and value and hasattr(type(value[0]), "get_fields_and_field_types"):
            leaves[f"{path}.len"] = len(value)
            for index, item in enumerate(value):
                leaves.update(message_leaves(item, f"{path}[{index}]."))
        elif isinstance(value, str | bool | int | float | bytes):
            leaves[path] = value
        else:
            leaves[path] = np.asarray(value)
    return leaves


def assert_same_message(received: Any, sent: Any) -> None:
    sent_leaves, received_leaves = message_leaves(sent), message_leaves(received)
    assert received_leaves.keys() == sent_leaves.keys()
    for path, expected in sent_leaves.items():
        if isinstance(expected, np.ndarray):
            np.testing.assert_array_equal(received_leaves[path], expected, err_msg=path)
        else:
            assert received_leaves[path] == expected, path


def exchange(make_node: Any, spin_until: Any, message: Any, topic: str, qos: Any = 10) -> Any:
    """Publish ``message`` from one node and return what a second node receives."""
    received: list[Any] = []
    subscriber = make_node("foundation_subscriber")
    publisher_node = make_node("foundation_publisher")
    subscriber.create_subscription(type(message), topic, received.append, qos)
    publisher = publisher_node.create_publisher(type(message), topic, qos)

    def published_and_received() -> bool:
        if not received:
            publisher.publish(message)
        return bool(received)

    assert spin_until(published_and_received, subscriber, publisher_node, timeout_s=15.0), "nothing arrived"
    return received[0]


def test_filled_message_sets_every_field_away_from_its_default(face_msgs: ModuleType) -> None:
    """Guards the round-trip tests: a field left at its default could hide a lost field."""
    filled = message_leaves(filled_face_track_array(face_msgs, seed=1).faces[0])
    default = message_leaves(face_msgs.FaceTrack())
    same_as_default = [
        path
        for path, value in filled.items()
        if path in default
        and (
            np.array_equal(value, default[path]) if isinstance(value, np.ndarray) else value == default[path]
        )
    ]
    assert same_as_default == []


def test_face_track_array_round_trips_every_field_over_dds(
    face_msgs: ModuleType, make_node: Any, spin_until: Any
) -> None:
    sent = filled_face_track_array(face_msgs, seed=2)
    received = exchange(make_node, spin_until, sent, "foundation_faces")
    assert_same_message(received, sent)
    assert np.isnan(np.asarray(received.faces[0].pixels)[:2]).all()


def test_face_track_array_crosses_a_process_boundary(
    face_msgs: ModuleType, make_node: Any, spin_until: Any
) -> None:
    received: list[Any] = []
    node = make_node("foundation_cross_process_subscriber")
    node.create_subscription(face_msgs.FaceTrackArray, CROSS_PROCESS_TOPIC, received.append, 10)
    publisher = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "publish", "3"],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        arrived = spin_until(lambda: bool(received) or publisher.poll() is not None, node, timeout_s=30.0)
    finally:
        publisher.kill()
        _, stderr = publisher.communicate()
    assert arrived and received, f"no message from the publisher process: {stderr.decode()[-2000:]}"
    assert_same_message(received[0], filled_face_track_array(face_msgs, seed=3))


def test_image_round_trips_over_dds(make_node: Any, spin_until: Any) -> None:
    from sensor_msgs.msg import Image

    height, width = 48, 64
    pixels = np.random.default_rng(4).integers(0, 256, (height, width, 3), dtype=np.uint8)
    sent = Image(height=height, width=width, encoding="rgb8", is_bigendian=0, step=width * 3)
    sent.header.frame_id = "camera_optical_frame"
    sent.header.stamp.sec, sent.header.stamp.nanosec = 12, 345
    sent.data = pixels.tobytes()
    received = exchange(make_node, spin_until, sent, "foundation_image")
    assert (received.height, received.width, received.encoding, received.step) == (height, width, "rgb8", 192)
    assert received.header == sent.header
    np.testing.assert_array_equal(
        np.frombuffer(bytes(received.data), np.uint8).reshape(height, width, 3), pixels
    )


def test_mesh_topology_reaches_a_late_subscriber_with_transient_local_qos(
    face_msgs: ModuleType, make_node: Any, spin_until: Any
) -> None:
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    latched = QoSProfile(
        depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE
    )
    rng = np.random.default_rng(5)
    sent = face_msgs.FaceMeshTopology()
    sent.header.frame_id = ""
    sent.header.stamp.sec = 99
    sent.canonical_vertices = rng.uniform(-0.8, 0.8, 468 * 3).astype(np.float32)
    sent.triangles = rng.integers(0, 468, 898 * 3).astype(np.uint32)
    sent.landmark_names = ["nose_tip", "right_eye_outer"]
    sent.landmark_indices = np.array([1, 33], dtype=np.uint32)

    publisher_node = make_node("foundation_topology_publisher")
    publisher_node.create_publisher(face_msgs.FaceMeshTopology, "foundation_topology", latched).publish(sent)
    received: list[Any] = []
    subscriber = make_node("foundation_topology_subscriber")  # created after the one publish
    subscriber.create_subscription(
        face_msgs.FaceMeshTopology, "foundation_topology", received.append, latched
    )
    assert spin_until(lambda: bool(received), subscriber, publisher_node, timeout_s=15.0)
    assert len(received) == 1
    assert_same_message(received[0], sent)


def test_rclpy_serialized_face_tracks_deserialize_in_rosbags(face_msgs: ModuleType) -> None:
    """The bag route (rosbags, registered from msg/*.msg) reads what the live node writes."""
    pytest.importorskip("rosbags", reason="rosbags is needed for the bag route")
    from rclpy.serialization import serialize_message

    from face_anything_ros.outputs.msg_types import face_anything_typestore

    typestore = face_anything_typestore()
    sent = filled_face_track_array(face_msgs, seed=6)
    decoded = typestore.deserialize_cdr(serialize_message(sent), "face_anything_ros/msg/FaceTrackArray")
    assert decoded.header.frame_id == "camera_optical_frame"
    assert [face.id for face in decoded.faces] == [41, 42]
    for sent_face, decoded_face in zip(sent.faces, decoded.faces, strict=True):
        assert list(decoded_face.query_names) == list(sent_face.query_names)
        np.testing.assert_array_equal(decoded_face.points, np.asarray(sent_face.points))
        np.testing.assert_array_equal(decoded_face.pixels, np.asarray(sent_face.pixels))
        np.testing.assert_array_equal(decoded_face.mesh_visible, np.asarray(sent_face.mesh_visible))
        assert decoded_face.pose.orientation.w == pytest.approx(sent_face.pose.orientation.w)


def _publish_forever(seed: int) -> None:
    """Script mode: publish the filled message of ``seed`` 10 times a second until killed."""
    import rclpy
    from rclpy.node import Node

    from face_anything_ros import msg as face_msgs

    rclpy.init()
    node = Node("foundation_cross_process_publisher")
    publisher = node.create_publisher(face_msgs.FaceTrackArray, CROSS_PROCESS_TOPIC, 10)
    message = filled_face_track_array(face_msgs, seed)
    node.create_timer(0.1, lambda: publisher.publish(message))
    rclpy.spin(node)


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "publish":
    _publish_forever(int(sys.argv[2]))

"""The node speaks the ROS ecosystem's standards, checked over real DDS with rclpy subscribers.

Two nodes are started as the launch files start them (installed console script, shipped parameter
file, camera topics remapped, ``-p`` overrides), on two cameras:

* ``raw``: ``image_transport: raw``, ``tf_prefix: cam_a/``, intrinsics from K;
* ``compressed``: ``image_transport: compressed`` (JPEG on ``<image>/compressed``), ``tf_prefix:
  cam_b/``, ``rectified: true`` (intrinsics from P) and a ``frame_id`` override.

Checked: REP-155 face frames on /tf (parent, child, stamp; a frontal face's x axis points at the
camera), vision_msgs/Detection2DArray (finite scores, boxes inside the image, ids = FaceTrack
UUIDs), no NaN score, ids of the two nodes do not collide, compressed input with the input's stamps
and bad/oversized JPEGs refused and counted, and depth/camera_info beside every depth image.
"""

from __future__ import annotations

import math
import shutil
import struct
import sys
import threading
import time
import uuid
from pathlib import Path

import cv2
import numpy as np
import pytest
from node_test_support import REPO, sample_frames, weights_for_tests

rclpy = pytest.importorskip("rclpy")
from rclpy.context import Context  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from scipy.spatial.transform import Rotation  # noqa: E402

from face_anything_ros.core.camera import Intrinsics  # noqa: E402
from face_anything_ros.outputs.conversions import point_cloud_to_array  # noqa: E402
from face_anything_ros.outputs.detections import FACE_CLASS_ID  # noqa: E402
from face_anything_ros.outputs.face_frames import TF_MESSAGE  # noqa: E402
from face_anything_ros.outputs.image_bag import camera_info_message, header  # noqa: E402
from face_anything_ros.outputs.message_kit import RclpyKit  # noqa: E402
from face_anything_ros.ros.node_process import NodeLaunch, start_node, stop_node  # noqa: E402
from face_anything_ros.ros.qos import COLLECTOR_QOS, TF_QOS  # noqa: E402
from face_anything_ros.ros.stream_client import (  # noqa: E402
    StreamClient,
    wait_for_reliable_match,
    wait_for_subscriber,
)

pytestmark = pytest.mark.ros

FRAMES, INTRINSICS = sample_frames(2)
EXECUTABLE = shutil.which("face_anything_node", path=str(Path(sys.executable).parent))
START_TIMEOUT_S = 90.0
OUTPUT_TIMEOUT_S = 40.0
CAMERA_FRAME = "camera_optical_frame"
OVERRIDE_FRAME = "cam_b_override_optical_frame"
WARM_UP_TOPICS = ("depth", "depth/camera_info", "detections", "points", "faces")  # what the tests read
# the compressed camera's rectified projection differs from its K, so the depth camera_info shows
# which one the node used
RECTIFIED = Intrinsics(
    fx=INTRINSICS.fx * 0.9,
    fy=INTRINSICS.fy * 0.9,
    cx=INTRINSICS.cx + 4.0,
    cy=INTRINSICS.cy - 3.0,
    width=INTRINSICS.width,
    height=INTRINSICS.height,
)
NODES = {
    "raw": {"camera": "/std_a", "parameters": {"tf_prefix": "cam_a/"}},
    "compressed": {
        "camera": "/std_b",
        "parameters": {
            "tf_prefix": "cam_b/",
            "image_transport": "compressed",
            "rectified": "true",
            "frame_id": OVERRIDE_FRAME,
        },
    },
}


class StandardsClient(StreamClient):
    """StreamClient plus a JPEG publisher on ``<camera>/image_raw/compressed`` and a /tf collector."""

    def __init__(self, camera: str, outputs: str, name: str, **kwargs) -> None:
        super().__init__(camera, outputs, name=name, **kwargs)
        self.compressed_topic = f"{self.image_topic}/compressed"
        self.pub_compressed = self.create_publisher(
            self.kit.message_class("sensor_msgs/msg/CompressedImage"), self.compressed_topic, COLLECTOR_QOS
        )
        self.tf: list = []
        self.create_subscription(self.kit.message_class(TF_MESSAGE), "/tf", self._on_tf, TF_QOS)

    def _on_tf(self, msg) -> None:
        with self._lock:
            self.tf.append(msg)
            self._lock.notify_all()

    def send_compressed(self, payload: bytes, stamp_ns: int, with_camera_info: bool = False) -> None:
        msg_header = header(self.kit, stamp_ns, CAMERA_FRAME)
        if with_camera_info:
            self.pub_info.publish(self._rectified_info(msg_header))
        self.sent_s[stamp_ns] = time.monotonic()
        self.pub_compressed.publish(
            self.kit.new(
                "sensor_msgs/msg/CompressedImage",
                header=msg_header,
                format="rgb8; jpeg compressed bgr8",
                data=self.kit.array(np.frombuffer(payload, np.uint8), "uint8"),
            )
        )

    def _rectified_info(self, msg_header):
        """CameraInfo with K = INTRINSICS and P = RECTIFIED."""
        info = camera_info_message(self.kit, msg_header, INTRINSICS)
        info.p = np.hstack([RECTIFIED.matrix, np.zeros((3, 1))]).ravel().tolist()
        return info

    def face_frames_at(self, stamp_ns: int, prefix: str, timeout_s: float) -> list:
        """Transforms stamped ``stamp_ns`` whose child starts with ``prefix``."""

        def matching() -> list:
            return [
                t
                for msg in self.tf
                for t in msg.transforms
                if t.child_frame_id.startswith(prefix)
                and t.header.stamp.sec * 1_000_000_000 + t.header.stamp.nanosec == stamp_ns
            ]

        with self._lock:
            self._lock.wait_for(lambda: bool(matching()), timeout_s)
            return matching()


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    """Both nodes running (started in parallel), and one client per camera."""
    folder = tmp_path_factory.mktemp("standards")
    weights = weights_for_tests()
    processes, logs = {}, {}
    for name, spec in NODES.items():
        launch = NodeLaunch(
            executable=EXECUTABLE,
            namespace=f"{spec['camera']}/face_anything",
            params_file=REPO / "config" / "face_anything.yaml",
            remappings={
                "image": f"{spec['camera']}/image_raw",
                "camera_info": f"{spec['camera']}/camera_info",
            },
            parameters={**spec["parameters"], "weights": weights, "diagnostics_period_s": "0.3"},
        )
        logs[name] = folder / f"{name}.log"
        processes[name] = start_node(launch, logs[name])
    context = Context()
    rclpy.init(context=context)
    executor = SingleThreadedExecutor(context=context)
    clients = {
        name: StandardsClient(
            spec["camera"],
            f"{spec['camera']}/face_anything",
            name=f"standards_client_{name}",
            context=context,
        )
        for name, spec in NODES.items()
    }
    for client in clients.values():
        executor.add_node(client)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        for name, client in clients.items():
            topic = client.compressed_topic if name == "compressed" else client.image_topic
            alive = processes[name].poll
            assert wait_for_subscriber(client, topic, START_TIMEOUT_S, lambda a=alive: a() is None), logs[
                name
            ].read_text()
            # qos auto (the shipped default) subscribed best effort before it saw this camera and
            # re-subscribes reliable; until then a 640x480 frame is lost: wait, then one answered frame
            publisher = client.pub_compressed if name == "compressed" else client.pub_image
            assert wait_for_reliable_match(client, publisher, 20.0), logs[name].read_text()
            _first_answer(client, name)
        yield clients, logs
    finally:
        codes = {name: stop_node(process) for name, process in processes.items()}
        executor.shutdown()
        spinner.join(5.0)
        for client in clients.values():
            client.destroy_node()
        context.try_shutdown()
    assert codes == {"raw": 0, "compressed": 0}, {name: logs[name].read_text()[-2000:] for name in logs}


_stamps = iter(range(1, 100_000))


def _stamp() -> int:
    return 9_000_000_000 + next(_stamps) * 10_000_000


def _jpeg(rgb: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return encoded.tobytes()


def _claiming_size(jpeg: bytes, width: int, height: int) -> bytes:
    """The JPEG with its SOF header rewritten to claim width x height (data unchanged): a bomb."""
    data = bytearray(jpeg)
    index = 2
    while index < len(data):
        marker, length = data[index + 1], struct.unpack(">H", data[index + 2 : index + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            data[index + 5 : index + 9] = struct.pack(">HH", height, width)
            return bytes(data)
        index += 2 + length
    raise AssertionError("no SOF marker")


def _first_answer(client, name: str, attempts: int = 5) -> None:
    """Resend until the node answers one frame on every output these tests read (/tf included): the
    subscription may still be matching the camera, and each output publisher its subscriber."""
    prefix = NODES[name]["parameters"]["tf_prefix"]
    for _ in range(attempts):
        stamp = _stamp()
        if name == "compressed":
            client.send_compressed(_jpeg(FRAMES[0]), stamp, with_camera_info=True)
        else:
            client.send(FRAMES[0], INTRINSICS, stamp, CAMERA_FRAME)
        answered = client.wait_for(stamp, WARM_UP_TOPICS, OUTPUT_TIMEOUT_S) is not None
        if answered and client.face_frames_at(stamp, prefix, OUTPUT_TIMEOUT_S):
            return
    raise AssertionError(f"no {WARM_UP_TOPICS} and /tf answer to {attempts} frames ({name} camera)")


def _send_raw(client, stamp: int, topics: tuple[str, ...]):
    client.send(FRAMES[0], INTRINSICS, stamp, CAMERA_FRAME)
    outputs = client.wait_for(stamp, topics, OUTPUT_TIMEOUT_S)
    assert outputs is not None, f"{topics} for stamp {stamp} did not arrive"
    return outputs.messages


def _send_jpeg(client, stamp: int, topics: tuple[str, ...]):
    client.send_compressed(_jpeg(FRAMES[0]), stamp, with_camera_info=True)
    outputs = client.wait_for(stamp, topics, OUTPUT_TIMEOUT_S)
    assert outputs is not None, f"{topics} for stamp {stamp} did not arrive"
    return outputs.messages


def _hex(face) -> str:
    return uuid.UUID(bytes=bytes(np.asarray(face.uuid.uuid, dtype=np.uint8))).hex


def test_face_frames_on_tf_follow_rep155(nodes):
    clients, _ = nodes
    client = clients["raw"]
    stamp = _stamp()
    messages = _send_raw(client, stamp, ("faces",))
    faces = [f for f in messages["faces"].faces if f.pose_valid]
    assert faces, "the sample face has no valid pose"
    transforms = client.face_frames_at(stamp, "cam_a/face_", OUTPUT_TIMEOUT_S)
    assert {t.child_frame_id for t in transforms} == {f"cam_a/face_{_hex(f)}" for f in faces}
    for transform in transforms:
        assert transform.header.frame_id == CAMERA_FRAME
        rotation = Rotation.from_quat(
            [
                transform.transform.rotation.x,
                transform.transform.rotation.y,
                transform.transform.rotation.z,
                transform.transform.rotation.w,
            ]
        ).as_matrix()
        origin = np.array(
            [
                transform.transform.translation.x,
                transform.transform.translation.y,
                transform.transform.translation.z,
            ]
        )
        assert 0.2 < origin[2] < 3.0  # the sellion in front of the camera
        towards_camera = -origin / np.linalg.norm(origin)
        x_axis, z_axis = rotation[:, 0], rotation[:, 2]
        assert x_axis @ towards_camera > math.cos(math.radians(40)), "x must point out of the face"
        assert z_axis @ np.array([0.0, -1.0, 0.0]) > math.cos(math.radians(40)), (
            "z must point up (-y optical)"
        )


def test_detections_carry_finite_scores_boxes_inside_the_image_and_the_track_uuids(nodes):
    clients, _ = nodes
    client = clients["raw"]
    stamp = _stamp()
    messages = _send_raw(client, stamp, ("faces", "detections"))
    faces, detections = messages["faces"], messages["detections"]
    assert detections.header == faces.header
    assert len(detections.detections) == len(faces.faces) >= 1
    width, height = INTRINSICS.width, INTRINSICS.height
    for face, detection in zip(faces.faces, detections.detections, strict=True):
        assert math.isfinite(face.confidence) and 0.0 <= face.confidence <= 1.0
        assert face.detector in ("face_mesh", "blazeface_short_range", "blazeface_full_range", "model_track")
        assert detection.header == faces.header and detection.id == _hex(face)
        (result,) = detection.results
        assert result.hypothesis.class_id == FACE_CLASS_ID
        assert result.hypothesis.score == pytest.approx(face.confidence, abs=1e-6)
        box = detection.bbox
        assert box.size_x > 0 and box.size_y > 0
        assert (
            -0.5 <= box.center.position.x - box.size_x / 2
            and box.center.position.x + box.size_x / 2 <= width - 0.5
        )
        assert (
            -0.5 <= box.center.position.y - box.size_y / 2
            and box.center.position.y + box.size_y / 2 <= height - 0.5
        )
        roi = face.roi  # the same face as the FaceTrack's integer ROI
        assert abs(box.center.position.x - (roi.x_offset + roi.width / 2)) < 2.0


def test_ids_of_two_nodes_do_not_collide(nodes):
    clients, _ = nodes
    raw = _send_raw(clients["raw"], _stamp(), ("faces",))["faces"].faces
    compressed = _send_jpeg(clients["compressed"], _stamp(), ("faces",))["faces"].faces
    assert raw and compressed
    assert {f.id for f in raw} & {f.id for f in compressed}, "both nodes number their first face 0"
    assert not {_hex(f) for f in raw} & {_hex(f) for f in compressed}
    assert all(uuid.UUID(_hex(f)).version == 5 for f in raw + compressed)


def test_jpeg_input_gives_depth_with_the_input_stamp_in_the_override_frame(nodes):
    clients, _ = nodes
    client = clients["compressed"]
    stamp = _stamp()
    messages = _send_jpeg(client, stamp, ("depth", "depth/camera_info", "faces", "detections"))
    depth = messages["depth"]
    assert depth.header.stamp.sec * 1_000_000_000 + depth.header.stamp.nanosec == stamp
    assert depth.header.frame_id == OVERRIDE_FRAME and messages["faces"].header.frame_id == OVERRIDE_FRAME
    assert (depth.width, depth.height) == (INTRINSICS.width, INTRINSICS.height)
    transforms = client.face_frames_at(stamp, "cam_b/face_", OUTPUT_TIMEOUT_S)
    assert transforms and all(t.header.frame_id == OVERRIDE_FRAME for t in transforms)
    # rectified: intrinsics from P, not K
    info = messages["depth/camera_info"]
    np.testing.assert_allclose(np.asarray(info.k).reshape(3, 3), RECTIFIED.matrix, rtol=1e-9)


def test_depth_camera_info_matches_every_depth_image(nodes):
    clients, _ = nodes
    client = clients["raw"]
    for _ in range(2):
        stamp = _stamp()
        messages = _send_raw(client, stamp, ("depth", "depth/camera_info"))
        depth, info = messages["depth"], messages["depth/camera_info"]
        assert info.header == depth.header
        assert (info.width, info.height) == (depth.width, depth.height)
        np.testing.assert_allclose(np.asarray(info.k).reshape(3, 3), INTRINSICS.matrix, rtol=1e-9)
        np.testing.assert_allclose(np.asarray(info.p).reshape(3, 4)[:, :3], INTRINSICS.matrix, rtol=1e-9)
        assert not any(info.d)


def test_malformed_and_oversized_jpegs_are_refused_and_counted(nodes):
    clients, logs = nodes
    client = clients["compressed"]
    jpeg = _jpeg(FRAMES[1])
    bomb = _claiming_size(jpeg, 65000, 65000)  # 4.2 Gpx claimed in a ~40 kB file
    for _ in range(2):
        client.send_compressed(
            bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)), _stamp()
        )
        time.sleep(0.2)
        client.send_compressed(bomb, _stamp())
        time.sleep(0.2)
    values = client.wait_for_diagnostics(
        lambda v: int(v.get("rejected_too_large", 0)) >= 2 and int(v.get("rejected_encoding", 0)) >= 2, 15.0
    )
    assert int(values.get("rejected_too_large", 0)) >= 2 and int(values.get("rejected_encoding", 0)) >= 2, (
        values
    )
    stamp = _stamp()  # still serving good frames
    assert _send_jpeg(client, stamp, ("depth",))["depth"].header.stamp.sec == stamp // 1_000_000_000
    log = logs["compressed"].read_text()
    assert log.count("image rejected (too_large") == 1 and log.count("image rejected (encoding") == 1, log


def test_generated_tf2_msgs_has_the_upstream_type_hash():
    """interfaces/tf2_msgs (wheel route) or the system tf2_msgs: same RIHS01 as rosbags' Kilted store."""
    from rosbags.typesys import Stores, get_typestore

    context = Context()
    rclpy.init(context=context)
    try:
        node = rclpy.create_node("standards_hash_probe", context=context)
        node.create_publisher(RclpyKit().message_class(TF_MESSAGE), "/standards_hash_probe_tf", 1)
        (info,) = node.get_publishers_info_by_topic("/standards_hash_probe_tf")
        upstream = get_typestore(Stores.ROS2_KILTED).hash_rihs01("tf2_msgs/msg/TFMessage")
        assert str(info.topic_type_hash) == upstream
        node.destroy_node()
    finally:
        context.try_shutdown()


def test_canonical_positions_are_metres_on_the_average_face(nodes):
    clients, _ = nodes
    client = clients["raw"]
    messages = _send_raw(client, _stamp(), ("faces", "points"))
    (face,) = messages["faces"].faces
    assert face.pose_valid and face.scale == pytest.approx(1.0)
    canonical = np.asarray(face.query_canonical, dtype=np.float64).reshape(-1, 3)
    assert 0.05 < np.abs(canonical).max() < 0.1  # the template spans about +-0.09 m
    # the pose maps metric canonical points onto the measured 3D points (same unit on both sides)
    pose = face.pose
    rotation = Rotation.from_quat(
        [pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w]
    ).as_matrix()
    position = np.array([pose.position.x, pose.position.y, pose.position.z])
    predicted = (face.scale * canonical) @ rotation.T + position
    measured = np.asarray(face.points, dtype=np.float64).reshape(-1, 3)
    visible = np.asarray(face.visible, dtype=bool)
    error = np.linalg.norm(predicted[visible] - measured[visible], axis=1)
    assert visible.sum() >= 5 and np.median(error) < 0.02
    cloud = point_cloud_to_array(messages["points"])
    assert 0.05 < np.abs(np.stack([cloud["canon_x"], cloud["canon_y"], cloud["canon_z"]])).max() < 0.12
    topology = client.topology
    vertices = np.asarray(topology.canonical_vertices).reshape(-1, 3)
    assert 0.08 < np.abs(vertices).max() < 0.1

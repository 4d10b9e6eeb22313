"""Face frame maths, track UUIDs and the rclpy-free standard messages (bag replay builds them too)."""

from __future__ import annotations

import math
import uuid
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from face_anything_ros.core.face_template import load_face_template
from face_anything_ros.runtime.face_frame import CANONICAL_FROM_FACE, SELLION_VERTEX, face_frame
from face_anything_ros.runtime.track_uuid import TrackUuids

FRONTAL = np.diag([1.0, -1.0, -1.0])  # canonical -> camera for a face looking at the camera (ARCHITECTURE.md)


def test_fixed_rotation_maps_canonical_axes_to_rep155_axes():
    assert np.allclose(CANONICAL_FROM_FACE @ CANONICAL_FROM_FACE.T, np.eye(3))
    assert np.linalg.det(CANONICAL_FROM_FACE) == pytest.approx(1.0)
    x_face, y_face, z_face = CANONICAL_FROM_FACE.T
    np.testing.assert_array_equal(x_face, [0, 0, 1])  # out of the face (canonical +z)
    np.testing.assert_array_equal(y_face, [1, 0, 0])  # the subject's left (canonical +x)
    np.testing.assert_array_equal(z_face, [0, 1, 0])  # up (canonical +y)
    assert np.allclose(Rotation.from_matrix(CANONICAL_FROM_FACE).as_quat(), [0.5, 0.5, 0.5, -0.5])


def test_sellion_is_the_deepest_midline_point_between_nose_tip_and_forehead():
    canonical = load_face_template().canonical
    midline = np.flatnonzero(
        (np.abs(canonical[:, 0]) < 1e-3) & (canonical[:, 1] > 0.1) & (canonical[:, 1] < 0.6)
    )
    assert SELLION_VERTEX == midline[np.argmin(canonical[midline, 2])]


def test_frontal_face_frame_points_x_at_the_camera_and_z_up():
    scale, translation = 0.1, np.array([0.05, -0.02, 0.8])
    frame = face_frame(FRONTAL, translation, scale)
    np.testing.assert_allclose(frame.rotation[:, 0], [0, 0, -1])  # along the optical axis, at the camera
    towards_camera = -frame.origin / np.linalg.norm(frame.origin)
    assert frame.rotation[:, 0] @ towards_camera > math.cos(math.radians(10))
    np.testing.assert_allclose(frame.rotation[:, 2], [0, -1, 0])  # optical -y is up
    sellion = load_face_template().canonical[SELLION_VERTEX]
    np.testing.assert_allclose(frame.origin, FRONTAL @ (scale * sellion) + translation, atol=1e-7)
    assert face_frame(np.full((3, 3), np.nan), translation, scale) is None


def test_track_uuids_are_stable_per_track_and_differ_between_sessions():
    first, second = TrackUuids(), TrackUuids()
    assert first.uuid(3) == first.uuid(3) and first.uuid(3) != first.uuid(4)
    assert first.uuid(0) != second.uuid(0)  # two cameras or a restart: same number, other UUID
    assert first.uuid(0).version == 5
    fixed = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert TrackUuids(fixed).uuid(7) == TrackUuids(fixed).uuid(7)


def _fake_result(width=640, height=480):
    face = SimpleNamespace(
        track_id=0,
        track_uuid=TrackUuids().uuid(0),
        box_xyxy=np.array([-20.0, 100.0, 200.0, 500.0]),  # past the left and bottom borders
        score=0.8,
        pose_valid=True,
        rotation=FRONTAL,
        translation=np.array([0.0, 0.0, 0.7]),
        scale=0.1,
    )
    unposed = SimpleNamespace(**{**vars(face), "pose_valid": False, "track_uuid": TrackUuids().uuid(1)})
    return SimpleNamespace(faces=[face, unposed], mask=np.zeros((height, width), bool))


def test_standard_messages_build_with_the_rosbags_kit():
    pytest.importorskip("rosbags")
    from face_anything_ros.outputs.detections import detection_array
    from face_anything_ros.outputs.face_frames import face_transforms
    from face_anything_ros.outputs.message_kit import RosbagsKit
    from face_anything_ros.outputs.msg_types import face_anything_typestore

    kit = RosbagsKit(face_anything_typestore())
    stamp = kit.new("builtin_interfaces/msg/Time", sec=12, nanosec=5)
    msg_header = kit.new("std_msgs/msg/Header", stamp=stamp, frame_id="cam")
    result = _fake_result()
    detections = detection_array(kit, msg_header, result)
    first = detections.detections[0]
    assert first.id == result.faces[0].track_uuid.hex and first.results[0].hypothesis.class_id == "face"
    box = first.bbox
    assert box.center.position.x - box.size_x / 2 == pytest.approx(-0.5)  # clipped to the image
    assert box.center.position.y + box.size_y / 2 == pytest.approx(479.5)
    tf = face_transforms(kit, msg_header, result, "cam1/")
    (only,) = tf.transforms  # the face without a pose gets no frame
    assert only.child_frame_id == f"cam1/face_{result.faces[0].track_uuid.hex}"
    assert only.header.frame_id == "cam" and only.header.stamp.sec == 12
    typestore = face_anything_typestore()
    assert typestore.serialize_cdr(detections, "vision_msgs/msg/Detection2DArray")
    assert typestore.serialize_cdr(tf, "tf2_msgs/msg/TFMessage")

"""Pipeline results -> vision_msgs/Detection2DArray (topic ``detections``), for rclpy and rosbags alike.

One Detection2D per face, in FaceTrackArray order: the image header; ``id`` = the 32-digit hex of the
face's track UUID (FaceTrack.uuid; also the TF frame name ``<tf_prefix>face_<id>``); ``bbox`` = the
face box in image pixels (floating point, centre + size, theta 0), clipped to the image (pixel
centres at integers, so the image spans [-0.5, width - 0.5] x [-0.5, height - 0.5]); one hypothesis
``class_id "face"`` whose ``score`` is the face score (FaceTrack.confidence, finite, in [0, 1]) and
whose pose is the REP-155 face frame (origin at the sellion) in the image frame when the head pose is
valid (identity at the origin otherwise); the pose covariance is not estimated and left zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from face_anything_ros.outputs.conversions import pose_message
from face_anything_ros.outputs.message_kit import MessageKit
from face_anything_ros.runtime.face_frame import face_frame_of

DETECTION_2D_ARRAY = "vision_msgs/msg/Detection2DArray"
FACE_CLASS_ID = "face"


def clipped_box(box_xyxy: Any, width: int, height: int) -> np.ndarray:
    """The box (x0, y0, x1, y1) clipped to the image's extent [-0.5, width - 0.5] x [-0.5, height - 0.5]."""
    x0, y0, x1, y1 = (float(v) for v in box_xyxy)
    low_x, high_x, low_y, high_y = -0.5, width - 0.5, -0.5, height - 0.5
    return np.array(
        [
            min(max(x0, low_x), high_x),
            min(max(y0, low_y), high_y),
            min(max(x1, low_x), high_x),
            min(max(y1, low_y), high_y),
        ]
    )


def _face_pose(kit: MessageKit, face: Any) -> Any:
    frame = face_frame_of(face)
    if frame is None:
        return pose_message(kit, np.eye(3), np.zeros(3))
    return pose_message(kit, frame.rotation, frame.origin)


def detection(kit: MessageKit, header: Any, face: Any, width: int, height: int) -> Any:
    """One Detection2D of one pipeline face result."""
    x0, y0, x1, y1 = clipped_box(face.box_xyxy, width, height)
    hypothesis = kit.new(
        "vision_msgs/msg/ObjectHypothesisWithPose",
        hypothesis=kit.new(
            "vision_msgs/msg/ObjectHypothesis", class_id=FACE_CLASS_ID, score=float(face.score)
        ),
        pose=kit.new("geometry_msgs/msg/PoseWithCovariance", pose=_face_pose(kit, face)),
    )
    centre = kit.new("vision_msgs/msg/Point2D", x=0.5 * (x0 + x1), y=0.5 * (y0 + y1))
    return kit.new(
        "vision_msgs/msg/Detection2D",
        header=header,
        results=[hypothesis],
        bbox=kit.new(
            "vision_msgs/msg/BoundingBox2D",
            center=kit.new("vision_msgs/msg/Pose2D", position=centre, theta=0.0),
            size_x=x1 - x0,
            size_y=y1 - y0,
        ),
        id=face.track_uuid.hex,
    )


def detection_array(kit: MessageKit, header: Any, result: Any) -> Any:
    """Detection2DArray of one frame (``detections`` empty when no face is visible)."""
    height, width = result.mask.shape
    return kit.new(
        DETECTION_2D_ARRAY,
        header=header,
        detections=[detection(kit, header, f, width, height) for f in result.faces],
    )

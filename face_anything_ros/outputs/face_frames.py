"""Pipeline results -> tf2_msgs/TFMessage with one REP-155 face frame per face (topic ``/tf``).

For every face with a valid head pose: parent = the image's frame (header.frame_id, or the node's
``frame_id`` parameter when set), child = ``<tf_prefix>face_<hex>`` (hex = the 32-digit form of the
face's track UUID, FaceTrack.uuid, also the Detection2D id), stamp = the image stamp, transform =
``runtime.face_frame`` (origin at the sellion, x out of the face, z up). Faces whose pose fit failed
get no transform in that frame (a tf2 listener keeps the last one until it times out).
"""

from __future__ import annotations

from typing import Any

from face_anything_ros.outputs.conversions import quaternion_message
from face_anything_ros.outputs.message_kit import MessageKit
from face_anything_ros.runtime.face_frame import face_frame_of

TF_MESSAGE = "tf2_msgs/msg/TFMessage"


def face_frame_id(face: Any, tf_prefix: str = "") -> str:
    """TF name of a face's frame: ``<tf_prefix>face_<uuid hex>``."""
    return f"{tf_prefix}face_{face.track_uuid.hex}"


def face_transforms(kit: MessageKit, header: Any, result: Any, tf_prefix: str = "") -> Any:
    """TFMessage of the faces with a valid pose; ``header.frame_id`` is the parent frame."""
    transforms = []
    for face in result.faces:
        frame = face_frame_of(face)
        if frame is None:
            continue
        tx, ty, tz = (float(v) for v in frame.origin)
        transforms.append(
            kit.new(
                "geometry_msgs/msg/TransformStamped",
                header=header,
                child_frame_id=face_frame_id(face, tf_prefix),
                transform=kit.new(
                    "geometry_msgs/msg/Transform",
                    translation=kit.new("geometry_msgs/msg/Vector3", x=tx, y=ty, z=tz),
                    rotation=quaternion_message(kit, frame.rotation),
                ),
            )
        )
    return kit.new(TF_MESSAGE, transforms=transforms)

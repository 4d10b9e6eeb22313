"""The output table: every per-frame output of the node and of bag replay, declared once.

Each row names an output, its topic (relative to the node's namespace, or absolute like ``/tf``),
its message type, the ``publish_*`` parameter that switches it, and how it is built from one
processed frame. The node publishes the rows (``ros/node.py``) and bag replay writes them to a bag
(``offline/bag_replay.py``) with the same builders, so a replayed bag holds exactly what the node
would have published. A row marked ``serialized`` builds CDR bytes instead of a message (the face
mesh: thousands of points and colours written straight to CDR, byte-identical to rosbags'
serialization of the same MarkerArray, see ``marker_cdr.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from face_anything_ros.core.camera import Intrinsics
from face_anything_ros.outputs import conversions
from face_anything_ros.outputs.detections import DETECTION_2D_ARRAY, detection_array
from face_anything_ros.outputs.face_frames import TF_MESSAGE, face_transforms
from face_anything_ros.outputs.image_bag import camera_info_message
from face_anything_ros.outputs.marker_cdr import mesh_marker_array_cdr
from face_anything_ros.outputs.message_kit import MessageKit
from face_anything_ros.outputs.params import NodeParams
from face_anything_ros.outputs.visualize import overlay_image


@dataclass(frozen=True)
class ProcessedFrame:
    """One frame's pipeline result with what the builders need around it."""

    header: Any  # the output header (the kit's message flavour)
    rgb: np.ndarray  # (H, W, 3) uint8 input image
    result: Any  # runtime.pipeline.FrameResult
    intrinsics: Intrinsics  # the camera the result was computed with


Builder = Callable[[MessageKit, ProcessedFrame, NodeParams], Any]


@dataclass(frozen=True)
class OutputSpec:
    """One per-frame output."""

    name: str  # stable id (timings, diagnostics)
    topic: str  # relative to the node's namespace, or absolute ("/tf")
    type_name: str
    enabled_by: str  # the NodeParams boolean that switches it
    build: Builder
    serialized: bool = False  # build returns CDR bytes, not a message


def _depth(kit: MessageKit, frame: ProcessedFrame, params: NodeParams) -> Any:
    return conversions.depth_message(kit, frame.header, frame.result.depth)


def _depth_info(kit: MessageKit, frame: ProcessedFrame, params: NodeParams) -> Any:
    return camera_info_message(kit, frame.header, frame.intrinsics)  # the camera the depth was made with


def _detections(kit: MessageKit, frame: ProcessedFrame, params: NodeParams) -> Any:
    return detection_array(kit, frame.header, frame.result)


def _tf(kit: MessageKit, frame: ProcessedFrame, params: NodeParams) -> Any:
    return face_transforms(kit, frame.header, frame.result, params.tf_prefix)


def _points(kit: MessageKit, frame: ProcessedFrame, params: NodeParams) -> Any:
    cloud = conversions.point_array(frame.result, frame.intrinsics, params.points_stride)
    return conversions.point_cloud_message(kit, frame.header, cloud)


def _faces(kit: MessageKit, frame: ProcessedFrame, params: NodeParams) -> Any:
    return conversions.face_track_array(kit, frame.header, frame.result)


def _poses(kit: MessageKit, frame: ProcessedFrame, params: NodeParams) -> Any:
    return conversions.face_pose_array(kit, frame.header, frame.result)


def _mesh(kit: MessageKit, frame: ProcessedFrame, params: NodeParams) -> bytes:
    return mesh_marker_array_cdr(frame.header, frame.result)


def _canonical(kit: MessageKit, frame: ProcessedFrame, params: NodeParams) -> Any:
    return conversions.image_message(
        kit, frame.header, conversions.canonical_rgb_image(frame.result.canonical), "rgb8"
    )


def _overlay(kit: MessageKit, frame: ProcessedFrame, params: NodeParams) -> Any:
    return conversions.image_message(kit, frame.header, overlay_image(frame.rgb, frame.result), "rgb8")


# publishing order: the cheap, most used outputs first
OUTPUT_TABLE: tuple[OutputSpec, ...] = (
    OutputSpec("depth", "depth", "sensor_msgs/msg/Image", "publish_depth", _depth),
    OutputSpec(
        "depth_camera_info", "depth/camera_info", "sensor_msgs/msg/CameraInfo", "publish_depth", _depth_info
    ),
    OutputSpec("detections", "detections", DETECTION_2D_ARRAY, "publish_detections", _detections),
    OutputSpec("tf", "/tf", TF_MESSAGE, "publish_tf", _tf),
    OutputSpec("points", "points", "sensor_msgs/msg/PointCloud2", "publish_points", _points),
    OutputSpec("faces", "faces", conversions.FACE_TRACK_ARRAY, "publish_faces", _faces),
    OutputSpec("face_poses", "face_poses", "geometry_msgs/msg/PoseArray", "publish_faces", _poses),
    OutputSpec(
        "face_mesh", "face_mesh", "visualization_msgs/msg/MarkerArray", "publish_mesh", _mesh, serialized=True
    ),
    OutputSpec(
        "canonical_image", "canonical_image", "sensor_msgs/msg/Image", "publish_canonical_image", _canonical
    ),
    OutputSpec("overlay", "overlay", "sensor_msgs/msg/Image", "publish_overlay", _overlay),
)


def output_header(kit: MessageKit, image_header: Any, params: NodeParams) -> Any:
    """The image's header, in the frame the ``frame_id`` parameter names when it is set."""
    if not params.frame_id:
        return image_header
    return kit.new("std_msgs/msg/Header", stamp=image_header.stamp, frame_id=params.frame_id)


def enabled_outputs(params: NodeParams) -> tuple[OutputSpec, ...]:
    """The rows the parameters switch on, in publishing order."""
    return tuple(spec for spec in OUTPUT_TABLE if getattr(params, spec.enabled_by))

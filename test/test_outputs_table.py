"""outputs/output_table.py: the one table of per-frame outputs that the node publishes and replay writes."""

from __future__ import annotations

import numpy as np
from node_test_support import sample_frames

from face_anything_ros.outputs.message_kit import RosbagsKit
from face_anything_ros.outputs.msg_types import face_anything_typestore
from face_anything_ros.outputs.output_table import (
    OUTPUT_TABLE,
    ProcessedFrame,
    enabled_outputs,
    output_header,
)
from face_anything_ros.outputs.params import SPECS_BY_NAME, NodeParams, with_values


def test_every_row_has_a_unique_topic_a_known_type_and_a_publish_switch():
    typestore = face_anything_typestore()
    assert (
        len({spec.topic for spec in OUTPUT_TABLE})
        == len({spec.name for spec in OUTPUT_TABLE})
        == len(OUTPUT_TABLE)
    )
    for spec in OUTPUT_TABLE:
        assert spec.type_name in typestore.types, spec.type_name
        assert spec.enabled_by.startswith("publish_") and isinstance(
            SPECS_BY_NAME[spec.enabled_by].default, bool
        )


def test_switches_and_frame_id_select_and_label_the_outputs():
    params = NodeParams()
    defaults = {spec.name for spec in enabled_outputs(params)}
    assert {"canonical_image", "overlay"}.isdisjoint(defaults) and "depth_camera_info" in defaults
    quiet = with_values(params, {"publish_depth": False, "frame_id": "head_cam"})
    assert not {"depth", "depth_camera_info"} & {spec.name for spec in enabled_outputs(quiet)}
    kit = RosbagsKit(face_anything_typestore())
    stamp = kit.new("builtin_interfaces/msg/Time", sec=3, nanosec=4)
    image_header = kit.new("std_msgs/msg/Header", stamp=stamp, frame_id="camera")
    assert output_header(kit, image_header, params) is image_header
    relabelled = output_header(kit, image_header, quiet)
    assert (relabelled.frame_id, relabelled.stamp.sec) == ("head_cam", 3)


def test_every_row_builds_for_a_frame_without_faces():
    """Rows build with either kit's messages: here rosbags', as replay does (the node's: test_node_*)."""
    from face_anything_ros.runtime.pipeline import FrameResult

    frames, intrinsics = sample_frames(1)
    height, width = frames[0].shape[:2]
    empty = FrameResult(
        depth=np.full((height, width), np.nan, np.float32),
        canonical=np.full((height, width, 3), np.nan, np.float32),
        mask=np.zeros((height, width), bool),
        confidence=np.zeros((height, width), np.float32),
        faces=[],
        stamp_s=0.0,
        intrinsics=intrinsics,
        timings_ms={},
    )
    kit = RosbagsKit(face_anything_typestore())
    header = kit.new("std_msgs/msg/Header", stamp=kit.new("builtin_interfaces/msg/Time"), frame_id="camera")
    frame = ProcessedFrame(header, frames[0], empty, intrinsics)
    for spec in OUTPUT_TABLE:
        built = spec.build(kit, frame, NodeParams())
        assert isinstance(built, bytes) if spec.serialized else built.__msgtype__ == spec.type_name

"""Write a ROS 2 bag of camera frames (Image + CameraInfo), e.g. the bundled sample as a bag.

Gives ``face-anything replay`` and the replay launch file an input anywhere (no camera, no ROS).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from face_anything_ros.core.camera import Intrinsics
from face_anything_ros.outputs import conversions
from face_anything_ros.outputs.message_kit import MessageKit, RosbagsKit
from face_anything_ros.outputs.msg_types import face_anything_typestore


def header(kit: MessageKit, stamp_ns: int, frame_id: str) -> Any:
    """std_msgs/Header at ``stamp_ns`` nanoseconds."""
    stamp = kit.new(
        "builtin_interfaces/msg/Time", sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000
    )
    return kit.new("std_msgs/msg/Header", stamp=stamp, frame_id=frame_id)


def camera_info_message(kit: MessageKit, msg_header: Any, intrinsics: Intrinsics) -> Any:
    """CameraInfo of an undistorted pinhole camera."""
    k = intrinsics.matrix.ravel()
    p = np.hstack([intrinsics.matrix, np.zeros((3, 1))]).ravel()
    return kit.new(
        "sensor_msgs/msg/CameraInfo",
        header=msg_header,
        height=int(intrinsics.height),
        width=int(intrinsics.width),
        distortion_model="plumb_bob",
        d=kit.array(np.zeros(5), "float64"),
        k=kit.array(k, "float64"),
        r=kit.array(np.eye(3).ravel(), "float64"),
        p=kit.array(p, "float64"),
    )


def write_image_bag(
    path: Path,
    frames: Iterable[np.ndarray],
    intrinsics: Intrinsics | None,
    fps: float = 10.0,
    namespace: str = "/camera",
    frame_id: str = "camera_optical_frame",
    storage: str = "sqlite3",
    encoding: str = "rgb8",
) -> int:
    """Write rgb frames as ``<namespace>/image_raw`` (+ ``camera_info`` if intrinsics); returns the count."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    typestore = face_anything_typestore()
    kit = RosbagsKit(typestore)
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    count = 0
    with Writer(path, version=Writer.VERSION_LATEST, storage_plugin=plugin) as writer:
        image_conn = writer.add_connection(
            f"{namespace}/image_raw", "sensor_msgs/msg/Image", typestore=typestore
        )
        info_conn = None
        if intrinsics is not None:
            info_conn = writer.add_connection(
                f"{namespace}/camera_info", "sensor_msgs/msg/CameraInfo", typestore=typestore
            )
        for index, rgb in enumerate(frames):
            stamp_ns = 1_000_000_000 + round(index * 1e9 / fps)
            msg_header = header(kit, stamp_ns, frame_id)
            if info_conn is not None:
                info = camera_info_message(kit, msg_header, intrinsics)
                writer.write(info_conn, stamp_ns, typestore.serialize_cdr(info, info.__msgtype__))
            pixels = rgb[..., ::-1] if encoding == "bgr8" else rgb
            image = conversions.image_message(kit, msg_header, pixels, encoding)
            writer.write(image_conn, stamp_ns, typestore.serialize_cdr(image, image.__msgtype__))
            count += 1
    return count

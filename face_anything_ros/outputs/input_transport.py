"""The node's image input following image_transport's convention: raw or compressed.

``image_transport: raw`` subscribes the (remapped) ``image`` topic as sensor_msgs/Image;
``compressed`` subscribes ``<resolved image topic>/compressed`` as sensor_msgs/CompressedImage (JPEG
or PNG), as image_transport's compressed subscriber does: the base name is resolved first, so a
remapping ``image:=/camera/image_raw`` gives ``/camera/image_raw/compressed``. Compressed payloads go
through the same header-first size check as the offline codec (``compressed_to_rgb8``): a file that
claims more than ``MAX_IMAGE_PIXELS`` is refused before any pixel is decoded (decompression bomb),
and every refusal raises ``ImageDecodeError`` with the same kinds as raw images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from face_anything_ros.outputs.image_codec import compressed_to_rgb8, image_to_rgb8

IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE_TYPE = "sensor_msgs/msg/CompressedImage"
COMPRESSED_SUFFIX = "/compressed"


@dataclass(frozen=True)
class InputTransport:
    """Where and as what the camera image arrives."""

    topic: str  # fully resolved topic name
    type_name: str  # ROS message type


def input_transport(transport: str, resolved_image_topic: str) -> InputTransport:
    """The subscription for ``transport`` ("raw" or "compressed") of the resolved base image topic."""
    if transport == "raw":
        return InputTransport(resolved_image_topic, IMAGE_TYPE)
    if transport == "compressed":
        return InputTransport(resolved_image_topic.rstrip("/") + COMPRESSED_SUFFIX, COMPRESSED_IMAGE_TYPE)
    raise ValueError(f"unknown image_transport {transport!r} (raw or compressed)")


def decode_to_rgb8(msg: Any) -> np.ndarray:
    """An Image or CompressedImage message as (H, W, 3) uint8 RGB (``ImageDecodeError`` if unusable)."""
    if hasattr(msg, "format") and not hasattr(msg, "encoding"):  # CompressedImage
        return compressed_to_rgb8(msg.data, str(msg.format))
    return image_to_rgb8(msg)

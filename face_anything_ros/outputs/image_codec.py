"""sensor_msgs/Image <-> numpy, without cv_bridge (not installable from wheels).

Works on any object with the Image fields (rclpy message or rosbags dataclass). Sizes are checked
before any reshaping, so a malformed message raises ``ImageDecodeError`` with the reason instead
of crashing the node or silently mis-reading memory.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

# encoding -> (numpy element dtype, channels)
ENCODINGS: dict[str, tuple[str, int]] = {
    "rgb8": ("u1", 3),
    "bgr8": ("u1", 3),
    "rgba8": ("u1", 4),
    "bgra8": ("u1", 4),
    "mono8": ("u1", 1),
    "8UC1": ("u1", 1),
    "8UC3": ("u1", 3),
    "mono16": ("u2", 1),
    "16UC1": ("u2", 1),
    "32FC1": ("f4", 1),
    "bayer_rggb8": ("u1", 1),
    "bayer_bggr8": ("u1", 1),
    "bayer_gbrg8": ("u1", 1),
    "bayer_grbg8": ("u1", 1),
    "bayer_rggb16": ("u2", 1),
    "bayer_bggr16": ("u2", 1),
    "bayer_gbrg16": ("u2", 1),
    "bayer_grbg16": ("u2", 1),
}

# ROS Bayer pattern (colour of pixel (0,0), (0,1), (1,0), (1,1)) -> OpenCV conversion code
# (OpenCV names patterns by the second row; same mapping as cv_bridge).
_BAYER_TO_RGB = {
    "rggb": cv2.COLOR_BayerBG2RGB,
    "bggr": cv2.COLOR_BayerRG2RGB,
    "gbrg": cv2.COLOR_BayerGR2RGB,
    "grbg": cv2.COLOR_BayerGB2RGB,
}

# Encodings that carry measurements rather than light: a face model cannot run on them.
NON_COLOUR_ENCODINGS = ("16UC1", "32FC1")

# Largest image accepted, in pixels (8K UHD is 33 Mpx). Header fields are untrusted: an image
# claiming more is refused before its data is touched, so no allocation follows from a header.
MAX_IMAGE_PIXELS = 64 * 2**20
MAX_ENCODING_CHARS_IN_ERRORS = 40


class ImageDecodeError(ValueError):
    """The Image message cannot be turned into an array (reason in the message).

    ``kind`` names the class of problem ("encoding", "size", "too_large") for counters that must not grow
    one entry per distinct message.
    """

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def image_to_numpy(msg: Any) -> np.ndarray:
    """The image as an (H, W) or (H, W, C) array in its own encoding and dtype (a copy)."""
    encoding = str(msg.encoding)
    if encoding not in ENCODINGS:
        raise ImageDecodeError(
            f"unsupported encoding {encoding[:MAX_ENCODING_CHARS_IN_ERRORS]!r} (supported: {', '.join(ENCODINGS)})",
            "encoding",
        )
    dtype_code, channels = ENCODINGS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise ImageDecodeError(f"empty image {width}x{height}", "size")
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageDecodeError(
            f"image {width}x{height} exceeds the limit of {MAX_IMAGE_PIXELS} pixels", "too_large"
        )
    dtype = np.dtype(dtype_code).newbyteorder(">" if msg.is_bigendian else "<")
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise ImageDecodeError(
            f"step {step} is smaller than width*bytes_per_pixel = {row_bytes} ({encoding}, width {width})",
            "size",
        )
    buffer = np.frombuffer(bytes(msg.data) if not isinstance(msg.data, np.ndarray) else msg.data, np.uint8)
    if buffer.size != step * height:
        raise ImageDecodeError(
            f"data has {buffer.size} bytes but step*height = {step}*{height} = {step * height}", "size"
        )
    rows = buffer.reshape(height, step)[:, :row_bytes]
    pixels = np.ascontiguousarray(rows).view(dtype).astype(dtype.newbyteorder("="))
    return pixels.reshape(height, width, channels) if channels > 1 else pixels.reshape(height, width)


def compressed_to_rgb8(data: Any, image_format: str = "") -> np.ndarray:
    """A CompressedImage payload (JPEG, PNG, ...) as (H, W, 3) uint8 RGB.

    The size written in the file's own header is read first (Pillow parses headers lazily) and
    checked against ``MAX_IMAGE_PIXELS``, so a small file claiming a huge image (a decompression
    bomb) is refused before OpenCV allocates its pixels.
    """
    import io
    import warnings

    from PIL import Image

    payload = data.tobytes() if isinstance(data, np.ndarray) else bytes(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(payload)) as header_only:
                width, height = header_only.size
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError(f"compressed image too large: {exc}", "too_large") from None
    except Exception as exc:  # Pillow raises several types for unknown or damaged headers
        raise ImageDecodeError(
            f"cannot read compressed image header (format '{image_format}'): {exc}", "encoding"
        ) from None
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageDecodeError(
            f"compressed image {width}x{height} exceeds the limit of {MAX_IMAGE_PIXELS} pixels", "too_large"
        )
    bgr = cv2.imdecode(np.frombuffer(payload, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageDecodeError(f"cannot decode compressed image (format '{image_format}')", "encoding")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def image_to_rgb8(msg: Any) -> np.ndarray:
    """The image as (H, W, 3) uint8 RGB, the face pipeline's input (debayers, drops alpha)."""
    encoding = str(msg.encoding)
    if encoding in NON_COLOUR_ENCODINGS:
        raise ImageDecodeError(
            f"encoding '{encoding}' is a depth/measurement image, not a camera image", "encoding"
        )
    pixels = image_to_numpy(msg)
    if pixels.dtype == np.uint16:
        pixels = (pixels >> 8).astype(np.uint8)
    if encoding.startswith("bayer_"):
        return cv2.cvtColor(pixels, _BAYER_TO_RGB[encoding.split("_")[1][:4]])
    if encoding in ("rgb8",):
        return pixels
    if encoding in ("bgr8", "8UC3"):
        return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
    if encoding == "rgba8":
        return cv2.cvtColor(pixels, cv2.COLOR_RGBA2RGB)
    if encoding == "bgra8":
        return cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB)  # mono8, 8UC1, mono16


def numpy_to_image_fields(pixels: np.ndarray, encoding: str) -> dict[str, Any]:
    """Image fields (height, width, encoding, is_bigendian, step, data bytes) for an array."""
    if encoding not in ENCODINGS:
        raise ValueError(f"unsupported encoding '{encoding}'")
    dtype_code, channels = ENCODINGS[encoding]
    pixels = np.ascontiguousarray(pixels, dtype=np.dtype(dtype_code).newbyteorder("<"))
    if pixels.ndim != (3 if channels > 1 else 2) or (channels > 1 and pixels.shape[2] != channels):
        raise ValueError(f"array of shape {pixels.shape} does not fit encoding '{encoding}'")
    height, width = pixels.shape[:2]
    return {
        "height": height,
        "width": width,
        "encoding": encoding,
        "is_bigendian": 0,
        "step": width * channels * pixels.dtype.itemsize,
        "data": pixels.tobytes(),
    }

"""sensor_msgs/Image <-> numpy: every supported encoding, padded rows, and clear rejections."""

from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from face_anything_ros.outputs.image_codec import (
    ImageDecodeError,
    image_to_numpy,
    image_to_rgb8,
    numpy_to_image_fields,
)

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, size=(6, 10, 3), dtype=np.uint8)


def _msg(pixels: np.ndarray, encoding: str, pad: int = 0, bigendian: bool = False) -> SimpleNamespace:
    """An Image-shaped record with ``pad`` extra bytes at the end of every row."""
    height = pixels.shape[0]
    dtype = pixels.dtype.newbyteorder(">" if bigendian else "<")
    rows = np.ascontiguousarray(pixels, dtype=dtype).reshape(height, -1).view(np.uint8)
    padded = np.concatenate([rows, np.zeros((height, pad), np.uint8)], axis=1)
    return SimpleNamespace(
        encoding=encoding,
        height=height,
        width=pixels.shape[1],
        step=padded.shape[1],
        is_bigendian=int(bigendian),
        data=padded.tobytes(),
    )


@pytest.mark.parametrize(
    ("encoding", "pixels", "expected_rgb"),
    [
        ("rgb8", RGB, RGB),
        ("bgr8", RGB[..., ::-1], RGB),
        ("rgba8", np.dstack([RGB, np.full(RGB.shape[:2], 7, np.uint8)]), RGB),
        ("bgra8", np.dstack([RGB[..., ::-1], np.full(RGB.shape[:2], 7, np.uint8)]), RGB),
        ("mono8", RGB[..., 0], np.repeat(RGB[..., :1], 3, axis=2)),
        ("mono16", RGB[..., 0].astype(np.uint16) << 8, np.repeat(RGB[..., :1], 3, axis=2)),
    ],
)
def test_colour_encodings_decode_to_the_same_rgb_even_with_padded_rows(encoding, pixels, expected_rgb):
    for pad in (0, 6):
        np.testing.assert_array_equal(image_to_rgb8(_msg(pixels, encoding, pad)), expected_rgb)


def test_big_endian_mono16_is_byte_swapped():
    values = (np.arange(60, dtype=np.uint16).reshape(6, 10) * 1000).astype(np.uint16)
    np.testing.assert_array_equal(image_to_numpy(_msg(values, "mono16", bigendian=True)), values)


def test_bayer_rggb_is_debayered_like_opencv():
    mosaic = np.zeros((8, 8), np.uint8)
    mosaic[0::2, 0::2] = 200  # red sites of an RGGB pattern
    rgb = image_to_rgb8(_msg(mosaic, "bayer_rggb8"))
    assert rgb.shape == (8, 8, 3)
    np.testing.assert_array_equal(rgb, cv2.cvtColor(mosaic, cv2.COLOR_BayerBG2RGB))
    assert rgb[2:6, 2:6, 0].mean() > 150 and rgb[2:6, 2:6, 2].mean() < 10  # red, not blue


def test_float_depth_round_trips_through_image_fields_with_nans():
    depth = RNG.random((5, 7)).astype(np.float32)
    depth[1, 2] = np.nan
    fields = numpy_to_image_fields(depth, "32FC1")
    assert fields["step"] == 7 * 4
    decoded = image_to_numpy(SimpleNamespace(**fields))
    np.testing.assert_array_equal(np.isnan(decoded), np.isnan(depth))
    np.testing.assert_array_equal(decoded[~np.isnan(depth)], depth[~np.isnan(depth)])


@pytest.mark.parametrize("encoding", ["32FC1", "16UC1"])
def test_depth_encodings_are_refused_as_camera_input(encoding):
    pixels = np.zeros((4, 4), np.float32 if encoding == "32FC1" else np.uint16)
    with pytest.raises(ImageDecodeError, match="depth/measurement") as info:
        image_to_rgb8(_msg(pixels, encoding))
    assert info.value.kind == "encoding"


def test_unknown_encoding_is_refused_with_the_supported_list():
    msg = _msg(RGB, "rgb8")
    msg.encoding = "yuv422"
    with pytest.raises(ImageDecodeError, match=r"unsupported encoding 'yuv422'.*rgb8"):
        image_to_rgb8(msg)


def test_step_smaller_than_a_row_is_refused():
    msg = _msg(RGB, "rgb8")
    msg.step = 10 * 3 - 1
    with pytest.raises(ImageDecodeError, match="step 29 is smaller") as info:
        image_to_rgb8(msg)
    assert info.value.kind == "size"


def test_data_size_not_matching_step_times_height_is_refused():
    msg = _msg(RGB, "rgb8")
    msg.data = msg.data[:-5]
    with pytest.raises(ImageDecodeError, match="data has 175 bytes but step\\*height"):
        image_to_rgb8(msg)

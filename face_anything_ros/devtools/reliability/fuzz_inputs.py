"""Random camera inputs, valid and hostile, each with the node's expected verdict.

A case is an Image (fields as the wire carries them, so anything a bag or a buggy driver can
send) and optionally a CameraInfo published just before it. ``expect`` is ``"processed"`` or
the rejection kind the node must count (``ImageDecodeError.kind``: encoding, size, too_large).
Headers may claim gigapixels while carrying a few bytes: the node must refuse them without
allocating from the header.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from face_anything_ros.outputs.image_codec import ENCODINGS, MAX_IMAGE_PIXELS, NON_COLOUR_ENCODINGS

PROCESSED = "processed"
COLOUR_ENCODINGS = tuple(e for e in ENCODINGS if e not in NON_COLOUR_ENCODINGS)
UNKNOWN_ENCODINGS = ("yuv422", "rgb16", "32FC3", "64FC1", "8UC4", "RGB8", "jpeg", "", "bayer_xyz8")
TINY_SIZES = ((1, 1), (2, 2), (1, 7), (7, 1), (3, 5), (64, 48), (2000, 1))
HUGE_HEADERS = ((20_000, 20_000), (2**31 - 1, 2), (100_000, 1_000), (2**32 - 1, 2**32 - 1))
MAX_UINT32 = 2**32 - 1
# category -> relative frequency
CATEGORY_WEIGHTS: dict[str, float] = {
    "valid_face": 3.0,
    "valid_tiny": 2.0,
    "bogus_camera_info": 1.0,
    "unknown_encoding": 1.0,
    "measurement_image": 1.0,
    "empty": 1.0,
    "step_too_small": 1.0,
    "truncated_or_long": 1.0,
    "huge_header": 1.0,
    "huge_step": 1.0,
}


@dataclass
class FuzzCase:
    name: str
    expect: str  # PROCESSED or a rejection kind
    image: dict[str, Any]  # sensor_msgs/Image fields except header
    camera_info_k: list[float] | None = None  # publish a CameraInfo with this K first
    camera_info_size: tuple[int, int] = (0, 0)  # its width, height
    category: str = ""  # the CATEGORY_WEIGHTS key that made it


@dataclass
class FuzzInputs:
    """Seeded case generator; ``face`` is a valid RGB frame with a detectable face."""

    face: np.ndarray
    seed: int = 0
    _rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)

    def cases(self, count: int) -> list[FuzzCase]:
        """``count`` cases; every category appears once first, then random picks by weight."""
        names = list(CATEGORY_WEIGHTS)
        weights = np.array([CATEGORY_WEIGHTS[n] for n in names])
        order = names + list(
            self._rng.choice(names, size=max(0, count - len(names)), p=weights / weights.sum())
        )
        cases = []
        for name in order[:count]:
            case = getattr(self, f"_{name}")()
            case.category = name
            cases.append(case)
        return cases

    # --- helpers ------------------------------------------------------------------------------

    def _pick(self, options: tuple | list) -> Any:
        return options[int(self._rng.integers(len(options)))]

    def _pixels(self, encoding: str, width: int, height: int) -> np.ndarray:
        dtype_code, channels = ENCODINGS[encoding]
        shape = (height, width, channels) if channels > 1 else (height, width)
        high = 2**16 if dtype_code == "u2" else 256
        return self._rng.integers(0, high, size=shape).astype(dtype_code)

    def _fields(self, pixels: np.ndarray, encoding: str, padding: int = 0, bigendian: bool = False) -> dict:
        """Image fields for ``pixels`` with ``padding`` extra bytes per row."""
        dtype = pixels.dtype.newbyteorder(">" if bigendian else "<")
        rows = np.ascontiguousarray(pixels, dtype=dtype).reshape(pixels.shape[0], -1).view(np.uint8)
        padded = np.concatenate([rows, np.zeros((rows.shape[0], padding), np.uint8)], axis=1)
        return {
            "height": pixels.shape[0],
            "width": pixels.shape[1],
            "encoding": encoding,
            "is_bigendian": int(bigendian),
            "step": padded.shape[1],
            "data": padded.tobytes(),
        }

    def _valid_fields(self, width: int, height: int) -> tuple[str, dict]:
        encoding = self._pick(COLOUR_ENCODINGS)
        bigendian = ENCODINGS[encoding][0] == "u2" and bool(self._rng.integers(2))
        padding = int(self._pick((0, 0, 1, 3, 64)))
        fields = self._fields(self._pixels(encoding, width, height), encoding, padding, bigendian)
        return f"{encoding}{' big-endian' if bigendian else ''} {width}x{height} step+{padding}", fields

    # --- categories ---------------------------------------------------------------------------

    def _valid_face(self) -> FuzzCase:
        from face_anything_ros.outputs.image_codec import numpy_to_image_fields

        encoding = self._pick(
            ("rgb8", "bgr8", "rgba8", "bgra8", "mono8", "mono16", "bayer_rggb8", "bayer_gbrg16")
        )
        pixels = _face_in_encoding(self.face, encoding)
        return FuzzCase(f"valid face {encoding}", PROCESSED, numpy_to_image_fields(pixels, encoding))

    def _valid_tiny(self) -> FuzzCase:
        width, height = self._pick(TINY_SIZES)
        name, fields = self._valid_fields(width, height)
        return FuzzCase(f"valid tiny {name}", PROCESSED, fields)

    def _bogus_camera_info(self) -> FuzzCase:
        k = [500.0, 0.0, 160.0, 0.0, 500.0, 120.0, 0.0, 0.0, 1.0]
        variant = self._pick(
            (
                "nan",
                "inf",
                "zero",
                "negative",
                "zero_size",
                "other_size",
                "max_size",
                "huge_f",
                "tiny_f",
                "far_centre",
            )
        )
        size = (320, 240)
        if variant in ("nan", "inf"):
            k[int(self._rng.integers(9))] = float(variant)
        elif variant == "zero":
            k = [0.0] * 9
        elif variant == "negative":
            k[0] = k[4] = -500.0
        elif variant == "zero_size":
            size = (0, 0)
        elif variant == "other_size":
            size = (4096, 1)
        elif variant == "max_size":
            size = (MAX_UINT32, MAX_UINT32)
        elif variant == "huge_f":
            k[0] = k[4] = 1e308
        elif variant == "tiny_f":
            k[0] = k[4] = 1e-300
        else:
            k[2], k[5] = -1e10, 1e10
        face = self._valid_face()  # a face, so the odd intrinsics reach geometry and the outputs
        return FuzzCase(f"camera_info {variant} {size}, then {face.name}", PROCESSED, face.image, k, size)

    def _unknown_encoding(self) -> FuzzCase:
        if self._rng.integers(3) == 0:
            length = int(self._rng.integers(1, 300))
            encoding = "".join(self._rng.choice(list(string.printable), size=length))
        else:
            encoding = self._pick(UNKNOWN_ENCODINGS)
        fields = self._fields(self._pixels("rgb8", 4, 4), "rgb8")
        fields["encoding"] = encoding
        return FuzzCase(f"unknown encoding {encoding[:20]!r}", "encoding", fields)

    def _measurement_image(self) -> FuzzCase:
        encoding = self._pick(NON_COLOUR_ENCODINGS)
        if encoding == "32FC1":
            pixels = self._rng.choice(np.array([np.nan, np.inf, -np.inf, 1e38, 0.5], np.float32), size=(8, 8))
        else:
            pixels = self._pixels(encoding, 8, 8)
        return FuzzCase(f"{encoding} image (NaN/inf)", "encoding", self._fields(pixels, encoding))

    def _empty(self) -> FuzzCase:
        width, height = self._pick(((0, 0), (0, 480), (640, 0)))
        encoding = self._pick(COLOUR_ENCODINGS)
        fields = {
            "height": height,
            "width": width,
            "encoding": encoding,
            "is_bigendian": 0,
            "step": 0,
            "data": b"",
        }
        return FuzzCase(f"empty {width}x{height}", "size", fields)

    def _step_too_small(self) -> FuzzCase:
        name, fields = self._valid_fields(*self._pick(TINY_SIZES[1:6]))
        dtype_code, channels = ENCODINGS[fields["encoding"]]
        fields["step"] = int(
            self._rng.integers(0, fields["width"] * channels * np.dtype(dtype_code).itemsize)
        )
        return FuzzCase(f"step {fields['step']} too small for {name}", "size", fields)

    def _truncated_or_long(self) -> FuzzCase:
        name, fields = self._valid_fields(*self._pick(TINY_SIZES[1:6]))
        data = fields["data"]
        cut = int(self._rng.integers(0, len(data)))
        fields["data"] = (
            data[:cut] if self._rng.integers(2) else data + bytes(int(self._rng.integers(1, 100)))
        )
        return FuzzCase(f"{name} with {len(fields['data'])} of {len(data)} bytes", "size", fields)

    def _huge_header(self) -> FuzzCase:
        width, height = self._pick(HUGE_HEADERS)
        encoding = self._pick(COLOUR_ENCODINGS)
        step = min(MAX_UINT32, width * ENCODINGS[encoding][1] * np.dtype(ENCODINGS[encoding][0]).itemsize)
        fields = {"height": height, "width": width, "encoding": encoding, "is_bigendian": 0, "step": step}
        fields["data"] = bytes(int(self._rng.integers(0, 64)))
        assert width * height > MAX_IMAGE_PIXELS
        return FuzzCase(
            f"header {width}x{height} {encoding} with {len(fields['data'])} bytes", "too_large", fields
        )

    def _huge_step(self) -> FuzzCase:
        name, fields = self._valid_fields(*self._pick(TINY_SIZES[:6]))
        fields["step"] = MAX_UINT32
        return FuzzCase(f"step 2^32-1 on {name}", "size", fields)


def _face_in_encoding(rgb: np.ndarray, encoding: str) -> np.ndarray:
    """``rgb`` as pixels of ``encoding`` (what a camera with that format would send)."""
    import cv2

    if encoding == "rgb8":
        return rgb
    if encoding == "bgr8":
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if encoding in ("rgba8", "bgra8"):
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA if encoding == "rgba8" else cv2.COLOR_RGB2BGRA)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if encoding == "mono8":
        return grey
    if encoding == "mono16":
        return grey.astype(np.uint16) * 257
    mosaic = _mosaic(rgb, encoding.split("_")[1][:4])
    return mosaic.astype(np.uint16) * 257 if encoding.endswith("16") else mosaic


def _mosaic(rgb: np.ndarray, pattern: str) -> np.ndarray:
    """Bayer mosaic of ``rgb``: ``pattern`` names the colours at (0,0), (0,1), (1,0), (1,1)."""
    channel = {"r": 0, "g": 1, "b": 2}
    mosaic = np.empty(rgb.shape[:2], np.uint8)
    for index, colour in enumerate(pattern):
        dy, dx = divmod(index, 2)
        mosaic[dy::2, dx::2] = rgb[dy::2, dx::2, channel[colour]]
    return mosaic


def write_fuzz_bag(path: Any, cases: list[FuzzCase], namespace: str = "/camera") -> int:
    """The cases as a ROS 2 bag (``<namespace>/image_raw`` + ``camera_info``), for ``replay``."""
    from rosbags.rosbag2 import Writer

    from face_anything_ros.outputs.image_bag import header
    from face_anything_ros.outputs.message_kit import RosbagsKit
    from face_anything_ros.outputs.msg_types import face_anything_typestore

    typestore = face_anything_typestore()
    kit = RosbagsKit(typestore)
    with Writer(path, version=Writer.VERSION_LATEST) as writer:
        images = writer.add_connection(f"{namespace}/image_raw", "sensor_msgs/msg/Image", typestore=typestore)
        infos = writer.add_connection(
            f"{namespace}/camera_info", "sensor_msgs/msg/CameraInfo", typestore=typestore
        )
        for index, case in enumerate(cases):
            stamp_ns = 1_000_000_000 * (index + 1)
            msg_header = header(kit, stamp_ns, "camera_optical_frame")
            if case.camera_info_k is not None:
                width, height = case.camera_info_size
                info = kit.new(
                    "sensor_msgs/msg/CameraInfo",
                    header=msg_header,
                    width=width,
                    height=height,
                    k=np.asarray(case.camera_info_k, np.float64),
                )
                writer.write(infos, stamp_ns, typestore.serialize_cdr(info, info.__msgtype__))
            fields = dict(case.image)
            data = np.frombuffer(fields.pop("data"), np.uint8)
            image = kit.new("sensor_msgs/msg/Image", header=msg_header, data=data, **fields)
            writer.write(images, stamp_ns, typestore.serialize_cdr(image, image.__msgtype__))
    return len(cases)

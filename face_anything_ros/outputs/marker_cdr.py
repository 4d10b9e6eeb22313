"""The face mesh MarkerArray written straight to CDR bytes, for the live node to publish serialized.

A TRIANGLE_LIST marker holds ~2,700 points and colours; building them as message objects and
serializing them one by one costs milliseconds per frame. Here the two big sequences go out as
numpy blocks (a float64 (N, 3) block *is* N CDR Points), everything else as the few scalars it is.
The bytes equal rosbags' serialization of ``conversions.mesh_marker_array`` (tested), so offline bag
replay (which builds the messages) and the node publish the same content.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from face_anything_ros.outputs import conversions
from face_anything_ros.outputs.conversions import MeshStyle

CDR_LITTLE_ENDIAN = b"\x00\x01\x00\x00"  # encapsulation header (plain CDR, little endian)
_IDENTITY_QUATERNION = (0.0, 0.0, 0.0, 1.0)


class CdrWriter:
    """Appends XCDR1 little-endian primitives, aligned from the end of the encapsulation header."""

    def __init__(self) -> None:
        self._buffer = bytearray(CDR_LITTLE_ENDIAN)

    def align(self, size: int) -> None:
        self._buffer += bytes(-(len(self._buffer) - len(CDR_LITTLE_ENDIAN)) % size)

    def pack(self, fmt: str, alignment: int, *values: Any) -> None:
        self.align(alignment)
        self._buffer += struct.pack("<" + fmt, *values)

    def string(self, text: str) -> None:
        data = text.encode() + b"\0"
        self.pack("I", 4, len(data))
        self._buffer += data

    def boolean(self, value: bool) -> None:
        self._buffer.append(1 if value else 0)

    def block(self, values: np.ndarray, alignment: int) -> None:
        """A sequence's elements, contiguous (the count is written separately)."""
        if values.size:
            self.align(alignment)
            self._buffer += np.ascontiguousarray(values).tobytes()

    def header(self, sec: int, nanosec: int, frame_id: str) -> None:
        self.pack("iI", 4, sec, nanosec)
        self.string(frame_id)

    def getvalue(self) -> bytes:
        return bytes(self._buffer)


def _marker(
    writer: CdrWriter,
    header: Any,
    ns: str,
    *,
    marker_id: int = 0,
    marker_type: int = 0,
    action: int = 0,
    orientation: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
    scale: tuple[float, float, float] = (0.0, 0.0, 0.0),
    colour: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
    lifetime: tuple[int, int] = (0, 0),
    points: np.ndarray | None = None,
    colours: np.ndarray | None = None,
) -> None:
    """One visualization_msgs/Marker; fields not given keep the defaults the message kits fill in."""
    points = np.zeros((0, 3)) if points is None else points
    colours = np.zeros((0, 4), np.float32) if colours is None else colours
    writer.header(int(header.stamp.sec), int(header.stamp.nanosec), str(header.frame_id))
    writer.string(ns)
    writer.pack("iii", 4, marker_id, marker_type, action)
    writer.pack("7d", 8, 0.0, 0.0, 0.0, *orientation)  # pose: position, orientation
    writer.pack("3d", 8, *scale)
    writer.pack("4f", 4, *colour)
    writer.pack("iI", 4, *lifetime)
    writer.boolean(False)  # frame_locked
    writer.pack("I", 4, len(points))
    writer.block(points.astype("<f8", copy=False), 8)
    writer.pack("I", 4, len(colours))
    writer.block(colours.astype("<f4", copy=False), 4)
    writer.string("")  # texture_resource
    writer.header(0, 0, "")  # texture (CompressedImage): header, format, data
    writer.string("")
    writer.pack("I", 4, 0)
    writer.pack("I", 4, 0)  # uv_coordinates
    writer.string("")  # text
    writer.string("")  # mesh_resource
    writer.string("")  # mesh_file: filename, data
    writer.pack("I", 4, 0)
    writer.boolean(False)  # mesh_use_embedded_materials


def mesh_marker_array_cdr(header: Any, result: Any, style: MeshStyle | None = None) -> bytes:
    """CDR of ``conversions.mesh_marker_array`` for ``header`` (anything with stamp.sec/nanosec, frame_id)."""
    style = style or MeshStyle()
    writer = CdrWriter()
    writer.pack("I", 4, 1 + len(result.faces))
    _marker(writer, header, style.namespace, action=conversions.MARKER_DELETEALL)
    for face in result.faces:
        points, keep = conversions.mesh_triangle_points(face)
        rgb = conversions.triangle_colours(keep.tobytes())
        colours = np.empty((len(rgb), 4), dtype=np.float32)
        colours[:, :3] = rgb
        colours[:, 3] = style.alpha
        _marker(
            writer,
            header,
            style.namespace,
            marker_id=int(face.track_id),
            marker_type=conversions.MARKER_TRIANGLE_LIST,
            action=conversions.MARKER_ADD,
            orientation=_IDENTITY_QUATERNION,
            scale=(1.0, 1.0, 1.0),
            colour=(1.0, 1.0, 1.0, style.alpha),
            lifetime=conversions.mesh_lifetime(style),
            points=points.astype(np.float64),
            colours=colours,
        )
    return writer.getvalue()

"""Pipeline results -> ROS messages (depth, PointCloud2, FaceTrackArray, mesh markers, diagnostics).

Each function describes one output message through a ``MessageKit`` (``message_kit.py``), so the
live node (rclpy) and offline bag replay (rosbags) publish byte-for-byte the same content. Every
output takes the input image's header: downstream nodes synchronise on its stamp and frame_id.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from face_anything_ros.core.camera import Intrinsics
from face_anything_ros.core.face_template import (
    CANONICAL_UNIT_M,
    NAMED_LANDMARKS,
    canonical_to_rgb,
    load_face_template,
)
from face_anything_ros.outputs.image_codec import numpy_to_image_fields
from face_anything_ros.outputs.message_kit import MessageKit
from face_anything_ros.runtime.geometry import backproject_pixels

FACE_TRACK_ARRAY = "face_anything_ros/msg/FaceTrackArray"
FACE_TRACK = "face_anything_ros/msg/FaceTrack"
FACE_MESH_TOPOLOGY = "face_anything_ros/msg/FaceMeshTopology"

# Messages carry canonical coordinates in SI units: metres on the average face (REP 103). The
# pipeline works in canonical units (face_template.py), so the message layer multiplies by this, and
# FaceTrack.scale is the face's size relative to the average face (pipeline metres per unit / this).
CANONICAL_TO_METRES = CANONICAL_UNIT_M

# sensor_msgs/PointField datatypes
_FLOAT32 = 7
_UINT32 = 6
POINT_FIELDS: tuple[tuple[str, int], ...] = (
    ("x", _FLOAT32),
    ("y", _FLOAT32),
    ("z", _FLOAT32),
    ("rgb", _FLOAT32),
    ("canon_x", _FLOAT32),
    ("canon_y", _FLOAT32),
    ("canon_z", _FLOAT32),
    ("face_id", _UINT32),
)
POINT_DTYPE = np.dtype([(name, "<u4" if kind == _UINT32 else "<f4") for name, kind in POINT_FIELDS])

# visualization_msgs/Marker constants
MARKER_TRIANGLE_LIST = 11
MARKER_ADD = 0
MARKER_DELETEALL = 3


@dataclass(frozen=True)
class MeshStyle:
    """How the face mesh looks in RViz."""

    namespace: str = "face_mesh"
    alpha: float = 0.9
    lifetime_s: float = 0.5  # a face that stops being published disappears after this


def image_message(kit: MessageKit, header: Any, pixels: np.ndarray, encoding: str) -> Any:
    """sensor_msgs/Image with ``header`` from an array in ``encoding``."""
    fields = numpy_to_image_fields(pixels, encoding)
    fields["data"] = kit.array(np.frombuffer(fields["data"], np.uint8), "uint8")
    return kit.new("sensor_msgs/msg/Image", header=header, **fields)


def depth_message(kit: MessageKit, header: Any, depth: np.ndarray) -> Any:
    """32FC1 depth in metres at input resolution, NaN off-face."""
    return image_message(kit, header, depth.astype(np.float32), "32FC1")


def face_ids(faces: Sequence[Any], rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Track id of each face pixel (rows[i], cols[i]): the face with the nearest box centre among
    the boxes that contain it; 0 outside every box unless a face's box holds none of the pixels."""
    ids = np.zeros(rows.size, dtype=np.uint32)
    if not faces or rows.size == 0:
        return ids
    best = np.full(rows.size, np.inf)
    for face in faces:
        x0, y0, x1, y1 = (float(v) for v in face.box_xyxy)
        inside = (cols >= x0) & (cols <= x1) & (rows >= y0) & (rows <= y1)
        dist = (cols - 0.5 * (x0 + x1)) ** 2 + (rows - 0.5 * (y0 + y1)) ** 2
        take = inside & (dist < best)
        if not np.any(inside):
            take = dist < best  # pixel outside every box: give it to the nearest face
        best[take] = dist[take]
        ids[take] = int(face.track_id)
    return ids


def face_id_map(faces: Sequence[Any], mask: np.ndarray) -> np.ndarray:
    """``face_ids`` of every pixel of ``mask`` as an image (0 off the mask)."""
    ids = np.zeros(mask.shape, dtype=np.uint32)
    rows, cols = np.nonzero(mask)
    ids[rows, cols] = face_ids(faces, rows, cols)
    return ids


def _rows_all_finite(values: np.ndarray) -> np.ndarray:
    """(N, 3) -> (N,) bool; 8x faster than ``np.isfinite(values).all(axis=1)``."""
    finite = np.isfinite(values)
    return finite[:, 0] & finite[:, 1] & finite[:, 2]


def point_array(result: Any, intrinsics: Intrinsics, stride: int = 1) -> np.ndarray:
    """Structured array (POINT_DTYPE) of the face pixels with finite depth and canonical coordinates.

    Row-major pixel order. Flat indices with ``np.take`` and one contiguous (N, 8) float32 block
    (every POINT_DTYPE field is 4 bytes) keep this at a few ms for a 640x480 face.
    """
    valid = result.mask & np.isfinite(result.depth)
    if stride > 1:
        keep = np.zeros_like(valid)
        keep[::stride, ::stride] = True
        valid &= keep
    index = np.flatnonzero(valid)
    rows, cols = np.divmod(index, valid.shape[1])
    ids = face_ids(result.faces, rows, cols)  # over every valid pixel, before the canonical check
    canonical = np.take(result.canonical.reshape(-1, 3), index, axis=0).astype(np.float32, copy=False)
    finite = _rows_all_finite(canonical)
    if not finite.all():
        index, rows, cols, canonical, ids = (a[finite] for a in (index, rows, cols, canonical, ids))
    pixels = np.stack([cols, rows], axis=1).astype(np.float32)  # integer = pixel centre (OpenCV)
    depth = np.take(result.depth.reshape(-1), index).astype(np.float32, copy=False)
    xyz = backproject_pixels(pixels, depth, intrinsics)
    colours = canonical_to_rgb(canonical).astype(np.uint32)
    packed = (colours[:, 0] << 16) | (colours[:, 1] << 8) | colours[:, 2]
    columns = np.empty((index.size, len(POINT_FIELDS)), dtype=np.float32)
    columns[:, 0:3] = xyz
    columns[:, 3] = packed.view(np.float32)
    columns[:, 4:7] = canonical * np.float32(CANONICAL_TO_METRES)
    columns[:, 7] = ids.view(np.float32)
    return columns.view(POINT_DTYPE).reshape(index.size)


def canonical_rgb_image(canonical: np.ndarray) -> np.ndarray:
    """``canonical_to_rgb`` of an (H, W, 3) canonical map, converting only the box around the
    non-NaN pixels (all-NaN pixels are black either way): the same image, 5-10x faster."""
    out = np.zeros(canonical.shape, dtype=np.uint8)
    present = ~np.isnan(
        np.fmax(np.fmax(canonical[..., 0], canonical[..., 1]), canonical[..., 2])
    )  # fmax: NaN only if all are
    rows, cols = np.flatnonzero(present.any(axis=1)), np.flatnonzero(present.any(axis=0))
    if rows.size:
        block = np.s_[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        out[block] = canonical_to_rgb(canonical[block])
    return out


def point_cloud_message(kit: MessageKit, header: Any, points: np.ndarray) -> Any:
    """Unorganised PointCloud2 (height 1) of a POINT_DTYPE array."""
    fields = [
        kit.new(
            "sensor_msgs/msg/PointField",
            name=name,
            offset=POINT_DTYPE.fields[name][1],
            datatype=kind,
            count=1,
        )
        for name, kind in POINT_FIELDS
    ]
    data = np.ascontiguousarray(points, dtype=POINT_DTYPE).view(np.uint8).ravel()
    return kit.new(
        "sensor_msgs/msg/PointCloud2",
        header=header,
        height=1,
        width=int(points.size),
        fields=fields,
        is_bigendian=False,
        point_step=POINT_DTYPE.itemsize,
        row_step=POINT_DTYPE.itemsize * int(points.size),
        data=kit.array(data, "uint8"),
        is_dense=True,
    )


def point_cloud_to_array(msg: Any) -> np.ndarray:
    """Inverse of ``point_cloud_message`` for our own layout (for tests and offline readers)."""
    names = [f.name for f in msg.fields]
    if names != [name for name, _ in POINT_FIELDS] or int(msg.point_step) != POINT_DTYPE.itemsize:
        raise ValueError(f"not a face_anything point cloud (fields {names}, point_step {msg.point_step})")
    raw = np.frombuffer(bytes(msg.data) if not isinstance(msg.data, np.ndarray) else msg.data, np.uint8)
    return raw.view(POINT_DTYPE).copy()


def quaternion_message(kit: MessageKit, rotation: np.ndarray) -> Any:
    """geometry_msgs/Quaternion of a 3x3 rotation matrix (x, y, z, w as scipy orders them)."""
    qx, qy, qz, qw = Rotation.from_matrix(np.asarray(rotation, dtype=np.float64)).as_quat()
    return kit.new("geometry_msgs/msg/Quaternion", x=qx, y=qy, z=qz, w=qw)


def pose_message(kit: MessageKit, rotation: np.ndarray, translation: np.ndarray) -> Any:
    tx, ty, tz = (float(v) for v in translation)
    return kit.new(
        "geometry_msgs/msg/Pose",
        position=kit.new("geometry_msgs/msg/Point", x=tx, y=ty, z=tz),
        orientation=quaternion_message(kit, rotation),
    )


def uuid_message(kit: MessageKit, value: uuid.UUID) -> Any:
    """unique_identifier_msgs/UUID of ``value`` (its 16 bytes in RFC 4122 order)."""
    return kit.new("unique_identifier_msgs/msg/UUID", uuid=kit.array(np.frombuffer(value.bytes, np.uint8), "uint8"))


def _roi(kit: MessageKit, box_xyxy: Sequence[float], width: int, height: int) -> Any:
    x0, y0, x1, y1 = (float(v) for v in box_xyxy)
    left, top = int(np.clip(np.floor(x0), 0, width - 1)), int(np.clip(np.floor(y0), 0, height - 1))
    right, bottom = int(np.clip(np.ceil(x1), left + 1, width)), int(np.clip(np.ceil(y1), top + 1, height))
    return kit.new(
        "sensor_msgs/msg/RegionOfInterest",
        x_offset=left,
        y_offset=top,
        width=right - left,
        height=bottom - top,
        do_rectify=False,
    )


def face_track(kit: MessageKit, face: Any, width: int, height: int) -> Any:
    """One FaceTrack from one pipeline face result."""
    pose_valid = bool(face.pose_valid)
    rotation = np.asarray(face.rotation) if pose_valid else np.eye(3)
    translation = np.asarray(face.translation) if pose_valid else np.zeros(3)
    return kit.new(
        FACE_TRACK,
        id=int(face.track_id),
        uuid=uuid_message(kit, face.track_uuid),
        age=int(face.age),
        roi=_roi(kit, face.box_xyxy, width, height),
        confidence=float(face.score),
        detector=str(face.detector),
        pose_valid=pose_valid,
        pose=pose_message(kit, rotation, translation),
        scale=float(face.scale) / CANONICAL_TO_METRES if pose_valid else 0.0,
        query_names=kit.array(list(face.query_names), "string"),
        query_canonical=kit.array(np.asarray(face.query_canonical) * CANONICAL_TO_METRES, "float32"),
        pixels=kit.array(face.query_pixels, "float32"),
        points=kit.array(face.query_points, "float32"),
        visible=kit.array(face.query_visible, "bool"),
        pixel_uncertainty=kit.array(face.query_uncertainty_px, "float32"),
        mesh_vertices=kit.array(face.mesh_vertices, "float32"),
        mesh_visible=kit.array(face.mesh_visible, "bool"),
    )


def face_track_array(kit: MessageKit, header: Any, result: Any) -> Any:
    """FaceTrackArray for one frame (``faces`` empty when no face is visible)."""
    height, width = result.mask.shape
    return kit.new(
        FACE_TRACK_ARRAY, header=header, faces=[face_track(kit, f, width, height) for f in result.faces]
    )


def face_pose_array(kit: MessageKit, header: Any, result: Any) -> Any:
    """geometry_msgs/PoseArray: head pose (canonical face frame -> camera) of every face with a valid fit.

    The TF-free way to follow heads in RViz (tf2_msgs has no wheel, so no /tf here); the order is
    that of the faces with ``pose_valid`` in the FaceTrackArray of the same stamp.
    """
    poses = [pose_message(kit, face.rotation, face.translation) for face in result.faces if face.pose_valid]
    return kit.new("geometry_msgs/msg/PoseArray", header=header, poses=poses)


def mesh_triangle_points(face: Any) -> tuple[np.ndarray, np.ndarray]:
    """(3 per drawn triangle, 3) float32 camera-frame vertices of the mesh marker, and the (T,) bool
    mask of the template triangles drawn (all three vertices visible and finite)."""
    template = load_face_template()
    vertices = np.asarray(face.mesh_vertices, dtype=np.float32).reshape(-1, 3)
    usable = np.asarray(face.mesh_visible, dtype=bool) & np.all(np.isfinite(vertices), axis=1)
    keep = np.all(usable[template.faces], axis=1)
    return vertices[template.faces[keep].ravel()], keep


@lru_cache(maxsize=16)
def triangle_colours(visible_triangles: bytes) -> np.ndarray:
    """(3 per drawn triangle, 3) float32 canonical RGB in [0, 1] (read-only; cached while visibility holds)."""
    template = load_face_template()
    keep = np.frombuffer(visible_triangles, dtype=bool)
    colours = (canonical_to_rgb(template.canonical).astype(np.float32) / 255.0)[template.faces[keep].ravel()]
    colours.setflags(write=False)
    return colours


@lru_cache(maxsize=16)
def _triangle_colours(kit: MessageKit, visible_triangles: bytes, alpha: float) -> list[Any]:
    """ColorRGBA messages of ``triangle_colours`` (the same list while visibility holds)."""
    colour = kit.factory("std_msgs/msg/ColorRGBA")
    return [colour(r=r, g=g, b=b, a=alpha) for r, g, b in triangle_colours(visible_triangles).tolist()]


def _mesh_marker(kit: MessageKit, header: Any, face: Any, style: MeshStyle) -> Any:
    points, keep = mesh_triangle_points(face)
    point = kit.factory("geometry_msgs/msg/Point")
    lifetime_sec, lifetime_nanosec = mesh_lifetime(style)
    return kit.new(
        "visualization_msgs/msg/Marker",
        header=header,
        ns=style.namespace,
        id=int(face.track_id),
        type=MARKER_TRIANGLE_LIST,
        action=MARKER_ADD,
        pose=pose_message(kit, np.eye(3), np.zeros(3)),
        scale=kit.new("geometry_msgs/msg/Vector3", x=1.0, y=1.0, z=1.0),
        color=kit.new("std_msgs/msg/ColorRGBA", r=1.0, g=1.0, b=1.0, a=style.alpha),
        lifetime=kit.new("builtin_interfaces/msg/Duration", sec=lifetime_sec, nanosec=lifetime_nanosec),
        points=[point(x=x, y=y, z=z) for x, y, z in points.astype(float).tolist()],
        colors=_triangle_colours(kit, keep.tobytes(), style.alpha),
    )


def mesh_lifetime(style: MeshStyle) -> tuple[int, int]:
    """The marker lifetime as Duration (sec, nanosec)."""
    sec = int(style.lifetime_s)
    return sec, round((style.lifetime_s - sec) * 1e9)


def mesh_marker_array(kit: MessageKit, header: Any, result: Any, style: MeshStyle = MeshStyle()) -> Any:
    """MarkerArray: DELETEALL (clears faces that left) then one TRIANGLE_LIST per face, camera frame."""
    clear = kit.new(
        "visualization_msgs/msg/Marker", header=header, ns=style.namespace, action=MARKER_DELETEALL
    )
    markers = [clear] + [_mesh_marker(kit, header, face, style) for face in result.faces]
    return kit.new("visualization_msgs/msg/MarkerArray", markers=markers)


def mesh_topology_message(kit: MessageKit, header: Any) -> Any:
    """FaceMeshTopology: the template that FaceTrack.mesh_vertices follow (published once, latched)."""
    template = load_face_template()
    return kit.new(
        FACE_MESH_TOPOLOGY,
        header=header,
        canonical_vertices=kit.array(template.canonical * CANONICAL_TO_METRES, "float32"),
        triangles=kit.array(template.faces, "uint32"),
        landmark_names=kit.array(list(NAMED_LANDMARKS), "string"),
        landmark_indices=kit.array(list(NAMED_LANDMARKS.values()), "uint32"),
    )


def diagnostic_array(
    kit: MessageKit,
    header: Any,
    name: str,
    hardware_id: str,
    level: int,
    message: str,
    values: dict[str, Any],
) -> Any:
    """diagnostic_msgs/DiagnosticArray with one status (level: 0 OK, 1 WARN, 2 ERROR, 3 STALE)."""
    status = kit.new(
        "diagnostic_msgs/msg/DiagnosticStatus",
        level=kit.byte(level),
        name=name,
        message=message,
        hardware_id=hardware_id,
        values=[kit.new("diagnostic_msgs/msg/KeyValue", key=k, value=str(v)) for k, v in values.items()],
    )
    return kit.new("diagnostic_msgs/msg/DiagnosticArray", header=header, status=[status])

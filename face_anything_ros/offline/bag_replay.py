"""Bag in, bag out: run the pipeline on every image of a ROS 2 bag and record the node's outputs.

Pure Python over ``rosbags`` (sqlite3 and mcap; no ROS install). The output bag holds the same
topics the node publishes when started like ``launch/replay_bag.launch.py`` does (namespace
``face_anything``), with the input's header on every output, plus a copy of the input image and
camera_info topics so the result can be viewed in RViz next to the camera. Our message types are
registered from msg/*.msg, so rosbags and ``ros2 bag`` in a full ROS install can read them.

Problems never lose work: unreadable images are skipped and counted, a truncated bag stops the
replay where it breaks, Ctrl-C stops it between frames; in each case the output bag is closed
properly (valid and readable) and the summary says what was skipped.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from face_anything_ros.core.camera import Intrinsics, resolve_intrinsics
from face_anything_ros.offline.bag_salvage import SalvageError, SalvageReader
from face_anything_ros.offline.interrupt_guard import sigint_deferred
from face_anything_ros.outputs import conversions
from face_anything_ros.outputs.camera_info import intrinsics_from_camera_info
from face_anything_ros.outputs.image_codec import ImageDecodeError
from face_anything_ros.outputs.input_transport import decode_to_rgb8
from face_anything_ros.outputs.message_kit import RosbagsKit
from face_anything_ros.outputs.msg_types import face_anything_typestore
from face_anything_ros.outputs.output_table import ProcessedFrame, enabled_outputs, output_header
from face_anything_ros.outputs.params import NodeParams

LOGGER = logging.getLogger(__name__)
IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"
OUTPUT_NAMESPACE = "/face_anything"
STORAGE_FORMATS = ("sqlite3", "mcap")


class ReplayError(RuntimeError):
    """The replay cannot start (unreadable bag, no image topic, output exists...)."""


@dataclass
class ReplaySummary:
    """What a replay did and what it skipped."""

    image_topic: str = ""
    images: int = 0
    processed: int = 0
    faces: int = 0
    skipped: Counter = field(default_factory=Counter)
    messages_written: int = 0
    stopped_early: str = ""  # why the replay ended before the end of the bag ("" = it did not)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def fps(self) -> float:
        return self.processed / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class ReplayOptions:
    """Which inputs to use and which outputs to write."""

    image_topic: str | None = None
    storage: str | None = None  # None: same as the input bag
    copy_inputs: bool = True
    max_images: int = 0  # 0 = all


def _storage_of(bag: Path) -> str:
    return "mcap" if any(bag.glob("*.mcap")) or bag.suffix == ".mcap" else "sqlite3"


def _decode_image(connection: Any, msg: Any) -> np.ndarray:
    return decode_to_rgb8(msg)  # Image or CompressedImage (the node's input decoding)


def _pick_camera_info(connections: list[Any], image_topic: str) -> Any | None:
    """The CameraInfo topic beside the image topic (longest common namespace)."""
    infos = [c for c in connections if c.msgtype == CAMERA_INFO_TYPE]
    if not infos:
        return None
    namespace = image_topic.rsplit("/", 1)[0]
    return max(infos, key=lambda c: (c.topic.rsplit("/", 1)[0] == namespace, len(c.topic)))


class _OutputBag:
    """The rosbags writer plus one connection per output topic."""

    def __init__(self, path: Path, storage: str, typestore: Any) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        self.writer = Writer(path, version=Writer.VERSION_LATEST, storage_plugin=plugin)
        self.typestore = typestore
        self.connections: dict[str, Any] = {}
        self.written = 0

    def __enter__(self) -> _OutputBag:
        self.writer.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.writer.close()

    def write(self, topic: str, msg: Any, timestamp_ns: int, msgtype: str | None = None) -> None:
        """Record a message, or its CDR bytes (then ``msgtype`` names the type)."""
        msgtype = msgtype or msg.__msgtype__
        if topic not in self.connections:
            self.connections[topic] = self.writer.add_connection(topic, msgtype, typestore=self.typestore)
        data = (
            msg
            if isinstance(msg, bytes | bytearray | memoryview)
            else self.typestore.serialize_cdr(msg, msgtype)
        )
        self.writer.write(self.connections[topic], timestamp_ns, data)
        self.written += 1


def _write_outputs(
    bag: _OutputBag,
    kit: RosbagsKit,
    image_header: Any,
    timestamp_ns: int,
    rgb: np.ndarray,
    result: Any,
    intrinsics: Intrinsics,
    params: NodeParams,
) -> None:
    """The node's output table (outputs/output_table.py), written instead of published."""
    frame = ProcessedFrame(output_header(kit, image_header, params), rgb, result, intrinsics)
    for spec in enabled_outputs(params):
        topic = spec.topic if spec.topic.startswith("/") else f"{OUTPUT_NAMESPACE}/{spec.topic}"
        bag.write(topic, spec.build(kit, frame, params), timestamp_ns, spec.type_name)


def _open_reader(in_bag: Path, typestore: Any, summary: ReplaySummary) -> Any:
    """rosbags' reader, or the salvage reader for a damaged bag (noted in the summary)."""
    from rosbags.highlevel import AnyReader

    try:
        reader = AnyReader([in_bag], default_typestore=typestore)
        reader.open()
        return reader
    except Exception as exc:
        damage = f"{type(exc).__name__}: {exc}"
    try:
        reader = SalvageReader(in_bag, typestore)
    except SalvageError as exc:
        raise ReplayError(f"cannot read bag {in_bag}: {damage}; salvage failed: {exc}") from exc
    summary.notes.append(f"bag damaged ({damage}): reading what survives of {reader.file.name}")
    return reader


def replay_bag(
    in_bag: Path,
    out_bag: Path,
    pipeline: Any,
    params: NodeParams,
    options: ReplayOptions = ReplayOptions(),
    progress: Callable[[int | None], Any] | None = None,
) -> ReplaySummary:
    """Replay ``in_bag`` through ``pipeline`` into the new bag ``out_bag``.

    ``progress(total)`` may return a tqdm-like object (``update()``, ``close()``).
    """
    if out_bag.exists():
        raise ReplayError(f"output {out_bag} already exists: choose another --out or delete it")
    if not out_bag.parent.exists():
        raise ReplayError(f"output folder {out_bag.parent} does not exist")
    typestore = face_anything_typestore()
    kit = RosbagsKit(typestore)
    summary = ReplaySummary()
    reader = _open_reader(Path(in_bag), typestore, summary)
    try:
        image_connections = [c for c in reader.connections if c.msgtype in IMAGE_TYPES]
        if options.image_topic:
            image_connections = [c for c in image_connections if c.topic == options.image_topic]
        if not image_connections:
            topics = ", ".join(f"{c.topic} [{c.msgtype}]" for c in reader.connections) or "none"
            wanted = f"image topic '{options.image_topic}'" if options.image_topic else "image topic"
            raise ReplayError(f"bag {in_bag} has no {wanted} (topics: {topics})")
        image_connection = image_connections[0]
        if len(image_connections) > 1:
            LOGGER.warning(
                "several image topics (%s): using %s (choose with --image-topic)",
                ", ".join(c.topic for c in image_connections),
                image_connection.topic,
            )
        summary.image_topic = image_connection.topic
        info_connection = _pick_camera_info(reader.connections, image_connection.topic)
        wanted = [image_connection] + ([info_connection] if info_connection else [])
        total = image_connection.msgcount or None
        if options.max_images and total:
            total = min(total, options.max_images)
        bar = progress(total) if progress else None
        storage = options.storage or _storage_of(Path(in_bag))
        with _OutputBag(out_bag, storage, typestore) as bag:
            start = time.perf_counter()
            try:
                _replay_messages(reader, wanted, bag, kit, pipeline, params, options, summary, bar)
            except KeyboardInterrupt:
                summary.stopped_early = "interrupted (Ctrl-C)"
            summary.seconds = time.perf_counter() - start
            summary.messages_written = bag.written
        if bar is not None:
            bar.close()
        if info_connection is None:
            summary.notes.append(
                f"no camera_info topic: assumed a {params.default_fov_deg:.0f} deg horizontal FOV"
            )
    finally:
        reader.close()
    return summary


def _replay_messages(
    reader: Any,
    connections: list[Any],
    bag: _OutputBag,
    kit: RosbagsKit,
    pipeline: Any,
    params: NodeParams,
    options: ReplayOptions,
    summary: ReplaySummary,
    bar: Any,
) -> None:
    camera_info = None
    messages = reader.messages(connections=connections)
    while True:
        try:
            connection, timestamp_ns, raw = next(messages)
            msg = reader.deserialize(raw, connection.msgtype)
        except StopIteration:
            return
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # truncated or corrupt bag: keep what was written
            summary.stopped_early = (
                f"bag unreadable after {summary.images} images ({type(exc).__name__}: {exc})"
            )
            LOGGER.warning("stopping: %s", summary.stopped_early)
            return
        with sigint_deferred():  # Ctrl-C never cuts a bag write in half
            if bag.written == 0:  # the latched topology first, at the bag's start time
                topology = conversions.mesh_topology_message(kit, msg.header)
                bag.write(f"{OUTPUT_NAMESPACE}/face_mesh_topology", topology, timestamp_ns)
            if options.copy_inputs:
                bag.write(connection.topic, msg, timestamp_ns)
        if connection.msgtype == CAMERA_INFO_TYPE:
            camera_info = msg
            continue
        summary.images += 1
        try:
            rgb = _decode_image(connection, msg)
        except ImageDecodeError as exc:
            summary.skipped[f"image rejected: {exc}"] += 1
        else:
            intrinsics = _intrinsics(camera_info, rgb.shape[1], rgb.shape[0], params)
            stamp_s = msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec
            result = pipeline.process(rgb, intrinsics, stamp_s)
            with sigint_deferred():  # all of a frame's outputs and its count, or none of them
                _write_outputs(bag, kit, msg.header, timestamp_ns, rgb, result, intrinsics, params)
                summary.processed += 1
                summary.faces += len(result.faces)
        if bar is not None:
            bar.update(1)
        if options.max_images and summary.images >= options.max_images:
            return


def _intrinsics(camera_info: Any, width: int, height: int, params: NodeParams) -> Intrinsics:
    known = intrinsics_from_camera_info(camera_info, params.rectified) if camera_info is not None else None
    return resolve_intrinsics(known, width, height, params.default_fov_deg)

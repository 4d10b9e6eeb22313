"""Bag in, bag out with rosbags: outputs per image, custom types readable, damage handled."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from node_test_support import sample_frames, weights_for_tests
from rosbags.highlevel import AnyReader

from face_anything_ros.offline.bag_replay import OUTPUT_NAMESPACE, ReplayError, ReplayOptions, replay_bag
from face_anything_ros.offline.startup import load_params
from face_anything_ros.outputs.conversions import point_cloud_to_array
from face_anything_ros.outputs.image_bag import write_image_bag
from face_anything_ros.outputs.image_codec import image_to_numpy
from face_anything_ros.outputs.params import build_pipeline

FRAMES, INTRINSICS = sample_frames(4)
OUTPUT_TOPICS = ("depth", "depth/camera_info", "detections", "points", "faces", "face_poses", "face_mesh")


@pytest.fixture(scope="module")
def weights() -> str:
    return weights_for_tests()


@pytest.fixture(scope="module")
def pipeline_and_params(weights):
    params = load_params(None, weights)
    return build_pipeline(params), params


def _messages(bag: Path, topic: str) -> list:
    """Every message of ``topic``, decoded with the types stored in the bag itself."""
    with AnyReader([bag]) as reader:  # no default typestore: definitions must come from the bag
        connections = [c for c in reader.connections if c.topic == topic]
        return [reader.deserialize(raw, c.msgtype) for c, _, raw in reader.messages(connections)]


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_every_image_gets_all_outputs_with_its_header_and_types_readable_from_the_bag(
    tmp_path, pipeline_and_params, storage
):
    pipeline, params = pipeline_and_params
    write_image_bag(tmp_path / "in", FRAMES, INTRINSICS, storage=storage, encoding="bgr8")
    summary = replay_bag(tmp_path / "in", tmp_path / "out", pipeline, params)
    assert (summary.images, summary.processed, summary.stopped_early) == (4, 4, "")
    assert summary.faces == 4 and not summary.skipped
    assert any((tmp_path / "out").glob(f"*.{'mcap' if storage == 'mcap' else 'db3'}"))
    images = _messages(tmp_path / "out", "/camera/image_raw")
    stamps = [(m.header.stamp.sec, m.header.stamp.nanosec) for m in images]
    assert len(stamps) == 4
    for name in OUTPUT_TOPICS:
        messages = _messages(tmp_path / "out", f"{OUTPUT_NAMESPACE}/{name}")
        headers = [m.markers[0].header if name == "face_mesh" else m.header for m in messages]
        assert [(h.stamp.sec, h.stamp.nanosec) for h in headers] == stamps, name
    depth = image_to_numpy(_messages(tmp_path / "out", f"{OUTPUT_NAMESPACE}/depth")[0])
    assert depth.shape == (480, 640)
    cloud = point_cloud_to_array(_messages(tmp_path / "out", f"{OUTPUT_NAMESPACE}/points")[0])
    assert np.all(np.isin(cloud["z"], depth[np.isfinite(depth)]))
    faces = _messages(tmp_path / "out", f"{OUTPUT_NAMESPACE}/faces")
    assert all(len(m.faces) == 1 for m in faces)
    assert faces[0].__msgtype__ == "face_anything_ros/msg/FaceTrackArray"
    assert len(faces[0].faces[0].mesh_vertices) == 468 * 3
    (topology,) = _messages(tmp_path / "out", f"{OUTPUT_NAMESPACE}/face_mesh_topology")
    assert len(topology.canonical_vertices) == 468 * 3
    # the ecosystem outputs, read back with the definitions stored in the bag
    detections = _messages(tmp_path / "out", f"{OUTPUT_NAMESPACE}/detections")
    assert detections[0].detections[0].id == bytes(faces[0].faces[0].uuid.uuid).hex()
    frames = _messages(tmp_path / "out", "/tf")
    assert [(m.transforms[0].header.stamp.sec, m.transforms[0].header.stamp.nanosec) for m in frames] == stamps


def test_bag_without_image_topics_is_refused_naming_its_topics(tmp_path, pipeline_and_params):
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore

    typestore = get_typestore(Stores.ROS2_KILTED)
    with Writer(tmp_path / "in", version=Writer.VERSION_LATEST) as writer:
        connection = writer.add_connection("/chatter", "std_msgs/msg/String", typestore=typestore)
        message = typestore.types["std_msgs/msg/String"](data="hi")
        writer.write(connection, 1, typestore.serialize_cdr(message, "std_msgs/msg/String"))
    with pytest.raises(ReplayError, match=r"has no image topic \(topics: /chatter \[std_msgs/msg/String\]\)"):
        replay_bag(tmp_path / "in", tmp_path / "out", *pipeline_and_params)
    assert not (tmp_path / "out").exists()


def test_unknown_image_topic_is_refused(tmp_path, pipeline_and_params):
    write_image_bag(tmp_path / "in", FRAMES[:1], INTRINSICS)
    with pytest.raises(ReplayError, match="no image topic '/nope'"):
        replay_bag(
            tmp_path / "in", tmp_path / "out", *pipeline_and_params, ReplayOptions(image_topic="/nope")
        )


def test_existing_output_is_never_overwritten(tmp_path, pipeline_and_params):
    write_image_bag(tmp_path / "in", FRAMES[:1], INTRINSICS)
    (tmp_path / "out").mkdir()
    with pytest.raises(ReplayError, match="already exists"):
        replay_bag(tmp_path / "in", tmp_path / "out", *pipeline_and_params)


def test_cut_mcap_bag_is_salvaged_up_to_the_cut_and_the_output_stays_valid(tmp_path, pipeline_and_params):
    write_image_bag(tmp_path / "full", FRAMES, INTRINSICS, storage="mcap")
    shutil.copytree(tmp_path / "full", tmp_path / "cut")
    (mcap,) = (tmp_path / "cut").glob("*.mcap")
    data = mcap.read_bytes()
    mcap.write_bytes(data[: int(len(data) * 0.6)])  # a recording killed mid-write
    summary = replay_bag(tmp_path / "cut", tmp_path / "out", *pipeline_and_params)
    assert 0 < summary.processed < len(FRAMES)
    assert "bag unreadable after" in summary.stopped_early
    assert any("bag damaged" in note for note in summary.notes)
    assert len(_messages(tmp_path / "out", f"{OUTPUT_NAMESPACE}/faces")) == summary.processed


def test_bag_folder_without_metadata_is_read_directly(tmp_path, pipeline_and_params):
    write_image_bag(tmp_path / "in", FRAMES[:2], INTRINSICS)
    (tmp_path / "in" / "metadata.yaml").unlink()  # ros2 bag record killed before closing
    summary = replay_bag(tmp_path / "in", tmp_path / "out", *pipeline_and_params)
    assert (summary.processed, summary.stopped_early) == (2, "")


def test_compressed_image_topics_are_replayed(tmp_path, pipeline_and_params):
    import cv2
    from rosbags.rosbag2 import Writer

    from face_anything_ros.outputs.image_bag import header
    from face_anything_ros.outputs.message_kit import RosbagsKit
    from face_anything_ros.outputs.msg_types import face_anything_typestore

    typestore = face_anything_typestore()
    kit = RosbagsKit(typestore)
    with Writer(tmp_path / "in", version=Writer.VERSION_LATEST) as writer:
        connection = writer.add_connection(
            "/camera/image_raw/compressed", "sensor_msgs/msg/CompressedImage", typestore=typestore
        )
        for index, rgb in enumerate(FRAMES[:2]):
            ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            assert ok
            msg = kit.new(
                "sensor_msgs/msg/CompressedImage",
                header=header(kit, 1_000_000_000 + index, "cam"),
                format="jpeg",
                data=kit.array(jpeg.ravel(), "uint8"),
            )
            writer.write(connection, 1_000_000_000 + index, typestore.serialize_cdr(msg, msg.__msgtype__))
    summary = replay_bag(tmp_path / "in", tmp_path / "out", *pipeline_and_params)
    assert (summary.image_topic, summary.processed, summary.faces) == ("/camera/image_raw/compressed", 2, 2)
    depth = image_to_numpy(_messages(tmp_path / "out", f"{OUTPUT_NAMESPACE}/depth")[0])
    assert depth.shape == (480, 640)


def test_ctrl_c_in_the_middle_of_a_frames_writes_stops_after_that_frame_whole(
    tmp_path, pipeline_and_params, monkeypatch, request
):
    """A real SIGINT between two of frame 2's writes (depth written, faces not yet): the frame is
    finished, then the replay stops, so every output topic holds exactly the frames it counts."""
    import signal

    from face_anything_ros.offline import bag_replay

    real_write = bag_replay._OutputBag.write
    depth_writes = []

    def write_then_interrupt(bag, topic, *rest):
        real_write(bag, topic, *rest)
        if topic == f"{OUTPUT_NAMESPACE}/depth":
            depth_writes.append(topic)
            if len(depth_writes) == 2:
                signal.raise_signal(signal.SIGINT)  # as Ctrl-C: Python raises at the next bytecode

    monkeypatch.setattr(bag_replay._OutputBag, "write", write_then_interrupt)
    # Ctrl-C as in a fresh `face-anything replay` process (an earlier in-process test may have
    # installed a handler of its own, e.g. the trainer's stop request)
    previous_handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous_handler))
    write_image_bag(tmp_path / "in", FRAMES, INTRINSICS)
    summary = replay_bag(tmp_path / "in", tmp_path / "out", *pipeline_and_params)
    assert (summary.processed, summary.stopped_early) == (2, "interrupted (Ctrl-C)")
    for name in OUTPUT_TOPICS:
        assert len(_messages(tmp_path / "out", f"{OUTPUT_NAMESPACE}/{name}")) == 2, name

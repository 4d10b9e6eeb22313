"""``face-anything replay IN_BAG --out OUT_BAG``: the node's outputs for every image of a ROS 2 bag."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="bag in, bag out: run the pipeline on every image of a ROS 2 bag (sqlite3 or mcap)",
        description=(
            "Read IN_BAG with rosbags, run the pipeline on every image (sensor_msgs/Image or "
            "CompressedImage) and write a new bag with /face_anything/{depth,points,faces,face_mesh,"
            "face_mesh_topology} stamped with each image's header, plus a copy of the image and "
            "camera_info topics. No ROS install needed; the result plays with `ros2 bag play`."
        ),
    )
    parser.add_argument("in_bag", help="input bag folder (or .mcap / .db3 file)")
    parser.add_argument("--out", required=True, help="output bag folder (must not exist)")
    parser.add_argument("--image-topic", help="image topic to process (default: the first image topic)")
    parser.add_argument("--config", help="ROS 2 parameter file of the node (e.g. config/face_anything.yaml)")
    parser.add_argument("--weights", help="model weights file (default: the shipped model)")
    parser.add_argument(
        "--storage", choices=("sqlite3", "mcap"), help="output storage (default: as the input)"
    )
    parser.add_argument("--no-copy-inputs", action="store_true", help="do not copy image/camera_info topics")
    parser.add_argument("--max-images", type=int, default=0, help="stop after this many images (0 = all)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from face_anything_ros.offline.bag_replay import ReplayError, ReplayOptions, replay_bag
    from face_anything_ros.offline.startup import load_params
    from face_anything_ros.outputs.params import ParameterError, build_pipeline

    try:
        params = load_params(args.config, args.weights)
    except (ParameterError, OSError) as exc:
        print(f"error: {exc}")
        return 2
    in_bag = Path(args.in_bag)
    if not in_bag.exists():
        print(f"error: input bag {in_bag} does not exist")
        return 2
    try:
        pipeline = build_pipeline(params)
    except Exception as exc:  # missing/corrupt weights, bad pipeline config
        print(f"error: cannot start the pipeline: {exc}")
        return 1
    options = ReplayOptions(
        image_topic=args.image_topic,
        storage=args.storage,
        copy_inputs=not args.no_copy_inputs,
        max_images=args.max_images,
    )
    try:
        summary = replay_bag(
            in_bag,
            Path(args.out),
            pipeline,
            params,
            options,
            progress=lambda total: tqdm(total=total, unit="image", desc="replay"),
        )
    except ReplayError as exc:
        print(f"error: {exc}")
        return 2
    print(
        f"replay: {summary.image_topic}: {summary.processed}/{summary.images} images processed, "
        f"{summary.faces} faces, {summary.fps:.2f} images/s; {summary.messages_written} messages -> {args.out}"
    )
    for reason, count in summary.skipped.items():
        print(f"  skipped {count}: {reason}")
    for note in summary.notes:
        print(f"  note: {note}")
    if summary.stopped_early:
        print(f"  stopped early: {summary.stopped_early} (everything before that was written)")
        return 1
    return 0

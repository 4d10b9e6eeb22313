"""``face-anything run INPUT --out DIR``: the pipeline over a video, an image folder or one image."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

LOGGER = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="process a video, image folder or image: overlay video, depth maps, PLY clouds, tracks",
        description=(
            "Run the face pipeline on every frame of INPUT and write overlay.mp4, depth/*.npy, "
            "depth_vis/*.png, canonical/*.png, points/*.ply, tracks.npz (evaluation format) and "
            "faces.jsonl into --out. INPUT defaults to the bundled sample sequence."
        ),
    )
    parser.add_argument("input", nargs="?", help="video file, image folder / sequence folder, or image")
    parser.add_argument("--out", default="out/run", help="output folder (created; default out/run)")
    parser.add_argument("--config", help="ROS 2 parameter file of the node (e.g. config/face_anything.yaml)")
    parser.add_argument("--weights", help="model weights file (default: the shipped model)")
    parser.add_argument("--max-frames", type=int, default=0, help="stop after this many frames (0 = all)")
    parser.add_argument(
        "--fov",
        type=float,
        default=None,
        help="horizontal FOV in degrees when the input has no intrinsics.json",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from face_anything_ros.offline.frame_sources import InputError, open_frames
    from face_anything_ros.offline.run_outputs import RunOutputs
    from face_anything_ros.offline.sample import sample_dir
    from face_anything_ros.offline.startup import choose_intrinsics, load_params
    from face_anything_ros.outputs.params import ParameterError, build_pipeline

    try:
        source = open_frames(args.input or sample_dir())
        params = load_params(args.config, args.weights)
    except (InputError, ParameterError, OSError) as exc:
        print(f"error: {exc}")
        return 2
    fov = args.fov if args.fov is not None else params.default_fov_deg
    try:
        pipeline = build_pipeline(params)
    except Exception as exc:  # missing/corrupt weights, bad pipeline config
        print(f"error: cannot start the pipeline: {exc}")
        return 1
    total = min(source.count, args.max_frames) if source.count and args.max_frames else source.count or None
    outputs = RunOutputs(Path(args.out), source.fps)
    intrinsics = None
    start = time.perf_counter()
    try:
        for index, rgb, stamp in tqdm(source.frames(), total=total, unit="frame", desc="run"):
            if args.max_frames and outputs.summary.frames >= args.max_frames:
                break
            if intrinsics is None or (intrinsics.width, intrinsics.height) != (rgb.shape[1], rgb.shape[0]):
                intrinsics = choose_intrinsics(source.intrinsics, rgb.shape[1], rgb.shape[0], fov)
            outputs.add(index, rgb, pipeline.process(rgb, intrinsics, stamp), intrinsics)
    except KeyboardInterrupt:
        print("interrupted: writing what was processed so far")
    outputs.summary.seconds = time.perf_counter() - start
    if intrinsics is None:
        print(f"error: no readable frame in {source.path}")
        return 2
    summary = outputs.close(intrinsics)
    print(
        f"run: {summary.frames} frames, {summary.face_detections} face detections, "
        f"track ids {summary.track_ids}, {summary.fps:.2f} frames/s ({pipeline.backend_name}) -> {Path(args.out)}/"
    )
    return 0

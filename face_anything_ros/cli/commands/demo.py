"""``face-anything demo``: the bundled sample through the real ROS 2 node over DDS, outputs to a folder.

Starts ``face_anything_node`` as its own process (parameters from config/face_anything.yaml, topics
remapped as the launch files do), publishes the sample frames + CameraInfo from a client node,
collects depth, points, faces, mesh, canonical and overlay images for every frame, and writes:

    DIR/demo.png            overlay / depth / canonical rows for four frames: open this first
    DIR/overlay_grid.png    the overlay of every frame
    DIR/depth/*.npy, DIR/depth_vis/*.png, DIR/canonical/*.png, DIR/overlay/*.png
    DIR/points/000000.ply   face point cloud (camera frame, canonical colours)
    DIR/faces.jsonl         FaceTrack content per frame (id, box, pose, tracked points)
    DIR/summary.json        latency per frame, node diagnostics
    DIR/sample_bag/         the sample as a ROS 2 bag (input for `face-anything replay`)
    DIR/node.log            the node's log
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

NAMESPACE = "/face_anything_demo"
CAMERA = f"{NAMESPACE}/camera"
OUTPUTS = f"{NAMESPACE}/face_anything"
FIRST_FRAME_TIMEOUT_S = 300.0  # the first frame includes backend warm-up
FRAME_TIMEOUT_S = 60.0
NODE_START_TIMEOUT_S = 300.0
DIAGNOSTICS_WAIT_S = 3.0
FIRST_STAMP_NS = 1_000_000_000
CAMERA_INFO_LEAD_S = 0.5  # camera_info goes out first, so the first frame already has intrinsics
STREAM_STAMP_OFFSET_NS = 100_000_000_000  # streaming-pass stamps never collide with lock-step ones  # for the node's diagnostics to count the last frame
DEMO_TOPICS = ("depth", "points", "faces", "face_mesh", "canonical_image", "overlay")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="the main job: the bundled sample sequence through the real ROS 2 node, pictures in --out",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", default="out/demo", help="output folder (created; default out/demo)")
    parser.add_argument("--frames", type=int, default=0, help="use only the first N sample frames (0 = all)")
    parser.add_argument(
        "--config", help="node parameter file (default: the shipped config/face_anything.yaml)"
    )
    parser.add_argument(
        "--stream-seconds",
        type=float,
        default=5.0,
        help="after the lock-step pass, stream the frames at --stream-hz for this long (0 = skip)",
    )
    parser.add_argument("--stream-hz", type=float, default=30.0, help="camera rate of the streaming pass")
    parser.add_argument("--weights", help="model weights file (default: the shipped model)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from face_anything_ros.offline.demo_outputs import write_demo_outputs
    from face_anything_ros.offline.sample import sample_frames
    from face_anything_ros.outputs.image_bag import write_image_bag
    from face_anything_ros.ros.diagnostics import stage_profile
    from face_anything_ros.ros.node_process import NodeLaunch, find_config, start_node, stop_node
    from face_anything_ros.ros.stream_client import spinning_stream_clients

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    frames, intrinsics = sample_frames()
    frames = frames[: args.frames or None]
    config = Path(args.config) if args.config else find_config()
    launch = NodeLaunch(
        namespace=OUTPUTS,
        params_file=config,
        remappings={"image": f"{CAMERA}/image_raw", "camera_info": f"{CAMERA}/camera_info"},
        parameters={
            "qos_reliability": "reliable",
            "qos_depth": "5",
            "publish_canonical_image": "true",
            "publish_overlay": "true",
            **({"weights": str(Path(args.weights).resolve())} if args.weights else {}),
        },
    )
    print(f"demo: starting {' '.join(launch.command()[1:])}")
    process = start_node(launch, out / "node.log")
    received: list[Any] = []
    profile = ""
    diagnostics: dict[str, str] = {}
    streaming: dict[str, Any] | None = None
    with spinning_stream_clients() as make_client:
        client = make_client(CAMERA, OUTPUTS, "face_anything_demo_camera")
        try:
            if not client.wait_for_node(NODE_START_TIMEOUT_S, alive=lambda: process.poll() is None):
                print(f"error: the node did not come up; see {out / 'node.log'}")
                return 1
            received = _play(client, frames, intrinsics, process)
            diagnostics = client.wait_for_diagnostics(
                lambda values: values.get("frames_out") == str(len(received)), DIAGNOSTICS_WAIT_S
            )
            if args.stream_seconds > 0:
                streaming = _stream(client, frames, intrinsics, args.stream_hz, args.stream_seconds)
            profile = stage_profile(client.latest_diagnostics())
        except KeyboardInterrupt:
            print("interrupted: writing what arrived so far")
        finally:
            stop_node(process)
    if not received:
        print(f"error: no output arrived from the node; see {out / 'node.log'}")
        return 1
    if not (out / "sample_bag").exists():
        write_image_bag(out / "sample_bag", frames, intrinsics)
    summary = write_demo_outputs(out, received, diagnostics, streaming)
    print(
        f"demo: {summary['frames']} frames through the node over DDS, {summary['faces']} faces, "
        f"end-to-end latency median {summary['latency_ms_median']:.0f} ms ({summary['backend']})"
    )
    if streaming:
        print(
            f"demo: streaming {streaming['publish_hz']:.0f} Hz for {streaming['seconds']:.0f} s: "
            f"{streaming['output_hz']:.1f} outputs/s, {streaming['dropped_frames']} frames dropped (newest kept), "
            f"latency median {streaming['latency_ms_median']:.0f} ms"
        )
    if profile:
        print(f"demo: node ms per stage (mean of its last 100 frames):\n{profile}")
    print(f"demo: outputs in {out}/ -- open {out / 'demo.png'} first")
    return 0


def _play(client: Any, frames: list[Any], intrinsics: Any, process: Any) -> list[Any]:
    """Send each frame and wait for all its outputs (lock-step: nothing is dropped)."""
    from tqdm import tqdm

    received = []
    client.send_camera_info(intrinsics, FIRST_STAMP_NS)
    time.sleep(CAMERA_INFO_LEAD_S)
    for index, rgb in enumerate(tqdm(frames, unit="frame", desc="demo")):
        stamp_ns = FIRST_STAMP_NS + index * 100_000_000
        timeout = FIRST_FRAME_TIMEOUT_S if index == 0 else FRAME_TIMEOUT_S
        client.send(rgb, intrinsics, stamp_ns)
        outputs = client.wait_for(stamp_ns, DEMO_TOPICS, timeout)
        if outputs is None:
            alive = process.poll() is None
            print(f"warning: frame {index}: outputs missing after {timeout:.0f} s (node alive: {alive})")
            if not alive:
                break
            continue
        received.append((index, stamp_ns, client.sent_s[stamp_ns], outputs))
    return received


def _stream(client: Any, frames: list[Any], intrinsics: Any, hz: float, seconds: float) -> dict[str, Any]:
    """Publish like a camera (no waiting) and measure what the node keeps up with."""
    import numpy as np

    before = client.latest_diagnostics()
    period = 1.0 / hz
    stamps = []
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        stamp = STREAM_STAMP_OFFSET_NS + len(stamps) * round(period * 1e9)
        client.send(frames[len(stamps) % len(frames)], intrinsics, stamp)
        stamps.append(stamp)
        time.sleep(max(0.0, start + len(stamps) * period - time.monotonic()))
    client.wait_for(stamps[-1], ("faces",), FRAME_TIMEOUT_S)
    after = client.wait_for_diagnostics(
        lambda v: v.get("frames_in") != before.get("frames_in"), DIAGNOSTICS_WAIT_S
    )
    answered = [s for s in stamps if s in client.received and "faces" in client.received[s].messages]
    arrivals = sorted(client.received[s].arrival_s["faces"] for s in answered)
    latencies = [1000.0 * (client.received[s].arrival_s["faces"] - client.sent_s[s]) for s in answered]
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else 0.0
    return {
        "publish_hz": hz,
        "seconds": seconds,
        "frames_sent": len(stamps),
        "frames_answered": len(answered),
        "output_hz": (len(arrivals) - 1) / span if span > 0 else 0.0,
        "dropped_frames": int(after.get("dropped_frames", 0)) - int(before.get("dropped_frames", 0)),
        "latency_ms_median": float(np.median(latencies)) if latencies else float("nan"),
    }

"""Camera-rate probe: a 30 Hz 640x480 stream through the real node, outputs/s, latency and stage profile.

    python -m face_anything_ros.devtools.node_rate --faces 1 --seconds 10
    python -m face_anything_ros.devtools.node_rate --faces 4 --seconds 10

Starts ``face_anything_node`` in its own process with the shipped parameters (default outputs:
depth, points, faces, poses, mesh), publishes like a camera (no waiting for answers) frames with
``--faces`` copies of the bundled sample's face, and reports what the node kept up with: outputs
per second, latency (client publish -> every default output received; p50 / p90 / p99) and the
node's own mean ms per stage from /diagnostics. The figures depend on the CPU's load: the report
starts with the load average.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

CAMERA, OUTPUTS = "/rate_probe/camera", "/rate_probe/face_anything"
DEFAULT_OUTPUTS = ("depth", "points", "faces", "face_poses", "face_mesh")
WARMUP_FRAMES = 10
START_TIMEOUT_S = 300.0
FIRST_STAMP_NS = 1_000_000_000


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def probe_frames(faces: int, width: int, height: int) -> list[np.ndarray]:
    """Frames with ``faces`` faces: the sample itself for one face, composited sample faces otherwise."""
    import cv2

    from face_anything_ros.offline.frame_sources import open_frames
    from face_anything_ros.offline.sample import sample_dir

    if faces == 1:
        frames = [rgb for _, rgb, _ in open_frames(sample_dir()).frames()]
        return [cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in frames]
    from face_anything_ros.devtools.reliability.load_frames import LoadFrameConfig, load_frames

    return load_frames(LoadFrameConfig(width=width, height=height, max_faces=faces, frames_per_count=8))[
        faces
    ]


def measure(
    client: Any, frames: list[np.ndarray], intrinsics: Any, hz: float, seconds: float
) -> dict[str, Any]:
    """Publish at ``hz`` for ``seconds`` and measure the answered frames."""
    period, stamps, start = 1.0 / hz, [], time.monotonic()
    while time.monotonic() - start < seconds:
        stamp = FIRST_STAMP_NS * 100 + len(stamps) * round(period * 1e9)
        client.send(frames[len(stamps) % len(frames)], intrinsics, stamp)
        stamps.append(stamp)
        time.sleep(max(0.0, start + len(stamps) * period - time.monotonic()))
    client.wait_for(stamps[-1], DEFAULT_OUTPUTS, 5.0)
    time.sleep(0.5)
    done = [
        s for s in stamps if s in client.received and set(DEFAULT_OUTPUTS) <= set(client.received[s].messages)
    ]
    last_arrival = {s: max(client.received[s].arrival_s[t] for t in DEFAULT_OUTPUTS) for s in done}
    latencies = np.array([1000.0 * (last_arrival[s] - client.sent_s[s]) for s in done])
    faces_latencies = [1000.0 * (client.received[s].arrival_s["faces"] - client.sent_s[s]) for s in done]
    arrivals = sorted(last_arrival.values())
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else 0.0
    return {
        "frames_sent": len(stamps),
        "frames_answered": len(done),
        "outputs_per_s": (len(arrivals) - 1) / span if span > 0 else 0.0,
        "latency_ms": {f"p{q}": float(np.percentile(latencies, q)) for q in (50, 90, 99)}
        if len(done)
        else {},
        "faces_latency_ms_p50": float(np.median(faces_latencies)) if done else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--faces", type=int, default=1)
    parser.add_argument("--hz", type=float, default=30.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--weights", help="model weights (default: the shipped model)")
    parser.add_argument("--log", default="out/node_rate.log", help="the node's log")
    parser.add_argument(
        "--node-pythonpath",
        help="run the node from this source tree (e.g. a `git archive` of an older commit)",
    )
    parser.add_argument("-p", "--param", action="append", default=[], help="extra node parameter name:=value")
    args = parser.parse_args(argv)

    from face_anything_ros.core.camera import Intrinsics
    from face_anything_ros.ros.diagnostics import stage_profile
    from face_anything_ros.ros.node_process import NodeLaunch, find_config, start_node, stop_node
    from face_anything_ros.ros.stream_client import spinning_stream_clients

    width, height = (int(v) for v in args.size.split("x"))
    frames = probe_frames(args.faces, width, height)
    intrinsics = Intrinsics.from_fov(width, height, 60.0)
    extra = dict(p.split(":=", 1) for p in args.param)
    launch = NodeLaunch(
        namespace=OUTPUTS,
        params_file=find_config(),
        remappings={"image": f"{CAMERA}/image_raw", "camera_info": f"{CAMERA}/camera_info"},
        parameters={**({"weights": str(Path(args.weights).resolve())} if args.weights else {}), **extra},
    )
    Path(args.log).parent.mkdir(parents=True, exist_ok=True)
    print(
        f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}; {args.faces} face(s)"
    )
    process = start_node(
        launch, Path(args.log), env={"PYTHONPATH": args.node_pythonpath} if args.node_pythonpath else None
    )
    with spinning_stream_clients() as make_client:
        client = make_client(CAMERA, OUTPUTS, "node_rate_camera")
        try:
            if not client.wait_for_node(START_TIMEOUT_S, alive=lambda: process.poll() is None):
                print(f"error: the node did not come up; see {args.log}")
                return 1
            for index in range(WARMUP_FRAMES):  # lock-step: backend warm-up, every batch size once
                client.send(frames[index % len(frames)], intrinsics, FIRST_STAMP_NS + index)
                client.wait_for(FIRST_STAMP_NS + index, DEFAULT_OUTPUTS, 60.0)
            cpu_before = process_cpu_s(process.pid)
            result = measure(client, frames, intrinsics, args.hz, args.seconds)
            node_cpu_s = process_cpu_s(process.pid) - cpu_before
            values = client.wait_for_diagnostics(lambda v: int(v.get("frames_out", 0)) > WARMUP_FRAMES, 3.0)
        finally:
            stop_node(process)
    latency = result["latency_ms"]
    print(
        f"{args.hz:.0f} Hz {width}x{height}, {args.faces} face(s), {args.seconds:.0f} s: "
        f"{result['outputs_per_s']:.1f} outputs/s ({result['frames_answered']} of {result['frames_sent']} frames), "
        f"latency p50 {latency.get('p50', float('nan')):.0f} / p90 {latency.get('p90', float('nan')):.0f} / "
        f"p99 {latency.get('p99', float('nan')):.0f} ms (faces alone p50 {result['faces_latency_ms_p50']:.0f} ms); "
        f"backend {values.get('backend', '?')}"
    )
    answered = max(1, result["frames_answered"])
    print(
        f"node process CPU: {node_cpu_s:.1f} s over the stream = {1000.0 * node_cpu_s / answered:.0f} ms per answered "
        f"frame ({node_cpu_s / args.seconds:.2f} cores)"
    )
    print("node stage means (ms, the node's last 100 frames):\n" + stage_profile(values))
    print(f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Do the node's large outputs reach subscribers in other processes? Delivery % and latency, measured.

The node is started as users start it (``face_anything_node --ros-args --params-file ...``, its own
Fast DDS profile unless ``--node-profile``/``--node-env`` say otherwise). This process plays the
camera: one synthetic face composed at each size, published reliable at ``--hz``. Subscribers to
``depth``, ``points`` and ``faces`` run in processes of their own (best effort = the REP 2003
sensor-data profile, and reliable), with Fast DDS's default transports unless ``--subscriber-env``
says otherwise; ``--remote`` runs them in a network namespace joined by a veth pair, with their own
/dev/shm and machine id, so they talk to the node over UDP like a subscriber on another machine.

Delivery is counted against the node's own counters (``published_<output>`` on /diagnostics) over a
measured window: warm-up frames first (uncounted), then a pause until the node is idle, a counter
snapshot, ``--seconds`` of frames, a pause, a second snapshot. Latency = arrival in the subscriber
minus the camera's publish time (both CLOCK_MONOTONIC, one kernel).

    python -m face_anything_ros.devtools.large_sample_delivery --sizes 640x480,1280x720 --seconds 10
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MODULE = "face_anything_ros.devtools.large_sample_delivery"
MEASURED_TOPICS = ("depth", "points", "faces")
SUBSCRIBER_KINDS = ("best_effort", "reliable")
NAMESPACE = "/delivery/face_anything"
CAMERA = "/delivery/camera"
NODE_START_TIMEOUT_S = 180.0
IDLE_TIMEOUT_S = 30.0
DIAGNOSTICS_PERIOD_S = 0.25
WARMUP_S = 2.0
SUBSCRIBER_READY_TIMEOUT_S = 60.0
SUBSCRIBER_STOP_TIMEOUT_S = 30.0  # a loaded CPU may take long to drain and write the report
FASTDDS_ENV = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")
REMOTE_NETNS = "fa_delivery_far"
REMOTE_LINK = ("fa_dlv_near", "fa_dlv_far")
REMOTE_ADDRESSES = ("10.213.77.1/24", "10.213.77.2/24")


# --- the subscriber process -------------------------------------------------------------------


def subscribe_main(args: argparse.Namespace) -> int:
    """Record (topic, stamp, arrival) of every output until SIGINT/SIGTERM, then write them as JSON."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.qos import qos_profile_sensor_data
    from rclpy.signals import SignalHandlerOptions

    from face_anything_ros.outputs.message_kit import RclpyKit
    from face_anything_ros.ros.qos import COLLECTOR_QOS
    from face_anything_ros.ros.stream_client import OUTPUT_TOPICS, stamp_ns_of

    rclpy.init(args=[], signal_handler_options=SignalHandlerOptions.NO)
    node = Node(f"delivery_{args.reliability}")
    qos = qos_profile_sensor_data if args.reliability == "best_effort" else COLLECTOR_QOS
    kit = RclpyKit()
    records: dict[str, list[tuple[int, int]]] = {topic: [] for topic in MEASURED_TOPICS}

    def collector(topic: str):
        def collect(msg: Any) -> None:
            records[topic].append((stamp_ns_of(msg.header), time.monotonic_ns()))

        return collect

    for topic in MEASURED_TOPICS:
        node.create_subscription(
            kit.message_class(OUTPUT_TOPICS[topic]), f"{args.namespace}/{topic}", collector(topic), qos
        )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    while not stop.is_set():
        executor.spin_once(timeout_sec=0.1)
    Path(args.report).write_text(json.dumps({"reliability": args.reliability, "records": records}))
    executor.shutdown()
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


# --- a subscriber "on another machine": network namespace + veth -----------------------------


@contextmanager
def remote_host(workdir: Path) -> Iterator[list[str]]:
    """A network namespace joined to this host by a veth pair; yields the command prefix to run in it.

    The prefix also gives the process its own /dev/shm and /etc/machine-id, so Fast DDS cannot see the
    node's shared memory or take it for the same host: data crosses the veth as UDP. Needs root.
    """
    near, far = REMOTE_LINK
    machine_id = workdir / "remote-machine-id"
    machine_id.write_text("0123456789abcdef0123456789abcdef\n")
    setup = [
        ["ip", "netns", "add", REMOTE_NETNS],
        ["ip", "link", "add", near, "type", "veth", "peer", "name", far],
        ["ip", "link", "set", far, "netns", REMOTE_NETNS],
        ["ip", "addr", "add", REMOTE_ADDRESSES[0], "dev", near],
        ["ip", "link", "set", near, "up", "multicast", "on"],
        ["ip", "-n", REMOTE_NETNS, "addr", "add", REMOTE_ADDRESSES[1], "dev", far],
        ["ip", "-n", REMOTE_NETNS, "link", "set", far, "up", "multicast", "on"],
        ["ip", "-n", REMOTE_NETNS, "link", "set", "lo", "up"],
        ["ip", "-n", REMOTE_NETNS, "route", "add", "default", "via", REMOTE_ADDRESSES[0].split("/")[0]],
    ]
    try:
        for command in setup:
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(
                    f"--remote needs root and iproute2: {' '.join(command)}: {done.stderr.strip()}"
                )
        inner = f'mount -t tmpfs tmpfs /dev/shm && mount --bind {machine_id} /etc/machine-id && exec "$@"'
        yield ["ip", "netns", "exec", REMOTE_NETNS, "unshare", "--mount", "sh", "-c", inner, "sh"]
    finally:
        subprocess.run(["ip", "link", "del", near], capture_output=True)
        subprocess.run(["ip", "netns", "del", REMOTE_NETNS], capture_output=True)


def link_tx_bytes() -> int:
    """Bytes this host sent into the remote namespace so far (0 when there is none)."""
    path = Path(f"/sys/class/net/{REMOTE_LINK[0]}/statistics/tx_bytes")
    return int(path.read_text()) if path.exists() else 0


# --- the camera side (this process) -----------------------------------------------------------


@dataclass
class Window:
    """One measured stretch at one image size."""

    width: int
    height: int
    sent_ns: dict[int, int] = field(default_factory=dict)  # stamp -> monotonic publish time
    published: dict[str, int] = field(default_factory=dict)  # node counter deltas
    frames_in: int = 0
    link_bytes: int = 0


class Camera:
    """Publishes prebuilt frames reliable (like most camera drivers) and listens to /diagnostics."""

    def __init__(self, node: Any) -> None:
        from face_anything_ros.outputs.message_kit import RclpyKit
        from face_anything_ros.ros.qos import COLLECTOR_QOS

        self.node = node
        self.kit = RclpyKit()
        self.pub_image = node.create_publisher(
            self.kit.message_class("sensor_msgs/msg/Image"), f"{CAMERA}/image_raw", COLLECTOR_QOS
        )
        self.pub_info = node.create_publisher(
            self.kit.message_class("sensor_msgs/msg/CameraInfo"), f"{CAMERA}/camera_info", COLLECTOR_QOS
        )
        self._lock = threading.Condition()
        self._diagnostics: list[dict[str, str]] = []
        node.create_subscription(
            self.kit.message_class("diagnostic_msgs/msg/DiagnosticArray"),
            "/diagnostics",
            self._on_diagnostics,
            COLLECTOR_QOS,
        )
        self._stamp_ns = 1_000_000_000

    def _on_diagnostics(self, msg: Any) -> None:
        for status in msg.status:
            if status.name.endswith(f"{NAMESPACE}/face_anything_node"):
                with self._lock:
                    self._diagnostics.append({kv.key: kv.value for kv in status.values})
                    self._lock.notify_all()

    def messages(self, frames: Sequence[np.ndarray]) -> tuple[list[Any], Any]:
        """Image messages of ``frames`` and the matching CameraInfo, built once (only stamps change)."""
        from face_anything_ros.core.camera import Intrinsics
        from face_anything_ros.outputs import conversions
        from face_anything_ros.outputs.image_bag import camera_info_message, header

        height, width = frames[0].shape[:2]
        msg_header = header(self.kit, 0, "camera_optical_frame")
        images = [conversions.image_message(self.kit, msg_header, f, "rgb8") for f in frames]
        info = camera_info_message(self.kit, msg_header, Intrinsics.from_fov(width, height, 60.0))
        return images, info

    def stream(self, images: list[Any], info: Any, hz: float, seconds: float) -> dict[int, int]:
        """Publish at ``hz`` for ``seconds``; stamp -> monotonic publish time."""
        sent: dict[int, int] = {}
        period_ns = int(1e9 / hz)
        start = time.monotonic_ns()
        for index in range(round(hz * seconds)):
            delay = (start + index * period_ns - time.monotonic_ns()) / 1e9
            if delay > 0:
                time.sleep(delay)
            self._stamp_ns += period_ns
            for msg in (info, images[index % len(images)]):
                msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(self._stamp_ns, 1_000_000_000)
            self.pub_info.publish(info)
            sent[self._stamp_ns] = time.monotonic_ns()
            self.pub_image.publish(images[index % len(images)])
        return sent

    def idle_counters(self, timeout_s: float = IDLE_TIMEOUT_S) -> dict[str, str]:
        """The node's diagnostics once every frame it received is accounted for, twice in a row."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            seen = len(self._diagnostics)
            while time.monotonic() < deadline:
                self._lock.wait_for(lambda n=seen: len(self._diagnostics) > n, deadline - time.monotonic())
                seen = len(self._diagnostics)
                if seen >= 2 and _idle(self._diagnostics[-1]) and _idle(self._diagnostics[-2]):
                    if self._diagnostics[-1]["frames_out"] == self._diagnostics[-2]["frames_out"]:
                        return dict(self._diagnostics[-1])
        raise TimeoutError("the node's diagnostics never settled (still processing, or not running)")


def _idle(values: dict[str, str]) -> bool:
    """Nothing pending or running: every received frame was answered, dropped, rejected or failed."""
    done = sum(
        _counter(values, key) for key in ("frames_out", "dropped_frames", "rejected_frames", "failed_frames")
    )
    return _counter(values, "frames_in") == done


def one_face_frames(width: int, height: int, count: int = 4) -> list[np.ndarray]:
    """``count`` frames with one synthetic face drifting on a smooth background."""
    from face_anything_ros.devtools.reliability.load_frames import LoadFrameConfig, load_frames

    config = LoadFrameConfig(
        width=width, height=height, max_faces=1, frames_per_count=count, face_source="synth"
    )
    return load_frames(config)[1]


def _counter(values: dict[str, str], key: str) -> int:
    return int(values.get(key, 0))


@dataclass
class DeliveryRun:
    """Settings of one measurement."""

    sizes: list[tuple[int, int]]
    hz: float = 30.0
    seconds: float = 10.0
    subscribers: tuple[str, ...] = SUBSCRIBER_KINDS
    node_env: dict[str, str] = field(default_factory=dict)
    subscriber_env: dict[str, str] = field(default_factory=dict)
    remote: bool = False
    workdir: Path | None = None


def measure(run: DeliveryRun) -> dict[str, Any]:
    """Start node + subscribers, stream each size, and return the per-size, per-subscriber figures."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    from face_anything_ros.ros.node_process import NodeLaunch, find_config, start_node, stop_node

    for name in FASTDDS_ENV:  # profiles: the node loads its own, the others none, unless the run says
        os.environ.pop(name, None)
    workdir = run.workdir or Path(tempfile.mkdtemp(prefix="large_sample_delivery_"))
    workdir.mkdir(parents=True, exist_ok=True)
    frames = {size: one_face_frames(*size) for size in run.sizes}
    if run.remote:  # discovery must reach the namespace: multicast, not localhost-only
        os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "SUBNET"
    with ExitStack() as stack:
        prefix = stack.enter_context(remote_host(workdir)) if run.remote else []
        launch = NodeLaunch(
            namespace=NAMESPACE,
            params_file=find_config(),
            remappings={"image": f"{CAMERA}/image_raw", "camera_info": f"{CAMERA}/camera_info"},
            parameters={"diagnostics_period_s": str(DIAGNOSTICS_PERIOD_S)},
        )
        node_process = start_node(launch, workdir / "node.log", env=run.node_env)
        stack.callback(stop_node, node_process)
        subscribers = {}
        for kind in run.subscribers:
            report = workdir / f"subscriber_{kind}.json"
            command = [*prefix, sys.executable, "-m", MODULE, "subscribe", "--reliability", kind]
            command += ["--namespace", NAMESPACE, "--report", str(report)]
            log = (workdir / f"subscriber_{kind}.log").open("w")
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **run.subscriber_env}
            )
            stack.callback(stop_node, process, SUBSCRIBER_STOP_TIMEOUT_S)
            subscribers[kind] = (process, report)

        context = rclpy.Context()
        # no rclpy signal handlers: Ctrl-C interrupts the waits and stops node and subscribers
        rclpy.init(args=[], context=context, signal_handler_options=SignalHandlerOptions.NO)
        stack.callback(rclpy.try_shutdown, context=context)
        node = rclpy.create_node("delivery_camera", context=context)
        camera = Camera(node)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        spinner = threading.Thread(target=executor.spin, daemon=True)
        spinner.start()

        _wait(
            lambda: node.count_subscribers(f"{CAMERA}/image_raw") > 0,
            NODE_START_TIMEOUT_S,
            node_process,
            "the node never subscribed to the camera (see node.log)",
        )
        _wait(
            lambda: node.count_subscribers(f"{NAMESPACE}/depth") >= len(subscribers),
            SUBSCRIBER_READY_TIMEOUT_S,
            node_process,
            "the subscribers were never discovered",
        )
        windows = []
        for size in run.sizes:
            images, info = camera.messages(frames[size])
            camera.stream(images, info, run.hz, WARMUP_S)  # matching, first-frame costs: not counted
            before = camera.idle_counters()
            link_before = link_tx_bytes()
            window = Window(*size)
            window.sent_ns = camera.stream(images, info, run.hz, run.seconds)
            after = camera.idle_counters()
            window.link_bytes = link_tx_bytes() - link_before
            window.frames_in = _counter(after, "frames_in") - _counter(before, "frames_in")
            window.published = {
                topic: _counter(after, f"published_{topic}") - _counter(before, f"published_{topic}")
                for topic in MEASURED_TOPICS
            }
            windows.append(window)
        executor.shutdown()
        reports = {}
        for kind, (process, report) in subscribers.items():
            stop_node(process, SUBSCRIBER_STOP_TIMEOUT_S)
            reports[kind] = json.loads(report.read_text())["records"] if report.exists() else None
    return summarise(run, windows, reports, workdir)


def _wait(predicate: Any, timeout_s: float, process: subprocess.Popen, failure: str) -> None:
    """Poll ``predicate`` until true; RuntimeError(``failure``) on timeout or when the node exits."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{failure} within {timeout_s:.0f} s")
        time.sleep(0.1)


def summarise(
    run: DeliveryRun, windows: list[Window], reports: dict[str, Any], workdir: Path
) -> dict[str, Any]:
    """Delivery % against the node's counters, and latency percentiles, per size/subscriber/topic."""
    sizes = []
    for window in windows:
        entry: dict[str, Any] = {
            "size": f"{window.width}x{window.height}",
            "frames_sent": len(window.sent_ns),
            "frames_in": window.frames_in,
            "published": window.published,
            "link_mbytes": round(window.link_bytes / 1e6, 1),
            "subscribers": {},
        }
        for kind, records in reports.items():
            per_topic = {}
            for topic in MEASURED_TOPICS:
                arrivals = {}
                for stamp, arrival in (records or {}).get(topic, []):
                    if stamp in window.sent_ns:
                        arrivals.setdefault(stamp, arrival)
                latencies = np.array([(t - window.sent_ns[s]) / 1e6 for s, t in arrivals.items()])
                published = window.published[topic]
                per_topic[topic] = {
                    "received": len(arrivals),
                    "delivery_pct": round(100.0 * len(arrivals) / published, 1) if published else None,
                    "latency_ms_median": round(float(np.median(latencies)), 1) if latencies.size else None,
                    "latency_ms_p90": round(float(np.percentile(latencies, 90)), 1)
                    if latencies.size
                    else None,
                }
            entry["subscribers"][kind] = per_topic if records is not None else "no report (crashed?)"
        sizes.append(entry)
    settings = asdict(run)
    settings["workdir"] = str(workdir)
    settings["sizes"] = [f"{w}x{h}" for w, h in run.sizes]
    return {"settings": settings, "load_average": os.getloadavg(), "sizes": sizes}


def format_summary(summary: dict[str, Any]) -> str:
    lines = []
    for entry in summary["sizes"]:
        published = ", ".join(f"{t} {n}" for t, n in entry["published"].items())
        lines.append(
            f"{entry['size']}: camera sent {entry['frames_sent']}, node got {entry['frames_in']}, "
            f"published {published}; to the remote side {entry['link_mbytes']} MB"
        )
        for kind, per_topic in entry["subscribers"].items():
            if isinstance(per_topic, str):
                lines.append(f"  {kind:<12} {per_topic}")
                continue
            for topic, figures in per_topic.items():
                lines.append(
                    f"  {kind:<12} {topic:<7} {figures['received']:>4} received  "
                    f"{figures['delivery_pct']} %  latency median {figures['latency_ms_median']} ms, "
                    f"p90 {figures['latency_ms_p90']} ms"
                )
    load = summary["load_average"]
    lines.append(f"load average at the end {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}")
    return "\n".join(lines)


# --- command line -----------------------------------------------------------------------------


def _sizes(text: str) -> list[tuple[int, int]]:
    try:
        return [(int(w), int(h)) for w, h in (part.lower().split("x") for part in text.split(","))]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"sizes look like 640x480,1280x720, got {text!r}") from exc


def _assignments(values: list[str]) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, setting = value.partition("=")
        if not sep:
            raise SystemExit(f"expected KEY=VALUE, got {value!r}")
        pairs[key] = setting
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command")
    sub = commands.add_parser("subscribe", help="(internal) one subscriber process")
    sub.add_argument("--reliability", choices=SUBSCRIBER_KINDS, required=True)
    sub.add_argument("--namespace", required=True)
    sub.add_argument("--report", required=True)
    parser.add_argument("--sizes", type=_sizes, default=_sizes("640x480,1280x720"))
    parser.add_argument("--hz", type=float, default=30.0)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per size")
    parser.add_argument(
        "--subscribers", default="best_effort,reliable", help="comma list of best_effort, reliable"
    )
    parser.add_argument(
        "--node-profile", help="FASTDDS_DEFAULT_PROFILES_FILE for the node (default: its own)"
    )
    parser.add_argument("--candidate", help="a profile from devtools/fastdds_candidates.py for the node")
    parser.add_argument("--node-env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--subscriber-env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--remote", action="store_true", help="subscribers in a network namespace (root)")
    parser.add_argument("--workdir", type=Path, help="logs and reports (default: a temporary folder)")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    args = parser.parse_args(argv)
    if args.command == "subscribe":
        return subscribe_main(args)
    node_env = _assignments(args.node_env)
    if args.candidate:
        from face_anything_ros.devtools.fastdds_candidates import candidate_profile

        folder = Path(tempfile.mkdtemp(prefix="fastdds_candidate_"))
        node_env["FASTDDS_DEFAULT_PROFILES_FILE"] = str(candidate_profile(args.candidate, folder))
    if args.node_profile:
        node_env["FASTDDS_DEFAULT_PROFILES_FILE"] = str(Path(args.node_profile).resolve())
    run = DeliveryRun(
        sizes=args.sizes,
        hz=args.hz,
        seconds=args.seconds,
        subscribers=tuple(kind for kind in args.subscribers.split(",") if kind),
        node_env=node_env,
        subscriber_env=_assignments(args.subscriber_env),
        remote=args.remote,
        workdir=args.workdir,
    )
    summary = measure(run)
    print(format_summary(summary))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

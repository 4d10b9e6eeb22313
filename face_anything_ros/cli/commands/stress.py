"""``face-anything stress {soak,fuzz,faults}``: the node under load, bad input and faults, with a verdict.

Each subcommand starts the real node, prints a closing summary, writes a JSON report with
``--report`` and exits non-zero when a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

DEFAULT_DOMAIN_BASE = 200  # stress runs use ROS domains 200..229 unless ROS_DOMAIN_ID is set
DOMAIN_SPREAD = 30


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "stress",
        help="reliability: soak the node under overload, fuzz its image input, drill faults",
        description="Reliability checks of the running node: soak (load, latency, memory), fuzz (bad "
        "images and camera_info), faults (backend failing at run time, bad weights, signals, "
        "interrupted replay). Exit code 0 only when every check passes.",
    )
    jobs = parser.add_subparsers(dest="stress_job", metavar="JOB", required=True)
    soak = jobs.add_parser(
        "soak", help="publish frames faster than the node processes them; count, time, RSS"
    )
    soak.add_argument("--frames", type=int, default=10_000, help="frames to publish (default 10000)")
    soak.add_argument("--rate", type=float, default=30.0, help="publish rate, Hz (default 30)")
    soak.add_argument("--max-faces", type=int, default=8, help="0..N faces per frame (default 8)")
    soak.add_argument("--size", default="640x480", help="frame size WxH (default 640x480)")
    soak.add_argument("--face-source", choices=("sample", "synth"), default="sample", help="face patches")
    soak.add_argument(
        "--rss-bound-mib", type=float, default=64.0, help="fail if RSS grows more than this (default 64)"
    )
    soak.add_argument(
        "--qos",
        choices=("reliable", "best_effort"),
        default="reliable",
        help="the node's input QoS (default reliable; the node's shipped default is auto; best_effort is lossy for big frames)",
    )
    soak.set_defaults(func=run_soak_command)

    fuzz = jobs.add_parser("fuzz", help="malformed images/camera_info interleaved with valid frames")
    fuzz.add_argument("--cases", type=int, default=300, help="fuzz cases (default 300)")
    fuzz.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    fuzz.set_defaults(func=run_fuzz_command)

    faults = jobs.add_parser(
        "faults", help="backend failure, bad weights, SIGINT/SIGTERM, interrupted replay"
    )
    faults.set_defaults(func=run_faults_command)

    for job in (soak, fuzz, faults):
        job.add_argument("--weights", help="model weights (default: the shipped model)")
        job.add_argument("--report", help="write the JSON report here")
        job.add_argument("--workdir", help="folder for node logs and scratch files (default: a temp folder)")


def _isolate_domain() -> None:
    """Keep stress traffic off the default ROS domain (the node subprocess inherits this)."""
    os.environ.setdefault("ROS_DOMAIN_ID", str(DEFAULT_DOMAIN_BASE + os.getpid() % DOMAIN_SPREAD))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")


def _workdir(args: argparse.Namespace) -> Path:
    folder = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="face_anything_stress_"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _weights(args: argparse.Namespace) -> tuple[str, str] | None:
    from face_anything_ros.devtools.reliability.weights import WeightsChoiceError, choose_weights

    try:
        return choose_weights(args.weights)
    except WeightsChoiceError as exc:
        print(f"error: {exc}")
        return None


def _prepare(args: argparse.Namespace, job: str) -> tuple[Path, str, str] | None:
    """(workdir, weights path, weights description) for a stress job, or None after an error line."""
    _isolate_domain()
    workdir = _workdir(args)
    chosen = _weights(args)
    if chosen is None:
        return None
    print(f"{job}: weights {chosen[1]}; logs in {workdir}")
    return workdir, chosen[0], chosen[1]


def _shutdown_text(shutdown: dict[str, Any]) -> str:
    return (
        f"shutdown {shutdown.get('signal_name')} -> exit {shutdown.get('return_code')} "
        f"in {shutdown.get('seconds', 0):.1f} s"
    )


def _write_report(path: str | None, report: Any) -> None:
    if not path:
        return
    data = asdict(report) if is_dataclass(report) else report
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"report: {path}")


def _verdict(failures: list[str]) -> int:
    for failure in failures:
        print(f"  FAILED: {failure}")
    print("result: PASS" if not failures else f"result: FAIL ({len(failures)} checks)")
    return 0 if not failures else 1


def _parse_size(text: str) -> tuple[int, int] | None:
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit()) or int(width) < 64 or int(height) < 64:
        return None
    return int(width), int(height)


def run_soak_command(args: argparse.Namespace) -> int:
    size = _parse_size(args.size)
    if size is None or args.frames < 1 or args.rate <= 0 or not 0 <= args.max_faces <= 50:
        print("error: need --frames >= 1, --rate > 0, --max-faces in [0, 50], --size WxH (both >= 64)")
        return 2
    prepared = _prepare(args, "soak")
    if prepared is None:
        return 2
    workdir, weights, described = prepared
    from tqdm import tqdm

    from face_anything_ros.devtools.reliability.node_session import NodeStartError
    from face_anything_ros.devtools.reliability.soak import SoakConfig, run_soak

    config = SoakConfig(
        frames=args.frames,
        rate_hz=args.rate,
        max_faces=args.max_faces,
        width=size[0],
        height=size[1],
        face_source=args.face_source,
        rss_growth_bound_mib=args.rss_bound_mib,
        qos_reliability=args.qos,
    )
    try:
        report = run_soak(
            config,
            weights,
            workdir / "node.log",
            progress=lambda n: tqdm(total=n, unit="frame", desc="soak"),
        )
    except (NodeStartError, RuntimeError) as exc:
        print(f"error: {exc}")
        return 1
    report.weights = described
    latency = report.latency_ms
    print(
        f"soak: published {report.published} frames at {report.publish_rate_hz:.1f} Hz "
        f"({report.faces_sent_mean:.2f} faces/frame); node processed {report.processed} "
        f"({report.processed_rate_hz:.2f} Hz, {report.faces_reported_mean:.2f} faces/frame reported), "
        f"dropped {report.dropped_by_node} (newest-frame policy) + {report.dropped_in_transport} "
        f"(DDS keep-last), rejected {report.rejected}, failed {report.failed}, "
        f"lost after processing {report.lost_after_processing}"
    )
    by_sent = ", ".join(f"{count}: {mean:.2f}" for count, mean in report.faces_reported_by_sent.items())
    print(f"soak: faces reported per faces composited (processed frames): {by_sent}")
    if latency:
        print(
            f"soak: latency stamp->output ms p50 {latency['p50']:.0f} p95 {latency['p95']:.0f} "
            f"p99 {latency['p99']:.0f} max {latency['max']:.0f}"
        )
    print(
        f"soak: node RSS {report.rss_start_mib:.0f} MiB after warm-up -> {report.rss_end_mib:.0f} MiB "
        f"(growth {report.rss_growth_mib:+.1f}, bound {config.rss_growth_bound_mib:.0f}; peak "
        f"{report.rss_peak_mib:.0f}); {_shutdown_text(report.shutdown)}"
    )
    print(f"soak: node RSS MiB at each tenth of the run: {report.rss_by_tenth_mib}")
    _write_report(args.report, report)
    return _verdict(report.failures)


def run_fuzz_command(args: argparse.Namespace) -> int:
    if args.cases < 1:
        print("error: --cases must be at least 1")
        return 2
    prepared = _prepare(args, "fuzz")
    if prepared is None:
        return 2
    workdir, weights, described = prepared
    from tqdm import tqdm

    from face_anything_ros.devtools.reliability.fuzz import run_fuzz
    from face_anything_ros.devtools.reliability.node_session import NodeStartError

    try:
        report = run_fuzz(
            args.cases,
            args.seed,
            weights,
            workdir / "node.log",
            progress=lambda n: tqdm(total=n, unit="case", desc="fuzz"),
        )
    except NodeStartError as exc:
        print(f"error: {exc}")
        return 1
    report.weights = described
    print(f"fuzz: {report.cases} cases (seed {report.seed}) in {report.seconds:.0f} s: {report.by_category}")
    print(f"fuzz: expected {report.expected}; node counted {report.counted}; failed {report.failed_frames}")
    print(
        f"fuzz: rejection log lines per cause {report.log_lines_per_cause}; {_shutdown_text(report.shutdown)}"
    )
    _write_report(args.report, report)
    return _verdict(report.failures)


def run_faults_command(args: argparse.Namespace) -> int:
    prepared = _prepare(args, "faults")
    if prepared is None:
        return 2
    workdir, weights, described = prepared
    import signal

    from tqdm import tqdm

    from face_anything_ros.devtools.reliability import faults

    drills = [
        lambda: [faults.backend_fault_drill(weights)],
        lambda: faults.weights_fault_drill(weights, workdir / "weights"),
        lambda: [faults.signal_drill(weights, workdir, signal.SIGINT)],
        lambda: [faults.signal_drill(weights, workdir, signal.SIGTERM)],
        lambda: [faults.startup_signal_drill(weights, workdir, signal.SIGTERM)],
        lambda: [faults.replay_interrupt_drill(weights, workdir)],
    ]
    results = []
    for drill in tqdm(drills, unit="drill", desc="faults"):
        try:
            results += drill()
        except Exception as exc:  # a drill that cannot even run is a failed drill, reported with the rest
            results.append(faults.DrillResult(getattr(drill, "__name__", "drill"), False, {}, [repr(exc)]))
    for result in results:
        print(f"  {'ok  ' if result.passed else 'FAIL'} {result.name}: {result.details}")
    _write_report(args.report, {"weights": described, "drills": [asdict(r) for r in results]})
    return _verdict([f"{r.name}: {f}" for r in results for f in r.failures])

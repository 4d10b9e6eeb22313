"""``face-anything bench``: latency per stage, fps and memory of the runtime, with baselines."""

from __future__ import annotations

import argparse
import logging

LOG = logging.getLogger(__name__)
DEFAULT_SIZES = "640x480,1280x720"
DEFAULT_FACES = "1,4"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="measure the runtime: ms per stage, fps, memory, per backend, with baselines",
        description=(
            "Times decode, detect, preprocess, model, geometry, postprocess, tracking and total per frame "
            "for each backend, frame size and face count on composited synthetic faces, plus MediaPipe "
            "face mesh and Lucas-Kanade baselines on the same frames. --soak N reports RSS over N frames."
        ),
    )
    parser.add_argument(
        "--backends", default="auto", help="comma list from auto,tensorrt,compile,onnxruntime,eager"
    )
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help=f"comma list of WxH (default {DEFAULT_SIZES})")
    parser.add_argument(
        "--faces", default=DEFAULT_FACES, help=f"comma list of face counts (default {DEFAULT_FACES})"
    )
    parser.add_argument("--frames", type=int, default=100, help="timed frames per case (default 100)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed frames per case (default 10)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument(
        "--cpu-threads", type=int, default=0, help="CPU inference threads (0 = library default)"
    )
    parser.add_argument("--weights", default=None, help="model weights (.pt); default: the shipped weights")
    parser.add_argument("--no-baselines", action="store_true", help="skip the MediaPipe and LK baselines")
    parser.add_argument(
        "--pipeline-config",
        default=None,
        help="runtime YAML (e.g. fusion: {flow_method: lk}) under the bench's own backend, face count and "
        "query-set settings; default: the pipeline's defaults",
    )
    parser.add_argument(
        "--soak", type=int, default=0, metavar="N", help="also run N frames (1 face, first size) for RSS"
    )
    parser.add_argument(
        "--append-benchmarks", action="store_true", help="write the results into BENCHMARKS.md"
    )
    parser.add_argument("--benchmarks-file", default="BENCHMARKS.md", help="file holding the 'runtime' block")
    parser.set_defaults(func=run)


def _parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for item in text.split(","):
        width, _, height = item.strip().lower().partition("x")
        if not (width.isdigit() and height.isdigit()) or int(width) < 64 or int(height) < 64:
            raise ValueError(f"bad size {item!r}: expected WxH with both at least 64, e.g. 640x480")
        sizes.append((int(width), int(height)))
    return sizes


def _parse_counts(text: str) -> list[int]:
    counts = [int(v) for v in text.split(",") if v.strip()]
    if not counts or min(counts) < 1 or max(counts) > 50:
        raise ValueError(f"bad face counts {text!r}: expected integers in [1, 50]")
    return counts


def _case_config(base, backend: str, args: argparse.Namespace, max_faces: int):
    """``base`` (the pipeline's defaults or --pipeline-config) with the bench's backend, face count and
    the heavy query set (13 named landmarks + 468 vertices = 481 points per face, as in every
    BENCHMARKS.md runtime row; the node's default tracks the 13 only)."""
    from face_anything_ros.runtime.config import PipelineConfig

    data = base.to_dict()
    data["backend"].update(name=backend, device=args.device, cpu_threads=args.cpu_threads)
    data["detection"]["max_faces"] = max_faces
    data["tracking"]["dense_vertices"] = True
    return PipelineConfig.from_dict(data)


def run(args: argparse.Namespace) -> int:
    import datetime
    import shlex
    import sys
    from pathlib import Path

    from tqdm import tqdm

    from face_anything_ros.devtools import bench
    from face_anything_ros.runtime.config import BACKEND_NAMES, ConfigError, PipelineConfig
    from face_anything_ros.runtime.pipeline import FacePipeline

    try:
        base = PipelineConfig.from_yaml(args.pipeline_config) if args.pipeline_config else PipelineConfig()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        sizes, counts = _parse_sizes(args.sizes), _parse_counts(args.faces)
        backends = [b.strip() for b in args.backends.split(",") if b.strip()]
        unknown = [b for b in backends if b not in BACKEND_NAMES]
        if unknown or not backends:
            raise ValueError(f"unknown backend(s) {unknown}; choose from {BACKEND_NAMES}")
        if args.frames < 1 or args.warmup < 0 or args.soak < 0 or args.cpu_threads < 0:
            raise ValueError("--frames must be >= 1, --warmup, --soak and --cpu-threads >= 0")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    model, weights_note = _load_model(args.weights)
    if model is None:
        print(f"error: {weights_note}", file=sys.stderr)
        return 1
    patches = bench.detectable_face_patches(max(counts))
    if not patches:
        print("error: MediaPipe detected none of the synthetic faces; nothing to benchmark", file=sys.stderr)
        return 1
    report = bench.BenchReport(
        machine=bench.machine_description(),
        weights=weights_note,
        face_source=f"{len(patches)} synthetic face patch(es) that MediaPipe detects, composited, drifting "
        f"{bench.MOTION_PX_PER_FRAME:g} px/frame, PNG-decoded every frame",
    )
    frames_for = {
        (size, count): bench.encode_frames(bench.compose_frames(patches, count, *size, bench.CYCLE_FRAMES))
        for size in sizes
        for count in counts
    }
    cases = [(b, s, c) for b in backends for s in sizes for c in counts]
    with tqdm(total=len(cases) * (args.frames + args.warmup), desc="bench", unit="frame") as progress:
        for backend in backends:
            config = _case_config(base, backend, args, max(max(counts), 8))
            pipeline = FacePipeline(config, model=model)
            report.backend_notes.append(
                f"`{backend}` ran as {pipeline.backend_description}, CPU threads: "
                f"{args.cpu_threads or 'library default'}"
                + (f"; fell back after: {pipeline.backend_failures}" if pipeline.backend_failures else "")
            )
            for size in sizes:
                for count in counts:
                    case = bench.run_case(
                        pipeline, frames_for[(size, count)], count, args.frames, args.warmup
                    )
                    report.cases.append(case)
                    progress.update(args.frames + args.warmup)
            pipeline.close()
    if not args.no_baselines:
        points = len(pipeline.query_names)
        for size in sizes:
            for count in counts:
                encoded = frames_for[(size, count)]
                report.baselines.append(bench.baseline_face_mesh(encoded, count, args.frames, args.warmup))
                report.baselines.append(
                    bench.baseline_lucas_kanade(encoded, count, points, args.frames, args.warmup)
                )
    if args.soak:
        pipeline = FacePipeline(_case_config(base, backends[0], args, base.detection.max_faces), model=model)
        with tqdm(total=args.soak + min(100, args.soak // 10), desc="soak", unit="frame") as progress:
            report.soak = bench.soak(pipeline, frames_for[(sizes[0], counts[0])], args.soak, progress.update)
        pipeline.close()

    date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = "face-anything bench " + shlex.join(
        sys.argv[2:] if sys.argv[1:2] == ["bench"] else sys.argv[1:]
    )
    text = bench.format_report(report, date, command)
    print(text)
    if args.append_benchmarks:
        bench.write_benchmarks_block(Path(args.benchmarks_file), "runtime", text)
        print(f"wrote the 'runtime' block of {args.benchmarks_file}")
    return 0


def _load_model(weights: str | None):
    """The requested (or shipped) weights, or (None, the reason) when they do not load."""
    from face_anything_ros.model import WeightsError, load_model

    try:
        return load_model(weights), f"`{weights or 'shipped default'}`"
    except WeightsError as exc:
        return None, str(exc)

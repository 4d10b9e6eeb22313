"""``face-anything evaluate``: metrics of the method and its baselines on sequence folders."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from pathlib import Path

from face_anything_ros.runtime.config import DETECTION_METHODS

LOG = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="score depth and tracking of the model and baselines on sequence folders",
        description=(
            "Evaluate the pipeline (canonical-lookup tracking, depth) against LK, DIS, Farnebäck, "
            "MediaPipe mesh and fitted-template baselines on sequences in the evaluation format. "
            "Writes DIR/metrics.json, DIR/metrics.md, predictions per sequence in DIR/<sequence>/ "
            "and a tracks overlay per sequence."
        ),
    )
    parser.add_argument(
        "sequences", nargs="*", type=Path, metavar="SEQ", help="a sequence folder or a folder of them"
    )
    parser.add_argument("--out", type=Path, help="output folder for metrics and predictions")
    parser.add_argument(
        "--weights", type=Path, default=None, help="model weights (.pt); default: the shipped weights"
    )
    parser.add_argument(
        "--baselines",
        default="lk,dis,farneback,mediapipe,mediapipe+flow,template,flat",
        help="comma-separated baselines from lk,dis,farneback,mediapipe,mediapipe+flow,template,flat; "
        "'none' for none",
    )
    parser.add_argument(
        "--max-frames", type=int, default=None, help="evaluate only the first N frames of each sequence"
    )
    parser.add_argument(
        "--device",
        default=None,
        help="model device (cpu, cuda, cuda:N); default: the pipeline's (cuda when available)",
    )
    parser.add_argument("--no-model", action="store_true", help="run the baselines only")
    parser.add_argument(
        "--flip-average",
        action="store_true",
        help="average the canonical map with the mirrored crop's (offline option, ~1.5x model time)",
    )
    parser.add_argument(
        "--detection",
        choices=DETECTION_METHODS,
        default=None,
        help="face detector of the pipeline (default: the pipeline's default, cascade)",
    )
    parser.add_argument(
        "--pipeline-config",
        type=Path,
        default=None,
        help="runtime YAML (e.g. tracking: {landmark_anchoring: true}) instead of the default settings",
    )
    parser.add_argument(
        "--gt-boxes",
        choices=("also", "only", "no"),
        default="also",
        help="where a sequence has mask/: also run the pipeline with ground-truth face boxes instead of the "
        "detector (row 'ours (GT boxes)'), only that, or never (default: also)",
    )
    parser.add_argument(
        "--make-real-texture",
        type=Path,
        metavar="DIR",
        help="build the real-texture test set (reserved photos moved by known warps) into DIR, then evaluate "
        "it if --out is given",
    )
    parser.add_argument(
        "--make-real-texture-3d",
        type=Path,
        metavar="DIR",
        help="build the 3D real-texture test set (reserved photos as the texture of a face surface moved as a "
        "head: parallax, self-occlusion, exact depth, mask and canonical coordinates) into DIR, then evaluate "
        "it if --out is given",
    )
    parser.add_argument("--frames", type=int, default=24, help="frames per real-texture sequence")
    parser.add_argument("--size", type=int, default=256, help="image size of real-texture sequences")
    parser.add_argument("--points", type=int, default=64, help="query points per real-texture sequence")
    parser.set_defaults(func=run)


def _parse_baselines(text: str) -> tuple[str, ...]:
    from face_anything_ros.evaluation.evaluate import ALL_BASELINES

    if text.strip().lower() in ("", "none"):
        return ()
    names = tuple(n.strip().lower() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in ALL_BASELINES]
    if unknown:
        raise ValueError(f"unknown baseline(s) {', '.join(unknown)}; choose from {', '.join(ALL_BASELINES)}")
    return names


def _real_texture_builders(args: argparse.Namespace) -> list[tuple[str, Path, Callable[..., list[Path]]]]:
    """(label, folder, builder) of each real-texture set the command line asks for."""
    builders: list[tuple[str, Path, Callable[..., list[Path]]]] = []
    if args.make_real_texture is not None:
        from face_anything_ros.evaluation.real_texture import build_real_texture_set

        builders.append(("real-texture", args.make_real_texture, build_real_texture_set))
    if args.make_real_texture_3d is not None:
        from face_anything_ros.evaluation.real_texture_3d import build_real_texture_3d_set

        builders.append(("3D real-texture", args.make_real_texture_3d, build_real_texture_3d_set))
    return builders


def run(args: argparse.Namespace) -> int:
    from face_anything_ros.evaluation.evaluate import EvaluateConfig, evaluate
    from face_anything_ros.evaluation.sequence_io import SequenceError, discover_sequences

    try:
        baselines = _parse_baselines(args.baselines)
    except ValueError as exc:
        print(f"error: {exc}")
        return 2
    if args.max_frames is not None and args.max_frames < 2:
        print("error: --max-frames must be at least 2")
        return 2
    sequences = list(args.sequences)
    builders = _real_texture_builders(args)
    if builders and (args.frames < 2 or args.size < 64 or args.points < 1):
        print("error: real-texture sets need --frames >= 2, --size >= 64 and --points >= 1")
        return 2
    for label, folder, build in builders:
        try:
            written = build(folder, args.size, args.frames, args.points)
        except (OSError, RuntimeError, ValueError) as exc:
            print(f"error: could not build the {label} set: {exc}")
            return 1
        print(f"wrote {len(written)} {label} sequences to {folder}")
        sequences.append(folder)
    if builders and args.out is None:
        return 0
    if not sequences:
        print("error: give at least one sequence folder (or --make-real-texture[-3d] DIR)")
        return 2
    if args.out is None:
        print("error: --out DIR is required")
        return 2
    try:
        folders = discover_sequences(sequences)
    except SequenceError as exc:
        print(f"error: {exc}")
        return 1
    config = EvaluateConfig(
        out_dir=args.out,
        weights=args.weights,
        baselines=baselines,
        max_frames=args.max_frames,
        device=args.device,
        run_method=not args.no_model,
        gt_boxes=args.gt_boxes,
        flip_average=args.flip_average,
        detection_method=args.detection,
        pipeline_config=args.pipeline_config,
    )
    if config.weights is not None and not config.weights.is_file():
        print(f"error: weights file {config.weights} not found")
        return 1
    if config.pipeline_config is not None:
        from face_anything_ros.runtime.config import ConfigError, PipelineConfig

        try:
            PipelineConfig.from_yaml(config.pipeline_config)
        except ConfigError as exc:
            print(f"error: {exc}")
            return 1
    try:
        report, markdown, failures = evaluate(folders, config)
    except Exception as exc:  # a library error must still end as one clear line
        LOG.debug("evaluation failed", exc_info=True)
        print(f"error: evaluation failed: {exc.__class__.__name__}: {exc} (run with -v for the traceback)")
        return 1
    print(markdown)
    print(
        f"\nwrote {args.out / 'metrics.json'}, {args.out / 'metrics.md'} and predictions for {len(report['sequences'])} sequences"
    )
    if failures:
        print(f"error: {failures} sequence folder(s) could not be read (see above)")
        return 1
    return 0

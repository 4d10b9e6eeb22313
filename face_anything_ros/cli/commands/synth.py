"""``face-anything synth``: write synthetic face sequences in the evaluation format.

    face-anything synth --out DIR --sequences N --frames T --size S [--seed K] [--split test]
                        [--max-faces N] [--distance MIN MAX] [--passing-occluders P]

writes DIR/seq_0000/ … (frames/, depth/, mask/, canonical/, intrinsics.json, tracks.npz,
query_canonical.npy) and DIR/contact_sheet.png (frames with visible tracks, canonical
colour map, depth) to look at. ``--bench`` measures generator throughput instead.
"""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="write synthetic face sequences with exact ground truth (evaluation format)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", help="output folder (created)")
    parser.add_argument("--sequences", type=int, default=4, help="number of sequences (default 4)")
    parser.add_argument("--frames", type=int, default=24, help="frames per sequence (default 24)")
    parser.add_argument("--size", type=int, default=256, help="square frame size in pixels (default 256)")
    parser.add_argument("--height", type=int, help="frame height (overrides --size)")
    parser.add_argument("--width", type=int, help="frame width (overrides --size)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--split", choices=("train", "test"), default="train", help="identity split (default train)"
    )
    parser.add_argument(
        "--max-faces", type=int, default=3, help="at most this many faces per sequence, 1 to 3 (default 3)"
    )
    parser.add_argument(
        "--distance",
        type=float,
        nargs=2,
        metavar=("MIN", "MAX"),
        help="camera distance range of every head, metres (default 0.35-1.2 for a single face, 0.3-2.5 "
        "with several); e.g. 0.3 0.45 for faces as large as the real-texture sets'",
    )
    parser.add_argument(
        "--passing-occluders",
        type=float,
        default=0.0,
        metavar="P",
        help="share of sequences with an object crossing a face on its own path, not moving with the head "
        "(0 to 1; default 0)",
    )
    parser.add_argument("--bench", action="store_true", help="measure frames/s instead of writing data")
    parser.set_defaults(func=run)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    if args.bench:
        from face_anything_ros.synth.bench import format_results, machine_description, run_benchmark

        before = machine_description()
        table = format_results(run_benchmark())
        print(f"machine before: {before}\n{table}\nmachine after: {machine_description()}")
        return 0
    if not args.out:
        return _fail("--out DIR is required (or use --bench)")
    height = args.height or args.size
    width = args.width or args.size
    if args.sequences < 1 or args.frames < 1:
        return _fail("--sequences and --frames must be at least 1")
    if height < 32 or width < 32 or height > 4096 or width > 4096:
        return _fail("frame size must be between 32 and 4096 pixels")
    if not 1 <= args.max_faces <= 3:
        return _fail(f"--max-faces must be 1, 2 or 3, got {args.max_faces}")
    if args.distance is not None and not 0.2 <= args.distance[0] < args.distance[1] <= 10.0:
        return _fail(
            f"--distance needs 0.2 <= MIN < MAX <= 10 metres, got {args.distance[0]:g} {args.distance[1]:g}"
        )

    if not 0.0 <= args.passing_occluders <= 1.0:
        return _fail(f"--passing-occluders must be in [0, 1], got {args.passing_occluders:g}")

    import time
    from dataclasses import replace
    from pathlib import Path

    import cv2
    from tqdm import tqdm

    from face_anything_ros.core.sequence_format import read_sequence, write_sequence
    from face_anything_ros.synth import FaceSequenceGenerator, SynthConfig
    from face_anything_ros.synth.contact_sheet import contact_sheet

    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _fail(f"cannot create {out}: {exc}")
    config = SynthConfig(
        max_faces_per_frame=args.max_faces, passing_occluder_probability=args.passing_occluders
    )
    if args.distance is not None:
        distance = (float(args.distance[0]), float(args.distance[1]))
        config = replace(config, sequence_distance_range_m=distance, single_face_distance_range_m=distance)
    gen = FaceSequenceGenerator(config, seed=args.seed, split=args.split)
    start = time.perf_counter()
    sheet_sequences = []
    num_queries = 0
    for i in tqdm(range(args.sequences), desc="synth", unit="seq"):
        seq = gen.sample_sequence(args.frames, image_size=(height, width))
        folder = write_sequence(out / f"seq_{i:04d}", seq)
        num_queries += len(seq["queries"])
        if len(sheet_sequences) < 6:
            sheet_sequences.append(read_sequence(folder))
    sheet = contact_sheet(sheet_sequences)
    cv2.imwrite(str(out / "contact_sheet.png"), sheet[..., ::-1])
    seconds = time.perf_counter() - start
    total = args.sequences * args.frames
    print(
        f"wrote {args.sequences} sequences x {args.frames} frames ({width}x{height}, split {args.split}, "
        f"seed {args.seed}, {num_queries} GT tracks) to {out} in {seconds:.1f} s ({total / seconds:.1f} frames/s); "
        f"look at {out / 'contact_sheet.png'}"
    )
    return 0

"""``face-anything synth``: write synthetic face sequences in the evaluation format.

    face-anything synth --out DIR --sequences N --frames T --size S [--seed K] [--split test]

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

    import time
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
    gen = FaceSequenceGenerator(SynthConfig(), seed=args.seed, split=args.split)
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

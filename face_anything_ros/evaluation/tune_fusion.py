"""Choose the fused tracker's noise constants and gates on synthetic TRAIN-split sequences only.

    python -m face_anything_ros.evaluation.tune_fusion data/train --out tune.json

The pipeline runs once per sequence; then every candidate ``FusionConfig`` (one parameter varied
at a time around the current defaults, coordinate-wise) re-tracks the sequences' queries from the
cached outputs, and the pooled δ_avg and median EPE are recorded. The reserved real-photo set
must never be passed here (settings are measured on it, not chosen). ``--lookup-bias-px A`` scores
every candidate with the lookup made consistently wrong by up to A px per point (``lookup_bias.py``),
the regime the network is in on real faces.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from pathlib import Path

from tqdm import tqdm

from face_anything_ros.evaluation import metrics as M
from face_anything_ros.evaluation.fused_tracks import track_ours_fused
from face_anything_ros.evaluation.lookup_bias import smooth_canonical_offsets
from face_anything_ros.evaluation.method import make_pipeline, run_pipeline
from face_anything_ros.evaluation.sequence_io import discover_sequences, load_sequence

CANDIDATES: dict[str, tuple] = {
    "flow_method": ("lk", "dis", "dis_medium"),
    "max_region_side": (128, 192, 256),
    "lookup_sigma_crop_px": (0.5, 1.0, 2.0, 4.0),
    "flow_sigma_px": (0.1, 0.3, 0.6),
    "flow_sigma_per_px": (0.02, 0.05, 0.1),
    "mesh_sigma_fraction": (0.008, 0.015, 0.03),
    "gate_chi2": (6.0, 13.8, 30.0),
    "fb_threshold_px": (0.5, 1.0, 2.0),
    "learn_bias": (False, True),
    "bias_prior_fraction": (0.005, 0.01, 0.02, 0.03, 0.05),
    "bias_prior_floor_px": (0.0, 0.3, 0.5, 0.8, 1.2),
    "mesh_bias_prior_fraction": (0.01, 0.02, 0.03, 0.05),
    "bias_walk_fraction": (0.0003, 0.001, 0.003),
    "adapt_bias_prior": (False, True),
    "bias_prior_adapt_rate": (0.1, 0.2, 0.5, 1.0),
    "max_coast_frames": (0, 5, 10),
}


def score(cached, pipeline, config, lookup_offset=None) -> dict[str, float]:
    samples = []
    pipeline.config.fusion = config
    for seq, output in cached:
        tracks, visible = track_ours_fused(
            output, seq.frames, seq.queries, pipeline.config, pipeline.input_size, lookup_offset
        )
        samples.append(
            M.tracking_samples(tracks, visible, seq.tracks, seq.visible, seq.queries[:, 0], seq.image_hw)
        )
    summary = M.summarize_tracking(M.TrackingSamples.concat(samples))
    keys = ("delta_avg", "epe_median_px", "occlusion_accuracy", "delta_avg_after_occlusion")
    return {k: float(summary[k]) for k in keys}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "sequences", type=Path, help="synthetic train-split folder (face-anything synth --split train)"
    )
    parser.add_argument("--out", type=Path, required=True, help="results JSON")
    parser.add_argument("--rounds", type=int, default=1, help="coordinate-wise passes over the parameters")
    parser.add_argument(
        "--params", nargs="+", choices=sorted(CANDIDATES), help="vary only these (default: all)"
    )
    parser.add_argument(
        "--lookup-bias-px",
        type=float,
        default=0.0,
        help="make the lookup consistently wrong by up to this many pixels per point (0: as predicted)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:  # lookup_bias.py owns the check on the amplitude
        offsets = smooth_canonical_offsets(args.lookup_bias_px)
    except ValueError:
        parser.error(f"--lookup-bias-px must be a finite number >= 0, got {args.lookup_bias_px}")
    lookup_offset = offsets if args.lookup_bias_px > 0 else None
    pipeline = make_pipeline(None)
    cached = []
    for folder in tqdm(discover_sequences([args.sequences]), desc="pipeline", unit="seq"):
        seq = load_sequence(folder)
        cached.append((seq, run_pipeline(pipeline, seq.frames, seq.intrinsics)))
    best = dataclasses.replace(pipeline.config.fusion)
    best_score = score(cached, pipeline, best, lookup_offset)
    history = [{"config": dataclasses.asdict(best), **best_score}]
    for _ in range(args.rounds):
        for name, values in CANDIDATES.items():
            if args.params and name not in args.params:
                continue
            for value in tqdm(values, desc=name, leave=False):
                if getattr(best, name) == value:
                    continue
                trial = dataclasses.replace(best, **{name: value})
                result = score(cached, pipeline, trial, lookup_offset)
                history.append({"config": dataclasses.asdict(trial), **result})
                # δ_avg first; EPE breaks near-ties
                if (result["delta_avg"], -result["epe_median_px"]) > (
                    best_score["delta_avg"] + 1e-4,
                    -best_score["epe_median_px"],
                ):
                    best, best_score = trial, result
            print(f"{name}: best {getattr(best, name)} -> {best_score}")
    args.out.write_text(
        json.dumps({"best": dataclasses.asdict(best), "score": best_score, "history": history}, indent=1)
    )
    print(json.dumps({"best": dataclasses.asdict(best), "score": best_score}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Held-out report for a weights file: metrics on test-split generator crops and a picture.

    python -m face_anything_ros.training.report --weights face_anything_ros/weights/face_anything_small.pt \
        --crops 256 --image docs/images/model_predictions.png --json /tmp/heldout.json

The crops come from ``FaceSequenceGenerator(split="test")`` (identities and
appearances the training split never draws), so the numbers measure
generalisation inside the synthetic domain, not on real faces. A model that takes the face-mesh
prior is scored with simulated priors (training/prior_inputs.py, a fixed draw) and, as ``no_prior``,
without one.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch

from face_anything_ros.model.io import WeightsError, load_model

from .augment import AugmentConfig, augment_batch
from .prior_inputs import add_heldout_prior
from .uncertainty import uncertainty_metrics
from .validation import heldout_metrics, make_heldout_batch, predict_numpy, window_mode_comparison
from .visualize import save_prediction_grid


def degraded_copy(batch: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """The crops after the training augmentation with a fixed seed (maps warped and flipped alike)."""
    copy = {key: value.copy() for key, value in batch.items()}
    augment_batch(copy, np.random.default_rng(seed), AugmentConfig())
    return copy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", default=None, help="weights .pt (default: the shipped model)")
    parser.add_argument("--crops", type=int, default=256, help="held-out test-split crops")
    parser.add_argument("--seed", type=int, default=20261125, help="generator seed of the held-out crops")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--image", default=None, help="write a prediction picture (PNG) here")
    parser.add_argument("--json", default=None, help="write the metrics as JSON here")
    parser.add_argument(
        "--windows", type=int, default=0, help="also compare single vs multi-frame on N windows"
    )
    parser.add_argument("--frames", type=int, default=4, help="frames per window for --windows")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--degraded",
        action="store_true",
        help="also score the same crops after the training augmentation (camera degradations, warps, "
        "distractor faces; fixed seed): robustness beyond the generator's clean look",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        model = load_model(args.weights)
    except WeightsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    started = time.perf_counter()
    chunks = [
        make_heldout_batch(min(64, args.crops - start), args.size, seed=args.seed + start)
        for start in range(0, args.crops, 64)
    ]
    batch = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    if model.config.prior_channels:  # a prior-taking model: simulated face-mesh priors, and none
        add_heldout_prior(batch)
    metrics = heldout_metrics(model, batch).to_dict()
    if "prior" in batch:
        metrics["no_prior"] = heldout_metrics(model, {k: v for k, v in batch.items() if k != "prior"}).to_dict()
    metrics["seed"] = args.seed
    metrics["uncertainty"] = uncertainty_metrics(model, batch, seed=args.seed)
    if args.degraded:
        metrics["degraded"] = heldout_metrics(model, degraded_copy(batch, args.seed)).to_dict()
    if args.windows > 0:
        from face_anything_ros.synth import FaceSequenceGenerator, SynthConfig

        generator = FaceSequenceGenerator(SynthConfig(), seed=args.seed + 1, split="test")
        windows = generator.sample_crop_windows(args.windows, args.frames, size=args.size)
        metrics["window_modes"] = window_mode_comparison(model, windows)
    metrics["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(metrics, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(metrics, handle, indent=2)
    if args.image:
        prior = batch["prior"][:6] if "prior" in batch else None
        save_prediction_grid(args.image, batch, predict_numpy(model, batch["image"][:6], prior))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Copy a run's weights into the package as the shipped default (re-verified, re-hashed).

python -m face_anything_ros.training.ship --run runs/small_cpu [--which best] [--half]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from face_anything_ros.model.io import (
    RELIEF_METADATA_KEYS,
    WeightsError,
    default_weights_path,
    load_model,
    read_sidecar,
    save_model,
)
from face_anything_ros.training.prior_inputs import add_heldout_prior
from face_anything_ros.training.relief import calibrate_relief, relief_metadata
from face_anything_ros.training.uncertainty import uncertainty_metrics
from face_anything_ros.training.validation import make_heldout_batch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True, help="training run directory")
    parser.add_argument("--which", default="best", choices=("best", "model"), help="best held-out or latest")
    parser.add_argument("--half", action="store_true", help="store float16 (loading casts back to float32)")
    parser.add_argument("--out", default=None, help="destination .pt (default: the packaged default)")
    parser.add_argument(
        "--relief-crops", type=int, default=512, help="train-split crops for relief_distance_m"
    )
    args = parser.parse_args(argv)
    source = Path(args.run) / f"{args.which}.pt"
    try:
        model = load_model(source)
        metadata = read_sidecar(source)["metadata"]
    except WeightsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    metadata["source"] = f"{Path(args.run).name}/{source.name}"
    # the typical confidence on held-out face pixels: the runtime's unit of confidence (model.io)
    batch = make_heldout_batch(64, model.config.image_size)
    if model.config.prior_channels:  # as at run time: faces the face mesh finds come with their prior
        add_heldout_prior(batch)
    metadata["confidence_median"] = uncertainty_metrics(model, batch)["confidence_median"]
    # the distance whose depth relief the network predicts: the runtime rescales it per face (training.relief)
    try:
        metadata.update(relief_metadata(calibrate_relief(model, args.relief_crops)))
    except ValueError as exc:
        for key in RELIEF_METADATA_KEYS:
            metadata.pop(key, None)
        print(f"warning: no relief calibration recorded ({exc}); the runtime keeps the predicted relief")
    destination = save_model(model, args.out or default_weights_path(), metadata, half=args.half)
    print(f"shipped {source} → {destination} ({destination.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

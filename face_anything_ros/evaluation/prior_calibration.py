"""Measure the face-mesh prior's fusion constants on synthetic sequences (use the train split only).

For every face the pipeline's face mesh finds, the network's and the prior's canonical maps are
compared with the ground truth on the pixels all three cover: the mean L1 error (summed over x, y, z,
canonical units) of each is what ``mesh_prior.network_error_scale`` (at confidence 1) and
``mesh_prior.prior_error`` stand for. Also reported: how the error of a fixed blend moves with the
prior's share, how the network's error depends on its confidence, and what share of the pixels the
hole filling would claim is ground-truth face.

    python -m face_anything_ros.evaluation.prior_calibration data/eval/synth_train
"""

from __future__ import annotations

import argparse
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from face_anything_ros.core.camera import Intrinsics
from face_anything_ros.core.crop import crop_image
from face_anything_ros.evaluation.sequence_io import discover_sequences, load_sequence
from face_anything_ros.model.io import default_weights_path, read_sidecar
from face_anything_ros.runtime.config import PipelineConfig
from face_anything_ros.runtime.mesh_prior import enclosed_holes
from face_anything_ros.runtime.pipeline import FacePipeline

_OFF_FACE = 9.0  # ground-truth canonical fill value outside the face (canonical values lie in [-1, 1])


@dataclass
class Samples:
    """Per-pixel errors on pixels the network, the prior and the ground truth all call face."""

    network: list[np.ndarray] = field(default_factory=list)  # (N, 3) network canonical
    prior: list[np.ndarray] = field(default_factory=list)  # (N, 3) prior canonical
    truth: list[np.ndarray] = field(default_factory=list)  # (N, 3)
    confidence: list[np.ndarray] = field(default_factory=list)  # (N,)
    hole_pixels: int = 0
    hole_face_pixels: int = 0
    faces: int = 0


def collect(folders: list[Path], weights: str | None = None) -> tuple[Samples, dict[str, int]]:
    """Run the pipeline (prior on, fusion bypassed) over the sequences and gather the samples."""
    config = PipelineConfig.from_dict({"weights": weights, "mesh_prior": {"enabled": True}})
    pipeline = FacePipeline(config)
    prior = pipeline.mesh_prior
    assert prior is not None
    samples = Samples()
    close_px = round(config.mesh_prior.hole_close_fraction * pipeline.input_size)
    current: dict[str, np.ndarray] = {}  # the frame's ground-truth canonical map

    box_of: dict[int, object] = {}  # id(prior maps) -> its crop box, for the faces of this frame
    priors_of_frame = prior.priors

    def remember_boxes(detections, boxes, crop_intrinsics):  # wraps MeshPrior.priors
        maps = priors_of_frame(detections, boxes, crop_intrinsics)
        box_of.clear()
        box_of.update({id(m): box for m, box in zip(maps, boxes, strict=True) if m is not None})
        return maps

    def compare(crops, priors):  # stands in for MeshPrior.apply
        for crop, maps in zip(crops, priors, strict=True):
            if maps is None:
                continue
            box = box_of[id(maps)]
            truth = crop_image(current["canonical"], box, pipeline.input_size, cv2.INTER_NEAREST)
            on_face = (truth < _OFF_FACE / 2).all(axis=-1)
            both = crop.mask & maps.coverage & on_face
            samples.network.append(crop.canonical[both])
            samples.prior.append(maps.canonical[both])
            samples.truth.append(truth[both])
            samples.confidence.append(crop.confidence[both])
            holes = enclosed_holes(crop.mask, close_px) & maps.coverage
            samples.hole_pixels += int(holes.sum())
            samples.hole_face_pixels += int((holes & on_face).sum())
            samples.faces += 1
        return crops

    prior.priors = remember_boxes  # type: ignore[method-assign]
    prior.apply = compare  # type: ignore[method-assign]
    for folder in tqdm(folders, desc="calibrate", unit="seq"):
        sequence = load_sequence(folder)
        if sequence.canonical is None:
            continue
        k = sequence.intrinsics
        camera = Intrinsics(k["fx"], k["fy"], k["cx"], k["cy"], int(k["width"]), int(k["height"]))
        pipeline.reset()
        for index, frame in enumerate(sequence.frames):
            current["canonical"] = np.nan_to_num(sequence.canonical[index], nan=_OFF_FACE)
            pipeline.process(frame, camera, stamp_s=index / 30.0)
    pipeline.close()
    return samples, dict(prior.drops)


def report(samples: Samples, alpha: float) -> list[str]:
    network, prior, truth = (np.concatenate(getattr(samples, n)) for n in ("network", "prior", "truth"))
    confidence = np.concatenate(samples.confidence)
    network_error = np.abs(network - truth).sum(axis=1)
    prior_error = np.abs(prior - truth).sum(axis=1)
    lines = [
        f"faces with a prior: {samples.faces}, face pixels compared: {len(truth)}",
        f"mean |error|_1: network {network_error.mean():.4f}, prior {prior_error.mean():.4f} (canonical units)",
        f"median |error|_1: network {np.median(network_error):.4f}, prior {np.median(prior_error):.4f}",
        f"network confidence: 5/50/95 % quantiles {np.quantile(confidence, [0.05, 0.5, 0.95]).round(3)}",
    ]
    edges = np.unique(np.quantile(confidence, np.linspace(0.0, 1.0, 6)))
    for low, high in itertools.pairwise(edges):
        chosen = (confidence >= low) & (confidence <= high)
        lines.append(
            f"confidence {low:.2f}-{high:.2f}: network mean |error|_1 {network_error[chosen].mean():.4f}, "
            f"alpha/confidence {np.mean(alpha / confidence[chosen]):.4f}"
        )
    for share in (0.0, 0.1, 0.2, 0.3, 0.5):
        blend = np.abs((1 - share) * network + share * prior - truth).sum(axis=1)
        lines.append(
            f"prior share {share:.1f}: mean |error|_1 {blend.mean():.4f}, median {np.median(blend):.4f}"
        )
    face_share = samples.hole_face_pixels / max(samples.hole_pixels, 1)
    lines.append(
        f"enclosed holes the prior would fill: {samples.hole_pixels} px, ground-truth face {face_share:.3f}"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sequences", nargs="+", type=Path, help="synthetic sequence folders (train split)")
    parser.add_argument("--weights", default=None, help="model weights (.pt); default: the shipped weights")
    args = parser.parse_args()
    info = read_sidecar(args.weights or default_weights_path())
    alpha = float(
        info.get("metadata", {}).get("train_config", {}).get("losses", {}).get("confidence_alpha", 0.05)
    )
    samples, drops = collect(discover_sequences(args.sequences), args.weights)
    if not samples.faces:
        print("no face with face-mesh landmarks found")
        return
    print(f"confidence loss alpha of these weights: {alpha}")
    print("\n".join(report(samples, alpha)))
    print(f"priors dropped: {drops or 'none'}")


if __name__ == "__main__":
    main()

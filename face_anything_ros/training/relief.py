"""How a network's depth relief follows distance: ``relief_distance_m`` and ``relief_exponent`` in the sidecar.

Why: a square face crop hides how far away the face is (the crop is scaled to the face), yet the
relief of relative depth, ``z / z_median = 1 + Δz / D``, shrinks with the distance D. A network
trained on crops at 0.3–1.6 m therefore predicts the relief of a face at one typical distance, and
its faces come out too flat up close and too deep far away; perspective cues let it follow the
distance only partly. Per crop, the factor k that maps the predicted relief onto the true one behaves
as ``k = (relief_distance_m / D) ** relief_exponent``. The runtime knows each face's distance from the
head-pose fit and rescales the relief by that factor (``runtime.geometry.rescale_relief``).

Measured here, on synthetic **train**-split crops (never the test split or real photos): per crop the
least-squares k on face pixels against the crop's true median depth D, and a robust (Theil-Sen) line
through ``log k`` against ``log D``: its slope is ``-relief_exponent``.

    python -m face_anything_ros.training.relief [--weights W.pt] [--crops 512] [--write] [--figure F.png]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.stats import theilslopes

from face_anything_ros.model.io import (
    MAX_RELIEF_EXPONENT,
    RELIEF_METADATA_KEYS,
    WeightsError,
    default_weights_path,
    load_model,
    read_sidecar,
    sidecar_path,
)
from face_anything_ros.model.network import FaceAnythingModel
from face_anything_ros.synth import FaceSequenceGenerator, SynthConfig

from .prior_inputs import add_heldout_prior
from .validation import predict_numpy

MIN_FACE_PIXELS = 200  # crops with fewer ground-truth face pixels say little about the relief
MIN_RELIEF = 1e-4  # mean squared predicted relief below this: a flat prediction, no factor to fit
MIN_FACTOR = 0.05  # a factor near or below 0 (relief predicted upside down) has no logarithm to fit
MIN_CROPS = 16
CALIBRATION_SEED = 4242


def relief_factors(model: FaceAnythingModel, batch: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per crop: least-squares factor k (true relief ≈ k x predicted) and the true median depth (m)."""
    predicted = predict_numpy(model, batch["image"], batch.get("prior"))
    factors, distances = [], []
    for index, truth in enumerate(batch["depth"]):
        face = batch["mask"][index].astype(bool) & np.isfinite(truth) & (truth > 0)
        depth = predicted["depth"][index, ..., 0].astype(np.float64)
        face &= np.isfinite(depth) & (depth > 0)
        if face.sum() < MIN_FACE_PIXELS:
            continue
        true_face, predicted_face = truth[face].astype(np.float64), depth[face]
        distance = float(np.median(true_face))
        true_relief = true_face / distance - 1.0
        predicted_relief = predicted_face / np.median(predicted_face) - 1.0
        power = float(np.mean(predicted_relief**2))
        if power < MIN_RELIEF:
            continue
        factors.append(float(np.mean(predicted_relief * true_relief)) / power)
        distances.append(distance)
    return np.asarray(factors), np.asarray(distances)


@dataclass(frozen=True)
class ReliefCalibration:
    distance_m: float  # the distance at which the predicted relief is right (factor 1)
    exponent: float  # how much of the 1/D dependence the network misses (0: none, 1: all)
    crops: int  # crops the line was fitted to
    factors: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)  # per usable crop
    distances: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)  # m, per usable crop


def calibrate_relief(
    model: FaceAnythingModel, crops: int = 512, seed: int = CALIBRATION_SEED
) -> ReliefCalibration:
    """The relief calibration of ``model`` on ``crops`` train-split crops; ValueError if it cannot be fitted."""
    batch = FaceSequenceGenerator(SynthConfig(), seed=seed, split="train").sample_crops(
        crops, size=model.config.image_size
    )
    if model.config.prior_channels:  # as at run time, faces the face mesh finds come with a prior
        add_heldout_prior(batch)
    factors, distances = relief_factors(model, batch)
    usable = factors > MIN_FACTOR
    if usable.sum() < MIN_CROPS:
        raise ValueError(f"only {int(usable.sum())} crops with a usable relief factor (need {MIN_CROPS})")
    line = theilslopes(np.log(factors[usable]), np.log(distances[usable]))
    exponent = float(-line.slope)
    if not 0.05 < exponent <= MAX_RELIEF_EXPONENT:
        raise ValueError(f"relief factor does not fall with distance as expected (exponent {exponent:.2f})")
    return ReliefCalibration(
        float(np.exp(line.intercept / exponent)),
        exponent,
        int(usable.sum()),
        factors[usable],
        distances[usable],
    )


def draw_relief_figure(calibration: ReliefCalibration, path: Path) -> None:
    """Per-crop relief factor against distance (log-log), the fitted law and the full 1/D law."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    axes.scatter(calibration.distances, calibration.factors, s=8, alpha=0.45, label="train-split crops")
    span = np.geomspace(calibration.distances.min(), calibration.distances.max(), 50)
    law = (calibration.distance_m / span) ** calibration.exponent
    axes.plot(
        span, law, "C1", lw=2, label=f"fit: ({calibration.distance_m:.2f} m / D) ^ {calibration.exponent:.2f}"
    )
    axes.plot(
        span,
        calibration.distance_m / span,
        "C2--",
        lw=1.5,
        label=f"a network that ignored D: {calibration.distance_m:.2f} m / D",
    )
    axes.axhline(1.0, color="0.5", lw=0.8)
    axes.set(
        xscale="log", yscale="log", xlabel="face distance D (m)", ylabel="true relief / predicted relief"
    )
    for axis in (axes.xaxis, axes.yaxis):
        axis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes.set_xticks([0.25, 0.5, 1.0, 1.5])
    axes.set_yticks([0.25, 0.5, 1.0, 2.0, 4.0])
    axes.set_title("How the network's depth relief follows distance")
    axes.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)


def relief_metadata(calibration: ReliefCalibration) -> dict[str, float]:
    """The sidecar entries the runtime reads (``model.io.relief_calibration``)."""
    distance_key, exponent_key = RELIEF_METADATA_KEYS
    return {distance_key: round(calibration.distance_m, 4), exponent_key: round(calibration.exponent, 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", default=None, help="weights file (default: the shipped model)")
    parser.add_argument("--crops", type=int, default=512, help="train-split crops to measure on")
    parser.add_argument("--write", action="store_true", help="store the result in the weights' sidecar")
    parser.add_argument("--figure", type=Path, default=None, help="also draw the factors and the fit (.png)")
    args = parser.parse_args(argv)
    path = Path(args.weights) if args.weights else default_weights_path()
    if args.crops < 16:
        parser.error("--crops must be at least 16")
    try:
        model = load_model(path)
        info = read_sidecar(path)
    except WeightsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        calibration = calibrate_relief(model, args.crops)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"relief_distance_m = {calibration.distance_m:.3f}, relief_exponent = {calibration.exponent:.3f} "
        f"({path.name}, {calibration.crops} of {args.crops} train-split crops)"
    )
    if args.figure is not None:
        draw_relief_figure(calibration, args.figure)
        print(f"figure: {args.figure}")
    if args.write:  # metadata only: the weights file and its sha256 stay as they are
        info["metadata"].update(relief_metadata(calibration))
        sidecar_path(path).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        print(f"written to {sidecar_path(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

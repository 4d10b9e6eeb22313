"""Does the confidence head say where the canonical map is wrong? Held-out numbers for the model card.

The canonical loss ``c·|Δ|₁ − α·log c`` is a Laplace negative log-likelihood, minimised at
``c = α / |Δ|₁``: a head that learnt it predicts the expected L1 error ``α / c`` per pixel. On
held-out test-split crops (ground-truth face pixels) this measures:

* ``confidence_median``: the typical confidence. The runtime divides by it (``model.io``'s
  ``confidence_reference``), so 1 means "as reliable as a typical face pixel" whatever the head's scale;
* ``error_rank_correlation``: Spearman correlation of ``1 / c`` with the actual |Δ|₁ on clear pixels
  (0: the head says nothing; the 0.2.x weights' head had a constant c);
* ``uncertainty_occluded`` / ``uncertainty_clear``: median relative uncertainty ``confidence_median / c``
  on pixels under an object drawn over the face that the network still calls face, vs on clear face
  pixels (an occluded pixel must be less certain);
* ``error_per_unit_uncertainty``: median |Δ|₁ × c / confidence_median, the L1 error of a typical pixel.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.stats import spearmanr

from face_anything_ros.model.network import FaceAnythingModel

from .validation import predict_numpy

MAX_RANK_PIXELS = 20000  # pixels sampled for the rank correlation (spearmanr is O(n log n) but memory-bound)


def draw_blocking_objects(images: np.ndarray, masks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N, S, S) bool: where a flat-coloured ellipse was drawn over each face (``images`` edited in place).

    The ellipse covers about a quarter of the face box, centred on a random face pixel; its colour is
    random, so the pixels under it carry no face evidence at all.
    """
    covered = np.zeros(masks.shape, dtype=bool)
    for i, mask in enumerate(masks):
        rows, cols = np.nonzero(mask)
        if rows.size < 50:
            continue
        pick = rng.integers(rows.size)
        side = max(np.ptp(rows), np.ptp(cols))
        axes = (int(side * rng.uniform(0.2, 0.3)), int(side * rng.uniform(0.15, 0.25)))
        layer = np.zeros(mask.shape, dtype=np.uint8)
        cv2.ellipse(
            layer, (int(cols[pick]), int(rows[pick])), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1
        )
        covered[i] = layer.astype(bool) & mask
        images[i][layer.astype(bool)] = rng.integers(0, 256, size=3, dtype=np.uint8)
    return covered


def uncertainty_metrics(
    model: FaceAnythingModel, batch: dict[str, np.ndarray], seed: int = 0
) -> dict[str, float]:
    """The module's numbers on ``batch`` (generator crops with ``image``, ``mask``, ``canonical``)."""
    rng = np.random.default_rng(seed)
    gt_mask = batch["mask"].astype(bool) & np.isfinite(batch["canonical"]).all(-1)
    clean = predict_numpy(model, batch["image"], batch.get("prior"))
    confidence = clean["confidence"][..., 0]
    error = np.abs(clean["canonical"] - batch["canonical"]).sum(-1)  # L1, canonical units
    reference = float(np.median(confidence[gt_mask]))
    clear_conf, clear_err = confidence[gt_mask], error[gt_mask]
    sample = rng.choice(clear_conf.size, size=min(MAX_RANK_PIXELS, clear_conf.size), replace=False)
    correlation = spearmanr(1.0 / clear_conf[sample], clear_err[sample]).statistic
    images = batch["image"].copy()
    covered = draw_blocking_objects(images, gt_mask, rng)
    blocked = predict_numpy(model, images, batch.get("prior"))  # the face mesh sees past a hand
    still_face = covered & (blocked["mask_logits"][..., 0] > 0.0)
    blocked_conf = blocked["confidence"][..., 0]
    clear = gt_mask & ~covered
    return {
        "confidence_median": reference,
        "error_rank_correlation": float(np.nan_to_num(correlation)),
        "uncertainty_occluded": float(np.median(reference / blocked_conf[still_face]))
        if still_face.any()
        else float("nan"),
        "uncertainty_clear": float(np.median(reference / blocked_conf[clear])),
        "occluded_pixels": int(still_face.sum()),
        "error_per_unit_uncertainty": float(np.median(clear_err * clear_conf / reference)),
    }

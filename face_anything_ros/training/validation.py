"""Held-out quality numbers on generator crops (test split), for training and the model card.

Metrics on one batch of crops, over ground-truth face pixels:
mask IoU (sigmoid > 0.5), canonical error (mean Euclidean distance, canonical
units; ×10 = cm on an average face), depth AbsRel and δ<1.05 after median
alignment of predicted relative depth to ground-truth depth.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from face_anything_ros.model.network import FaceAnythingModel


@dataclass(frozen=True)
class HeldoutMetrics:
    mask_iou: float
    canonical_error: float
    depth_absrel: float
    depth_delta105: float
    num_crops: int

    def to_dict(self) -> dict:
        return asdict(self)


def make_heldout_batch(num_crops: int, size: int, seed: int = 1234) -> dict[str, np.ndarray]:
    """A fixed batch of test-split crops (same seed → same crops)."""
    from face_anything_ros.synth import FaceSequenceGenerator, SynthConfig

    generator = FaceSequenceGenerator(SynthConfig(), seed=seed, split="test")
    return generator.sample_crops(num_crops, size=size)


def model_input(model: FaceAnythingModel, images_uint8: np.ndarray, prior: np.ndarray | None) -> torch.Tensor:
    """(…, C, S, S) float input on the model's device for (…, S, S, 3) uint8 crops (frames or windows):
    RGB in [0, 1], then a prior-taking model's prior channels (…, S, S, P), all zero when ``prior`` is None."""
    device = next(model.parameters()).device
    inputs = torch.from_numpy(np.ascontiguousarray(images_uint8)).to(device).movedim(-1, -3).float() / 255.0
    channels = model.config.prior_channels
    if not channels:
        return inputs
    if prior is None:
        prior = np.zeros((*images_uint8.shape[:-1], channels), np.float32)
    extra = torch.from_numpy(np.ascontiguousarray(prior, dtype=np.float32)).to(device).movedim(-1, -3)
    return torch.cat([inputs, extra], dim=-3)


@torch.inference_mode()
def predict_numpy(
    model: FaceAnythingModel,
    images_uint8: np.ndarray,
    prior: np.ndarray | None = None,
    batch_size: int = 16,
) -> dict[str, np.ndarray]:
    """Run ``model`` on (N, S, S, 3) uint8 crops; returns (N, S, S[, C]) numpy maps.

    ``prior`` (N, S, S, P): the prior channels of a prior-taking model; without it such a model runs
    with no prior (all-zero channels), as for a face without face-mesh landmarks.
    """
    outputs: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(images_uint8), batch_size):
        chunk = slice(start, start + batch_size)
        pred = model(model_input(model, images_uint8[chunk], None if prior is None else prior[chunk]))
        for key, value in pred.items():
            outputs.setdefault(key, []).append(value.float().movedim(1, -1).cpu().numpy())
    return {k: np.concatenate(v) for k, v in outputs.items()}


def heldout_metrics(model: FaceAnythingModel, batch: dict[str, np.ndarray]) -> HeldoutMetrics:
    was_training = model.training
    model.eval()
    pred = predict_numpy(model, batch["image"], batch.get("prior"))
    model.train(was_training)
    return metrics_from_predictions(batch, pred)


def metrics_from_predictions(batch: dict[str, np.ndarray], pred: dict[str, np.ndarray]) -> HeldoutMetrics:
    """Metrics of (N, S, S[, C]) predictions against a generator batch."""
    gt_mask = batch["mask"].astype(bool)
    pred_mask = pred["mask_logits"][..., 0] > 0.0
    ious, canon, absrel, delta = [], [], [], []
    for i in range(len(gt_mask)):
        union = (gt_mask[i] | pred_mask[i]).sum()
        ious.append((gt_mask[i] & pred_mask[i]).sum() / max(union, 1))
        valid = gt_mask[i] & np.isfinite(batch["depth"][i]) & np.isfinite(batch["canonical"][i]).all(-1)
        if not valid.any():
            continue
        canon.append(
            np.linalg.norm(pred["canonical"][i][valid] - batch["canonical"][i][valid], axis=-1).mean()
        )
        gt_depth = batch["depth"][i][valid]
        pred_depth = pred["depth"][i][..., 0][valid]
        aligned = pred_depth * np.median(gt_depth) / np.median(pred_depth)
        absrel.append(np.mean(np.abs(aligned - gt_depth) / gt_depth))
        ratio = np.maximum(aligned / gt_depth, gt_depth / aligned)
        delta.append(np.mean(ratio < 1.05))
    return HeldoutMetrics(
        mask_iou=float(np.mean(ious)),
        canonical_error=float(np.mean(canon)) if canon else float("nan"),
        depth_absrel=float(np.mean(absrel)) if absrel else float("nan"),
        depth_delta105=float(np.mean(delta)) if delta else float("nan"),
        num_crops=len(gt_mask),
    )


@torch.inference_mode()
def window_mode_comparison(model: FaceAnythingModel, windows: dict[str, np.ndarray]) -> dict[str, dict]:
    """Held-out metrics of the same (B, T) windows run frame by frame and as multi-frame windows."""
    model.eval()
    b, t = windows["image"].shape[:2]
    flat = {k: v.reshape(b * t, *v.shape[2:]) for k, v in windows.items()}
    single = heldout_metrics(model, flat).to_dict()
    pred = model(model_input(model, windows["image"], windows.get("prior")))
    multi_pred = {k: v.flatten(0, 1).movedim(1, -1).cpu().numpy() for k, v in pred.items()}
    multi = metrics_from_predictions(flat, multi_pred).to_dict()
    return {"single_frame": single, "multi_frame": multi, "windows": b, "frames": t}

"""Training losses for the four dense outputs.

* canonical: confidence-weighted L1 on face pixels, ``c·|Δ|₁ − α·log c`` (the
  network learns where it is unsure instead of being dragged by hard pixels);
* depth: L1 between predicted log-depth and the log of GT depth / GT median face
  depth on face pixels (the target is scale-free by construction), plus a
  multi-scale gradient-matching term on that residual (sharp, correct shape);
* mask: BCE over all pixels;
* temporal (multi-frame windows): the per-pixel residuals of consecutive frames
  should agree, which damps frame-to-frame jitter beyond per-frame supervision.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F


@dataclass(frozen=True)
class LossWeights:
    canonical: float = 1.0
    confidence_alpha: float = 0.05
    depth: float = 25.0  # the log relative depth of a face spans only ~±0.05: weight it up to matter
    depth_gradient: float = 10.0
    gradient_scales: int = 4
    mask: float = 2.0
    temporal: float = 0.5


@dataclass
class Targets:
    """Model-ready ground truth, each (N, C, S, S) or (B, T, C, S, S)."""

    log_depth: torch.Tensor  # log(depth / median face depth), 0 where invalid
    canonical: torch.Tensor  # 0 where invalid
    valid: torch.Tensor  # bool, face pixels with finite depth and canonical
    mask: torch.Tensor  # float 0/1 face mask


def _masked_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    return (values * weights).sum() / weights.sum().clamp_min(1.0)


def gradient_matching(residual: torch.Tensor, valid: torch.Tensor, scales: int) -> torch.Tensor:
    """Mean |∇ residual| over neighbouring valid pixels, summed over ``scales`` octaves."""
    total = residual.new_zeros(())
    for level in range(scales):
        step = 2**level
        r = residual[..., ::step, ::step]
        v = valid[..., ::step, ::step]
        vx = v[..., :, 1:] * v[..., :, :-1]
        vy = v[..., 1:, :] * v[..., :-1, :]
        total = total + _masked_mean((r[..., :, 1:] - r[..., :, :-1]).abs(), vx)
        total = total + _masked_mean((r[..., 1:, :] - r[..., :-1, :]).abs(), vy)
    return total


def compute_losses(
    pred: dict[str, torch.Tensor], targets: Targets, weights: LossWeights
) -> dict[str, torch.Tensor]:
    """All loss terms (weighted ``total`` plus unweighted parts for logging)."""
    multi_frame = pred["depth"].dim() == 5
    valid = targets.valid.float()
    log_depth = torch.log(pred["depth"].float())
    depth_residual = (log_depth - targets.log_depth) * valid
    canonical_residual = (pred["canonical"].float() - targets.canonical) * valid
    canonical_error = canonical_residual.abs().sum(dim=-3, keepdim=True)
    confidence = pred["confidence"].float()
    terms = {
        "canonical_l1": _masked_mean(canonical_error, valid),
        "canonical_conf": _masked_mean(
            confidence * canonical_error - weights.confidence_alpha * torch.log(confidence), valid
        ),
        "depth_l1": _masked_mean(depth_residual.abs(), valid),
        "depth_grad": gradient_matching(depth_residual, valid, weights.gradient_scales),
        "mask_bce": F.binary_cross_entropy_with_logits(pred["mask_logits"].float(), targets.mask),
    }
    total = (
        weights.canonical * terms["canonical_conf"]
        + weights.depth * terms["depth_l1"]
        + weights.depth_gradient * terms["depth_grad"]
        + weights.mask * terms["mask_bce"]
    )
    if multi_frame:
        both = valid[:, 1:] * valid[:, :-1]
        step_c = (canonical_residual[:, 1:] - canonical_residual[:, :-1]).abs().sum(dim=-3, keepdim=True)
        step_d = (depth_residual[:, 1:] - depth_residual[:, :-1]).abs()
        terms["temporal"] = _masked_mean(step_c + step_d, both)
        total = total + weights.temporal * terms["temporal"]
    terms["total"] = total
    return terms

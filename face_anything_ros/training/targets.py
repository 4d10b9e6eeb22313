"""Turn a generator batch (numpy, NaN off-face) into model inputs and loss targets."""

from __future__ import annotations

import numpy as np
import torch

from .losses import Targets


def relative_log_depth(depth: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """log(depth / median face depth) per image over the trailing (S, S) axes; 0 where invalid."""
    flat_depth = depth.reshape(-1, *depth.shape[-2:])
    flat_valid = valid.reshape(flat_depth.shape)
    out = np.zeros(flat_depth.shape, dtype=np.float32)
    for i in range(flat_depth.shape[0]):
        face = flat_depth[i][flat_valid[i]]
        if face.size:
            out[i][flat_valid[i]] = np.log(face / np.median(face))
    return out.reshape(depth.shape)


def batch_to_tensors(batch: dict[str, np.ndarray]) -> tuple[torch.Tensor, Targets]:
    """images (…, 3[+P], S, S) float [0, 1] (then the prior channels, if the batch has them) and
    :class:`Targets` (…, C, S, S).

    Works for single crops (B, S, S, ·) and windows (B, T, S, S, ·).
    """
    depth = batch["depth"].astype(np.float32)
    canonical = batch["canonical"].astype(np.float32)
    valid = batch["mask"].astype(bool) & np.isfinite(depth) & np.isfinite(canonical).all(axis=-1)
    log_depth = relative_log_depth(np.where(valid, depth, 1.0), valid)
    canonical = np.where(valid[..., None], canonical, 0.0)
    images = torch.from_numpy(np.ascontiguousarray(batch["image"])).movedim(-1, -3).float() / 255.0
    if "prior" in batch:  # a prior-taking model's extra input channels, after RGB
        prior = torch.from_numpy(np.ascontiguousarray(batch["prior"], dtype=np.float32)).movedim(-1, -3)
        images = torch.cat([images, prior], dim=-3)
    targets = Targets(
        log_depth=torch.from_numpy(log_depth).unsqueeze(-3),
        canonical=torch.from_numpy(np.ascontiguousarray(canonical)).movedim(-1, -3),
        valid=torch.from_numpy(valid).unsqueeze(-3),
        mask=torch.from_numpy(batch["mask"].astype(np.float32)).unsqueeze(-3),
    )
    return images, targets


def targets_to(targets: Targets, device: torch.device | str) -> Targets:
    return Targets(
        log_depth=targets.log_depth.to(device, non_blocking=True),
        canonical=targets.canonical.to(device, non_blocking=True),
        valid=targets.valid.to(device, non_blocking=True),
        mask=targets.mask.to(device, non_blocking=True),
    )

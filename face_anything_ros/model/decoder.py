"""DPT-like decoder: fuse stride 16/8/4/2 features and predict the four dense maps.

Kept light for CPU: depthwise-separable residual units, the prediction made at
stride 2 and bilinearly upsampled (the heads are linear there, so this equals
upsampling features before a 1x1 head).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

# Output channels of the raw prediction: log-depth, canonical xyz, mask logit, confidence.
HEAD_CHANNELS = {"depth": 1, "canonical": 3, "mask_logits": 1, "confidence": 1}


class ResidualConvUnit(nn.Module):
    """x + pw(relu(dw(relu(x)))), depthwise-separable for speed."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dw = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.pw = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pw(F.relu(self.dw(F.relu(x))))


class FusionStage(nn.Module):
    """Upsample the coarser map ×2, add the projected skip, refine."""

    def __init__(self, skip_ch: int, dim: int) -> None:
        super().__init__()
        self.skip = nn.Conv2d(skip_ch, dim, 1)
        self.refine = nn.Sequential(ResidualConvUnit(dim), ResidualConvUnit(dim))

    def forward(self, coarse: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(coarse, scale_factor=2.0, mode="bilinear", align_corners=False)
        return self.refine(up + self.skip(skip))


class DenseDecoder(nn.Module):
    def __init__(self, token_dim: int, skip_channels: tuple[int, int, int], dim: int) -> None:
        super().__init__()
        c2, c4, c8 = skip_channels
        half = dim // 2
        self.project16 = nn.Sequential(nn.Conv2d(token_dim, dim, 1), ResidualConvUnit(dim))
        self.fuse8 = FusionStage(c8, dim)
        self.fuse4 = FusionStage(c4, dim)
        self.reduce = nn.Conv2d(dim, half, 1)
        self.fuse2 = FusionStage(c2, half)
        self.head = nn.Sequential(
            nn.Conv2d(half, half, 3, padding=1), nn.ReLU(), nn.Conv2d(half, sum(HEAD_CHANNELS.values()), 1)
        )

    def features(self, f2: torch.Tensor, f4: torch.Tensor, f8: torch.Tensor, f16: torch.Tensor) -> torch.Tensor:
        """The fused stride-2 features the heads read (also the face-mesh prior's gate)."""
        x = self.project16(f16)
        x = self.fuse8(x, f8)
        x = self.fuse4(x, f4)
        return self.fuse2(self.reduce(x), f2)

    def predict(self, features: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return F.interpolate(self.head(features), size=size, mode="bilinear", align_corners=False)

    def forward(
        self, f2: torch.Tensor, f4: torch.Tensor, f8: torch.Tensor, f16: torch.Tensor, size: tuple[int, int]
    ) -> torch.Tensor:
        return self.predict(self.features(f2, f4, f8, f16), size)

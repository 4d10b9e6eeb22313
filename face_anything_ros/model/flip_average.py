"""Mirror test-time augmentation for the canonical map (an offline accuracy option).

The template is mirror-symmetric in x, so the model applied to a mirrored crop predicts the
mirrored face: canonical (−x, y, z) at the mirrored pixel (training uses exactly this flip, see
``augment.flip_horizontal``). Averaging the direct prediction with the mirrored-back prediction of
the mirrored crop cancels part of the network's error. Only the canonical map is averaged: depth,
mask and confidence come from the direct pass (averaging them measured no gain). Costs one extra
batch element per crop (≈1.5× model time on a CPU).
"""

from __future__ import annotations

import torch
from torch import nn

from .config import IMAGE_CHANNELS

MIRROR_CANONICAL = (-1.0, 1.0, 1.0)  # canonical x changes sign under a horizontal mirror


class FlipAveragedCanonical(nn.Module):
    """Wraps a Face Anything model; same inputs and outputs (single frame or windows)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.config = getattr(model, "config", None)
        self.register_buffer("mirror", torch.tensor(MIRROR_CANONICAL), persistent=False)
        # a mirrored crop's face-mesh prior is the mirrored prior with its canonical x negated
        prior_channels = self.config.prior_channels if self.config is not None else 0
        input_mirror = torch.ones(IMAGE_CHANNELS + prior_channels)
        if prior_channels:
            input_mirror[IMAGE_CHANNELS] = -1.0  # prior channel 0 is the template's canonical x
        self.register_buffer("input_mirror", input_mirror, persistent=False)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        batch = images.shape[0]
        mirrored_input = torch.flip(images, dims=[-1]) * self.input_mirror.view(-1, 1, 1)
        both = self.model(torch.cat([images, mirrored_input], dim=0))
        direct = {name: value[:batch] for name, value in both.items()}
        mirrored = torch.flip(both["canonical"][batch:], dims=[-1])
        channel_shape = (3, 1, 1)  # canonical is (B, 3, H, W) or (B, T, 3, H, W)
        direct["canonical"] = 0.5 * (direct["canonical"] + mirrored * self.mirror.view(channel_shape))
        return direct

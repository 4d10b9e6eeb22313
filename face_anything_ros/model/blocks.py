"""Transformer blocks over stride-16 tokens: frame-wise and cross-frame attention.

Blocks alternate (VGGT-style) between attention inside each frame and attention
over the tokens of all frames of a window. With one frame both kinds see the same
tokens, so the same weights serve the single-frame (live) and multi-frame modes.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        return self.proj(y.transpose(1, 2).reshape(b, n, c))


class TransformerBlock(nn.Module):
    """Pre-norm attention + MLP block."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class AlternatingTransformer(nn.Module):
    """Even blocks attend within a frame, odd blocks across all frames of a window."""

    def __init__(self, dim: int, depth: int, num_heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(TransformerBlock(dim, num_heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor, num_frames: int) -> torch.Tensor:
        """``tokens`` (B*T, N, C) → same shape; ``num_frames`` = T."""
        bt, n, c = tokens.shape
        for index, block in enumerate(self.blocks):
            if index % 2 == 1 and num_frames > 1:
                tokens = block(tokens.reshape(bt // num_frames, num_frames * n, c)).reshape(bt, n, c)
            else:
                tokens = block(tokens)
        return self.norm(tokens)

"""The torch device a name asks for: the one resolver of inference backends and the trainer."""

from __future__ import annotations

import torch


class DeviceUnavailable(ValueError):
    """The named device does not exist on this machine (e.g. CUDA without a GPU)."""


def resolve_device(name: str) -> torch.device:
    """``auto`` -> the first CUDA device when available, else the CPU; ``cpu``, ``cuda``, ``cuda:N``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable(f"device {name!r} requested but CUDA is not available")
    return device

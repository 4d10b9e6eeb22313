"""The backend interface: a batch of crops in, the model's named output maps out (NumPy)."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

# Fixed output order used by exported graphs (ONNX, TensorRT) that cannot return dicts.
OUTPUT_NAMES = ("depth", "canonical", "mask_logits", "confidence")
INPUT_NAME = "images"


@dataclass(frozen=True)
class ExportTarget:
    """What an exporting backend (ONNX, TensorRT) needs: the model, where it runs, and its cache."""

    model: torch.nn.Module
    device: torch.device
    buckets: list[int]
    cache_dir: Path
    digest: str  # model_hash(model): part of every cache file name
    input_size: int


def input_channels(model: torch.nn.Module) -> int:
    """Channels of the model's input: RGB, plus the face-mesh prior's for models trained with it."""
    return int(getattr(getattr(model, "config", None), "input_channels", 3))


class BackendUnavailable(RuntimeError):
    """The backend cannot be used here (library missing, wrong device, build failed)."""


class TupleOutputs(torch.nn.Module):
    """Wraps the model so it returns a tuple in ``OUTPUT_NAMES`` order (for export/compilers)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model
        # A fresh Module is in training mode; exporters restore that mode recursively
        # afterwards, which would silently switch the wrapped model's BatchNorm to batch stats.
        self.train(model.training)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outputs = self.model(images)
        return tuple(outputs[name] for name in OUTPUT_NAMES)


class InferenceBackend(ABC):
    """Runs the model on (B, C, S, S) float32 input (RGB [0, 1], then any prior channels) and returns
    float32 NumPy maps."""

    name: str = "base"
    precision: str = "fp32"
    #: batch sizes are padded up to the next bucket (compiled graphs see few shapes)
    uses_buckets: bool = False

    def __init__(self, buckets: list[int]) -> None:
        self._buckets = list(buckets)

    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        batch = images.shape[0]
        if batch == 0:
            raise ValueError("empty batch")
        padded = images
        if self.uses_buckets:
            target = next((b for b in self._buckets if b >= batch), batch)
            if target > batch:
                pad = np.zeros((target - batch, *images.shape[1:]), dtype=images.dtype)
                padded = np.concatenate([images, pad], axis=0)
        outputs = self._run(np.ascontiguousarray(padded, dtype=np.float32))
        return {name: np.asarray(outputs[name][:batch], dtype=np.float32) for name in OUTPUT_NAMES}

    @abstractmethod
    def _run(self, images: np.ndarray) -> dict[str, np.ndarray]: ...

    def describe(self) -> str:
        return f"{self.name} ({self.precision})"


def model_hash(model: torch.nn.Module) -> str:
    """SHA-256 of the model class and every parameter/buffer (name, dtype, shape, bytes)."""
    digest = hashlib.sha256(type(model).__qualname__.encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def outputs_to_numpy(outputs: dict[str, torch.Tensor] | tuple[torch.Tensor, ...]) -> dict[str, np.ndarray]:
    if isinstance(outputs, dict):
        return {name: outputs[name].detach().float().cpu().numpy() for name in OUTPUT_NAMES}
    return {
        name: tensor.detach().float().cpu().numpy()
        for name, tensor in zip(OUTPUT_NAMES, outputs, strict=True)
    }

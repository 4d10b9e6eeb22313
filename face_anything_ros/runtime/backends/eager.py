"""Eager PyTorch: the reference every other backend is checked against."""

from __future__ import annotations

import numpy as np
import torch

from face_anything_ros.runtime.backends.base import InferenceBackend, outputs_to_numpy


class EagerBackend(InferenceBackend):
    name = "eager"

    def __init__(self, model: torch.nn.Module, device: torch.device, buckets: list[int]) -> None:
        super().__init__(buckets)
        self._model = model.to(device).eval()
        self._device = device

    @torch.inference_mode()
    def _run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        return outputs_to_numpy(self._model(torch.from_numpy(images).to(self._device)))

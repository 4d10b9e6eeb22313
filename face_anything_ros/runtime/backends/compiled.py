"""torch.compile (Inductor); fp16 autocast on CUDA. Batches are padded to buckets to bound recompiles."""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from face_anything_ros.runtime.backends.base import BackendUnavailable, InferenceBackend, outputs_to_numpy


class CompileBackend(InferenceBackend):
    name = "compile"
    uses_buckets = True

    def __init__(self, model: torch.nn.Module, device: torch.device, buckets: list[int], fp16: bool) -> None:
        super().__init__(buckets)
        if not hasattr(torch, "compile"):
            raise BackendUnavailable("torch.compile is not available in this torch build")
        self._device = device
        self._autocast = device.type == "cuda" and fp16
        self.precision = "fp16" if self._autocast else "fp32"
        # CUDA: CUDA graphs cut the per-call launch overhead that dominates one-face latency; they
        # need fixed shapes, which the batch buckets give. Outputs are copied to NumPy at once, so
        # the graph's reused output buffers are safe. (Unmeasured: no GPU in this project's runs.)
        mode = "reduce-overhead" if device.type == "cuda" else None
        self._compiled = torch.compile(model.to(device).eval(), mode=mode, dynamic=False)

    @torch.inference_mode()
    def _run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        autocast = (
            torch.autocast(device_type="cuda", dtype=torch.float16)
            if self._autocast
            else contextlib.nullcontext()
        )
        with autocast:
            outputs = self._compiled(torch.from_numpy(images).to(self._device, non_blocking=True))
        return outputs_to_numpy(outputs)

"""TensorRT through Torch-TensorRT (dynamo path), fp16, with an on-disk engine cache.

Building an engine takes minutes (on a Jetson, many), so the compiled program is saved
with ``torch_tensorrt.save`` and reloaded with ``torch.export.load`` on the next start.
The cache file name is a hash of everything that invalidates an engine: the model's
weights hash, the input shape range, precision, the GPU name and compute capability,
and the torch / torch_tensorrt / TensorRT versions.

Not measured in this project: torch_tensorrt installs on no machine available to it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from face_anything_ros.runtime.backends.base import (
    BackendUnavailable,
    ExportTarget,
    InferenceBackend,
    TupleOutputs,
    input_channels,
    outputs_to_numpy,
)

LOGGER = logging.getLogger(__name__)
OPTIMAL_BATCH = 1  # TensorRT tunes kernels for this batch; one face is the common case


def engine_cache_key(
    digest: str,
    input_shapes: dict[str, tuple[int, ...]],
    precision: str,
    gpu_name: str,
    compute_capability: tuple[int, int],
    versions: dict[str, str],
) -> str:
    """Stable hex key over everything an engine depends on."""
    payload = {
        "model": digest,
        "shapes": {k: list(v) for k, v in sorted(input_shapes.items())},
        "precision": precision,
        "gpu": gpu_name,
        "sm": list(compute_capability),
        "versions": dict(sorted(versions.items())),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def library_versions(torch_tensorrt: Any) -> dict[str, str]:
    versions = {
        "torch": torch.__version__,
        "torch_tensorrt": getattr(torch_tensorrt, "__version__", "unknown"),
    }
    try:
        import tensorrt

        versions["tensorrt"] = tensorrt.__version__
    except ImportError:
        versions["tensorrt"] = "unknown"
    return versions


class TensorRTBackend(InferenceBackend):
    name = "tensorrt"
    precision = "fp16"

    def __init__(self, target: ExportTarget, fp16: bool) -> None:
        super().__init__(target.buckets)
        device, input_size, buckets = target.device, target.input_size, target.buckets
        if device.type != "cuda":
            raise BackendUnavailable("TensorRT needs a CUDA device")
        try:
            import torch_tensorrt
        except ImportError as exc:
            raise BackendUnavailable(f"torch_tensorrt is not installed ({exc})") from exc
        self.precision = "fp16" if fp16 else "fp32"
        self._device = device
        max_batch = buckets[-1]
        channels = input_channels(target.model)
        shapes = {
            "min": (1, channels, input_size, input_size),
            "opt": (OPTIMAL_BATCH, channels, input_size, input_size),
            "max": (max_batch, channels, input_size, input_size),
        }
        properties = torch.cuda.get_device_properties(device)
        key = engine_cache_key(
            target.digest,
            shapes,
            self.precision,
            properties.name,
            (properties.major, properties.minor),
            library_versions(torch_tensorrt),
        )
        path = target.cache_dir / "tensorrt" / f"engine-{key}.ep"
        self._module = self._load_or_build(torch_tensorrt, target.model, path, shapes)

    def _load_or_build(self, torch_tensorrt: Any, model: torch.nn.Module, path: Path, shapes: dict) -> Any:
        if path.exists():
            LOGGER.info("tensorrt: loading cached engine %s", path)
            return torch.export.load(str(path)).module().to(self._device)
        LOGGER.info("tensorrt: building an engine (minutes); it will be cached at %s", path)
        wrapped = TupleOutputs(model.to(self._device).eval())
        example = torch.rand(*shapes["opt"], device=self._device)
        batch = torch.export.Dim("batch", min=shapes["min"][0], max=shapes["max"][0])
        dynamic_shapes = {"images": {0: batch}}
        exported = torch.export.export(wrapped, (example,), dynamic_shapes=dynamic_shapes, strict=False)
        precisions = {torch.float16, torch.float32} if self.precision == "fp16" else {torch.float32}
        compiled = torch_tensorrt.dynamo.compile(
            exported,
            inputs=[
                torch_tensorrt.Input(
                    min_shape=shapes["min"],
                    opt_shape=shapes["opt"],
                    max_shape=shapes["max"],
                    dtype=torch.float32,
                )
            ],
            enabled_precisions=precisions,
        )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch_tensorrt.save(compiled, str(path), arg_inputs=[example], dynamic_shapes=dynamic_shapes)
        except Exception as exc:  # a cache write failure must not stop inference
            LOGGER.warning(
                "tensorrt: could not cache the engine at %s (%s); the next start rebuilds it", path, exc
            )
        return compiled

    @torch.inference_mode()
    def _run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        outputs = self._module(torch.from_numpy(images).to(self._device, non_blocking=True))
        return outputs_to_numpy(tuple(outputs))

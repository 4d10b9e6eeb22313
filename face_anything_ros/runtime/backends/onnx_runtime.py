"""ONNX Runtime: export once (cached by model hash and crop size), run with the best provider.

Export uses torch's TorchScript-based exporter (``dynamo=False``): the dynamo exporter needs
``onnxscript``, which is not a dependency here. The batch axis is dynamic, so no padding.
Execution providers, best first, among those this onnxruntime build offers:
TensorRT, CUDA (only when the pipeline's device is CUDA), then CPU.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import torch

from face_anything_ros.runtime.backends.base import (
    INPUT_NAME,
    OUTPUT_NAMES,
    BackendUnavailable,
    ExportTarget,
    InferenceBackend,
    TupleOutputs,
    input_channels,
)

LOGGER = logging.getLogger(__name__)
ONNX_OPSET = 17
GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def export_onnx(model: torch.nn.Module, path: Path, input_size: int) -> None:
    """Export ``model`` with a dynamic batch axis to ``path`` (written atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    example = torch.rand(1, input_channels(model), input_size, input_size)
    dynamic_axes = {INPUT_NAME: {0: "batch"}} | {name: {0: "batch"} for name in OUTPUT_NAMES}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer warnings
        torch.onnx.export(
            TupleOutputs(model.cpu().eval()),
            (example,),
            str(temporary),
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            dynamic_axes=dynamic_axes,
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
    temporary.replace(path)


def choose_providers(available: list[str], device: torch.device) -> list[str]:
    wanted = [*GPU_PROVIDERS, "CPUExecutionProvider"] if device.type == "cuda" else ["CPUExecutionProvider"]
    return [p for p in wanted if p in available]


class OnnxRuntimeBackend(InferenceBackend):
    name = "onnxruntime"

    def __init__(self, target: ExportTarget, cpu_threads: int = 0, spin_wait: bool = False) -> None:
        super().__init__(target.buckets)
        model, device, input_size = target.model, target.device, target.input_size
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise BackendUnavailable(f"onnxruntime is not installed: {exc}") from exc
        path = target.cache_dir / "onnx" / f"{target.digest[:16]}-s{input_size}-opset{ONNX_OPSET}.onnx"
        if path.exists():
            LOGGER.info("onnxruntime: using cached export %s", path)
        else:
            LOGGER.info("onnxruntime: exporting the model to %s", path)
            device_of_model = next(model.parameters()).device
            export_onnx(model, path, input_size)
            model.to(device_of_model).eval()
        providers = choose_providers(ort.get_available_providers(), device)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        options.intra_op_num_threads = cpu_threads  # 0: onnxruntime's default (one per core)
        if not spin_wait:  # idle threads sleep instead of busy-waiting (BackendConfig.cpu_spin_wait)
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        self.providers = self._session.get_providers()
        self.precision = "fp32"
        LOGGER.info("onnxruntime: providers %s", self.providers)

    def _run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        outputs = self._session.run(list(OUTPUT_NAMES), {INPUT_NAME: images})
        return dict(zip(OUTPUT_NAMES, outputs, strict=True))

    def describe(self) -> str:
        return f"{self.name} ({self.precision}, {self.providers[0]})"

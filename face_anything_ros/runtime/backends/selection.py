"""Backend choice, parity check against eager, and fallback on failure.

Automatic order: on CUDA ``tensorrt > compile > onnxruntime > eager``; on CPU
``onnxruntime > eager``. torch.compile is left out of the CPU order because it measured
slower than eager on the development CPU (BENCHMARKS.md, block ``runtime``) and costs a
minute of compilation at start; it can still be requested by name.

A backend is accepted only after it loads AND matches eager on a probe batch within
tolerance (fp32: ``PARITY_ATOL``, fp16: ``PARITY_ATOL_FP16``, relative to the output
magnitude). A backend that fails to load, fails the probe, raises at run time or returns
non-finite outputs is replaced by the next one in the order, with a warning; when eager
itself fails the error propagates, never a silently wrong result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import torch

from face_anything_ros.model.device import DeviceUnavailable, resolve_device
from face_anything_ros.runtime.backends.base import (
    OUTPUT_NAMES,
    BackendUnavailable,
    ExportTarget,
    InferenceBackend,
    input_channels,
    model_hash,
)
from face_anything_ros.runtime.backends.eager import EagerBackend
from face_anything_ros.runtime.config import BackendConfig

LOGGER = logging.getLogger(__name__)

CUDA_ORDER = ("tensorrt", "compile", "onnxruntime", "eager")
CPU_ORDER = ("onnxruntime", "eager")
# Parity limits a backend must meet against eager on the probe batch (relative to the output
# magnitude; tolerances, not settings). ONNX Runtime and torch.compile match eager to 1e-4 absolute on
# the default model (test_runtime_backends, test_runtime_compile), so fp32 has 10x headroom. The fp16
# limit was set with the first CUDA backends (half precision keeps ~3 significant digits) and is not
# re-measured on the CPU-only development machine.
PARITY_ATOL = 1e-3
PARITY_ATOL_FP16 = 5e-2
PROBE_SEED = 1234


def candidate_order(requested: str, device: torch.device) -> list[str]:
    """Backends to try, best first: the requested one, then the rest of the automatic order."""
    automatic = list(CUDA_ORDER if device.type == "cuda" else CPU_ORDER)
    if requested == "auto":
        return automatic
    rest = [name for name in automatic if name != requested]
    return [requested, *rest]


def build_backend(
    name: str,
    model: torch.nn.Module,
    device: torch.device,
    config: BackendConfig,
    input_size: int,
    digest: str,
) -> InferenceBackend:
    """Construct one backend by name (raises ``BackendUnavailable`` or the library's error)."""
    buckets = config.batch_buckets
    if name == "eager":
        return EagerBackend(model, device, buckets)
    if name == "compile":
        from face_anything_ros.runtime.backends.compiled import CompileBackend

        return CompileBackend(model, device, buckets, config.fp16)
    if name == "onnxruntime":
        from face_anything_ros.runtime.backends.onnx_runtime import OnnxRuntimeBackend

        return OnnxRuntimeBackend(
            ExportTarget(model, device, buckets, config.cache_path, digest, input_size),
            config.cpu_threads,
            config.cpu_spin_wait,
        )
    if name == "tensorrt":
        from face_anything_ros.runtime.backends.tensorrt import TensorRTBackend

        target = ExportTarget(model, device, buckets, config.cache_path, digest, input_size)
        return TensorRTBackend(target, config.fp16)
    raise BackendUnavailable(f"unknown backend {name!r}")


def parity_error(outputs: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> float:
    """Largest |difference| over all outputs, relative to (1 + max |reference|) of that output."""
    errors = []
    for name in OUTPUT_NAMES:
        difference = np.abs(outputs[name].astype(np.float64) - reference[name])
        if not np.isfinite(difference).all():
            return float("inf")
        errors.append(float(difference.max()) / (1.0 + float(np.abs(reference[name]).max())))
    return max(errors)


def outputs_are_finite(outputs: dict[str, np.ndarray]) -> bool:
    return all(np.isfinite(outputs[name]).all() for name in OUTPUT_NAMES)


class BackendChain:
    """The backend in use plus the ones to fall back to; call it like a backend."""

    def __init__(
        self,
        model: torch.nn.Module,
        config: BackendConfig,
        input_size: int,
        builder: Callable[..., InferenceBackend] = build_backend,
    ) -> None:
        self._model = model.eval()
        self._config = config
        self._input_size = input_size
        self._builder = builder
        try:
            self.device = resolve_device(config.device)
        except DeviceUnavailable as exc:
            raise BackendUnavailable(str(exc)) from exc
        if config.cpu_threads and self.device.type == "cpu":
            torch.set_num_threads(config.cpu_threads)  # process-wide: torch has no per-call setting
            LOGGER.info("CPU inference threads: %d", config.cpu_threads)
        self._digest = model_hash(model)
        self._reference = EagerBackend(model, self.device, config.batch_buckets)
        probe_rng = np.random.default_rng(PROBE_SEED)
        self._probe = probe_rng.random((2, input_channels(model), input_size, input_size), dtype=np.float32)
        self._probe_reference = self._reference(self._probe)
        self._remaining = candidate_order(config.name, self.device)
        self.failures: list[str] = []  # "name: reason" of every backend given up on
        self.backend: InferenceBackend = self._next_backend()

    @property
    def name(self) -> str:
        return self.backend.name

    def describe(self) -> str:
        return self.backend.describe()

    def _next_backend(self) -> InferenceBackend:
        while self._remaining:
            name = self._remaining.pop(0)
            try:
                backend = (
                    self._reference
                    if name == "eager"
                    else self._builder(
                        name, self._model, self.device, self._config, self._input_size, self._digest
                    )
                )
                if name != "eager":
                    self._check_parity(backend)
            except Exception as exc:  # any failure to build or verify means: try the next one
                self._give_up(name, f"{type(exc).__name__}: {exc}")
                continue
            reason = "requested" if name == self._config.name else self._reason(name)
            LOGGER.info("inference backend: %s on %s (%s)", backend.describe(), self.device, reason)
            return backend
        raise RuntimeError(f"no inference backend works; failures: {self.failures}")

    def _reason(self, name: str) -> str:
        skipped = "; ".join(self.failures)
        head = "best available" if not skipped else f"fallback after {skipped}"
        order = " > ".join(CUDA_ORDER if self.device.type == "cuda" else CPU_ORDER)
        return f"{head}; automatic order on {self.device.type}: {order}"

    def _check_parity(self, backend: InferenceBackend) -> None:
        tolerance = PARITY_ATOL_FP16 if backend.precision == "fp16" else PARITY_ATOL
        error = parity_error(backend(self._probe), self._probe_reference)
        if not error <= tolerance:
            raise BackendUnavailable(f"outputs differ from eager by {error:.3g} (> tolerance {tolerance:g})")
        LOGGER.debug("%s matches eager: relative error %.3g <= %g", backend.name, error, tolerance)

    def _give_up(self, name: str, reason: str) -> None:
        self.failures.append(f"{name}: {reason}")
        LOGGER.warning("inference backend %s unusable, falling back to the next: %s", name, reason)

    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        while True:
            try:
                outputs = self.backend(images)
                if not outputs_are_finite(outputs) and self.backend is not self._reference:
                    raise FloatingPointError("non-finite outputs")
                return outputs
            except Exception as exc:
                if self.backend is self._reference:
                    raise
                LOGGER.warning(
                    "inference backend %s failed at run time (%s); switching to the next one",
                    self.backend.name,
                    exc,
                )
                self.failures.append(f"{self.backend.name}: run time {type(exc).__name__}: {exc}")
                self.backend = self._next_backend()

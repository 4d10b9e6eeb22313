"""Fault injection for the backend chain: a real backend that starts failing like a GPU out of memory.

Test/stress helper only (nothing in the product path knows about it): ``failing_builder`` is a
``BackendChain`` builder that wraps the real backend of one name so that its calls after the
first ``fail_after_calls`` raise ``RuntimeError("CUDA out of memory ...")``, the way a TensorRT
or CUDA backend fails at run time; ``FacePipeline(config, backend_builder=...)`` takes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from face_anything_ros.runtime.backends.base import InferenceBackend
from face_anything_ros.runtime.backends.selection import build_backend

OOM_MESSAGE = "CUDA out of memory. Tried to allocate 2.00 GiB (injected by the reliability drill)"


class FailingBackend(InferenceBackend):
    """Delegates to ``inner`` for ``fail_after_calls`` calls (the chain's parity probe included), then raises."""

    def __init__(self, inner: InferenceBackend, fail_after_calls: int, message: str = OOM_MESSAGE) -> None:
        super().__init__([])
        self.inner = inner
        self.name = inner.name
        self.precision = inner.precision
        self.fail_after_calls = fail_after_calls
        self.message = message
        self.calls = 0

    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        self.calls += 1
        if self.calls > self.fail_after_calls:
            raise RuntimeError(self.message)
        return self.inner(images)

    def _run(self, images: np.ndarray) -> dict[str, np.ndarray]:
        return self.inner(images)


def failing_builder(
    failing_name: str, fail_after_calls: int, made: list[FailingBackend]
) -> Callable[..., InferenceBackend]:
    """A BackendChain builder; the backend named ``failing_name`` is wrapped and appended to ``made``."""

    def build(name: str, model: torch.nn.Module, *args: Any) -> InferenceBackend:
        backend = build_backend(name, model, *args)
        if name != failing_name:
            return backend
        failing = FailingBackend(backend, fail_after_calls)
        made.append(failing)
        return failing

    return build

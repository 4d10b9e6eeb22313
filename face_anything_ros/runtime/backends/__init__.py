"""Inference backends (TensorRT, torch.compile, ONNX Runtime, eager) and their selection."""

from face_anything_ros.runtime.backends.base import OUTPUT_NAMES, BackendUnavailable, InferenceBackend
from face_anything_ros.runtime.backends.selection import BackendChain, candidate_order

__all__ = ["OUTPUT_NAMES", "BackendChain", "BackendUnavailable", "InferenceBackend", "candidate_order"]

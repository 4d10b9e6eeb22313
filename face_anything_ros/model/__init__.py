"""The Face Anything transformer: per-pixel depth, canonical coordinates, mask, confidence.

``load_model()`` gives the shipped default (verified); ``FaceAnythingModel(ModelConfig())``
a fresh network. See docs/ARCHITECTURE.md (Model I/O) and docs/MODEL_CARD.md.
"""

from .config import PRESETS, ModelConfig, get_config
from .io import WeightsError, default_weights_path, load_model, save_model
from .network import FaceAnythingModel

__all__ = [
    "PRESETS",
    "FaceAnythingModel",
    "ModelConfig",
    "WeightsError",
    "default_weights_path",
    "get_config",
    "load_model",
    "save_model",
]

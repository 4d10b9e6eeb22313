"""Save and load model weights with verification.

A weights file is a pair: ``NAME.pt`` (a plain state dict, optionally stored in
float16 to halve its size) and ``NAME.json`` (format version, model config,
sha256 of the .pt file, storage dtype, training metadata). Loading checks the
hash, the config and every tensor shape before the weights touch a model, and
uses ``torch.load(weights_only=True)`` so a weights file cannot run code.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from .config import ModelConfig
from .network import FaceAnythingModel

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
DEFAULT_WEIGHTS_NAME = "face_anything_small.pt"


class WeightsError(RuntimeError):
    """A weights file is missing, corrupted or does not match its model."""


def default_weights_path() -> Path:
    """The shipped default weights inside the package."""
    return Path(str(resources.files("face_anything_ros").joinpath("weights", DEFAULT_WEIGHTS_NAME)))


def sidecar_path(weights_path: str | os.PathLike) -> Path:
    return Path(weights_path).with_suffix(".json")


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_model(
    model: FaceAnythingModel,
    path: str | os.PathLike,
    metadata: dict | None = None,
    half: bool = False,
) -> Path:
    """Write ``path`` (.pt) and its .json sidecar atomically; returns the .pt path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    tmp = path.with_suffix(".pt.tmp")
    torch.save(state, tmp)
    info = {
        "format_version": FORMAT_VERSION,
        "config": model.config.to_dict(),
        "sha256": file_sha256(tmp),
        "storage_dtype": "float16" if half else "float32",
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "metadata": metadata or {},
    }
    os.replace(tmp, path)
    side_tmp = sidecar_path(path).with_suffix(".json.tmp")
    side_tmp.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    os.replace(side_tmp, sidecar_path(path))
    return path


def read_sidecar(path: str | os.PathLike) -> dict:
    """The verified-to-parse sidecar of ``path``."""
    side = sidecar_path(path)
    if not side.is_file():
        raise WeightsError(f"weights sidecar {side} is missing (it holds the config and sha256)")
    try:
        info = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise WeightsError(f"weights sidecar {side} is unreadable: {exc}") from exc
    for key in ("format_version", "config", "sha256"):
        if key not in info:
            raise WeightsError(f"weights sidecar {side} lacks {key!r}")
    if info["format_version"] != FORMAT_VERSION:
        raise WeightsError(f"{side}: format version {info['format_version']}, expected {FORMAT_VERSION}")
    return info


def load_model(
    path: str | os.PathLike | None = None, device: str | torch.device = "cpu"
) -> FaceAnythingModel:
    """Load verified weights (default: the shipped small model) into an eval-mode model."""
    path = Path(path) if path is not None else default_weights_path()
    if not path.is_file():
        raise WeightsError(f"weights file {path} not found")
    info = read_sidecar(path)
    actual = file_sha256(path)
    if actual != info["sha256"]:
        raise WeightsError(
            f"weights file {path} is corrupted or was replaced: sha256 {actual[:12]}… != recorded {info['sha256'][:12]}…"
        )
    try:
        config = ModelConfig.from_dict(info["config"])
    except (TypeError, ValueError) as exc:
        raise WeightsError(f"{sidecar_path(path)}: bad model config: {exc}") from exc
    model = FaceAnythingModel(config)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a damaged archive
        raise WeightsError(f"weights file {path} could not be read: {exc}") from exc
    _check_shapes(model, state, path)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    model.confidence_reference = confidence_reference(info["metadata"])
    model.relief_distance_m, model.relief_exponent = relief_calibration(info["metadata"])
    log.info("loaded %s model from %s (sha256 %s…)", config.name, path, actual[:12])
    return model.to(device).eval()


# The sidecar's relief calibration (written by training.relief and training.ship, read here)
RELIEF_METADATA_KEYS = ("relief_distance_m", "relief_exponent")
MAX_RELIEF_EXPONENT = 2.0  # beyond: a relief that follows distance more steeply than 1/D^2 is no calibration


def _metadata_number(metadata: dict, key: str) -> float:
    """``metadata[key]`` as a float; NaN when it is missing or not a number."""
    try:
        return float(metadata[key])
    except (KeyError, TypeError, ValueError):
        return float("nan")


def confidence_reference(metadata: dict) -> float:
    """The typical confidence of these weights on held-out face pixels (``confidence_median``, written
    by ``training.ship``): the runtime divides the confidence map by it, so 1 = a typical face pixel
    whatever the head's scale. 1.0 for weights shipped before it was recorded (their head sat at 1)."""
    value = _metadata_number(metadata, "confidence_median") if isinstance(metadata, dict) else float("nan")
    return value if np.isfinite(value) and value > 0 else 1.0


def relief_calibration(metadata: dict) -> tuple[float, float]:
    """(``relief_distance_m``, ``relief_exponent``): how these weights' depth relief follows distance
    (written by ``training.relief``; the runtime rescales each face's relief to its fitted distance).
    (NaN, NaN) for weights without a valid pair: their relief is left as predicted."""
    unknown = (float("nan"), float("nan"))
    if not isinstance(metadata, dict):
        return unknown
    distance, exponent = (_metadata_number(metadata, key) for key in RELIEF_METADATA_KEYS)
    valid = distance > 0 and 0 < exponent <= MAX_RELIEF_EXPONENT and np.isfinite(distance)
    return (distance, exponent) if valid else unknown


def _check_shapes(model: FaceAnythingModel, state: object, path: Path) -> None:
    if not isinstance(state, dict):
        raise WeightsError(f"weights file {path} does not hold a state dict")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise WeightsError(
            f"weights file {path} does not match the {model.config.name} model: "
            f"{len(missing)} missing (e.g. {missing[:2]}), {len(unexpected)} unexpected (e.g. {unexpected[:2]})"
        )
    wrong = [k for k, v in expected.items() if tuple(state[k].shape) != tuple(v.shape)]
    if wrong:
        raise WeightsError(
            f"weights file {path}: {len(wrong)} tensors have the wrong shape, e.g. {wrong[0]}: "
            f"{tuple(state[wrong[0]].shape)} vs {tuple(expected[wrong[0]].shape)}"
        )

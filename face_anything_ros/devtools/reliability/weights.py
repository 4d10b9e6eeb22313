"""Which weights a stress run uses: given, shipped, or (explicitly allowed) an untrained network.

Reliability plumbing does not need a trained model; an untrained network of the default size
exercises the same loading, backends and geometry. Reports say which one ran.
"""

from __future__ import annotations

from pathlib import Path

UNTRAINED_FILE = "untrained_small.pt"


class WeightsChoiceError(ValueError):
    """No usable weights (message says what to pass)."""


def choose_weights(path: str | None, allow_untrained: bool, scratch: Path) -> tuple[str, str]:
    """(weights path, description) for a stress run."""
    from face_anything_ros.model import default_weights_path

    if path:
        if not Path(path).is_file():
            raise WeightsChoiceError(f"weights file {path} not found")
        return str(Path(path).resolve()), f"given ({Path(path).name})"
    shipped = default_weights_path()
    if shipped.is_file():
        return str(shipped), f"shipped ({shipped.name})"
    if not allow_untrained:
        raise WeightsChoiceError(
            "no shipped weights yet: pass --weights FILE, or --allow-untrained for a plumbing run"
        )
    import torch

    from face_anything_ros.model import FaceAnythingModel, get_config, save_model

    torch.manual_seed(0)
    scratch.mkdir(parents=True, exist_ok=True)
    saved = save_model(FaceAnythingModel(get_config("small")), scratch / UNTRAINED_FILE)
    return str(saved), "untrained small network (plumbing only; no accuracy implied)"

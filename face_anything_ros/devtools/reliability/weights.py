"""Which weights a stress run uses: the given file, else the shipped default. Reports say which one ran."""

from __future__ import annotations

from pathlib import Path


class WeightsChoiceError(ValueError):
    """No usable weights (message says what to pass)."""


def choose_weights(path: str | None) -> tuple[str, str]:
    """(weights path, description) for a stress run."""
    from face_anything_ros.model import default_weights_path

    if path:
        if not Path(path).is_file():
            raise WeightsChoiceError(f"weights file {path} not found")
        return str(Path(path).resolve()), f"given ({Path(path).name})"
    shipped = default_weights_path()
    if not shipped.is_file():
        raise WeightsChoiceError(f"the shipped weights {shipped} are missing (reinstall, or pass --weights FILE)")
    return str(shipped), f"shipped ({shipped.name})"

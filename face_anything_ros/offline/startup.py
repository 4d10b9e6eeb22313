"""Shared start-up of the offline commands: parameters from the node's YAML, the pipeline, intrinsics."""

from __future__ import annotations

import logging
from pathlib import Path

from face_anything_ros.core.camera import Intrinsics, resolve_intrinsics
from face_anything_ros.outputs.params import (
    NodeParams,
    params_from_yaml,
    with_values,
)

LOGGER = logging.getLogger(__name__)


def load_params(config: str | Path | None, weights: str | None = None) -> NodeParams:
    """The node parameters from a ROS 2 parameter file (``config/face_anything.yaml``), or defaults."""
    params = params_from_yaml(config) if config else NodeParams()
    if weights:
        params = with_values(params, {"weights": str(weights)})
    return params


def choose_intrinsics(known: Intrinsics | None, width: int, height: int, fov_deg: float) -> Intrinsics:
    """The input's own intrinsics (scaled to the frames), else the default FOV pinhole (logged)."""
    if known is None:
        LOGGER.info(
            "no intrinsics for %dx%d input: assuming a pinhole with %.0f deg horizontal FOV",
            width,
            height,
            fov_deg,
        )
    return resolve_intrinsics(known, width, height, fov_deg)

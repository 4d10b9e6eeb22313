"""Shared start-up of the offline commands: parameters from the node's YAML, the pipeline, intrinsics."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from face_anything_ros.outputs.params import (
    NodeParams,
    params_from_yaml,
    pipeline_config_from_params,
    with_values,
)
from face_anything_ros.runtime.geometry import Intrinsics

LOGGER = logging.getLogger(__name__)


def load_params(config: str | Path | None, weights: str | None = None) -> NodeParams:
    """The node parameters from a ROS 2 parameter file (``config/face_anything.yaml``), or defaults."""
    params = params_from_yaml(config) if config else NodeParams()
    if weights:
        params = with_values(params, {"weights": str(weights)})
    return params


def build_pipeline(params: NodeParams) -> Any:
    """A FacePipeline configured exactly as the node would be with these parameters."""
    from face_anything_ros.runtime.pipeline import FacePipeline  # heavy: torch and the weights

    return FacePipeline(pipeline_config_from_params(params))


def choose_intrinsics(known: dict | None, width: int, height: int, fov_deg: float) -> Intrinsics:
    """Intrinsics shipped with the input when they match the frames, else the default pinhole."""
    if known and (int(known["width"]), int(known["height"])) == (width, height):
        return Intrinsics(
            fx=float(known["fx"]),
            fy=float(known["fy"]),
            cx=float(known["cx"]),
            cy=float(known["cy"]),
            width=width,
            height=height,
        )
    LOGGER.info(
        "no intrinsics for %dx%d input: assuming a pinhole with %.0f deg horizontal FOV",
        width,
        height,
        fov_deg,
    )
    return Intrinsics.from_fov(width, height, fov_deg)

"""The node's parameters: one table of specs, declared with descriptors, validated at the edge.

Every parameter is described once in ``PARAMETER_SPECS`` (default, range or choices, whether it may
change while the node runs). The node declares them from this table with ``ParameterDescriptor``s
(ranges and ``read_only`` enforced by rclpy), and the same table validates values loaded from
``config/*.yaml`` by the offline commands, so the node and the CLI agree on names and limits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields, make_dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from face_anything_ros.core.camera import DEFAULT_HFOV_DEG
from face_anything_ros.core.face_template import NAMED_LANDMARKS
from face_anything_ros.runtime.config import (
    BACKEND_NAMES,
    HARD_MAX_FACES,
    DetectionConfig,
    PipelineConfig,
    TrackingConfig,
)

NODE_NAME = "face_anything_node"
QOS_RELIABILITY_CHOICES = ("auto", "best_effort", "reliable")
IMAGE_TRANSPORT_CHOICES = ("raw", "compressed")

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class ParamSpec:
    """One declared parameter: its default, limits, and whether it can change at run time."""

    name: str
    default: Any
    description: str
    live: bool = False  # False: read_only after start-up
    min_value: float | None = None
    max_value: float | None = None
    choices: tuple[str, ...] = ()


PARAMETER_SPECS: tuple[ParamSpec, ...] = (
    # --- start-up only (read_only) ---
    ParamSpec("weights", "", "Model weights file; empty = the shipped default."),
    ParamSpec(
        "pipeline_config",
        "",
        "YAML file with a runtime: section for advanced pipeline settings (empty = defaults); "
        "the node parameters below override the keys they name.",
    ),
    ParamSpec("backend", "auto", "Inference backend (auto picks the best available).", choices=BACKEND_NAMES),
    ParamSpec("device", "auto", "Torch device: auto, cpu, cuda or cuda:N."),
    ParamSpec(
        "max_faces",
        DetectionConfig.max_faces,
        "Most faces processed per image.",
        min_value=1,
        max_value=HARD_MAX_FACES,
    ),
    ParamSpec(
        "detection_threshold",
        DetectionConfig.min_detection_confidence,
        "Minimum face detection confidence (runtime key detection.min_detection_confidence).",
        min_value=0.0,
        max_value=1.0,
    ),
    ParamSpec(
        "query_points",
        list(NAMED_LANDMARKS),
        "Named template landmarks tracked in every FaceTrack (fixed for the node's life).",
    ),
    ParamSpec(
        "dense_query_vertices",
        TrackingConfig.dense_vertices,
        "Also track every template vertex as a query point (the mesh is published either way).",
    ),
    ParamSpec(
        "qos_reliability",
        "auto",
        "Input QoS reliability: auto (match the camera's publishers: reliable when all of them are, "
        "else best effort), best_effort (sensor-data profile) or reliable (lossless replay).",
        choices=QOS_RELIABILITY_CHOICES,
    ),
    ParamSpec("qos_depth", 1, "Input QoS history depth.", min_value=1, max_value=100),
    ParamSpec("diagnostics_period_s", 1.0, "Period of /diagnostics updates.", min_value=0.1, max_value=60.0),
    ParamSpec(
        "autostart",
        True,
        "Configure and activate at start-up (false: stay unconfigured for a lifecycle manager).",
    ),
    ParamSpec(
        "image_transport",
        "raw",
        "Input transport (image_transport convention): raw subscribes `image` (sensor_msgs/Image), "
        "compressed subscribes `<image>/compressed` (sensor_msgs/CompressedImage, JPEG or PNG).",
        choices=IMAGE_TRANSPORT_CHOICES,
    ),
    ParamSpec(
        "frame_id",
        "",
        "Frame of every output header and parent of the face TF frames; empty = the image's header.frame_id.",
    ),
    ParamSpec(
        "tf_prefix", "", "Prefix of the face TF frame names (<tf_prefix>face_<uuid hex>), e.g. 'cam1/'."
    ),
    # --- live (changeable while running) ---
    ParamSpec(
        "default_fov_deg",
        DEFAULT_HFOV_DEG,
        "Horizontal field of view of the pinhole assumed when no camera_info has arrived.",
        live=True,
        min_value=10.0,
        max_value=170.0,
    ),
    ParamSpec(
        "points_stride",
        1,
        "Keep every n-th face pixel (in x and y) in the point cloud.",
        live=True,
        min_value=1,
        max_value=16,
    ),
    ParamSpec(
        "diagnostics_window_s",
        5.0,
        "Diagnostics levels and rates come from the events of this last window.",
        live=True,
        min_value=0.5,
        max_value=600.0,
    ),
    ParamSpec(
        "expected_rate_hz",
        0.0,
        "Outputs per second expected (input rate while idle); below it diagnostics WARN. 0: no check.",
        live=True,
        min_value=0.0,
        max_value=1000.0,
    ),
    ParamSpec(
        "rate_tolerance",
        0.1,
        "Fraction below expected_rate_hz still reported OK.",
        live=True,
        min_value=0.0,
        max_value=1.0,
    ),
    ParamSpec(
        "stale_after_s",
        5.0,
        "No image for this long: diagnostics WARN (publishers exist) or STALE (none).",
        live=True,
        min_value=0.1,
        max_value=3600.0,
    ),
    ParamSpec(
        "rectified",
        False,
        "The input images are rectified (image_rect): intrinsics from camera_info P, else from K "
        "(distortion is ignored either way).",
        live=True,
    ),
    ParamSpec("publish_depth", True, "Publish the depth image and depth/camera_info.", live=True),
    ParamSpec("publish_points", True, "Publish the PointCloud2.", live=True),
    ParamSpec("publish_faces", True, "Publish the FaceTrackArray.", live=True),
    ParamSpec("publish_mesh", True, "Publish the face mesh MarkerArray.", live=True),
    ParamSpec("publish_detections", True, "Publish vision_msgs/Detection2DArray on detections.", live=True),
    ParamSpec("publish_tf", True, "Publish a REP-155 face frame per face on /tf.", live=True),
    ParamSpec("publish_canonical_image", False, "Publish the canonical-colour image.", live=True),
    ParamSpec("publish_overlay", False, "Publish the overlay image (for viewing).", live=True),
)

SPECS_BY_NAME: dict[str, ParamSpec] = {spec.name: spec for spec in PARAMETER_SPECS}


def _field(spec: ParamSpec) -> Any:
    if isinstance(spec.default, list):
        return field(default_factory=lambda default=spec.default: list(default))
    return field(default=spec.default)


# Typed view of the parameters, generated from the table so each parameter is declared once:
# field names are the parameter names, types and defaults those of the specs.
NodeParams = make_dataclass(
    "NodeParams",
    [(spec.name, type(spec.default), _field(spec)) for spec in PARAMETER_SPECS],
)
NodeParams.__module__ = __name__
NodeParams.__doc__ = "The node's parameters as typed fields (generated from ``PARAMETER_SPECS``)."


class ParameterError(ValueError):
    """A parameter value that the node refuses, with the reason."""


def validate_value(name: str, value: Any) -> str | None:
    """Reason why ``value`` is not acceptable for parameter ``name``, or None if it is."""
    spec = SPECS_BY_NAME.get(name)
    if spec is None:
        return f"unknown parameter '{name}' (known: {', '.join(SPECS_BY_NAME)})"
    expected = type(spec.default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if expected is list:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            return f"{name} must be a list of strings, got {value!r}"
    elif not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
        return f"{name} must be of type {expected.__name__}, got {value!r}"
    if spec.min_value is not None and value < spec.min_value:
        return f"{name}={value} is below the minimum {spec.min_value}"
    if spec.max_value is not None and value > spec.max_value:
        return f"{name}={value} is above the maximum {spec.max_value}"
    if spec.choices and value not in spec.choices:
        return f"{name}={value!r} is not one of {', '.join(spec.choices)}"
    if name == "query_points":
        unknown = [v for v in value if v not in NAMED_LANDMARKS]
        if unknown or not value:
            return (
                f"query_points must name template landmarks ({', '.join(NAMED_LANDMARKS)}); "
                f"unknown: {unknown or 'empty list'}"
            )
    return None


def with_values(params: NodeParams, values: dict[str, Any]) -> NodeParams:
    """A copy of ``params`` with ``values`` applied after validating each (ParameterError if bad)."""
    for name, value in values.items():
        reason = validate_value(name, value)
        if reason:
            raise ParameterError(reason)
    coerced = {
        name: float(v) if isinstance(SPECS_BY_NAME[name].default, float) else v for name, v in values.items()
    }
    coerced = {name: list(v) if isinstance(v, tuple) else v for name, v in coerced.items()}
    return replace(params, **coerced)


def params_from_yaml(path: str | Path, node_name: str = NODE_NAME) -> NodeParams:
    """Read a ROS 2 parameter file (``/**`` or ``<node_name>`` sections) into validated NodeParams."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ParameterError(f"{path}: not a ROS 2 parameter file (top level must be a mapping)")
    values: dict[str, Any] = {}
    for key in ("/**", node_name, f"/{node_name}"):
        section = data.get(key)
        if isinstance(section, dict):
            values.update(section.get("ros__parameters", {}) or {})
    values.pop("use_sim_time", None)
    try:
        return with_values(NodeParams(), values)
    except ParameterError as exc:
        raise ParameterError(f"{path}: {exc}") from None


def param_names() -> list[str]:
    """Names of all declared parameters (for launch-file checks)."""
    return [f.name for f in fields(NodeParams)]


def pipeline_config_from_params(params: NodeParams) -> PipelineConfig:
    """The runtime configuration the node's parameters ask for (ConfigError if inconsistent).

    ``pipeline_config`` (a runtime YAML) gives the advanced keys; the node parameters override the
    keys they name, the default field of view included, so the pipeline assumes the node's camera.
    """
    config = PipelineConfig.from_yaml(params.pipeline_config) if params.pipeline_config else PipelineConfig()
    overrides = {  # runtime key: (node parameter, its value)
        "weights": ("weights", params.weights or config.weights),
        "backend.name": ("backend", params.backend),
        "backend.device": ("device", params.device),
        "detection.max_faces": ("max_faces", params.max_faces),
        "detection.min_detection_confidence": ("detection_threshold", params.detection_threshold),
        "tracking.landmarks": ("query_points", list(params.query_points)),
        "tracking.dense_vertices": ("dense_query_vertices", params.dense_query_vertices),
        "geometry.default_hfov_deg": ("default_fov_deg", params.default_fov_deg),
    }
    if params.pipeline_config:
        _warn_overridden(config, overrides, params.pipeline_config)
    for key, (_, value) in overrides.items():
        section, _, name = key.rpartition(".")
        setattr(getattr(config, section) if section else config, name, value)
    return config.validate()


def _warn_overridden(config: PipelineConfig, overrides: dict[str, tuple[str, Any]], path: str) -> None:
    """Log once per key where the pipeline YAML sets a value that a node parameter replaces: the node's
    parameters win, and a YAML value that silently does nothing is a trap."""
    default = PipelineConfig()
    for key, (param, value) in overrides.items():
        section, _, name = key.rpartition(".")
        given = getattr(getattr(config, section) if section else config, name)
        fallback = getattr(getattr(default, section) if section else default, name)
        if given != fallback and given != value:
            LOGGER.warning(
                "pipeline config %s sets %s: %r, but the node parameter %s (%r) replaces it; set the parameter "
                "instead",
                path,
                key,
                given,
                param,
                value,
            )


def build_pipeline(
    params: NodeParams, flip_average: bool = False, detection_method: str | None = None
) -> Any:
    """The FacePipeline the node runs with these parameters: the one builder of the node, ``run``,
    ``replay`` and ``evaluate`` (so "as the node runs it" holds by construction).

    ``flip_average`` (mirror averaging, ~1.5x model time) and ``detection_method`` are offline
    accuracy options of ``evaluate``; the node never sets them.
    """
    from face_anything_ros.runtime.pipeline import FacePipeline  # heavy: torch and the weights

    config = pipeline_config_from_params(params)
    config.backend.flip_average = config.backend.flip_average or flip_average
    if detection_method is not None:
        config.detection.method = detection_method
    return FacePipeline(config.validate())

"""Parameter table: validation with clear reasons, YAML loading, mapping onto the pipeline config."""

from __future__ import annotations

from pathlib import Path

import pytest

from face_anything_ros.core.face_template import NAMED_LANDMARKS
from face_anything_ros.outputs.params import (
    PARAMETER_SPECS,
    NodeParams,
    ParameterError,
    param_names,
    params_from_yaml,
    pipeline_config_from_params,
    validate_value,
    with_values,
)
from face_anything_ros.runtime.config import PipelineConfig


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("max_faces", 0, "below the minimum 1"),
        ("max_faces", 1000, "above the maximum"),
        ("detection_threshold", 1.5, "above the maximum 1.0"),
        ("default_fov_deg", 5.0, "below the minimum 10.0"),
        ("backend", "cuda-magic", "not one of auto, tensorrt"),
        ("qos_reliability", "sometimes", "not one of auto, best_effort, reliable"),
        ("publish_depth", "yes", "must be of type bool"),
        ("points_stride", 2.5, "must be of type int"),
        ("query_points", ["nose"], "unknown: \\['nose'\\]"),
        ("not_a_parameter", 1, "unknown parameter 'not_a_parameter'"),
    ],
)
def test_bad_values_are_rejected_with_the_reason(name, value, reason):
    with pytest.raises(ParameterError, match=reason):
        with_values(NodeParams(), {name: value})


def test_every_default_is_valid_and_every_spec_is_a_field():
    assert {s.name for s in PARAMETER_SPECS} == set(param_names())
    for spec in PARAMETER_SPECS:
        assert validate_value(spec.name, spec.default) is None, spec.name


def test_integers_are_accepted_for_float_parameters():
    assert with_values(NodeParams(), {"default_fov_deg": 90}).default_fov_deg == 90.0


def test_yaml_for_a_named_node_overrides_the_wildcard_section(tmp_path: Path):
    path = tmp_path / "params.yaml"
    path.write_text(
        "/**:\n  ros__parameters:\n    max_faces: 2\n    points_stride: 3\n"
        "face_anything_node:\n  ros__parameters:\n    max_faces: 5\n    use_sim_time: true\n"
    )
    params = params_from_yaml(path)
    assert (params.max_faces, params.points_stride) == (5, 3)


def test_yaml_with_a_bad_value_names_the_file_and_the_parameter(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("/**:\n  ros__parameters:\n    qos_depth: 0\n")
    with pytest.raises(ParameterError, match=r"bad\.yaml: qos_depth=0 is below the minimum 1"):
        params_from_yaml(path)


def test_node_parameters_reach_the_pipeline_config():
    params = with_values(
        NodeParams(),
        {
            "max_faces": 3,
            "detection_threshold": 0.7,
            "query_points": ["nose_tip", "chin"],
            "default_fov_deg": 75,
        },
    )
    config = pipeline_config_from_params(params)
    assert config.geometry.default_hfov_deg == 75.0  # the pipeline assumes the node's camera
    assert config.detection.max_faces == 3
    assert config.detection.min_detection_confidence == 0.7
    assert config.tracking.landmarks == ["nose_tip", "chin"]
    assert config.tracking.dense_vertices is False
    assert config.weights is None


def test_a_pipeline_yaml_key_a_node_parameter_replaces_is_warned_about(tmp_path, caplog):
    runtime = tmp_path / "runtime.yaml"
    runtime.write_text("runtime:\n  detection: {min_detection_confidence: 0.3}\n  fusion: {flow_method: lk}\n")
    params = with_values(NodeParams(), {"pipeline_config": str(runtime)})
    with caplog.at_level("WARNING"):
        config = pipeline_config_from_params(params)
    assert config.detection.min_detection_confidence == 0.5  # the node parameter wins ...
    assert config.fusion.flow_method == "lk"  # ... only where it names the key
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1 and "detection.min_detection_confidence" in warned[0] and "detection_threshold" in warned[0]
    caplog.clear()
    same = with_values(NodeParams(), {"pipeline_config": str(runtime), "detection_threshold": 0.3})
    with caplog.at_level("WARNING"):
        assert pipeline_config_from_params(same).detection.min_detection_confidence == 0.3
    assert not caplog.records  # the parameter says the same: nothing to warn about


def test_default_node_parameters_give_the_runtime_defaults():
    """The node, run/replay and evaluate share one builder; its defaults are the runtime's own."""
    assert pipeline_config_from_params(NodeParams()).to_dict() == PipelineConfig().to_dict() | {
        "tracking": PipelineConfig().to_dict()["tracking"] | {"landmarks": list(NAMED_LANDMARKS)}
    }


def test_live_parameters_are_the_ones_the_node_can_apply_while_running():
    live = {s.name for s in PARAMETER_SPECS if s.live}
    assert live == {
        "default_fov_deg",
        "points_stride",
        "diagnostics_window_s",
        "expected_rate_hz",
        "rate_tolerance",
        "stale_after_s",
        "publish_depth",
        "publish_points",
        "publish_faces",
        "publish_mesh",
        "publish_canonical_image",
        "publish_overlay",
        "publish_detections",
        "publish_tf",
        "rectified",  # read per frame
    }


def test_readme_documents_every_parameter():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- BEGIN node (owner: node) -->")[1].split("<!-- END node -->")[0]
    missing = [name for name in param_names() if f"`{name}`" not in block]
    assert not missing, f"README node block lacks {missing}"

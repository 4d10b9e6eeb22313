"""PipelineConfig: YAML-dict loading with validation at the edge."""

from __future__ import annotations

import pytest
import yaml

from face_anything_ros.runtime.config import HARD_MAX_FACES, ConfigError, PipelineConfig


def test_empty_dict_gives_validated_defaults():
    config = PipelineConfig.from_dict({})
    assert config.detection.max_faces == 4
    assert config.backend.name == "auto"
    assert config.tracking.smoothing is False  # no lag by default


def test_nested_yaml_overrides_reach_the_sections():
    text = """
    mask_threshold: 0.4
    detection: {method: face_detection, max_faces: 3, long_range: true}
    tracking: {landmarks: [nose_tip, chin], dense_vertices: false, smoothing: true}
    backend: {name: eager, device: cpu}
    """
    config = PipelineConfig.from_dict(yaml.safe_load(text))
    assert config.mask_threshold == 0.4
    assert config.detection.method == "face_detection" and config.detection.long_range
    assert config.tracking.landmarks == ["nose_tip", "chin"]
    assert config.backend.name == "eager"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"detection": {"max_faces": HARD_MAX_FACES + 1}}, "detection.max_faces"),
        ({"detection": {"max_faces": 0}}, "detection.max_faces"),
        ({"detection": {"method": "haar"}}, "detection.method"),
        ({"backend": {"name": "tpu"}}, "backend.name"),
        ({"backend": {"device": "gpu0"}}, "backend.device"),
        ({"geometry": {"default_hfov_deg": 0}}, "geometry.default_hfov_deg"),
        ({"tracking": {"landmarks": ["third_eye"]}}, "tracking.landmarks"),
        ({"tracking": {"extra_queries": [[0.0, "nan", 0.0]]}}, "tracking.extra_queries"),
        ({"mask_threshold": 1.5}, "mask_threshold"),
    ],
)
def test_out_of_range_values_name_the_key(data, message):
    with pytest.raises(ConfigError, match=message):
        PipelineConfig.from_dict(data)


def test_unknown_keys_are_rejected_with_their_path():
    with pytest.raises(ConfigError, match=r"detection\.max_face"):
        PipelineConfig.from_dict({"detection": {"max_face": 3}})
    with pytest.raises(ConfigError, match="unknown config key"):
        PipelineConfig.from_dict({"backends": {}})


def test_wrong_types_are_config_errors_not_tracebacks():
    with pytest.raises(ConfigError):
        PipelineConfig.from_dict({"detection": {"max_faces": "many"}})
    with pytest.raises(ConfigError):
        PipelineConfig.from_dict({"detection": 5})


def test_round_trip_through_a_dict():
    config = PipelineConfig.from_dict({"ids": {"max_missed_frames": 2}})
    assert PipelineConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"tracking": {"landmark_anchoring": "maybe"}}, "tracking.landmark_anchoring"),
        ({"detection": {"max_faces": 2.5}}, "detection.max_faces"),
        ({"tracking": {"max_canonical_distance": "far"}}, "tracking.max_canonical_distance"),
        ({"backend": {"name": 3}}, "backend.name"),
    ],
)
def test_values_of_the_wrong_type_name_their_key(data, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        PipelineConfig.from_dict(data)
    assert PipelineConfig.from_dict({"tracking": {"max_canonical_distance": 1}}).tracking.max_canonical_distance == 1

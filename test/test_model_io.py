"""Weights save/load: exact round trip, and clear errors for bad files."""

from __future__ import annotations

import json
import math

import pytest
import torch

from face_anything_ros.model import FaceAnythingModel, ModelConfig, WeightsError, load_model, save_model


@pytest.fixture()
def saved(tmp_path):
    torch.manual_seed(1)
    model = FaceAnythingModel(ModelConfig()).eval()
    path = save_model(model, tmp_path / "m.pt", metadata={"steps": 3})
    return model, path


def test_round_trip_reproduces_predictions(saved):
    model, path = saved
    loaded = load_model(path)
    images = torch.rand(1, 3, 64, 64)
    with torch.inference_mode():
        torch.testing.assert_close(loaded(images)["canonical"], model(images)["canonical"], rtol=0, atol=0)
    info = json.loads(path.with_suffix(".json").read_text())
    assert info["metadata"]["steps"] == 3 and len(info["sha256"]) == 64


def test_half_storage_loads_back_as_float32(tmp_path):
    model = FaceAnythingModel(ModelConfig()).eval()
    path = save_model(model, tmp_path / "h.pt", half=True)
    loaded = load_model(path)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    diff = max(
        (a - b.float()).abs().max().item()
        for a, b in zip(model.parameters(), loaded.parameters(), strict=True)
    )
    assert diff < 1e-2


def test_missing_file_raises_clear_error(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        load_model(tmp_path / "nothing.pt")


def test_missing_sidecar_raises_clear_error(saved):
    _, path = saved
    path.with_suffix(".json").unlink()
    with pytest.raises(WeightsError, match="sidecar"):
        load_model(path)


def test_corrupted_file_fails_hash_check(saved):
    _, path = saved
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="corrupted"):
        load_model(path)


def test_config_mismatch_names_the_wrong_tensor(saved):
    _, path = saved
    side = path.with_suffix(".json")
    info = json.loads(side.read_text())
    info["config"]["embed_dim"] = 96
    side.write_text(json.dumps(info))
    with pytest.raises(WeightsError, match="wrong shape"):
        load_model(path)


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [
        ({"confidence_median": 4.6}, 4.6),
        ({}, 1.0),
        ({"confidence_median": "x"}, 1.0),
        ({"confidence_median": -2}, 1.0),
    ],
)
def test_the_recorded_typical_confidence_becomes_the_models_confidence_reference(
    tmp_path, recorded, expected
):
    path = save_model(
        FaceAnythingModel(ModelConfig(depth=1, embed_dim=48, num_heads=2)), tmp_path / "w.pt", recorded
    )
    assert load_model(path).confidence_reference == pytest.approx(expected)


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [
        ({"relief_distance_m": 0.84, "relief_exponent": 0.6}, (0.84, 0.6)),
        ({}, None),
        ({"relief_distance_m": 0.84}, None),  # half a calibration is none
        ({"relief_distance_m": "far", "relief_exponent": 0.6}, None),
        ({"relief_distance_m": 0, "relief_exponent": 0.6}, None),
        ({"relief_distance_m": 0.84, "relief_exponent": 7}, None),
    ],
)
def test_the_recorded_relief_calibration_reaches_the_model_and_bad_values_mean_unknown(
    tmp_path, recorded, expected
):
    path = save_model(
        FaceAnythingModel(ModelConfig(depth=1, embed_dim=48, num_heads=2)), tmp_path / "w.pt", recorded
    )
    model = load_model(path)
    value = (model.relief_distance_m, model.relief_exponent)
    assert value == pytest.approx(expected) if expected is not None else all(map(math.isnan, value))

"""Shipping a run's weights records the typical confidence the runtime divides by, and its relief distance."""

from __future__ import annotations

import torch

from face_anything_ros.model import FaceAnythingModel, ModelConfig, load_model, save_model
from face_anything_ros.model.io import read_sidecar
from face_anything_ros.training import ship


def test_ship_reverifies_the_weights_and_records_their_typical_confidence(tmp_path):
    torch.manual_seed(0)
    save_model(FaceAnythingModel(ModelConfig(depth=1)), tmp_path / "run" / "best.pt", {"steps": 7})
    destination = tmp_path / "shipped" / "face.pt"
    assert ship.main(["--run", str(tmp_path / "run"), "--out", str(destination), "--relief-crops", "24"]) == 0
    metadata = read_sidecar(destination)["metadata"]
    assert metadata["steps"] == 7 and metadata["source"] == "run/best.pt"
    assert metadata["confidence_median"] >= 1.0  # 1 + softplus: never below 1
    assert load_model(destination).confidence_reference == metadata["confidence_median"]
    # an untrained network's relief is noise, but some distance is recorded or none at all: never garbage
    relief = metadata.get("relief_distance_m")
    assert relief is None or relief > 0
    assert ship.main(["--run", str(tmp_path / "missing"), "--out", str(destination)]) == 1

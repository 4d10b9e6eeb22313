"""The relief calibration command: measures the shipped weights' law, writes only the sidecar, clear errors."""

from __future__ import annotations

import json
import shutil

import pytest

from face_anything_ros.model import default_weights_path, load_model
from face_anything_ros.model.io import file_sha256, read_sidecar
from face_anything_ros.training import relief


@pytest.fixture()
def weights_copy(tmp_path):
    source = default_weights_path()
    target = tmp_path / "w.pt"
    shutil.copy(source, target)
    info = read_sidecar(source)
    for key in ("relief_distance_m", "relief_exponent"):
        info["metadata"].pop(key, None)
    target.with_suffix(".json").write_text(json.dumps(info), encoding="utf-8")
    return target


def test_write_records_the_calibration_in_the_sidecar_and_leaves_the_weights_file_alone(weights_copy, capsys):
    digest = file_sha256(weights_copy)
    figure = weights_copy.parent / "relief.png"
    assert (
        relief.main(["--weights", str(weights_copy), "--crops", "48", "--write", "--figure", str(figure)])
        == 0
    )
    assert figure.stat().st_size > 10_000  # a drawn plot, not an empty canvas
    assert "relief_exponent" in capsys.readouterr().out
    model = load_model(weights_copy)  # still verifies: the sha256 is of the .pt file, unchanged
    assert file_sha256(weights_copy) == digest
    assert 0.3 < model.relief_distance_m < 1.6 and 0.1 < model.relief_exponent <= 1.0


def test_missing_weights_and_too_few_crops_are_clear_errors(tmp_path, capsys):
    assert relief.main(["--weights", str(tmp_path / "none.pt")]) == 1
    assert "not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        relief.main(["--crops", "4"])

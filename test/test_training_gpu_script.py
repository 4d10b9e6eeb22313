"""The prepared GPU training command (scripts/train_on_gpu.sh), dry-run on the CPU: same steps, tiny budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from face_anything_ros.model import load_model

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train_on_gpu.sh"


def _run(out: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), str(out), "0.1"],
        env={**os.environ, "PYTHON": sys.executable, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_dry_run_brings_back_verified_weights_and_both_reports_in_eight_flat_files(tmp_path):
    done = _run(tmp_path / "out", TRAIN_DEVICE="cpu", TRAIN_BATCH="2")
    assert done.returncode == 0, done.stderr[-2000:]
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == sorted(
        [
            "best.pt",
            "best.json",
            "heldout.json",
            "heldout_shipped.json",
            "loss.png",
            "predictions.png",
            "train.log",
            "report.log",
        ]
    )  # at most 8 files, none in a sub-folder: what a device lease brings back
    model = load_model(tmp_path / "out" / "best.pt")  # sha256, config and shapes verified
    assert model.config.image_size == 128
    new, shipped = (
        json.loads((tmp_path / "out" / n).read_text()) for n in ("heldout.json", "heldout_shipped.json")
    )
    for report in (new, shipped):
        assert report["num_crops"] == 256 and 0.0 < report["canonical_error"] < 1.0
    assert "canonical_error" in done.stdout and "shipped" in done.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: the script would train on it")
def test_without_a_gpu_it_stops_at_once_with_the_reason(tmp_path):
    done = _run(tmp_path / "out")
    assert done.returncode == 2
    assert "no CUDA device" in done.stderr and "TRAIN_DEVICE=cpu" in done.stderr

"""The import layers of docs/ARCHITECTURE.md hold: `lint-imports` checks the contracts in pyproject.toml.

A second test plants a forbidden import in a copy of the package and expects the check to fail, so a
contract that silently stopped matching (a renamed room, a broken config) cannot pass unnoticed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "face_anything_ros"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_import_contract_is_kept():
    result = _lint(REPO, REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_forbidden_import_breaks_the_layers(tmp_path):
    copy = tmp_path / PACKAGE
    shutil.copytree(REPO / PACKAGE, copy, ignore=shutil.ignore_patterns("assets", "weights", "__pycache__"))
    crop = copy / "core" / "crop.py"
    crop.write_text(crop.read_text() + "\nfrom face_anything_ros.runtime import config  # noqa: E402\n")
    sample = copy / "offline" / "sample.py"
    sample.write_text(sample.read_text() + "\nfrom face_anything_ros.ros import qos  # noqa: E402\n")
    result = _lint(tmp_path, tmp_path)
    assert result.returncode != 0, result.stdout
    assert "face_anything_ros.core.crop -> face_anything_ros.runtime.config" in result.stdout
    assert "face_anything_ros.offline.sample -> face_anything_ros.ros.qos" in result.stdout

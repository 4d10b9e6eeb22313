"""Helpers shared by the node / offline / launch tests (not a test module).

``weights_for_tests`` is the shipped default model (test_model_shipped checks it is there and
verified), so every path through loading, backends and geometry is the production one.
"""

from __future__ import annotations

from pathlib import Path

from face_anything_ros.model import default_weights_path
from face_anything_ros.offline.sample import sample_frames  # noqa: F401 (re-exported for the tests)

REPO = Path(__file__).resolve().parents[1]


def weights_for_tests() -> str:
    """Path of the weights the tests run: the shipped default."""
    return str(default_weights_path())


def ros_build_environment() -> dict[str, str]:
    """This environment with the venv's ROS 2 build wheels (ament_cmake, rosidl) as the CMake underlay."""
    import os
    import sys

    venv = Path(sys.prefix)
    return dict(
        os.environ,
        PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        CMAKE_PREFIX_PATH=str(venv),
        AMENT_PREFIX_PATH=str(venv),
    )

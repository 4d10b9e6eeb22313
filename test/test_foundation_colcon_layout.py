"""CMakeLists.txt installs what `colcon build` users need: the ament_cmake build with the Python
package install on (as colcon runs it) into a temporary prefix gives importable messages next to our
own code, the executables `ros2 run` looks for, and the launch/config/rviz files the launch files use.

colcon itself is not on PyPI; this runs the same CMake configure/build/install that colcon runs for
an ament_cmake package, with the ROS 2 wheels of the venv as the underlay.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from node_test_support import ros_build_environment

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "face_anything_ros"
CONFIGURE_OPTIONS = ("-DBUILD_TESTING=OFF", f"-DPython3_EXECUTABLE={sys.executable}")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def install_prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = Path(sys.prefix)
    if not (venv / "share" / "rosidl_default_generators").is_dir() or shutil.which("cmake") is None:
        pytest.skip("needs the wheel-route venv (ROS 2 build wheels) and cmake: bash scripts/setup_env.sh")
    work = tmp_path_factory.mktemp("colcon_layout")
    prefix, build = work / "install", work / "build"
    env = ros_build_environment()
    steps = [
        ["cmake", "-S", str(REPO), "-B", str(build), f"-DCMAKE_INSTALL_PREFIX={prefix}", *CONFIGURE_OPTIONS],
        ["cmake", "--build", str(build), "--parallel", "2"],
        ["cmake", "--install", str(build)],
    ]
    for step in steps:
        result = subprocess.run(step, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, (
            f"{' '.join(step)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return prefix


def test_executables_are_where_ros2_run_looks(install_prefix: Path) -> None:
    for name in ("face_anything_node", "face-anything"):
        executable = install_prefix / "lib" / PACKAGE / name
        assert executable.is_file() and os.access(executable, os.X_OK), name
        assert executable.read_text().splitlines()[0] == f"#!{sys.executable}", name


def test_launch_config_rviz_and_msg_files_are_in_share(install_prefix: Path) -> None:
    share = install_prefix / "share" / PACKAGE
    for folder in ("launch", "config", "rviz"):
        source_files = sorted(p.name for p in (REPO / folder).iterdir() if p.is_file())
        assert sorted(p.name for p in (share / folder).iterdir() if p.is_file()) == source_files, folder
    assert (share / "package.xml").is_file()
    assert sorted(p.name for p in (share / "msg").glob("*.msg")) == sorted(
        p.name for p in (REPO / "msg").glob("*.msg")
    )


def sourced_environment(install_prefix: Path) -> dict[str, str]:
    """The variables `source install/setup.bash` sets for this package (over the venv underlay)."""
    env = dict(
        os.environ,
        PYTHONPATH=str(site_packages(install_prefix)),
        LD_LIBRARY_PATH=str(install_prefix / "lib"),
        AMENT_PREFIX_PATH=f"{install_prefix}{os.pathsep}{sys.prefix}",
    )
    env.pop("_ROS_WHEELS_BOOTSTRAP_COMPLETE", None)  # let the wheels add their own library path
    return env


def site_packages(install_prefix: Path) -> Path:
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return install_prefix / "lib" / version / "site-packages"


def run_sourced(install_prefix: Path, command: list[str]) -> subprocess.CompletedProcess[str]:
    """Runs ``command`` from / in the environment of a sourced install."""
    env = sourced_environment(install_prefix)
    return subprocess.run(command, cwd="/", env=env, capture_output=True, text=True, timeout=120)


def test_installed_cli_runs_through_its_launcher(install_prefix: Path) -> None:
    result = run_sourced(install_prefix, [str(install_prefix / "lib" / PACKAGE / "face-anything"), "--help"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "usage: face-anything" in result.stdout


def test_installed_package_imports_our_code_and_its_messages(install_prefix: Path) -> None:
    """As after `source install/setup.bash`: PYTHONPATH, LD_LIBRARY_PATH and AMENT_PREFIX_PATH set."""
    site = site_packages(install_prefix)
    code = (
        "import face_anything_ros, face_anything_ros.msg as m, face_anything_ros.cli; "
        "from rclpy.serialization import serialize_message, deserialize_message; "
        "data = serialize_message(m.FaceTrackArray(faces=[m.FaceTrack(id=5)])); "
        "assert deserialize_message(data, m.FaceTrackArray).faces[0].id == 5; "
        "print(face_anything_ros.__file__); print(m.__file__); print(face_anything_ros.__version__)"
    )
    result = run_sourced(install_prefix, [sys.executable, "-c", code])
    assert result.returncode == 0, result.stderr[-3000:]
    package_file, msg_file, version = result.stdout.split()
    assert package_file == str(site / PACKAGE / "__init__.py")  # ours, not rosidl's empty one
    assert msg_file.startswith(str(site / PACKAGE / "msg"))
    assert version != ""

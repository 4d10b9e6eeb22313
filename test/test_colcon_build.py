"""`colcon build` for real: route A of the README, with colcon from PyPI against the ROS 2 wheels.

The package's tracked files are copied into a scratch workspace (``src/face_anything_ros``, as a
``git clone`` gives them), ``python -m colcon build --packages-select face_anything_ros`` builds it
with the venv's ament_cmake and rosidl wheels as the underlay, and everything below runs after
``source install/setup.bash``: the messages import from the install space, and the node started
from ``install/face_anything_ros/lib/face_anything_ros`` loads its message libraries from there and
publishes our own message type over DDS. (``ros2 run`` / ``ros2 launch`` are not on PyPI; they call
the same executable.) ``test_foundation_colcon_layout.py`` checks the installed file layout.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from node_test_support import ros_build_environment

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "face_anything_ros"
BUILD_TIMEOUT_S = 900
NODE_READY_TIMEOUT_S = 180
pytestmark = pytest.mark.slow


def _tracked_files() -> list[str]:
    listing = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        capture_output=True,
        text=True,
        check=True,
    )
    return [name for name in listing.stdout.split("\0") if name and (REPO / name).is_file()]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = Path(sys.prefix)
    if importlib.util.find_spec("colcon_core") is None:
        pytest.skip("colcon is not installed: pip install -r requirements.txt (colcon-core, colcon-ros, ...)")
    if not (venv / "share" / "rosidl_default_generators").is_dir() or shutil.which("cmake") is None:
        pytest.skip("needs the wheel-route venv (ROS 2 build wheels) and cmake: bash scripts/setup_env.sh")
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs the git checkout (the workspace gets its tracked files)")
    work = tmp_path_factory.mktemp("colcon_ws")
    source = work / "src" / PACKAGE
    for name in _tracked_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    env = ros_build_environment()
    command = [
        sys.executable, "-m", "colcon", "build", "--packages-select", PACKAGE,
        "--cmake-args", "-DBUILD_TESTING=OFF", f"-DPython3_EXECUTABLE={sys.executable}",
    ]  # fmt: skip
    result = subprocess.run(
        command, cwd=work, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S
    )
    assert result.returncode == 0, f"colcon build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    assert f"Finished <<< {PACKAGE}" in result.stdout, result.stdout[-2000:]
    return work


def _sourced(workspace: Path, command: str, **popen: object) -> subprocess.Popen:
    """``command`` in bash after ``source install/setup.bash`` (over this venv, as users source it)."""
    return subprocess.Popen(
        ["bash", "-c", f"source install/setup.bash && {command}"], cwd=workspace, text=True, **popen
    )


def test_messages_import_from_the_install_space(workspace: Path) -> None:
    code = (
        "import face_anything_ros, face_anything_ros.msg as m; "
        "from rclpy.serialization import serialize_message, deserialize_message; "
        "data = serialize_message(m.FaceTrackArray(faces=[m.FaceTrack(id=7)])); "
        "assert deserialize_message(data, m.FaceTrackArray).faces[0].id == 7; "
        "print(face_anything_ros.__file__); print(m.__file__)"
    )
    process = _sourced(
        workspace, f"exec '{sys.executable}' -c \"{code}\"", stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr[-3000:]
    install = workspace / "install" / PACKAGE
    package_file, msg_file = stdout.split()
    assert package_file.startswith(str(install)) and msg_file.startswith(str(install)), stdout


def test_node_from_the_install_space_runs_on_its_own_message_libraries(
    workspace: Path, tmp_path: Path
) -> None:
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor

    from face_anything_ros.outputs.message_kit import RclpyKit
    from face_anything_ros.ros.qos import LATCHED_QOS

    install = workspace / "install" / PACKAGE
    executable = install / "lib" / PACKAGE / "face_anything_node"
    params = install / "share" / PACKAGE / "config" / "face_anything.yaml"
    log_path = tmp_path / "node.log"
    with log_path.open("w") as log:
        node = _sourced(
            workspace,
            f"exec '{executable}' --ros-args --params-file '{params}' -r __ns:=/colcon_check",
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    context = Context()
    rclpy.init(context=context)
    try:
        deadline = time.monotonic() + NODE_READY_TIMEOUT_S
        while "ready:" not in log_path.read_text() and node.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert "ready:" in log_path.read_text(), log_path.read_text()[-3000:]
        loaded = set(
            re.findall(r"/\S*libface_anything_ros__\S*\.so", Path(f"/proc/{node.pid}/maps").read_text())
        )
        assert loaded and all(path.startswith(str(install / "lib")) for path in loaded), loaded
        # our own message type, published by that node, arrives here (latched topology)
        listener = rclpy.create_node("colcon_check_listener", context=context)
        topology_type = RclpyKit().message_class("face_anything_ros/msg/FaceMeshTopology")
        received: list[object] = []
        listener.create_subscription(
            topology_type, "/colcon_check/face_mesh_topology", received.append, LATCHED_QOS
        )
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(listener)
        deadline = time.monotonic() + 60
        while not received and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.2)
        assert received and len(received[0].triangles) > 0
        executor.shutdown()
        listener.destroy_node()
    finally:
        if node.poll() is None:
            node.send_signal(signal.SIGINT)
        try:
            node.wait(30)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait(10)
        rclpy.try_shutdown(context=context)
    assert node.returncode == 0, log_path.read_text()[-3000:]

"""The package is a valid ROS 2 package whose message definitions match the generated code,
rosbags, and every place in our code that fills them; setup stops clearly on a bad machine."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
MSG_DIR = REPO / "msg"
MESSAGE_NAMES = sorted(path.stem for path in MSG_DIR.glob("*.msg"))
PACKAGE = "face_anything_ros"
SETUP_SCRIPT = REPO / "scripts" / "setup_env.sh"

# .msg primitive -> the type name rclpy's get_fields_and_field_types() reports.
_RCLPY_PRIMITIVE_NAMES = {
    "bool": "boolean",
    "byte": "octet",
    "char": "uint8",
    "float32": "float",
    "float64": "double",
    "int8": "int8",
    "uint8": "uint8",
    "int16": "int16",
    "uint16": "uint16",
    "int32": "int32",
    "uint32": "uint32",
    "int64": "int64",
    "uint64": "uint64",
    "string": "string",
}
_FIELD_LINE = re.compile(r"^(?P<type>[A-Za-z0-9_/]+)(?P<array>\[\])?\s+(?P<name>[a-z][a-z0-9_]*)\s*$")


def msg_fields(name: str) -> list[tuple[str, str, bool]]:
    """(field name, type as written, is_sequence) for each field of msg/<name>.msg."""
    fields = []
    for line in (MSG_DIR / f"{name}.msg").read_text(encoding="utf-8").splitlines():
        code = line.split("#", 1)[0].strip()
        if code:
            match = _FIELD_LINE.match(code)
            assert match, f"{name}.msg: unsupported line {line!r}"
            fields.append((match["name"], match["type"], bool(match["array"])))
    return fields


def rclpy_type_name(written: str, is_sequence: bool) -> str:
    if written in _RCLPY_PRIMITIVE_NAMES:
        base = _RCLPY_PRIMITIVE_NAMES[written]
    elif "/" in written:
        base = written.replace("/msg/", "/")
    else:
        base = f"{PACKAGE}/{written}"
    return f"sequence<{base}>" if is_sequence else base


def test_package_xml_is_a_valid_format_3_ament_cmake_interface_package() -> None:
    from catkin_pkg.package import parse_package

    package = parse_package(str(REPO / "package.xml"))
    package.validate()
    assert package.name == PACKAGE
    assert package.package_format == 3
    assert package.get_build_type() == "ament_cmake"
    assert "rosidl_interface_packages" in [group.name for group in package.member_of_groups]
    build_deps = {dep.name for dep in package.build_depends + package.buildtool_depends}
    exec_deps = {dep.name for dep in package.exec_depends}
    for dependency in ("std_msgs", "sensor_msgs", "geometry_msgs", "builtin_interfaces"):
        assert dependency in build_deps and dependency in exec_deps, dependency
    assert {"rclpy", "rosidl_default_runtime", "visualization_msgs", "diagnostic_msgs"} <= exec_deps
    assert "rosidl_default_generators" in build_deps


def test_package_version_is_the_same_everywhere() -> None:
    from catkin_pkg.package import parse_package

    import face_anything_ros

    setup_py = (REPO / "setup.py").read_text(encoding="utf-8")
    version = parse_package(str(REPO / "package.xml")).version
    assert face_anything_ros.__version__ == version
    assert f'version="{version}"' in setup_py


def test_cmake_generates_every_message_file() -> None:
    cmake = (REPO / "CMakeLists.txt").read_text(encoding="utf-8")
    listed = sorted(re.findall(r'"msg/(\w+)\.msg"', cmake))
    assert listed == MESSAGE_NAMES
    assert {"FaceTrack", "FaceTrackArray", "FaceMeshTopology"} <= set(MESSAGE_NAMES)


@pytest.mark.parametrize("name", MESSAGE_NAMES)
def test_every_message_field_is_documented_by_a_comment(name: str) -> None:
    lines = (MSG_DIR / f"{name}.msg").read_text(encoding="utf-8").splitlines()
    undocumented = [
        line
        for index, line in enumerate(lines)
        if line.strip()
        and not line.lstrip().startswith("#")
        and not lines[index - 1].lstrip().startswith("#")
    ]
    assert undocumented == []


@pytest.mark.parametrize("name", MESSAGE_NAMES)
def test_generated_message_class_matches_its_msg_file(face_msgs: ModuleType, name: str) -> None:
    generated = getattr(face_msgs, name).get_fields_and_field_types()
    expected = {field: rclpy_type_name(written, seq) for field, written, seq in msg_fields(name)}
    assert generated == expected
    assert list(generated) == list(expected)  # same order: the wire format depends on it


@pytest.mark.parametrize("name", MESSAGE_NAMES)
def test_rosbags_registers_the_msg_file_with_the_same_fields(name: str) -> None:
    pytest.importorskip("rosbags", reason="rosbags is needed for the bag route")
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    types = get_types_from_msg((MSG_DIR / f"{name}.msg").read_text(encoding="utf-8"), f"{PACKAGE}/msg/{name}")
    typestore = get_typestore(Stores.ROS2_KILTED)
    for other in MESSAGE_NAMES:  # FaceTrackArray refers to FaceTrack
        text = (MSG_DIR / f"{other}.msg").read_text(encoding="utf-8")
        types.update(get_types_from_msg(text, f"{PACKAGE}/msg/{other}"))
    typestore.register(types)
    _, field_defs = typestore.fielddefs[f"{PACKAGE}/msg/{name}"]
    assert [field for field, _ in field_defs] == [field for field, _, _ in msg_fields(name)]


def _constant_strings(tree: ast.Module) -> dict[str, str]:
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    constants[target.id] = node.value.value
    return constants


def filled_fields_in_code() -> dict[str, set[tuple[str, str]]]:
    """Per our message type, the (field, place) pairs our code passes to ``<kit>.new(TYPE, ...)``."""
    filled: dict[str, set[tuple[str, str]]] = {}
    for path in (REPO / PACKAGE).rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = _constant_strings(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args):
                continue
            if node.func.attr != "new":
                continue
            first = node.args[0]
            type_name = (
                first.value
                if isinstance(first, ast.Constant)
                else constants.get(first.id)
                if isinstance(first, ast.Name)
                else None
            )
            if isinstance(type_name, str) and type_name.startswith(f"{PACKAGE}/msg/"):
                place = f"{path.relative_to(REPO)}:{node.lineno}"
                for keyword in node.keywords:
                    if keyword.arg:
                        filled.setdefault(type_name.rsplit("/", 1)[1], set()).add((keyword.arg, place))
    return filled


def test_code_fills_only_fields_that_exist_in_the_msg_files() -> None:
    filled = filled_fields_in_code()
    assert filled.get("FaceTrack"), "found no code filling FaceTrack: update filled_fields_in_code()"
    unknown = [
        f"{place}: {name}.{field}"
        for name, pairs in filled.items()
        for field, place in pairs
        if name not in MESSAGE_NAMES or field not in {f for f, _, _ in msg_fields(name)}
    ]
    assert unknown == []


def test_rclpy_kit_bool_arrays_survive_serialization(face_msgs: ModuleType) -> None:
    """rclpy serialises a list of numpy bools as all False; the kit the node uses must avoid that."""
    import numpy as np
    from rclpy.serialization import deserialize_message, serialize_message

    from face_anything_ros.outputs.message_kit import RclpyKit

    visible = np.array([True, False, True, True])
    track = face_msgs.FaceTrack(visible=RclpyKit().array(visible, "bool"))
    decoded = deserialize_message(serialize_message(track), face_msgs.FaceTrack)
    assert list(decoded.visible) == visible.tolist()


def test_fresh_process_imports_messages_and_finds_the_package_without_sourcing() -> None:
    """The wheel route: no env var set by hand, any working directory."""
    if not (Path(sys.prefix) / "ros_overlay").is_dir():
        pytest.skip("not the wheel-route venv (under colcon, install/setup.bash provides the environment)")
    code = (
        "import rclpy; from face_anything_ros.msg import FaceTrackArray; "
        "from ament_index_python.packages import get_package_share_directory; "
        "print(get_package_share_directory('face_anything_ros'))"
    )
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd="/", env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip(), "msg", "FaceTrack.msg").is_file()


def _tool_dir(tmp_path: Path, tools: dict[str, str]) -> Path:
    """A folder of symlinks to the given tools: a PATH that lacks everything else."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name, target in tools.items():
        (folder / name).symlink_to(target)
    return folder


def _run_setup_check(path_dir: Path, python: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": str(path_dir),
        "FACE_ANYTHING_PYTHON": python,
        "FACE_ANYTHING_VENV": str(tmp_path / "no_venv"),
    }
    bash = subprocess.run(["which", "bash"], capture_output=True, text=True, check=True).stdout.strip()
    return subprocess.run(
        [bash, str(SETUP_SCRIPT), "--check"], env=env, capture_output=True, text=True, timeout=60
    )


def test_setup_check_passes_on_this_machine(tmp_path: Path) -> None:
    import shutil

    tools = {name: shutil.which(name) for name in ("cc", "c++", "cmake")}
    if not all(tools.values()):
        pytest.skip(f"this machine lacks a build tool: {tools}")
    result = _run_setup_check(_tool_dir(tmp_path, tools), sys.executable, tmp_path)  # type: ignore[arg-type]
    assert result.returncode == 0, result.stderr
    assert "prerequisites OK" in result.stdout


def test_setup_stops_naming_cmake_and_compilers_when_missing(tmp_path: Path) -> None:
    result = _run_setup_check(_tool_dir(tmp_path, {}), sys.executable, tmp_path)
    assert result.returncode == 1
    assert "cmake" in result.stderr
    assert "C compiler" in result.stderr and "C++ compiler" in result.stderr
    assert "apt install" in result.stderr
    assert "Traceback" not in result.stderr


def test_setup_stops_naming_the_python_version_when_python_is_wrong(tmp_path: Path) -> None:
    old_python = tmp_path / "python3.9"
    old_python.write_text("#!/bin/sh\necho 3.9\n")  # stands in for an interpreter of another version
    old_python.chmod(0o755)
    result = _run_setup_check(_tool_dir(tmp_path, {}), str(old_python), tmp_path)
    assert result.returncode == 1
    assert "Python 3.11" in result.stderr and "is Python 3.9" in result.stderr


def test_setup_stops_naming_python_when_it_is_absent(tmp_path: Path) -> None:
    result = _run_setup_check(_tool_dir(tmp_path, {}), "python3.11-not-installed", tmp_path)
    assert result.returncode == 1
    assert "Python 3.11" in result.stderr and "not on PATH" in result.stderr


def test_setup_refuses_a_venv_of_another_python_version(tmp_path: Path) -> None:
    venv_bin = tmp_path / "old_venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").write_text("#!/bin/sh\necho 3.9\n")  # stands in for a venv made by Python 3.9
    (venv_bin / "python").chmod(0o755)
    env = dict(os.environ, FACE_ANYTHING_PYTHON=sys.executable, FACE_ANYTHING_VENV=str(venv_bin.parent))
    env.pop("ROS_DISTRO", None)
    result = subprocess.run(["bash", str(SETUP_SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "holds Python 3.9, not 3.11" in result.stderr and "rm -rf" in result.stderr

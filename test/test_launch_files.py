"""The launch files are real ROS 2 launch files; here (no `launch` package) check what they name.

They must parse, start our node by its installed executable, and only reference config files
that exist and parameters the node declares. The node started the same way
(`--ros-args --params-file ... -r image:=...`) is exercised in test_launch_node_start.py.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from face_anything_ros.outputs.params import param_names, params_from_yaml, validate_value

REPO = Path(__file__).resolve().parents[1]
LAUNCH_FILES = sorted((REPO / "launch").glob("*.launch.py"))
PACKAGE = "face_anything_ros"
ROS_BUILTIN_PARAMETERS = {"use_sim_time"}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _calls(tree: ast.AST, *names: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (getattr(node.func, "id", None) in names or getattr(node.func, "attr", None) in names)
    ]


NODE_ACTIONS = ("Node", "LifecycleNode")  # launch_ros actions that start a node


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((kw.value for kw in call.keywords if kw.arg == name), None)


def _constant(tree: ast.Module, expr: ast.expr) -> object:
    """Value of a literal, or of a module-level NAME = literal."""
    if isinstance(expr, ast.Name):
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == expr.id for t in node.targets):
                return ast.literal_eval(node.value)
    return ast.literal_eval(expr)


def _console_scripts() -> set[str]:
    text = (REPO / "setup.py").read_text(encoding="utf-8")
    return set(re.findall(r'"([\w-]+)\s*=\s*[\w.]+:\w+"', text))


def test_the_three_launch_files_exist():
    names = {p.name for p in LAUNCH_FILES}
    assert {"single_camera.launch.py", "multi_camera.launch.py", "replay_bag.launch.py"} <= names


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_parses_and_defines_generate_launch_description(path):
    tree = _tree(path)
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert "generate_launch_description" in functions
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert {"launch", "launch_ros.actions"} <= imported, "must use the real ROS 2 launch API"


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_our_nodes_use_the_installed_executable(path):
    tree = _tree(path)
    nodes = [c for c in _calls(tree, *NODE_ACTIONS) if _constant(tree, _keyword(c, "package")) == PACKAGE]
    assert nodes, f"{path.name} starts no face_anything_ros node"
    for call in nodes:
        executable = ast.literal_eval(_keyword(call, "executable"))
        assert executable in _console_scripts(), f"{executable} is not a console script in setup.py"
        assert (REPO / "scripts" / executable).is_file(), "colcon installs scripts/<executable> into lib/"
        remapped = {ast.literal_eval(pair.elts[0]) for pair in _keyword(call, "remappings").elts}
        assert remapped == {"image", "camera_info"}


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_referenced_share_files_exist_in_the_repository(path):
    tree = _tree(path)
    referenced = []
    for call in _calls(tree, "join"):
        parts = [a.value for a in call.args if isinstance(a, ast.Constant)]
        if parts and parts[0] in ("config", "rviz"):
            referenced.append(Path(*parts))
    assert referenced
    for relative in referenced:
        assert (REPO / relative).is_file(), f"{path.name} references missing {relative}"


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_parameters_set_in_launch_files_are_declared_by_the_node(path):
    declared = set(param_names()) | ROS_BUILTIN_PARAMETERS
    for call in _calls(_tree(path), *NODE_ACTIONS):
        parameters = _keyword(call, "parameters")
        for element in getattr(parameters, "elts", []):
            if isinstance(element, ast.Dict):
                for key, value in zip(element.keys, element.values, strict=True):
                    name = ast.literal_eval(key)
                    assert name in declared, f"{path.name} sets undeclared parameter {name}"
                    if isinstance(value, ast.Constant) and name not in ROS_BUILTIN_PARAMETERS:
                        assert validate_value(name, value.value) is None


def test_replay_launch_records_the_topics_the_node_publishes():
    tree = _tree(REPO / "launch" / "replay_bag.launch.py")
    assignments = {
        t.id: n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    recorded = set(ast.literal_eval(assignments["RECORDED_TOPICS"]))
    assert {"depth", "points", "faces", "face_mesh", "face_mesh_topology"} <= recorded
    commands = [ast.unparse(c) for c in _calls(tree, "ExecuteProcess")]
    assert any("'bag', 'play'" in c and "--clock" in c for c in commands)
    assert any("'bag', 'record'" in c for c in commands)


def test_shipped_parameter_file_is_valid_and_sets_every_parameter():
    path = REPO / "config" / "face_anything.yaml"
    params_from_yaml(path)  # raises on any invalid value
    section = yaml.safe_load(path.read_text(encoding="utf-8"))["/**"]["ros__parameters"]
    assert set(section) == set(param_names())


def test_multi_camera_file_lists_distinct_cameras_with_valid_overrides():
    cameras = yaml.safe_load((REPO / "config" / "multi_camera.yaml").read_text(encoding="utf-8"))["cameras"]
    assert len(cameras) >= 2
    assert len({c["name"] for c in cameras}) == len(cameras)
    for camera in cameras:
        assert camera["image"].startswith("/") and camera["camera_info"].startswith("/")
        for name, value in (camera.get("parameters") or {}).items():
            assert validate_value(name, value) is None, validate_value(name, value)


def test_rviz_config_shows_the_node_outputs():
    text = (REPO / "rviz" / "face_anything.rviz").read_text(encoding="utf-8")
    view = yaml.safe_load(text)
    topics = {d["Topic"]["Value"] for d in view["Visualization Manager"]["Displays"] if "Topic" in d}
    assert {"/face_anything/points", "/face_anything/face_mesh", "/face_anything/overlay"} <= topics


def test_cmake_installs_launch_config_and_rviz_folders():
    text = (REPO / "CMakeLists.txt").read_text(encoding="utf-8")
    match = re.search(r"foreach\(data_dir ([^)]*)\)", text)
    assert match and {"launch", "config", "rviz"} <= set(match.group(1).split())


# --- every declared argument does something ---------------------------------------------------


def unused_launch_arguments(source: str) -> list[str]:
    """Declared launch arguments that nothing reads: no ``LaunchConfiguration(name)`` outside the
    declaration, or only one assigned to a variable that is never read (the qos_reliability bug)."""
    tree = ast.parse(source)
    declared = [ast.literal_eval(c.args[0]) for c in _calls(tree, "DeclareLaunchArgument")]
    unread_variables = _assigned_but_never_read(tree)
    used = set()
    for call in _calls(tree, "LaunchConfiguration"):
        if call.args and isinstance(call.args[0], ast.Constant):
            if id(call) not in unread_variables:
                used.add(call.args[0].value)
    return [name for name in declared if name not in used]


def _assigned_but_never_read(tree: ast.Module) -> set[int]:
    """ids of calls whose value is bound to a name that is never loaded."""
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Call)
        and all(isinstance(t, ast.Name) and t.id not in loaded for t in node.targets)
    }


def test_the_unused_argument_check_finds_a_declared_argument_that_reaches_nothing():
    buggy = (
        "def generate_launch_description():\n"
        "    qos = LaunchConfiguration('qos_reliability')\n"
        "    return LaunchDescription([DeclareLaunchArgument('qos_reliability'), DeclareLaunchArgument('image'),\n"
        "        Node(remappings=[('image', LaunchConfiguration('image'))])])\n"
    )
    assert unused_launch_arguments(buggy) == ["qos_reliability"]


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_every_declared_launch_argument_is_used(path):
    assert unused_launch_arguments(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_every_launch_configuration_read_is_declared(path):
    tree = _tree(path)
    declared = {ast.literal_eval(c.args[0]) for c in _calls(tree, "DeclareLaunchArgument")}
    read = {ast.literal_eval(c.args[0]) for c in _calls(tree, "LaunchConfiguration")}
    assert read <= declared, f"{path.name} reads undeclared arguments {read - declared}"


def test_single_camera_forwards_its_node_parameter_arguments_to_the_node():
    tree = _tree(REPO / "launch" / "single_camera.launch.py")
    declared = {ast.literal_eval(c.args[0]) for c in _calls(tree, "DeclareLaunchArgument")}
    node_parameters = (set(param_names()) | ROS_BUILTIN_PARAMETERS) & declared
    assert {"qos_reliability", "autostart", "use_sim_time"} <= node_parameters
    (node,) = [c for c in _calls(tree, *NODE_ACTIONS) if _constant(tree, _keyword(c, "package")) == PACKAGE]
    forwarded = {}
    for element in _keyword(node, "parameters").elts:
        if isinstance(element, ast.Dict):
            for key, value in zip(element.keys, element.values, strict=True):
                forwarded[ast.literal_eval(key)] = ast.unparse(value)
    for name in node_parameters:  # plain, or typed with ParameterValue(LaunchConfiguration(name), ...)
        value = forwarded.get(name, "")
        assert value == f"LaunchConfiguration('{name}')" or value.startswith(
            f"ParameterValue(LaunchConfiguration('{name}')"
        ), f"argument {name} not given to the node"


def test_replay_drives_the_lifecycle_plays_once_active_and_ends_with_playback():
    tree = _tree(REPO / "launch" / "replay_bag.launch.py")
    (node,) = _calls(tree, "LifecycleNode")
    parameters = {
        ast.literal_eval(k): ast.literal_eval(v)
        for d in _keyword(node, "parameters").elts
        if isinstance(d, ast.Dict)
        for k, v in zip(d.keys, d.values, strict=True)
        if isinstance(v, ast.Constant)
    }
    assert parameters["autostart"] is False  # the launch, not the node, walks the transitions
    handlers = {ast.unparse(c) for c in _calls(tree, "OnStateTransition")}
    assert any("goal_state='active'" in h and "entities=[play]" in h for h in handlers), handlers
    assert any("goal_state='inactive'" in h and "TRANSITION_ACTIVATE" in h for h in handlers), handlers
    (exit_handler,) = _calls(tree, "OnProcessExit")
    assert ast.unparse(_keyword(exit_handler, "target_action")) == "play"
    assert "Shutdown" in ast.unparse(_keyword(exit_handler, "on_exit"))
    plays = [c for c in _calls(tree, "ExecuteProcess") if "'play'" in ast.unparse(c)]
    assert len(plays) == 1
    top_level = ast.unparse(_calls(tree, "LaunchDescription")[0])
    assert "TRANSITION_CONFIGURE" in top_level and " play," not in top_level  # play is not started at once

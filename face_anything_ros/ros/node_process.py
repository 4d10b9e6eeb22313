"""Start face_anything_node as its own process, the way the launch files do (for demo and tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from face_anything_ros.outputs.msg_types import PACKAGE


def find_config(name: str = "face_anything.yaml") -> Path | None:
    """A shipped config file: the repository's config/ or the ROS install's share/<pkg>/config/."""
    candidates = [Path(__file__).resolve().parents[2] / "config" / name]
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if prefix:
            candidates.append(Path(prefix) / "share" / PACKAGE / "config" / name)
    return next((c for c in candidates if c.is_file()), None)


@dataclass
class NodeLaunch:
    """Command line of one node: ``face_anything_node --ros-args --params-file F -r a:=b -p k:=v``."""

    namespace: str = ""
    executable: str | None = None  # e.g. the installed face_anything_node; None: this Python, -m
    params_file: Path | None = None
    remappings: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)

    def command(self) -> list[str]:
        start = [self.executable] if self.executable else [sys.executable, "-m", "face_anything_ros.ros.node"]
        args = [*start, "--ros-args"]
        if self.params_file is not None:
            args += ["--params-file", str(self.params_file)]
        if self.namespace:
            args += ["-r", f"__ns:={self.namespace}"]
        for source, target in self.remappings.items():
            args += ["-r", f"{source}:={target}"]
        for name, value in self.parameters.items():
            args += ["-p", f"{name}:={value}"]
        return args


def start_node(launch: NodeLaunch, log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start the node with stdout+stderr going to ``log_path``."""
    log = log_path.open("w", encoding="utf-8")
    return subprocess.Popen(
        launch.command(),
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
    )


def stop_node(process: subprocess.Popen, timeout_s: float = 10.0) -> int:
    """Ctrl-C the node (clean shutdown), escalating to SIGKILL if it does not exit in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout_s)
    return int(process.returncode)

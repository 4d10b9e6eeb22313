"""The real node in its own process plus a stress client in this one, over DDS, as a context manager."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from face_anything_ros.devtools.reliability.stress_client import StressClient
from face_anything_ros.ros.node_process import NodeLaunch, start_node

NODE_NAMESPACE = "/stress"
CAMERA_NAMESPACE = "/stress_camera"
NODE_NAME = "face_anything_node"
START_TIMEOUT_S = 180.0  # model load + backend probe on a busy CPU
SHUTDOWN_TIMEOUT_S = 10.0


class NodeStartError(RuntimeError):
    """The node exited or never subscribed to its image topic (see its log)."""


@dataclass
class ShutdownResult:
    """How the node process ended after a signal."""

    signal_name: str
    return_code: int | None  # None: still running at the timeout (then killed)
    seconds: float
    traceback_in_log: bool


@dataclass
class NodeSession:
    process: subprocess.Popen
    client: StressClient
    log_path: Path
    shutdown: ShutdownResult | None = None

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def stop(self, signum: int = signal.SIGINT, timeout_s: float = SHUTDOWN_TIMEOUT_S) -> ShutdownResult:
        """Send ``signum`` and wait for the exit (SIGKILL after ``timeout_s``, reported as None)."""
        if self.shutdown is not None:
            return self.shutdown
        start = time.monotonic()
        if self.alive():
            self.process.send_signal(signum)
        return_code = exit_code_within(self.process, timeout_s)
        self.shutdown = ShutdownResult(
            signal.Signals(signum).name, return_code, time.monotonic() - start, "Traceback" in self.log_text()
        )
        return self.shutdown


def exit_code_within(process: subprocess.Popen, timeout_s: float) -> int | None:
    """The process's exit code, or None if it had to be killed after ``timeout_s``."""
    try:
        return process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None


def node_launch(parameters: dict[str, str]) -> NodeLaunch:
    """The node as the single-camera launch file starts it, in the stress namespaces."""
    return NodeLaunch(
        namespace=NODE_NAMESPACE,
        remappings={
            "image": f"{CAMERA_NAMESPACE}/image_raw",
            "camera_info": f"{CAMERA_NAMESPACE}/camera_info",
        },
        parameters=parameters,
    )


@contextmanager
def node_session(
    parameters: dict[str, str], log_path: Path, start_timeout_s: float = START_TIMEOUT_S
) -> Iterator[NodeSession]:
    """Start the node (``python -m face_anything_ros.ros.node``) and a spinning client; stop both after.

    The node is stopped with SIGINT unless the caller already stopped it (``session.stop``).
    """
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor

    process = start_node(node_launch(parameters), log_path)
    context = Context()
    rclpy.init(context=context)
    client = StressClient(
        CAMERA_NAMESPACE,
        NODE_NAMESPACE,
        node_fqn=f"{NODE_NAMESPACE}/{NODE_NAME}",
        name=f"face_anything_stress_client_{process.pid}",
        context=context,
    )
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(client)
    spinner = threading.Thread(target=executor.spin, name="stress_client_spin", daemon=True)
    spinner.start()
    session = NodeSession(process, client, log_path)
    try:
        if not client.wait_for_node(start_timeout_s, session.alive):
            state = f"exited with code {process.returncode}" if not session.alive() else "did not subscribe"
            raise NodeStartError(f"the node {state} within {start_timeout_s:.0f} s; see {log_path}")
        if not client.handshake(start_timeout_s):
            raise NodeStartError(f"the node never answered a blank frame; see {log_path}")
        yield session
    finally:
        session.stop()
        executor.shutdown()
        client.destroy_node()
        context.try_shutdown()

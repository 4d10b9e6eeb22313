"""What the node's process sets up around rclpy: the Fast DDS writer profile and the log bridge."""

from __future__ import annotations

import logging
import os
from importlib import resources

from rclpy.node import Node

FASTDDS_PROFILES_ENV = "FASTDDS_DEFAULT_PROFILES_FILE"


def use_node_writer_profile() -> None:
    """Point Fast DDS at the node's writer profile (50 ms heartbeats) unless the user chose a profile.

    With the default 3 s heartbeat, a subscriber that drops a fragment of a large reliable output
    (depth, points, images) while busy gets it repaired only 3 s later: measured as 3 s lock-step
    latencies in ``face-anything demo`` once outputs were built fast enough to leave back to back.
    Must run before ``rclpy.init``; affects only this process.
    """
    if FASTDDS_PROFILES_ENV not in os.environ:
        os.environ[FASTDDS_PROFILES_ENV] = str(
            resources.files("face_anything_ros").joinpath("assets", "fastdds", "node_writers.xml")
        )


class RclpyLogHandler(logging.Handler):
    """Bridges the library's ``logging`` records to the node's rclpy logger."""

    def __init__(self, node: Node) -> None:
        super().__init__()
        self._logger = node.get_logger()

    def emit(self, record: logging.LogRecord) -> None:
        text = f"[{record.name}] {record.getMessage()}"
        if record.levelno >= logging.ERROR:
            self._logger.error(text)
        elif record.levelno >= logging.WARNING:
            self._logger.warning(text)
        elif record.levelno >= logging.INFO:
            self._logger.info(text)
        else:
            self._logger.debug(text)


def bridge_library_logging(node: Node) -> None:
    """Send the package's ``logging`` records to ``node``'s rclpy logger (and only there)."""
    package_logger = logging.getLogger("face_anything_ros")
    package_logger.addHandler(RclpyLogHandler(node))
    package_logger.propagate = False

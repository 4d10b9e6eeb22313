"""What the node's process sets up around rclpy: the Fast DDS writer profile and the log bridge."""

from __future__ import annotations

import logging
import os
from importlib import resources
from pathlib import Path

from rclpy.node import Node

FASTDDS_PROFILES_ENV = "FASTDDS_DEFAULT_PROFILES_FILE"
FASTDDS_BUILTIN_TRANSPORTS_ENV = "FASTDDS_BUILTIN_TRANSPORTS"


def node_fastdds_profile() -> Path:
    """The shipped Fast DDS profile for the node process: transports and writers (``node.xml``), or the
    writers alone (``node_writers.xml``) when the user picked transports with FASTDDS_BUILTIN_TRANSPORTS,
    which a profile's transports would silently override."""
    name = "node_writers.xml" if os.environ.get(FASTDDS_BUILTIN_TRANSPORTS_ENV) else "node.xml"
    return Path(str(resources.files("face_anything_ros").joinpath("assets", "fastdds", name)))


def use_node_writer_profile() -> None:
    """Point Fast DDS at the node's shipped profile (``node_fastdds_profile``) unless the user chose one.

    Transports: a 16 MiB shared-memory segment (Fast DDS's default 512 KiB one cannot hold a depth
    image and a point cloud sent back to back, and best-effort subscribers on this machine lost about
    half of them; measured by ``devtools/large_sample_delivery.py``). Writers: a 50 ms heartbeat
    (with the default 3 s, a fragment a busy subscriber dropped from a large reliable output was
    repaired only 3 s later: measured as 3 s lock-step latencies in ``face-anything demo``).
    Must run before ``rclpy.init``; affects only this process.
    """
    if FASTDDS_PROFILES_ENV not in os.environ:
        os.environ[FASTDDS_PROFILES_ENV] = str(node_fastdds_profile())


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

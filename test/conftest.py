"""Shared pytest fixtures: an isolated ROS 2 domain, rclpy contexts, nodes and spinning helpers.

Isolation: every pytest session runs in its own ROS domain (``ROS_DOMAIN_ID`` chosen from the
process id unless the caller set one) with discovery limited to this machine, so test sessions
running at the same time on one machine do not see each other's topics. Subprocesses started by
tests inherit these variables and so join the same domain.

Fixtures
--------
``rclpy_context``  a fresh, initialised ``rclpy.context.Context`` (shut down afterwards);
``make_node``      ``make_node(name) -> rclpy.node.Node`` in that context (destroyed afterwards);
``spin_until``     ``spin_until(predicate, *nodes, timeout_s=10.0) -> bool``: spins the nodes
                   until ``predicate()`` is true or the timeout passes;
``face_msgs``      the generated ``face_anything_ros.msg`` module.
Tests using them skip with a clear reason when rclpy or the generated messages are missing (run
``bash scripts/setup_env.sh``); in this project's environment they always run.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

# Fast DDS accepts domain ids 0..232; keep clear of 0 (the default every ROS user shares).
_FIRST_TEST_DOMAIN = 100
_TEST_DOMAIN_COUNT = 100


def _isolate_ros_domain() -> None:
    os.environ.setdefault("ROS_DOMAIN_ID", str(_FIRST_TEST_DOMAIN + os.getpid() % _TEST_DOMAIN_COUNT))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")


_isolate_ros_domain()


def _import_or_skip(module: str, why: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        pytest.skip(f"{module} is not importable ({error}); {why}. Run: bash scripts/setup_env.sh")


@pytest.fixture()
def rclpy_context() -> Iterator[Any]:
    """A fresh rclpy context for one test, so tests never share nodes or state."""
    rclpy = _import_or_skip("rclpy", "this test needs ROS 2 (rclpy)")
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context)
    try:
        yield context
    finally:
        context.try_shutdown()


@pytest.fixture()
def make_node(rclpy_context: Any) -> Iterator[Callable[[str], Any]]:
    """Factory of rclpy nodes in ``rclpy_context``; all are destroyed after the test."""
    from rclpy.node import Node

    nodes: list[Any] = []

    def _make(name: str, **kwargs: Any) -> Any:
        node = Node(name, context=rclpy_context, **kwargs)
        nodes.append(node)
        return node

    yield _make
    for node in nodes:
        node.destroy_node()


@pytest.fixture()
def spin_until(rclpy_context: Any) -> Callable[..., bool]:
    """``spin_until(predicate, *nodes, timeout_s=10.0)``: spin until predicate() or timeout."""
    from rclpy.executors import SingleThreadedExecutor

    def _spin(predicate: Callable[[], bool], *nodes: Any, timeout_s: float = 10.0) -> bool:
        executor = SingleThreadedExecutor(context=rclpy_context)
        for node in nodes:
            executor.add_node(node)
        deadline = time.monotonic() + timeout_s
        try:
            while not predicate():
                if time.monotonic() > deadline:
                    return False
                executor.spin_once(timeout_sec=0.05)
            return True
        finally:
            for node in nodes:
                executor.remove_node(node)
            executor.shutdown()

    return _spin


@pytest.fixture(scope="session")
def face_msgs() -> ModuleType:
    """The generated message module ``face_anything_ros.msg`` (FaceTrack, FaceTrackArray, ...)."""
    return _import_or_skip("face_anything_ros.msg", "the generated ROS messages are needed")

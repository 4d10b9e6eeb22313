"""rclpy's standard ``qos_overrides.<topic>.subscription.*`` parameters set the inputs' QoS.

Read back from the DDS graph (what another node sees of the node's subscriptions), so the
test proves the QoS really used, not the parameter value.
"""

from __future__ import annotations

import time

import pytest
from node_test_support import weights_for_tests

rclpy = pytest.importorskip("rclpy")
from rclpy.context import Context  # noqa: E402
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import ReliabilityPolicy  # noqa: E402

from face_anything_ros.ros.node import FaceAnythingNode  # noqa: E402

IMAGE, INFO = "/qos_camera/image_raw", "/qos_camera/camera_info"


def _subscription_qos(observer: Node, topic: str, timeout_s: float = 10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        infos = observer.get_subscriptions_info_by_topic(topic)
        if infos:
            return infos[0].qos_profile
        time.sleep(0.1)
    raise AssertionError(f"no subscription on {topic}")


def _node(context, weights: str, *overrides: Parameter) -> FaceAnythingNode:
    return FaceAnythingNode(
        context=context,
        namespace="/qos_test",
        cli_args=["--ros-args", "-r", f"image:={IMAGE}", "-r", f"camera_info:={INFO}"],
        parameter_overrides=[
            Parameter("weights", value=weights),
            Parameter("autostart", value=False),
            *overrides,
        ],
    )


@pytest.fixture()
def context():
    context = Context()
    rclpy.init(context=context)
    yield context
    context.try_shutdown()


def test_qos_overrides_set_reliability_and_depth_of_the_inputs(context):
    node = _node(
        context,
        weights_for_tests(),
        Parameter("qos_reliability", value="reliable"),
        Parameter(f"qos_overrides.{IMAGE}.subscription.reliability", value="best_effort"),
        Parameter(f"qos_overrides.{IMAGE}.subscription.depth", value=3),
    )
    observer = Node("qos_observer", context=context)
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        image_qos = _subscription_qos(observer, IMAGE)
        assert image_qos.reliability == ReliabilityPolicy.BEST_EFFORT  # the override wins
        info_qos = _subscription_qos(observer, INFO)
        assert info_qos.reliability == ReliabilityPolicy.BEST_EFFORT  # camera_info follows the image input
        assert node.get_parameter(f"qos_overrides.{IMAGE}.subscription.depth").value == 3
        assert node.get_parameter(f"qos_overrides.{INFO}.subscription.history").value == "keep_last"
    finally:
        observer.destroy_node()
        node.destroy_node()


def test_an_unusable_qos_override_fails_activation_with_the_reason(context):
    node = _node(
        context,
        weights_for_tests(),
        Parameter(f"qos_overrides.{IMAGE}.subscription.reliability", value="sometimes"),
    )
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_activate() != TransitionCallbackReturn.SUCCESS
        assert "sometimes" in node.last_transition_error and "reliable" in node.last_transition_error
    finally:
        node.destroy_node()

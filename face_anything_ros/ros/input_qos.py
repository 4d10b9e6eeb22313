"""The inputs' QoS: ``qos_reliability`` / ``qos_depth`` plus rclpy's standard ``qos_overrides``.

rclpy's ``QoSOverridingOptions`` declares ``qos_overrides.<topic>.subscription.<policy>``
parameters, read once at the first subscription. History and depth go through it unchanged.
Reliability cannot: with ``qos_reliability: auto`` the node re-subscribes whenever the camera's
QoS changes, and rclpy would pin the first choice forever. So the node declares that one
parameter itself, with the same name and meaning, default ``""`` (= ``qos_reliability`` decides);
a value given by the user (``reliable`` / ``best_effort``) pins the reliability and wins over
``qos_reliability``.
"""

from __future__ import annotations

from typing import Any

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.qos import QoSPolicyKind, ReliabilityPolicy
from rclpy.qos_overriding_options import QoSOverridingOptions

# history and depth: rclpy's own handling of qos_overrides.<topic>.subscription.{history,depth}
HISTORY_AND_DEPTH_OVERRIDES = QoSOverridingOptions([QoSPolicyKind.HISTORY, QoSPolicyKind.DEPTH])
RELIABILITY_CHOICES = {"reliable": ReliabilityPolicy.RELIABLE, "best_effort": ReliabilityPolicy.BEST_EFFORT}


class QosOverrideError(ValueError):
    """A ``qos_overrides`` value the node cannot use."""


def reliability_override_name(resolved_topic: str) -> str:
    return f"qos_overrides.{resolved_topic}.subscription.reliability"


def pinned_reliability(node: Any, resolved_topic: str) -> ReliabilityPolicy | None:
    """The reliability the user pinned with ``qos_overrides.<topic>.subscription.reliability``, if any."""
    name = reliability_override_name(resolved_topic)
    if not node.has_parameter(name):
        descriptor = ParameterDescriptor(
            description=f"reliability for subscription `{resolved_topic}` "
            "(reliable | best_effort; empty: qos_reliability decides)",
            read_only=True,
        )
        node.declare_parameter(name, "", descriptor)
    value = str(node.get_parameter(name).value).strip().lower()
    if not value:
        return None
    if value not in RELIABILITY_CHOICES:
        raise QosOverrideError(
            f"{name}={value!r}: must be one of {', '.join(RELIABILITY_CHOICES)} (or empty)"
        )
    return RELIABILITY_CHOICES[value]

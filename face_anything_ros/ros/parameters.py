"""The node's parameters as rclpy declares them: one ParameterDescriptor per row of the table.

The table itself (names, defaults, ranges, live or not) is ``outputs/params.PARAMETER_SPECS``,
shared with the offline commands; rclpy then enforces the ranges and ``read_only``.
"""

from __future__ import annotations

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

from face_anything_ros.outputs.params import ParamSpec


def parameter_descriptor(spec: ParamSpec) -> ParameterDescriptor:
    """The descriptor rclpy enforces: description, read_only unless live, range or choices."""
    descriptor = ParameterDescriptor(description=spec.description, read_only=not spec.live)
    if spec.choices:
        descriptor.additional_constraints = f"one of: {', '.join(spec.choices)}"
    if isinstance(spec.default, float) and spec.min_value is not None:
        descriptor.floating_point_range = [
            FloatingPointRange(from_value=float(spec.min_value), to_value=float(spec.max_value), step=0.0)
        ]
    elif isinstance(spec.default, int) and not isinstance(spec.default, bool) and spec.min_value is not None:
        descriptor.integer_range = [
            IntegerRange(from_value=int(spec.min_value), to_value=int(spec.max_value), step=1)
        ]
    return descriptor

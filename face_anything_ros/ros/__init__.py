"""The ROS 2 shell: the rclpy node, its QoS and frame worker, and the helpers that start a node and stream to it.

The only rclpy code; builds every message through ``outputs/`` (docs/ARCHITECTURE.md, "Layers").
"""

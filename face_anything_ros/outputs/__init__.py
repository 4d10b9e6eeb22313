"""Output table and message building shared by the node and bag replay (rclpy-free).

ROS message values are built through a ``MessageKit`` (rclpy classes in the node, rosbags
dataclasses offline), so ``ros/`` and ``offline/`` share one implementation.
"""

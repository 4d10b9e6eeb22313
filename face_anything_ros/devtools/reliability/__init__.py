"""Reliability under load, faults and bad input: soak driver, fuzz inputs, fault drills, memory sampling.

Drives the real node (``face_anything_ros.ros.node``) over DDS; used by ``face-anything stress`` and
by ``test/test_reliability_*.py``.
"""

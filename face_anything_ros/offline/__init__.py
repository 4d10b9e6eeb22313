"""Offline processing: videos, image folders, single images and ROS 2 bags (no ROS install needed).

Shares the pipeline with the node through ``runtime/`` and ``outputs/``; never imports ``ros/``.
"""

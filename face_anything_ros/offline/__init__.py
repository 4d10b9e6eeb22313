"""Offline processing: videos, image folders, single images and ROS 2 bags (no ROS install needed)."""

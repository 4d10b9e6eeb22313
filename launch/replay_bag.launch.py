"""Bag replay: play a bag (with /clock), run the node on it in sim time, record the outputs.

    ros2 launch face_anything_ros replay_bag.launch.py bag:=/path/to/in_bag out:=/path/to/out_bag \
        image:=/camera/image_raw camera_info:=/camera/camera_info

(`face-anything replay IN_BAG --out OUT_BAG` does the same offline without ROS, every frame.)
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription

PACKAGE = "face_anything_ros"
NAMESPACE = "face_anything"
RECORDED_TOPICS = [
    "depth",
    "depth/camera_info",
    "detections",
    "/tf",
    "points",
    "faces",
    "face_poses",
    "face_mesh",
    "face_mesh_topology",
    "/diagnostics",
]


def generate_launch_description():
    share = get_package_share_directory(PACKAGE)
    bag = LaunchConfiguration("bag")
    recorded = [t if t.startswith("/") else f"/{NAMESPACE}/{t}" for t in RECORDED_TOPICS]
    return LaunchDescription(
        [
            DeclareLaunchArgument("bag", description="input bag to play"),
            DeclareLaunchArgument("out", description="output bag to record (must not exist)"),
            DeclareLaunchArgument(
                "image", default_value="/camera/image_raw", description="image topic in the bag"
            ),
            DeclareLaunchArgument(
                "camera_info", default_value="/camera/camera_info", description="camera_info topic in the bag"
            ),
            DeclareLaunchArgument("rate", default_value="1.0", description="playback rate"),
            DeclareLaunchArgument(
                "image_transport",
                default_value="raw",
                description="raw (image) or compressed (<image>/compressed in the bag, JPEG/PNG)",
            ),
            DeclareLaunchArgument(
                "params_file",
                default_value=os.path.join(share, "config", "face_anything.yaml"),
                description="parameter file of the node",
            ),
            Node(
                package=PACKAGE,
                executable="face_anything_node",
                name="face_anything_node",
                namespace=NAMESPACE,
                parameters=[
                    LaunchConfiguration("params_file"),
                    {
                        "use_sim_time": True,
                        "qos_reliability": "reliable",
                        "qos_depth": 5,
                        "image_transport": LaunchConfiguration("image_transport"),
                    },
                ],
                remappings=[
                    ("image", LaunchConfiguration("image")),
                    ("camera_info", LaunchConfiguration("camera_info")),
                ],
                output="screen",
                emulate_tty=True,
            ),
            ExecuteProcess(
                cmd=["ros2", "bag", "record", "-o", LaunchConfiguration("out"), *recorded],
                output="screen",
            ),
            ExecuteProcess(
                cmd=["ros2", "bag", "play", bag, "--clock", "--rate", LaunchConfiguration("rate")],
                output="screen",
            ),
        ]
    )

"""Several cameras: one face_anything_node per camera listed in config/multi_camera.yaml.

Each node runs in its own process and namespace (/<camera name>/face_anything/...): a slow or
failing camera cannot stall the others, and nodes can sit on different GPUs.

    ros2 launch face_anything_ros multi_camera.launch.py cameras_file:=/path/to/cameras.yaml

Per-camera `parameters` in the cameras file override the shared parameter file, e.g.
`image_transport: compressed` for a Wi-Fi camera or `tf_prefix: camera_left/`.
"""

import os

import yaml
from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription

PACKAGE = "face_anything_ros"


def camera_nodes(context):
    cameras_file = LaunchConfiguration("cameras_file").perform(context)
    params_file = LaunchConfiguration("params_file").perform(context)
    use_sim_time = LaunchConfiguration("use_sim_time").perform(context).lower() == "true"
    autostart = LaunchConfiguration("autostart").perform(context).lower() == "true"
    with open(cameras_file, encoding="utf-8") as handle:
        cameras = yaml.safe_load(handle)["cameras"]
    nodes = []
    for camera in cameras:
        overrides = dict(camera.get("parameters") or {})
        overrides["use_sim_time"] = use_sim_time
        overrides.setdefault("autostart", autostart)
        nodes.append(
            Node(
                package=PACKAGE,
                executable="face_anything_node",
                name="face_anything_node",
                namespace=f"{camera['name']}/face_anything",
                parameters=[params_file, overrides],
                remappings=[("image", camera["image"]), ("camera_info", camera["camera_info"])],
                output="screen",
                emulate_tty=True,
            )
        )
    return nodes


def generate_launch_description():
    share = get_package_share_directory(PACKAGE)
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "cameras_file",
                default_value=os.path.join(share, "config", "multi_camera.yaml"),
                description="YAML listing the cameras (name, image, camera_info, parameters)",
            ),
            DeclareLaunchArgument(
                "params_file",
                default_value=os.path.join(share, "config", "face_anything.yaml"),
                description="parameter file shared by every camera's node",
            ),
            DeclareLaunchArgument("use_sim_time", default_value="false", description="use /clock"),
            DeclareLaunchArgument(
                "autostart",
                default_value="true",
                description="each node configures + activates by itself; false: for a lifecycle manager",
            ),
            OpaqueFunction(function=camera_nodes),
        ]
    )

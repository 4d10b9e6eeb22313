"""One camera: face_anything_node on <image>/<camera_info>, outputs under /<namespace>/.

    ros2 launch face_anything_ros single_camera.launch.py image:=/camera/image_raw \
        camera_info:=/camera/camera_info [image_transport:=compressed] [tf_prefix:=cam1/]

With image_transport:=compressed the node subscribes <image>/compressed (JPEG/PNG).

The node is a lifecycle node that goes to active by itself; with ``autostart:=false`` it waits
unconfigured for a lifecycle manager (or ``ros2 lifecycle set <node> configure`` / ``activate``).
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from launch import LaunchDescription

PACKAGE = "face_anything_ros"


def generate_launch_description():
    share = get_package_share_directory(PACKAGE)
    arguments = [
        DeclareLaunchArgument("image", default_value="/camera/image_raw", description="input image topic"),
        DeclareLaunchArgument(
            "camera_info", default_value="/camera/camera_info", description="input camera_info topic"
        ),
        DeclareLaunchArgument(
            "namespace", default_value="face_anything", description="namespace of the outputs"
        ),
        DeclareLaunchArgument(
            "params_file",
            default_value=os.path.join(share, "config", "face_anything.yaml"),
            description="parameter file of the node",
        ),
        DeclareLaunchArgument("use_sim_time", default_value="false", description="use /clock (bag replay)"),
        DeclareLaunchArgument(
            "qos_reliability",
            default_value="auto",
            description="input QoS: auto (match the camera), best_effort (sensor data) or reliable (see README)",
        ),
        DeclareLaunchArgument(
            "autostart",
            default_value="true",
            description="configure + activate by itself; false: wait unconfigured for a lifecycle manager",
        ),
        DeclareLaunchArgument(
            "image_transport",
            default_value="raw",
            description="input transport: raw (image) or compressed (<image>/compressed, JPEG/PNG)",
        ),
        DeclareLaunchArgument(
            "tf_prefix", default_value="", description="prefix of the face TF frames (<tf_prefix>face_<id>)"
        ),
        DeclareLaunchArgument(
            "rviz", default_value="false", description="also start RViz with the shipped view"
        ),
    ]
    node = Node(
        package=PACKAGE,
        executable="face_anything_node",
        name="face_anything_node",
        namespace=LaunchConfiguration("namespace"),
        parameters=[
            LaunchConfiguration("params_file"),
            {
                "use_sim_time": LaunchConfiguration("use_sim_time"),
                "qos_reliability": LaunchConfiguration("qos_reliability"),
                "autostart": LaunchConfiguration("autostart"),
                "image_transport": LaunchConfiguration("image_transport"),
                "tf_prefix": ParameterValue(LaunchConfiguration("tf_prefix"), value_type=str),
            },
        ],
        remappings=[
            ("image", LaunchConfiguration("image")),
            ("camera_info", LaunchConfiguration("camera_info")),
        ],
        output="screen",
        emulate_tty=True,
    )
    shipped_view = os.path.join(share, "rviz", "face_anything.rviz")

    def rviz(context):
        # the shipped view shows /face_anything/...: give RViz a copy for this launch's namespace
        from face_anything_ros.ros.rviz_config import write_namespaced_rviz_config

        view = write_namespaced_rviz_config(shipped_view, LaunchConfiguration("namespace").perform(context))
        return [Node(package="rviz2", executable="rviz2", arguments=["-d", str(view)])]

    return LaunchDescription(
        [*arguments, node, OpaqueFunction(function=rviz, condition=IfCondition(LaunchConfiguration("rviz")))]
    )

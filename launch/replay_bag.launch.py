"""Bag replay: run the node in sim time, play the bag (with /clock) once it is active, record the outputs.

    ros2 launch face_anything_ros replay_bag.launch.py bag:=/path/to/in_bag out:=/path/to/out_bag \
        image:=/camera/image_raw camera_info:=/camera/camera_info

The launch drives the node's lifecycle itself (configure, then activate), starts `ros2 bag play`
only when the node is active (no frame is played before the model is loaded), and ends when
playback ends, after a short drain so the last outputs reach the recorder.
(`face-anything replay IN_BAG --out OUT_BAG` does the same offline without ROS, every frame.)
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, EmitEvent, ExecuteProcess, RegisterEventHandler, TimerAction
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown, matches_action
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from lifecycle_msgs.msg import Transition

from launch import LaunchDescription

PACKAGE = "face_anything_ros"
NAMESPACE = "face_anything"
DRAIN_S = 3.0  # after playback: time for the node's last outputs to reach the recorder
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
    recorded = [t if t.startswith("/") else f"/{NAMESPACE}/{t}" for t in RECORDED_TOPICS]
    node = LifecycleNode(
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
                "autostart": False,
                "image_transport": LaunchConfiguration("image_transport"),
            },
        ],
        remappings=[
            ("image", LaunchConfiguration("image")),
            ("camera_info", LaunchConfiguration("camera_info")),
        ],
        output="screen",
        emulate_tty=True,
    )

    def transition(transition_id):
        return EmitEvent(
            event=ChangeState(lifecycle_node_matcher=matches_action(node), transition_id=transition_id)
        )

    play = ExecuteProcess(
        cmd=[
            "ros2",
            "bag",
            "play",
            LaunchConfiguration("bag"),
            "--clock",
            "--rate",
            LaunchConfiguration("rate"),
        ],
        output="screen",
    )
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
            node,
            ExecuteProcess(
                cmd=["ros2", "bag", "record", "-o", LaunchConfiguration("out"), *recorded],
                output="screen",
            ),
            RegisterEventHandler(  # configured (model loaded): activate
                OnStateTransition(
                    target_lifecycle_node=node,
                    start_state="configuring",
                    goal_state="inactive",
                    entities=[transition(Transition.TRANSITION_ACTIVATE)],
                )
            ),
            RegisterEventHandler(  # active (subscribed): play the bag
                OnStateTransition(target_lifecycle_node=node, goal_state="active", entities=[play])
            ),
            RegisterEventHandler(  # playback over: drain, then end the launch
                OnProcessExit(
                    target_action=play,
                    on_exit=[
                        TimerAction(
                            period=DRAIN_S,
                            actions=[EmitEvent(event=Shutdown(reason="bag playback finished"))],
                        )
                    ],
                )
            ),
            transition(Transition.TRANSITION_CONFIGURE),
        ]
    )

"""Our custom message definitions (msg/*.msg) registered into a rosbags typestore.

The .msg text is looked up where each install route puts it: ``share/face_anything_ros/msg`` of
a ROS install (ament index), or the repository's ``msg/`` next to the Python package (pip
editable / source checkout). The upstream vision_msgs definitions the node publishes (not in
rosbags' stores) are registered the same way, from ``share/vision_msgs/msg`` or the repository's
``interfaces/vision_msgs/msg``. Bags written with this typestore carry the full definitions, so
rosbags and ``ros2 bag`` in a full ROS install can read them.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

PACKAGE = "face_anything_ros"
MESSAGE_NAMES = ("FaceTrack", "FaceTrackArray", "FaceMeshTopology")
# Upstream packages whose definitions rosbags' typestores lack: package -> (source folder, messages)
UPSTREAM_MESSAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "vision_msgs": (
        "interfaces/vision_msgs/msg",
        (
            "Point2D",
            "Pose2D",
            "BoundingBox2D",
            "ObjectHypothesis",
            "ObjectHypothesisWithPose",
            "Detection2D",
            "Detection2DArray",
        ),
    ),
}


def find_msg_dir(
    package: str = PACKAGE, names: tuple[str, ...] = MESSAGE_NAMES, source_folder: str = "msg"
) -> Path:
    """Folder holding ``package``'s ``names``.msg (FileNotFoundError naming the places searched)."""
    candidates: list[Path] = [Path(__file__).resolve().parents[2] / source_folder]
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if prefix:
            candidates.append(Path(prefix) / "share" / package / "msg")
    for folder in candidates:
        if all((folder / f"{name}.msg").is_file() for name in names):
            return folder
    raise FileNotFoundError(
        f"message definitions {', '.join(names)}.msg not found in: "
        + ", ".join(str(c) for c in candidates)
    )


@lru_cache(maxsize=1)
def face_anything_typestore() -> Any:
    """A ROS 2 Kilted typestore with our messages registered (cached)."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    typestore = get_typestore(Stores.ROS2_KILTED)
    types: dict[str, Any] = {}
    packages = {PACKAGE: ("msg", MESSAGE_NAMES), **UPSTREAM_MESSAGES}
    for package, (source_folder, names) in packages.items():
        if f"{package}/msg/{names[0]}" in typestore.types:  # a newer rosbags store has it: keep that
            continue
        folder = find_msg_dir(package, names, source_folder)
        for name in names:
            text = (folder / f"{name}.msg").read_text(encoding="utf-8")
            types.update(get_types_from_msg(text, f"{package}/msg/{name}"))
    typestore.register(types)
    return typestore

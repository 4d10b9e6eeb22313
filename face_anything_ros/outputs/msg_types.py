"""Our custom message definitions (msg/*.msg) registered into a rosbags typestore.

The .msg text is looked up where each install route puts it: ``share/face_anything_ros/msg`` of
a ROS install (ament index), or the repository's ``msg/`` next to the Python package (pip
editable / source checkout). Bags written with this typestore carry the full definitions, so
rosbags and ``ros2 bag`` in a full ROS install can read them.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

PACKAGE = "face_anything_ros"
MESSAGE_NAMES = ("FaceTrack", "FaceTrackArray", "FaceMeshTopology")


def find_msg_dir() -> Path:
    """Folder holding FaceTrack.msg etc. (FileNotFoundError naming the places searched)."""
    candidates: list[Path] = [Path(__file__).resolve().parents[2] / "msg"]
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        if prefix:
            candidates.append(Path(prefix) / "share" / PACKAGE / "msg")
    for folder in candidates:
        if all((folder / f"{name}.msg").is_file() for name in MESSAGE_NAMES):
            return folder
    raise FileNotFoundError(
        f"message definitions {', '.join(MESSAGE_NAMES)}.msg not found in: "
        + ", ".join(str(c) for c in candidates)
    )


@lru_cache(maxsize=1)
def face_anything_typestore() -> Any:
    """A ROS 2 Kilted typestore with our messages registered (cached)."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    typestore = get_typestore(Stores.ROS2_KILTED)
    folder = find_msg_dir()
    types: dict[str, Any] = {}
    for name in MESSAGE_NAMES:
        text = (folder / f"{name}.msg").read_text(encoding="utf-8")
        types.update(get_types_from_msg(text, f"{PACKAGE}/msg/{name}"))
    typestore.register(types)
    return typestore

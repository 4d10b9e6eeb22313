"""The shipped RViz view shows the face frames and follows the node into any namespace."""

from __future__ import annotations

import yaml
from node_test_support import REPO

from face_anything_ros.ros.rviz_config import namespaced_rviz_config, write_namespaced_rviz_config

SHIPPED = REPO / "rviz" / "face_anything.rviz"


def _displays(text: str) -> list[dict]:
    return yaml.safe_load(text)["Visualization Manager"]["Displays"]


def _topics(text: str) -> set[str]:
    return {d["Topic"]["Value"] for d in _displays(text) if "Topic" in d}


def test_view_has_a_tf_display_for_the_face_frames():
    (tf,) = [
        d for d in _displays(SHIPPED.read_text(encoding="utf-8")) if d["Class"] == "rviz_default_plugins/TF"
    ]
    assert tf["Enabled"] and tf["Frames"]["All Enabled"]


def test_topics_move_to_the_launch_namespace_and_nothing_else_changes():
    text = SHIPPED.read_text(encoding="utf-8")
    shipped = _topics(text)
    assert shipped and all(t.startswith("/face_anything/") for t in shipped)
    moved = namespaced_rviz_config(text, "camera_left/face_anything")
    assert _topics(moved) == {t.replace("/face_anything/", "/camera_left/face_anything/", 1) for t in shipped}
    assert _topics(namespaced_rviz_config(text, "/face_anything")) == shipped
    assert _topics(namespaced_rviz_config(text, "")) == {t.removeprefix("/face_anything") for t in shipped}
    assert len(_displays(moved)) == len(_displays(text))


def test_written_copy_is_a_valid_view(tmp_path):
    path = write_namespaced_rviz_config(SHIPPED, "/cam1/face_anything")
    try:
        assert "/cam1/face_anything/points" in _topics(path.read_text(encoding="utf-8"))
    finally:
        path.unlink()

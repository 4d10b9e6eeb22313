"""The shipped RViz view for any namespace: its topics rewritten from /face_anything to the node's.

RViz configs name absolute topics, and the shipped view (rviz/face_anything.rviz) shows the outputs
of a node in ``/face_anything``. The launch files call ``write_namespaced_rviz_config`` to give RViz
a copy whose topics point at the node they start (e.g. ``/camera_left/face_anything/points``);
by hand, ``sed 's#/face_anything/#/cam1/face_anything/#'`` does the same.
The TF display needs no rewrite: /tf is global and the face frames carry the node's ``tf_prefix``.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

SHIPPED_NAMESPACE = "/face_anything"
_TOPIC_VALUE = re.compile(r"^(\s*Value:\s*)" + re.escape(SHIPPED_NAMESPACE) + r"/", re.MULTILINE)


def namespaced_rviz_config(text: str, namespace: str) -> str:
    """``text`` with every topic under /face_anything moved to ``namespace`` (absolute or relative)."""
    target = "/" + namespace.strip("/") if namespace.strip("/") else ""
    return _TOPIC_VALUE.sub(lambda match: f"{match.group(1)}{target}/", text)


def write_namespaced_rviz_config(shipped: str | Path, namespace: str) -> Path:
    """A temporary copy of the ``shipped`` config for ``namespace``; returns its path."""
    text = namespaced_rviz_config(Path(shipped).read_text(encoding="utf-8"), namespace)
    name = namespace.strip("/").replace("/", "_") or "root"
    handle = tempfile.NamedTemporaryFile(
        "w", prefix=f"face_anything_{name}_", suffix=".rviz", delete=False, encoding="utf-8"
    )
    with handle:
        handle.write(text)
    return Path(handle.name)

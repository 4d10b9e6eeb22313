"""Turn the node's messages for the demo frames into files and one picture a person can open."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from face_anything_ros.core.colormap import colorize_depth
from face_anything_ros.offline.run_outputs import json_safe, write_ply
from face_anything_ros.outputs.conversions import point_cloud_to_array
from face_anything_ros.outputs.image_codec import image_to_numpy
from face_anything_ros.outputs.visualize import tile_grid

PICTURE_FRAMES = 4  # columns of demo.png
GRID_COLUMNS = 4


def _write_rgb(path: Path, rgb: np.ndarray) -> None:
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def _caption(image: np.ndarray, text: str) -> None:
    """Write ``text`` in the top-left corner (in place), readable after downscaling."""
    cv2.putText(image, text, (10, 36), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 3, cv2.LINE_AA)


def _face_record(face: Any) -> dict[str, Any]:
    position, orientation = face.pose.position, face.pose.orientation
    return {
        "id": int(face.id),
        "age": int(face.age),
        "roi_xywh": [face.roi.x_offset, face.roi.y_offset, face.roi.width, face.roi.height],
        "confidence": round(float(face.confidence), 4),
        "detector": str(face.detector),
        "uuid": bytes(np.asarray(face.uuid.uuid, dtype=np.uint8)).hex(),
        "pose_valid": bool(face.pose_valid),
        "position_m": [position.x, position.y, position.z],
        "orientation_xyzw": [orientation.x, orientation.y, orientation.z, orientation.w],
        "scale": float(face.scale),  # relative to the average face (FaceTrack.msg)
        "query_names": list(face.query_names),
        "pixels": np.asarray(face.pixels, dtype=float).reshape(-1, 2).round(2).tolist(),
        "visible": [bool(v) for v in face.visible],
        "mesh_vertices_visible": int(np.count_nonzero(np.asarray(face.mesh_visible, dtype=bool))),
    }


def write_demo_outputs(
    out: Path,
    received: list[tuple[int, int, float, Any]],
    diagnostics: dict[str, str],
    streaming: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write per-frame files, demo.png, overlay_grid.png and summary.json; returns the summary."""
    for sub in ("depth", "depth_vis", "canonical", "overlay", "points"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    overlays, depth_pictures, canonicals, latencies = [], [], [], []
    face_count = 0
    with (out / "faces.jsonl").open("w", encoding="utf-8") as faces_log:
        for index, stamp_ns, sent_s, outputs in received:
            name = f"{index:06d}"
            messages = outputs.messages
            depth = image_to_numpy(messages["depth"])
            np.save(out / "depth" / f"{name}.npy", depth)
            depth_picture = colorize_depth(depth)
            overlay = image_to_numpy(messages["overlay"])
            canonical = image_to_numpy(messages["canonical_image"])
            _write_rgb(out / "depth_vis" / f"{name}.png", depth_picture)
            _write_rgb(out / "overlay" / f"{name}.png", overlay)
            _write_rgb(out / "canonical" / f"{name}.png", canonical)
            if index == received[0][0]:
                write_ply(out / "points" / f"{name}.ply", point_cloud_to_array(messages["points"]))
            faces = [_face_record(f) for f in messages["faces"].faces]
            face_count += len(faces)
            faces_log.write(
                json.dumps(json_safe({"frame": index, "stamp_ns": stamp_ns, "faces": faces})) + "\n"
            )
            latencies.append(1000.0 * (max(outputs.arrival_s.values()) - sent_s))
            overlays.append(overlay)
            depth_pictures.append(depth_picture)
            canonicals.append(canonical)
    _write_rgb(out / "overlay_grid.png", tile_grid(overlays, columns=GRID_COLUMNS))
    for images, caption in ((overlays, "overlay"), (depth_pictures, "depth"), (canonicals, "canonical")):
        for image in images:
            _caption(image, caption)
    picks = np.linspace(0, len(overlays) - 1, min(PICTURE_FRAMES, len(overlays))).round().astype(int)
    rows = [[images[i] for i in picks] for images in (overlays, depth_pictures, canonicals)]
    _write_rgb(out / "demo.png", tile_grid([im for row in rows for im in row], columns=len(picks)))
    summary = {
        "frames": len(received),
        "faces": face_count,
        "latency_ms_per_frame": [round(v, 1) for v in latencies],
        "latency_ms_median": float(np.median(latencies)),
        "latency_ms_median_after_first": float(np.median(latencies[1:])) if len(latencies) > 1 else None,
        "backend": diagnostics.get("backend", "unknown"),
        "node_diagnostics": diagnostics,
        "streaming": streaming,
        "picture": str(out / "demo.png"),
    }
    (out / "summary.json").write_text(json.dumps(json_safe(summary), indent=2) + "\n", encoding="utf-8")
    return summary

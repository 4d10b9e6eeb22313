"""Files written by ``face-anything run``: overlay video, depth maps, PLY clouds, tracks.

Layout of the output folder::

    overlay.mp4              input with canonical colours, boxes, ids and tracked points
    depth/000000.npy         float32 metres, NaN off-face (the evaluation format)
    depth_vis/000000.png     colourised depth, for people
    canonical/000000.png     canonical coordinates as colours
    points/000000.ply        face points (camera frame, metres) coloured by canonical coordinates
    tracks.npz               evaluation format for the longest-lived face: queries (N,3 t,x,y),
                             tracks (T,N,2 pixels), visible (T,N), plus query_names
    faces.jsonl              one line per frame: id, box, score, pose, scale of every face
    intrinsics.json          the intrinsics used
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from face_anything_ros.core.colormap import colorize_depth
from face_anything_ros.core.face_template import canonical_to_rgb
from face_anything_ros.outputs.conversions import point_array
from face_anything_ros.outputs.visualize import overlay_image

OVERLAY_CODEC = "mp4v"


def json_safe(value: Any) -> Any:
    """``value`` with every NaN/inf replaced by None (JSON has no NaN; strict parsers reject it)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def write_ply(path: Path, points: np.ndarray) -> None:
    """Binary PLY of a conversions.POINT_DTYPE array: xyz + canonical RGB colour + canonical xyz."""
    packed = points["rgb"].view(np.uint32)
    vertex = np.zeros(
        points.size,
        dtype=[
            ("x", "<f4"),
            ("y", "<f4"),
            ("z", "<f4"),
            ("red", "u1"),
            ("green", "u1"),
            ("blue", "u1"),
            ("canon_x", "<f4"),
            ("canon_y", "<f4"),
            ("canon_z", "<f4"),
        ],
    )
    for name in ("x", "y", "z", "canon_x", "canon_y", "canon_z"):
        vertex[name] = points[name]
    vertex["red"], vertex["green"], vertex["blue"] = (packed >> 16) & 255, (packed >> 8) & 255, packed & 255
    header = "\n".join(
        [
            "ply",
            "format binary_little_endian 1.0",
            "comment face_anything_ros: camera optical frame, metres; colour = canonical coordinate; canon_* metres on the average face",
            f"element vertex {points.size}",
            *(f"property float {n}" for n in ("x", "y", "z")),
            *(f"property uchar {n}" for n in ("red", "green", "blue")),
            *(f"property float {n}" for n in ("canon_x", "canon_y", "canon_z")),
            "end_header",
        ]
    )
    with path.open("wb") as handle:
        handle.write((header + "\n").encode("ascii"))
        handle.write(vertex.tobytes())


@dataclass
class RunSummary:
    """What a run produced."""

    frames: int = 0
    face_detections: int = 0
    track_ids: list[int] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class RunOutputs:
    """Writes every output of one run into ``out_dir`` (created if missing)."""

    def __init__(self, out_dir: Path, fps: float) -> None:
        self.out_dir = Path(out_dir)
        for sub in ("depth", "depth_vis", "canonical", "points"):
            (self.out_dir / sub).mkdir(parents=True, exist_ok=True)
        self.fps = fps
        self._video: cv2.VideoWriter | None = None
        self._faces_log = (self.out_dir / "faces.jsonl").open("w", encoding="utf-8")
        self._tracks: dict[int, dict[int, Any]] = {}  # track id -> frame -> face
        self._frames = 0
        self._names: list[str] = []
        self.summary = RunSummary()

    def add(self, frame_index: int, rgb: np.ndarray, result: Any, intrinsics: Any) -> None:
        name = f"{frame_index:06d}"
        np.save(self.out_dir / "depth" / f"{name}.npy", result.depth.astype(np.float32))
        cv2.imwrite(
            str(self.out_dir / "depth_vis" / f"{name}.png"),
            cv2.cvtColor(colorize_depth(result.depth), cv2.COLOR_RGB2BGR),
        )
        cv2.imwrite(
            str(self.out_dir / "canonical" / f"{name}.png"),
            cv2.cvtColor(canonical_to_rgb(result.canonical), cv2.COLOR_RGB2BGR),
        )
        write_ply(self.out_dir / "points" / f"{name}.ply", point_array(result, intrinsics))
        overlay = cv2.cvtColor(overlay_image(rgb, result), cv2.COLOR_RGB2BGR)
        if self._video is None:
            height, width = overlay.shape[:2]
            fourcc = cv2.VideoWriter_fourcc(*OVERLAY_CODEC)
            self._video = cv2.VideoWriter(
                str(self.out_dir / "overlay.mp4"), fourcc, self.fps, (width, height)
            )
        self._video.write(overlay)
        self._log_faces(frame_index, result)
        self._frames = max(self._frames, frame_index + 1)
        self.summary.frames += 1
        self.summary.face_detections += len(result.faces)

    def _log_faces(self, frame_index: int, result: Any) -> None:
        entries = []
        for face in result.faces:
            self._tracks.setdefault(int(face.track_id), {})[frame_index] = face
            self._names = list(face.query_names) or self._names
            entries.append(
                {
                    "id": int(face.track_id),
                    "box_xyxy": [float(v) for v in face.box_xyxy],
                    "score": float(face.score) if np.isfinite(face.score) else None,  # JSON has no NaN
                    "pose_valid": bool(face.pose_valid),
                    "rotation": np.asarray(face.rotation, dtype=float).tolist() if face.pose_valid else None,
                    "translation": np.asarray(face.translation, dtype=float).tolist()
                    if face.pose_valid
                    else None,
                    "scale": float(face.scale) if face.pose_valid else None,
                }
            )
        self._faces_log.write(json.dumps(json_safe({"frame": frame_index, "faces": entries})) + "\n")

    def close(self, intrinsics: Any) -> RunSummary:
        """Finish the video, write tracks.npz and intrinsics.json; returns the summary."""
        if self._video is not None:
            self._video.release()
        self._faces_log.close()
        (self.out_dir / "intrinsics.json").write_text(
            json.dumps({k: v for k, v in asdict(intrinsics).items()}, indent=2) + "\n", encoding="utf-8"
        )
        self.summary.track_ids = sorted(self._tracks)
        if self._tracks:
            self._write_tracks()
        return self.summary

    def _write_tracks(self) -> None:
        longest = Counter({tid: len(frames) for tid, frames in self._tracks.items()}).most_common(1)[0][0]
        frames = self._tracks[longest]
        count = len(self._names)
        tracks = np.full((self._frames, count, 2), np.nan, dtype=np.float32)
        visible = np.zeros((self._frames, count), dtype=bool)
        uncertainty = np.full((self._frames, count), np.nan, dtype=np.float32)
        for t, face in frames.items():
            tracks[t] = np.asarray(face.query_pixels, dtype=np.float32).reshape(-1, 2)[:count]
            visible[t] = np.asarray(face.query_visible, dtype=bool).reshape(-1)[:count]
            uncertainty[t] = np.asarray(face.query_uncertainty_px, dtype=np.float32).reshape(-1)[:count]
        queries = np.full((count, 3), np.nan, dtype=np.float32)
        for n in range(count):
            seen = np.nonzero(visible[:, n])[0]
            if seen.size:
                queries[n] = (seen[0], *tracks[seen[0], n])
        np.savez(
            self.out_dir / "tracks.npz",
            queries=queries,
            tracks=tracks,
            visible=visible,
            uncertainty_px=uncertainty,
            query_names=np.asarray(self._names),
            track_id=np.int64(longest),
        )

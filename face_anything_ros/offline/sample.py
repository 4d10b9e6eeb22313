"""The bundled sample sequence: the default input of ``face-anything demo`` and ``run``.

A real face photo (matplotlib's public-domain ``grace_hopper.jpg``) moved by a small smooth
head-like motion (in-plane roll, a yaw-like perspective squeeze, translation and scale), so
the node's tracking and pose have something to follow. It is demo input only, never training data.
Regenerate with ``python -m face_anything_ros.offline.sample``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from face_anything_ros.core.camera import Intrinsics

SAMPLE_PACKAGE_PATH = ("assets", "sample")


@dataclass(frozen=True)
class SampleMotion:
    """The head-like motion applied to the photo over one period."""

    frames: int = 12
    width: int = 640
    height: int = 480
    roll_deg: float = 5.0
    shift_px: tuple[float, float] = (18.0, 8.0)
    zoom: float = 0.04
    yaw_perspective: float = 2.5e-4  # perspective term: one side of the face nearer than the other
    hfov_deg: float = 60.0
    jpeg_quality: int = 90


def sample_dir() -> Path:
    """Folder of the bundled sample (frames/*.jpg, intrinsics.json)."""
    return Path(str(resources.files("face_anything_ros").joinpath(*SAMPLE_PACKAGE_PATH)))


def sample_frames(count: int | None = None) -> tuple[list[np.ndarray], Intrinsics]:
    """The bundled sample's RGB frames (``count`` of them, repeating the sequence when it asks for
    more; None = all) and their intrinsics: the input of the demo, the drills and the tests."""
    from face_anything_ros.offline.frame_sources import open_frames

    source = open_frames(sample_dir())
    frames = [rgb for _, rgb, _ in source.frames()]
    if not frames or source.intrinsics is None:
        raise FileNotFoundError(
            f"the bundled sample in {sample_dir()} is incomplete (frames or intrinsics.json)"
        )
    total = len(frames) if count is None else count
    return [frames[i % len(frames)] for i in range(total)], source.intrinsics


def _source_photo(width: int, height: int) -> np.ndarray:
    import matplotlib.cbook

    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    bgr = cv2.imread(str(path))
    scale = width / bgr.shape[1]
    resized = cv2.resize(bgr, (width, round(bgr.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    top = max(0, min(resized.shape[0] - height, round(0.06 * resized.shape[0])))
    return resized[top : top + height]


def _motion_homography(t: float, centre: tuple[float, float], motion: SampleMotion) -> np.ndarray:
    phase = 2.0 * math.pi * t
    cx, cy = centre
    to_centre = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], dtype=np.float64)
    back = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1]], dtype=np.float64)
    angle = math.radians(motion.roll_deg * math.sin(phase))
    zoom = 1.0 + motion.zoom * math.cos(phase)
    rotate = np.array(
        [
            [zoom * math.cos(angle), -zoom * math.sin(angle), motion.shift_px[0] * math.sin(phase)],
            [zoom * math.sin(angle), zoom * math.cos(angle), motion.shift_px[1] * math.sin(2 * phase)],
            [0, 0, 1],
        ]
    )
    yaw = np.array([[1, 0, 0], [0, 1, 0], [motion.yaw_perspective * math.sin(phase + 1.0), 0, 1]])
    return back @ rotate @ yaw @ to_centre


def write_sample(out_dir: Path, motion: SampleMotion = SampleMotion()) -> list[Path]:
    """Write the sample frames and intrinsics.json into ``out_dir``; returns the frame paths."""
    photo = _source_photo(motion.width, motion.height)
    centre = (0.5 * motion.width, 0.42 * motion.height)
    (out_dir / "frames").mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(motion.frames):
        warp = _motion_homography(i / motion.frames, centre, motion)
        frame = cv2.warpPerspective(
            photo, warp, (motion.width, motion.height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        path = out_dir / "frames" / f"{i:06d}.jpg"
        cv2.imwrite(str(path), frame, [cv2.IMWRITE_JPEG_QUALITY, motion.jpeg_quality])
        paths.append(path)
    intrinsics = Intrinsics.from_fov(motion.width, motion.height, motion.hfov_deg).as_dict()
    (out_dir / "intrinsics.json").write_text(json.dumps(intrinsics, indent=2) + "\n", encoding="utf-8")
    return paths


if __name__ == "__main__":
    written = write_sample(sample_dir())
    print(f"wrote {len(written)} frames to {sample_dir()}")

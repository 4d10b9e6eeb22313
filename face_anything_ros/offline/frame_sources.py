"""Frames from a video file, an image folder (or sequence folder) or a single image, as RGB uint8."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from face_anything_ros.core.camera import Intrinsics
from face_anything_ros.core.sequence_format import INTRINSICS_FILE, read_intrinsics

LOGGER = logging.getLogger(__name__)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
DEFAULT_FOLDER_FPS = 10.0  # stamps for image folders, which carry no timing


class InputError(ValueError):
    """The input cannot be read (reason in the message)."""


@dataclass
class FrameSource:
    """An opened input: frame count (None when unknown), rate, and intrinsics if it ships them."""

    path: Path
    kind: str  # "video", "folder" or "image"
    count: int | None
    fps: float
    intrinsics: Intrinsics | None
    _files: list[Path]

    def frames(self) -> Iterator[tuple[int, np.ndarray, float]]:
        """(index, rgb, stamp_s) for every readable frame; unreadable images are skipped with a warning."""
        if self.kind == "video":
            yield from self._video_frames()
            return
        for index, path in enumerate(self._files):
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                LOGGER.warning("skipping unreadable image %s", path)
                continue
            yield index, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), index / self.fps

    def _video_frames(self) -> Iterator[tuple[int, np.ndarray, float]]:
        capture = cv2.VideoCapture(str(self.path))
        try:
            index = 0
            while True:
                ok, bgr = capture.read()
                if not ok:
                    return
                yield index, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), index / self.fps
                index += 1
        finally:
            capture.release()


def _read_intrinsics(folder: Path) -> Intrinsics | None:
    """The folder's ``intrinsics.json`` (the sequence-folder reader's checks), None when absent or bad."""
    if not (folder / INTRINSICS_FILE).is_file():
        return None
    try:
        return Intrinsics.from_mapping(read_intrinsics(folder))
    except ValueError as exc:
        LOGGER.warning("ignoring %s", exc)
        return None


def open_frames(path: str | Path) -> FrameSource:
    """Open a video, an image folder (a sequence folder's ``frames/`` is used) or one image."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"input {path} does not exist")
    if path.is_dir():
        folder = path / "frames" if (path / "frames").is_dir() else path
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InputError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
        intrinsics = _read_intrinsics(path) or _read_intrinsics(folder)
        return FrameSource(path, "folder", len(files), DEFAULT_FOLDER_FPS, intrinsics, files)
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return FrameSource(path, "image", 1, DEFAULT_FOLDER_FPS, _read_intrinsics(path.parent), [path])
    if suffix in VIDEO_SUFFIXES:
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            raise InputError(f"cannot open video {path} (unsupported codec or corrupt file)")
        fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        capture.release()
        return FrameSource(path, "video", count or None, fps if fps > 0 else DEFAULT_FOLDER_FPS, None, [])
    raise InputError(
        f"{path}: not a video ({', '.join(VIDEO_SUFFIXES)}), an image ({', '.join(IMAGE_SUFFIXES)}) or a folder"
    )

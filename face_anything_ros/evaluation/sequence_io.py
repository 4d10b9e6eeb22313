"""Reading sequence folders for evaluation, tolerating missing or broken parts.

Evaluation must score whatever a folder's ground truth allows: frames and intrinsics
are required (without them nothing can run); depth, mask and tracks are optional, and
a broken optional part (wrong size, NaN everywhere, missing keys) is dropped with a
reason that ends up in the report, instead of stopping the run. The shared strict
reader (``sequence_format.read_sequence``) rejects a whole folder for any bad part, so
evaluation reads part by part here; writing goes through ``sequence_format``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

LOG = logging.getLogger(__name__)
INTRINSICS_KEYS = ("fx", "fy", "cx", "cy", "width", "height")


class SequenceError(RuntimeError):
    """A sequence folder cannot be evaluated at all (one-line reason in the message)."""


@dataclass
class EvalSequence:
    """A sequence as evaluation sees it; optional parts are None with a reason in ``skipped``."""

    name: str
    folder: Path
    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    frame_names: list[str]
    intrinsics: dict[str, float]
    depth: np.ndarray | None = None  # (T, H, W) float32 metres, NaN unknown
    mask: np.ndarray | None = None  # (T, H, W) bool
    queries: np.ndarray | None = None  # (N, 3)
    tracks: np.ndarray | None = None  # (T, N, 2)
    visible: np.ndarray | None = None  # (T, N) bool
    # synthetic extra (canonical/*.npy): ground-truth canonical maps, for the lookup oracle only
    canonical: np.ndarray | None = None  # (T, H, W, 3) float32, NaN off-face
    skipped: list[str] = field(default_factory=list)

    @property
    def image_hw(self) -> tuple[int, int]:
        return int(self.frames.shape[1]), int(self.frames.shape[2])


def is_sequence_folder(path: Path) -> bool:
    return (path / "frames").is_dir()


def discover_sequences(paths: list[Path]) -> list[Path]:
    """Each path is a sequence folder or a folder of them; raises SequenceError otherwise."""
    found: list[Path] = []
    for path in paths:
        if not path.is_dir():
            raise SequenceError(f"{path}: not a folder")
        if is_sequence_folder(path):
            found.append(path)
            continue
        children = sorted(p for p in path.iterdir() if p.is_dir() and is_sequence_folder(p))
        if not children:
            raise SequenceError(f"{path}: neither a sequence folder (no frames/) nor a folder of sequences")
        found.extend(children)
    return found


def _read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SequenceError(f"{path}: unreadable image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _read_intrinsics(folder: Path, image_hw: tuple[int, int]) -> dict[str, float]:
    path = folder / "intrinsics.json"
    if not path.is_file():
        raise SequenceError(f"{folder}: missing intrinsics.json")
    try:
        data = json.loads(path.read_text())
        intrinsics = {key: float(data[key]) for key in INTRINSICS_KEYS}
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise SequenceError(
            f"{path}: invalid intrinsics ({exc.__class__.__name__}: {exc}); need {INTRINSICS_KEYS}"
        ) from exc
    if not all(np.isfinite(v) for v in intrinsics.values()) or intrinsics["fx"] <= 0 or intrinsics["fy"] <= 0:
        raise SequenceError(
            f"{path}: intrinsics must be finite with positive focal lengths, got {intrinsics}"
        )
    if (int(intrinsics["height"]), int(intrinsics["width"])) != image_hw:
        raise SequenceError(
            f"{path}: intrinsics size {int(intrinsics['width'])}x{int(intrinsics['height'])} "
            f"does not match the frames ({image_hw[1]}x{image_hw[0]})"
        )
    return intrinsics


def _read_stack(
    folder: Path, frame_stems: list[str], suffix: str, reader, image_hw, what: str, skipped: list[str]
):
    """Per-frame maps of one optional kind, or None (with a reason) if any is missing or misshapen."""
    if not folder.is_dir():
        skipped.append(f"no {what}/ folder: {what} metrics skipped")
        return None
    maps = []
    for stem in frame_stems:
        path = folder / f"{stem}{suffix}"
        if not path.is_file():
            skipped.append(f"{what}/{stem}{suffix} missing: {what} metrics skipped")
            return None
        try:
            value = reader(path)
        except (OSError, ValueError) as exc:
            skipped.append(f"{what}/{path.name} unreadable ({exc}): {what} metrics skipped")
            return None
        if value is None or value.shape[:2] != image_hw:
            shape = None if value is None else value.shape
            skipped.append(
                f"{what}/{path.name} has shape {shape}, frames are {image_hw}: {what} metrics skipped"
            )
            return None
        maps.append(value)
    return np.stack(maps)


def _read_depth(path: Path) -> np.ndarray:
    depth = np.load(path).astype(np.float32)
    depth[depth <= 0] = np.nan  # 0 means unknown in the format
    return depth


def _read_canonical(path: Path) -> np.ndarray | None:
    canonical = np.load(path).astype(np.float32)
    return canonical if canonical.ndim == 3 and canonical.shape[2] == 3 else None


def _read_mask(path: Path) -> np.ndarray | None:
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    return None if mask is None else mask > 127


def _read_tracks(folder: Path, num_frames: int, keep_frames: int, skipped: list[str]):
    """Ground-truth tracks validated against the folder's frame count, cut to ``keep_frames``."""
    path = folder / "tracks.npz"
    if not path.is_file():
        skipped.append("no tracks.npz: tracking metrics skipped")
        return None
    try:
        with np.load(path) as data:
            queries = np.asarray(data["queries"], dtype=np.float64)
            tracks = np.asarray(data["tracks"], dtype=np.float64)
            visible = np.asarray(data["visible"]).astype(bool)
    except (OSError, ValueError, KeyError) as exc:
        skipped.append(f"tracks.npz unreadable or incomplete ({exc}): tracking metrics skipped")
        return None
    n = len(queries)
    if (
        queries.ndim != 2
        or queries.shape[1] != 3
        or tracks.shape != (num_frames, n, 2)
        or visible.shape != (num_frames, n)
    ):
        skipped.append(
            f"tracks.npz shapes queries {queries.shape}, tracks {tracks.shape}, visible {visible.shape} "
            f"do not fit {num_frames} frames: tracking metrics skipped"
        )
        return None
    if n == 0:
        skipped.append("tracks.npz has no queries: tracking metrics skipped")
        return None
    query_frames = queries[:, 0]
    if np.any(query_frames < 0) or np.any(query_frames >= num_frames) or not np.all(np.isfinite(queries)):
        skipped.append(
            "tracks.npz has query frames outside the sequence or non-finite queries: tracking metrics skipped"
        )
        return None
    if keep_frames < num_frames:
        kept = query_frames < keep_frames
        queries, tracks, visible = queries[kept], tracks[:keep_frames, kept], visible[:keep_frames, kept]
        if not kept.any():
            skipped.append(f"no query lies in the first {keep_frames} frames: tracking metrics skipped")
            return None
    return queries, tracks, visible


def load_sequence(folder: Path, max_frames: int | None = None) -> EvalSequence:
    """Read a sequence folder; raises SequenceError when frames or intrinsics are unusable."""
    folder = Path(folder)
    frame_dir = folder / "frames"
    if not frame_dir.is_dir():
        raise SequenceError(f"{folder}: missing frames/ folder")
    frame_paths = sorted(frame_dir.glob("*.png"))
    if not frame_paths:
        raise SequenceError(f"{frame_dir}: no .png frames")
    total_frames = len(frame_paths)
    if max_frames is not None:
        frame_paths = frame_paths[:max_frames]
    frames = [_read_rgb(p) for p in frame_paths]
    shapes = {f.shape for f in frames}
    if len(shapes) != 1:
        raise SequenceError(f"{frame_dir}: frames differ in size {sorted(shapes)}")
    stack = np.stack(frames)
    image_hw = (stack.shape[1], stack.shape[2])
    seq = EvalSequence(
        name=folder.name,
        folder=folder,
        frames=stack,
        frame_names=[p.stem for p in frame_paths],
        intrinsics=_read_intrinsics(folder, image_hw),
    )
    seq.depth = _read_stack(
        folder / "depth", seq.frame_names, ".npy", _read_depth, image_hw, "depth", seq.skipped
    )
    if seq.depth is not None and not np.isfinite(seq.depth).any():
        seq.skipped.append("depth is NaN/0 everywhere: depth metrics skipped")
        seq.depth = None
    if (folder / "mask").is_dir():
        seq.mask = _read_stack(
            folder / "mask", seq.frame_names, ".png", _read_mask, image_hw, "mask", seq.skipped
        )
    if seq.mask is None and seq.depth is not None:
        seq.skipped.append("no usable face mask: depth scored on all pixels with finite ground-truth depth")
    if (folder / "canonical").is_dir():
        seq.canonical = _read_stack(
            folder / "canonical", seq.frame_names, ".npy", _read_canonical, image_hw, "canonical", seq.skipped
        )
    loaded = _read_tracks(folder, total_frames, len(frame_paths), seq.skipped)
    if loaded is not None:
        seq.queries, seq.tracks, seq.visible = loaded
    for reason in seq.skipped:
        LOG.warning("%s: %s", seq.name, reason)
    return seq


def write_ground_truth(
    folder: Path,
    frames: np.ndarray,
    intrinsics: dict[str, float],
    queries: np.ndarray,
    tracks: np.ndarray,
    visible: np.ndarray,
) -> None:
    """Write frames, intrinsics and tracks in the evaluation format (the shared writer; no depth / mask)."""
    from face_anything_ros.core.sequence_format import SequenceData, write_sequence

    write_sequence(
        folder,
        SequenceData(
            frames=np.asarray(frames, dtype=np.uint8),
            intrinsics=dict(intrinsics),
            queries=np.asarray(queries, dtype=np.float32),
            tracks=np.asarray(tracks, dtype=np.float32),
            visible=np.asarray(visible, dtype=bool),
        ),
    )


def write_predictions(
    folder: Path,
    frame_names: list[str],
    tracks: np.ndarray | None,
    visible: np.ndarray | None,
    queries: np.ndarray | None,
    depth: np.ndarray | None,
) -> None:
    """Write one method's predictions in the ground-truth format (tracks.npz, depth/*.npy metres)."""
    folder.mkdir(parents=True, exist_ok=True)
    if tracks is not None and visible is not None:
        np.savez_compressed(
            folder / "tracks.npz",
            queries=np.asarray(queries, dtype=np.float32),
            tracks=np.asarray(tracks, dtype=np.float32),
            visible=np.asarray(visible, dtype=bool),
        )
    if depth is not None:
        (folder / "depth").mkdir(exist_ok=True)
        for name, frame_depth in zip(frame_names, depth, strict=True):
            np.save(folder / "depth" / f"{name}.npy", np.asarray(frame_depth, dtype=np.float32))

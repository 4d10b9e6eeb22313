"""Reading sequence folders for evaluation, tolerating missing or broken parts.

Evaluation must score whatever a folder's ground truth allows: frames and intrinsics
are required (without them nothing can run); depth, mask and tracks are optional, and
a broken optional part (wrong size, NaN everywhere, missing keys) is dropped with a
reason that ends up in the report, instead of stopping the run. The part readers and
their validation are core/sequence_format.py's (whose ``read_sequence`` rejects a whole
folder for any bad part); this module only decides what to skip. Writing goes through
``sequence_format`` too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from face_anything_ros.core.sequence_format import (
    CANONICAL_DIR,
    DEPTH_DIR,
    FRAMES_DIR,
    INSTANCES_DIR,
    MASK_DIR,
    TRACKS_FILE,
    SequenceData,
    read_canonical,
    read_depth,
    read_instances,
    read_intrinsics,
    read_mask,
    read_rgb,
    read_tracks,
    write_sequence,
)

LOG = logging.getLogger(__name__)


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
    # (T, H, W) int32 ground-truth face per pixel (0, 1, …; -1 off-face): the instances/ labels where the
    # sequence has them, else the mask's connected parts (``method.ground_truth_faces``)
    face_labels: np.ndarray | None = None
    queries: np.ndarray | None = None  # (N, 3)
    tracks: np.ndarray | None = None  # (T, N, 2)
    visible: np.ndarray | None = None  # (T, N) bool
    # synthetic extra (canonical/*.npy): ground-truth canonical maps, for the lookup oracle only
    canonical: np.ndarray | None = None  # (T, H, W, 3) float32, NaN off-face
    skipped: list[str] = field(default_factory=list)

    @property
    def image_hw(self) -> tuple[int, int]:
        return int(self.frames.shape[1]), int(self.frames.shape[2])


def _face_labels(folder: Path, seq: EvalSequence, hw: tuple[int, int]) -> np.ndarray:
    from face_anything_ros.evaluation.method import ground_truth_faces

    instances = None
    if (folder / INSTANCES_DIR).is_dir():
        instances = _read_stack(
            folder / INSTANCES_DIR,
            seq.frame_names,
            ".png",
            lambda p: read_instances(p, hw),
            "instances",
            seq.skipped,
        )
    frames = instances if instances is not None else [None] * len(seq.mask)
    return np.stack([ground_truth_faces(m, i)[0] for m, i in zip(seq.mask, frames, strict=True)])


def is_sequence_folder(path: Path) -> bool:
    return (path / FRAMES_DIR).is_dir()


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


def _read_stack(folder: Path, frame_stems: list[str], suffix: str, reader, what: str, skipped: list[str]):
    """Per-frame maps of one optional kind, or None (with a reason) if any is missing or unusable."""
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
            maps.append(reader(path))
        except (OSError, ValueError) as exc:
            skipped.append(f"{what}/{path.name} unusable ({exc}): {what} metrics skipped")
            return None
    return np.stack(maps)


def _read_tracks(folder: Path, num_frames: int, keep_frames: int, skipped: list[str]):
    """Ground-truth tracks validated against the folder's frame count, cut to ``keep_frames``."""
    if not (folder / TRACKS_FILE).is_file():
        skipped.append(f"no {TRACKS_FILE}: tracking metrics skipped")
        return None
    try:
        queries, tracks, visible = read_tracks(folder, num_frames)
    except (OSError, ValueError) as exc:
        skipped.append(f"{TRACKS_FILE} unusable ({exc}): tracking metrics skipped")
        return None
    if len(queries) == 0:
        skipped.append(f"{TRACKS_FILE} has no queries: tracking metrics skipped")
        return None
    queries, tracks = queries.astype(np.float64), tracks.astype(np.float64)
    if keep_frames < num_frames:
        kept = queries[:, 0] < keep_frames
        queries, tracks, visible = queries[kept], tracks[:keep_frames, kept], visible[:keep_frames, kept]
        if not kept.any():
            skipped.append(f"no query lies in the first {keep_frames} frames: tracking metrics skipped")
            return None
    return queries, tracks, visible


def load_sequence(folder: Path, max_frames: int | None = None) -> EvalSequence:
    """Read a sequence folder; raises SequenceError when frames or intrinsics are unusable."""
    folder = Path(folder)
    frame_dir = folder / FRAMES_DIR
    if not frame_dir.is_dir():
        raise SequenceError(f"{folder}: missing {FRAMES_DIR}/ folder")
    frame_paths = sorted(frame_dir.glob("*.png"))
    if not frame_paths:
        raise SequenceError(f"{frame_dir}: no .png frames")
    total_frames = len(frame_paths)
    if max_frames is not None:
        frame_paths = frame_paths[:max_frames]
    try:
        frames = [read_rgb(p) for p in frame_paths]
        shapes = {f.shape for f in frames}
        if len(shapes) != 1:
            raise ValueError(f"{frame_dir}: frames differ in size {sorted(shapes)}")
        stack = np.stack(frames)
        hw = (stack.shape[1], stack.shape[2])
        intrinsics = read_intrinsics(folder, hw)
    except (OSError, ValueError) as exc:
        raise SequenceError(str(exc)) from exc
    seq = EvalSequence(
        name=folder.name,
        folder=folder,
        frames=stack,
        frame_names=[p.stem for p in frame_paths],
        intrinsics=intrinsics,
    )
    seq.depth = _read_stack(
        folder / DEPTH_DIR, seq.frame_names, ".npy", lambda p: read_depth(p, hw), "depth", seq.skipped
    )
    if seq.depth is not None and not np.isfinite(seq.depth).any():
        seq.skipped.append("depth is NaN/0 everywhere: depth metrics skipped")
        seq.depth = None
    if (folder / MASK_DIR).is_dir():
        seq.mask = _read_stack(
            folder / MASK_DIR, seq.frame_names, ".png", lambda p: read_mask(p, hw), "mask", seq.skipped
        )
    if seq.mask is not None:
        seq.face_labels = _face_labels(folder, seq, hw)
    if seq.mask is None and seq.depth is not None:
        seq.skipped.append("no usable face mask: depth scored on all pixels with finite ground-truth depth")
    if (folder / CANONICAL_DIR).is_dir():
        seq.canonical = _read_stack(
            folder / CANONICAL_DIR,
            seq.frame_names,
            ".npy",
            lambda p: read_canonical(p, hw),
            "canonical",
            seq.skipped,
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

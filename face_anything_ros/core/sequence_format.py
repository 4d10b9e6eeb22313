"""Reader/writer of the evaluation sequence-folder format (docs/ARCHITECTURE.md, "Evaluation format").

A sequence folder::

    frames/000000.png …     RGB frames (all the same size)
    intrinsics.json         {"fx", "fy", "cx", "cy", "width", "height"}
    depth/000000.npy …      float32 metres, NaN (or 0) where unknown        (optional)
    mask/000000.png …       255 = face                                       (optional)
    instances/000000.png …  k + 1 on the pixels of face k, 0 elsewhere       (optional)
    tracks.npz              queries (N, 3: t, x, y), tracks (T, N, 2), visible (T, N)  (optional)

Extra ground truth written by the synthetic generator (ignored by other readers):
``canonical/000000.npy`` (H, W, 3) float16 canonical coordinates (NaN off-face) and
``query_canonical.npy`` (N, 3) canonical coordinate of every track.

Bad input raises ``FileNotFoundError`` or ``ValueError`` naming the offending file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

FRAMES_DIR = "frames"
DEPTH_DIR = "depth"
MASK_DIR = "mask"
INSTANCES_DIR = "instances"
CANONICAL_DIR = "canonical"
INTRINSICS_FILE = "intrinsics.json"
TRACKS_FILE = "tracks.npz"
QUERY_CANONICAL_FILE = "query_canonical.npy"
INTRINSIC_KEYS = ("fx", "fy", "cx", "cy", "width", "height")


@dataclass
class SequenceData:
    """One sequence in memory; optional parts are None when absent."""

    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    intrinsics: dict[str, float]  # fx, fy, cx, cy, width, height
    depth: np.ndarray | None = None  # (T, H, W) float32 metres, NaN unknown
    mask: np.ndarray | None = None  # (T, H, W) bool
    instances: np.ndarray | None = None  # (T, H, W) uint8: face k + 1 on its pixels, 0 elsewhere
    queries: np.ndarray | None = None  # (N, 3) float32 t, x, y
    tracks: np.ndarray | None = None  # (T, N, 2) float32
    visible: np.ndarray | None = None  # (T, N) bool
    canonical: np.ndarray | None = None  # (T, H, W, 3) float32, NaN off-face (synthetic extra)
    query_canonical: np.ndarray | None = None  # (N, 3) float32 (synthetic extra)

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width)."""
        return int(self.frames.shape[1]), int(self.frames.shape[2])


def frame_name(index: int, suffix: str) -> str:
    return f"{index:06d}{suffix}"


def _as_sequence(seq: SequenceData | Mapping[str, Any]) -> SequenceData:
    if isinstance(seq, SequenceData):
        return seq
    if "frames" not in seq or "intrinsics" not in seq:
        raise ValueError("a sequence needs at least 'frames' and 'intrinsics'")
    fields = SequenceData.__dataclass_fields__
    return SequenceData(**{k: v for k, v in seq.items() if k in fields})


def _check_intrinsics(
    intrinsics: Mapping[str, Any], where: str, hw: tuple[int, int] | None
) -> dict[str, float]:
    if not isinstance(intrinsics, Mapping):
        raise ValueError(f"{where}: intrinsics must be a JSON object with keys {', '.join(INTRINSIC_KEYS)}")
    missing = [k for k in INTRINSIC_KEYS if k not in intrinsics]
    if missing:
        raise ValueError(f"{where}: missing intrinsics key(s) {', '.join(missing)}")
    out: dict[str, float] = {}
    for key in INTRINSIC_KEYS:
        value = intrinsics[key]
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise ValueError(f"{where}: intrinsics '{key}' must be a number, got {value!r}")
        if not math.isfinite(float(value)):
            raise ValueError(f"{where}: intrinsics '{key}' is not finite ({value!r})")
        out[key] = float(value)
    if out["fx"] <= 0 or out["fy"] <= 0:
        raise ValueError(f"{where}: focal lengths must be positive, got fx={out['fx']}, fy={out['fy']}")
    out["width"], out["height"] = int(out["width"]), int(out["height"])
    if hw is not None and (out["height"], out["width"]) != hw:
        raise ValueError(
            f"{where}: width x height {out['width']}x{out['height']} does not match the frames ({hw[1]}x{hw[0]})"
        )
    return out


def _check_tracks(
    queries: np.ndarray, tracks: np.ndarray, visible: np.ndarray, num_frames: int, where: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    queries = np.asarray(queries, dtype=np.float32)
    tracks = np.asarray(tracks, dtype=np.float32)
    visible = np.asarray(visible)
    if queries.ndim != 2 or queries.shape[1] != 3:
        raise ValueError(f"{where}: 'queries' must be N x 3 (t, x, y), got shape {queries.shape}")
    n = queries.shape[0]
    if tracks.shape != (num_frames, n, 2):
        raise ValueError(f"{where}: 'tracks' must be T x N x 2 = {(num_frames, n, 2)}, got {tracks.shape}")
    if visible.shape != (num_frames, n):
        raise ValueError(f"{where}: 'visible' must be T x N = {(num_frames, n)}, got {visible.shape}")
    visible = visible.astype(bool)
    if not np.all(np.isfinite(queries)):
        raise ValueError(f"{where}: 'queries' contains NaN or inf")
    if np.any(queries[:, 0] < 0) or np.any(queries[:, 0] > num_frames - 1) or np.any(queries[:, 0] % 1 != 0):
        raise ValueError(f"{where}: query frame indices must be integers in [0, {num_frames - 1}]")
    if not np.all(np.isfinite(tracks[visible])):
        raise ValueError(f"{where}: 'tracks' has NaN or inf at visible points")
    return queries, tracks, visible


def _check_maps(seq: SequenceData, hw: tuple[int, int]) -> None:
    t = seq.num_frames
    for name, array, tail in (
        ("depth", seq.depth, ()),
        ("mask", seq.mask, ()),
        ("instances", seq.instances, ()),
        ("canonical", seq.canonical, (3,)),
    ):
        if array is not None and array.shape != (t, *hw, *tail):
            raise ValueError(f"'{name}' must have shape {(t, *hw, *tail)}, got {array.shape}")


def write_sequence(folder: str | Path, seq: SequenceData | Mapping[str, Any]) -> Path:
    """Write a sequence (SequenceData or the generator's dict) in the evaluation format."""
    data = _as_sequence(seq)
    frames = np.asarray(data.frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"'frames' must be T x H x W x 3 uint8, got {frames.shape} {frames.dtype}")
    hw = (frames.shape[1], frames.shape[2])
    intrinsics = _check_intrinsics(data.intrinsics, "intrinsics", hw)
    _check_maps(data, hw)
    folder = Path(folder)
    for sub in (FRAMES_DIR, DEPTH_DIR, MASK_DIR, INSTANCES_DIR, CANONICAL_DIR):
        if sub == FRAMES_DIR or getattr(data, sub) is not None:
            (folder / sub).mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        path = folder / FRAMES_DIR / frame_name(i, ".png")
        if not cv2.imwrite(str(path), np.ascontiguousarray(frame[..., ::-1])):
            raise OSError(f"could not write {path}")
        if data.depth is not None:
            np.save(folder / DEPTH_DIR / frame_name(i, ".npy"), np.asarray(data.depth[i], dtype=np.float32))
        if data.mask is not None:
            cv2.imwrite(
                str(folder / MASK_DIR / frame_name(i, ".png")),
                np.asarray(data.mask[i], bool).astype(np.uint8) * 255,
            )
        if data.instances is not None:
            cv2.imwrite(
                str(folder / INSTANCES_DIR / frame_name(i, ".png")), np.asarray(data.instances[i], np.uint8)
            )
        if data.canonical is not None:
            np.save(
                folder / CANONICAL_DIR / frame_name(i, ".npy"),
                np.asarray(data.canonical[i], dtype=np.float16),
            )
    (folder / INTRINSICS_FILE).write_text(json.dumps(intrinsics, indent=2) + "\n", encoding="utf-8")
    if data.queries is not None:
        if data.tracks is None or data.visible is None:
            raise ValueError("'queries' needs 'tracks' and 'visible'")
        q, tr, vis = _check_tracks(data.queries, data.tracks, data.visible, data.num_frames, "tracks")
        np.savez_compressed(folder / TRACKS_FILE, queries=q, tracks=tr, visible=vis)
        if data.query_canonical is not None:
            np.save(folder / QUERY_CANONICAL_FILE, np.asarray(data.query_canonical, dtype=np.float32))
    return folder


def _numbered_files(folder: Path, suffix: str, expected: int | None) -> list[Path]:
    files = sorted(folder.glob(f"*{suffix}"))
    if not files:
        raise FileNotFoundError(f"{folder}: no *{suffix} files")
    names = {f.name for f in files}
    count = expected if expected is not None else len(files)
    for i in range(count):
        if frame_name(i, suffix) not in names:
            raise FileNotFoundError(f"{folder / frame_name(i, suffix)} is missing")
    extra = len(files) - count
    if extra:
        raise ValueError(
            f"{folder}: {len(files)} {suffix} files but {count} frames (expected {frame_name(0, suffix)} …)"
        )
    return [folder / frame_name(i, suffix) for i in range(count)]


def read_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file (ValueError naming it when unreadable)."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path}: not a readable image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_mask(path: Path, hw: tuple[int, int]) -> np.ndarray:
    """(H, W) bool face mask of a mask PNG (255 = face)."""
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise ValueError(f"{path}: not a readable PNG image")
    if mask.shape != hw:
        raise ValueError(f"{path}: shape {mask.shape}, frames are {hw[1]}x{hw[0]}")
    return mask > 127


def read_instances(path: Path, hw: tuple[int, int]) -> np.ndarray:
    """(H, W) uint8 face instance labels of an instances PNG (k + 1 = face k, 0 = none)."""
    labels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if labels is None or labels.ndim != 2 or labels.dtype != np.uint8:
        raise ValueError(f"{path}: not a readable single-channel 8-bit PNG image")
    if labels.shape != hw:
        raise ValueError(f"{path}: shape {labels.shape}, frames are {hw[1]}x{hw[0]}")
    return labels


def read_depth(path: Path, hw: tuple[int, int]) -> np.ndarray:
    """(H, W) float32 metres of a depth .npy, NaN where unknown (NaN or 0 in the file)."""
    depth = _read_npy(path, hw).astype(np.float32)
    if np.any(np.isinf(depth)) or np.any(depth < 0):
        raise ValueError(f"{path}: depth must be finite and >= 0 (NaN or 0 = unknown)")
    depth[depth == 0] = np.nan
    return depth


def read_canonical(path: Path, hw: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) float32 canonical coordinates of a canonical .npy (NaN off-face)."""
    return _read_npy(path, (*hw, 3)).astype(np.float32)


def read_intrinsics(folder: Path, hw: tuple[int, int] | None = None) -> dict[str, float]:
    """The folder's validated ``intrinsics.json`` (checked against the frames' (H, W) when given)."""
    path = Path(folder) / INTRINSICS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: invalid JSON ({exc})") from exc
    return _check_intrinsics(raw, str(path), hw)


def read_tracks(folder: Path, num_frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The folder's validated ``tracks.npz``: queries (N, 3), tracks (T, N, 2), visible (T, N)."""
    path = Path(folder) / TRACKS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing")
    return _check_tracks(*_read_tracks_npz(path), num_frames, str(path))


def _read_npy(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable .npy array ({exc})") from exc
    if array.shape != shape:
        raise ValueError(f"{path}: shape {array.shape}, expected {shape}")
    return array


def _read_tracks_npz(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        npz = np.load(path, allow_pickle=False)
    except Exception as exc:  # numpy raises ValueError/OSError/BadZipFile for damaged files
        raise ValueError(f"{path}: not a readable .npz archive ({exc})") from exc
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: not an .npz archive")
    with npz:
        missing = [k for k in ("queries", "tracks", "visible") if k not in npz.files]
        if missing:
            raise ValueError(f"{path}: missing array(s) {', '.join(missing)}")
        try:
            return npz["queries"], npz["tracks"], npz["visible"]
        except Exception as exc:
            raise ValueError(f"{path}: damaged array ({exc})") from exc


def read_sequence(folder: str | Path) -> SequenceData:
    """Read and validate a sequence folder (see module docs); any bad part rejects the folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: sequence folder not found")
    frames_dir = folder / FRAMES_DIR
    if not frames_dir.is_dir():
        raise FileNotFoundError(f"{frames_dir}: frames folder not found")
    frame_files = _numbered_files(frames_dir, ".png", None)
    frames = []
    for path in frame_files:
        frame = read_rgb(path)
        if frames and frame.shape != frames[0].shape:
            raise ValueError(
                f"{path}: size {frame.shape[1]}x{frame.shape[0]} differs from {frame_files[0].name}"
            )
        frames.append(frame)
    stack = np.stack(frames)
    t, hw = len(frames), stack.shape[1:3]
    data = SequenceData(frames=stack, intrinsics=read_intrinsics(folder, hw))
    if (folder / DEPTH_DIR).is_dir():
        data.depth = np.stack([read_depth(p, hw) for p in _numbered_files(folder / DEPTH_DIR, ".npy", t)])
    if (folder / MASK_DIR).is_dir():
        data.mask = np.stack([read_mask(p, hw) for p in _numbered_files(folder / MASK_DIR, ".png", t)])
    if (folder / INSTANCES_DIR).is_dir():
        files = _numbered_files(folder / INSTANCES_DIR, ".png", t)
        data.instances = np.stack([read_instances(p, hw) for p in files])
    if (folder / CANONICAL_DIR).is_dir():
        files = _numbered_files(folder / CANONICAL_DIR, ".npy", t)
        data.canonical = np.stack([read_canonical(p, hw) for p in files])
    if (folder / TRACKS_FILE).exists():
        data.queries, data.tracks, data.visible = read_tracks(folder, t)
        qpath = folder / QUERY_CANONICAL_FILE
        if qpath.exists():
            data.query_canonical = _read_npy(qpath, (len(data.queries), 3)).astype(np.float32)
    return data

"""A contact sheet (one PNG) of synthetic sequences: frames, canonical colour map, depth, tracks."""

from __future__ import annotations

import cv2
import numpy as np

from face_anything_ros.core.colormap import colorize_depth
from face_anything_ros.core.face_template import canonical_to_rgb
from face_anything_ros.core.sequence_format import SequenceData

TILE = 160
FRAMES_PER_ROW = 3


def _tile(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    scale = TILE / max(h, w)
    resized = cv2.resize(
        image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
    )
    canvas = np.zeros((TILE, TILE, 3), np.uint8)
    canvas[: resized.shape[0], : resized.shape[1]] = resized
    return canvas


def _frame_with_tracks(seq: SequenceData, t: int) -> np.ndarray:
    frame = seq.frames[t].copy()
    if seq.tracks is not None and seq.visible is not None:
        radius = max(1, round(max(frame.shape[:2]) / 200))
        for (x, y), vis in zip(seq.tracks[t], seq.visible[t], strict=True):
            if vis:
                cv2.circle(frame, (round(float(x)), round(float(y))), radius, (0, 255, 0), -1)
    return frame


def contact_sheet(sequences: list[SequenceData]) -> np.ndarray:
    """Rows = sequences; each row shows FRAMES_PER_ROW frames as (frame+tracks, canonical, depth)."""
    rows = []
    for seq in sequences:
        idx = np.linspace(0, seq.num_frames - 1, min(FRAMES_PER_ROW, seq.num_frames)).round().astype(int)
        tiles = []
        for t in idx:
            tiles.append(_tile(_frame_with_tracks(seq, int(t))))
            if seq.canonical is not None:
                tiles.append(_tile(canonical_to_rgb(seq.canonical[t])))
            if seq.depth is not None:
                tiles.append(_tile(colorize_depth(seq.depth[t])))
        rows.append(np.concatenate(tiles, axis=1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    return np.concatenate(rows, axis=0)


def crops_sheet(batch: dict[str, np.ndarray], columns: int = 8) -> np.ndarray:
    """Grid of training crops: image row, canonical row, depth row per group of ``columns``."""
    n = batch["image"].shape[0]
    rows = []
    for start in range(0, n, columns):
        sl = slice(start, min(n, start + columns))
        rows.append(np.concatenate(list(batch["image"][sl]), axis=1))
        rows.append(np.concatenate(list(canonical_to_rgb(batch["canonical"][sl])), axis=1))
        rows.append(np.concatenate([colorize_depth(d) for d in batch["depth"][sl]], axis=1))
    width = max(r.shape[1] for r in rows)
    return np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows], axis=0)

"""Comparison methods run on the same sequences as the model.

Point trackers take ``frames`` (T, H, W, 3) uint8 RGB and ``queries`` (N, 3) rows of
(t, x, y) and return ``(tracks (T, N, 2), visible (T, N))``; a point is its query pixel
in its query frame. Chained trackers run forward from the query frame and backward for
earlier frames.
"""

from __future__ import annotations

import numpy as np


def empty_tracks(queries: np.ndarray, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Tracks initialised with NaN except each point's query pixel in its query frame."""
    queries = np.asarray(queries, dtype=np.float64)
    tracks = np.full((num_frames, len(queries), 2), np.nan, dtype=np.float64)
    visible = np.zeros((num_frames, len(queries)), dtype=bool)
    idx = np.arange(len(queries))
    frames = queries[:, 0].astype(np.int64)
    tracks[frames, idx] = queries[:, 1:3]
    visible[frames, idx] = True
    return tracks, visible


def chain_tracks(queries: np.ndarray, num_frames: int, step) -> tuple[np.ndarray, np.ndarray]:
    """Chain a two-frame point mover through the sequence, forward then backward.

    ``step(src_t, dst_t, points (M, 2)) -> (moved (M, 2), ok (M,), visible (M,))`` moves
    points from frame ``src_t`` to the neighbouring ``dst_t``. A point whose step fails
    (``ok`` False) is lost: it keeps its last position and is invisible from then on.
    """
    tracks, visible = empty_tracks(queries, num_frames)
    query_frames = np.asarray(queries)[:, 0].astype(np.int64)
    for direction in (1, -1):
        alive = np.zeros(len(query_frames), dtype=bool)
        last = np.full((len(query_frames), 2), np.nan)
        frame_order = range(num_frames) if direction == 1 else range(num_frames - 1, -1, -1)
        for src in frame_order:
            starting = query_frames == src
            alive |= starting
            last[starting] = tracks[src, starting]
            dst = src + direction
            if not 0 <= dst < num_frames:
                break
            active = np.flatnonzero(alive)
            if active.size:
                moved, ok, vis = step(src, dst, last[active])
                ok &= np.all(np.isfinite(moved), axis=1)
                last[active[ok]] = moved[ok]
                visible[dst, active[ok]] = vis[ok]
                alive[active[~ok]] = False
            # lost points hold their last position (invisible)
            holding = ~np.isnan(last[:, 0])
            tracks[dst, holding] = last[holding]
    return tracks, visible

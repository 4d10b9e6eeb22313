"""The depth colour map every picture uses: turbo, near = blue, far = red, black where unknown.

One convention for the node's and ``run``'s depth pictures, the synthetic contact sheet and the
training prediction grid, so a colour means the same distance ordering everywhere.
"""

from __future__ import annotations

import cv2
import numpy as np

# default stretch: the 2nd to 98th percentile of the valid depths (a few outliers do not flatten it)
DEPTH_PERCENTILES = (2.0, 98.0)


def colorize_depth(
    depth: np.ndarray,
    valid: np.ndarray | None = None,
    near_far: tuple[float, float] | None = None,
) -> np.ndarray:
    """(H, W, 3) uint8 RGB turbo picture of (metric or relative) depth.

    ``valid`` (H, W) bool limits the coloured pixels further than "finite" (e.g. a predicted
    mask); ``near_far`` fixes the range, else it stretches over ``DEPTH_PERCENTILES`` of them.
    """
    depth = np.asarray(depth, dtype=np.float32)
    shown = np.isfinite(depth) if valid is None else np.isfinite(depth) & np.asarray(valid, dtype=bool)
    out = np.zeros((*depth.shape, 3), dtype=np.uint8)
    if not np.any(shown):
        return out
    if near_far is None:
        near, far = (float(v) for v in np.percentile(depth[shown], DEPTH_PERCENTILES))
    else:
        near, far = near_far
    scaled = np.clip((np.where(shown, depth, far) - near) / max(far - near, 1e-6), 0.0, 1.0)
    colours = cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_TURBO)
    out[shown] = cv2.cvtColor(colours, cv2.COLOR_BGR2RGB)[shown]
    return out

"""Pictures of a pipeline result for people: the overlay and tiled grids (depth colours: core/colormap.py,
canonical colours: core/face_template.canonical_to_rgb)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from face_anything_ros.core.face_template import canonical_to_rgb


@dataclass(frozen=True)
class OverlayStyle:
    """Drawing choices for ``overlay_image``."""

    canonical_alpha: float = 0.55  # weight of the canonical colours over the face pixels
    box_colour: tuple[int, int, int] = (255, 220, 0)
    point_colour: tuple[int, int, int] = (255, 40, 40)
    point_radius: int = 3
    line_width: int = 2
    font_scale: float = 0.6


def overlay_image(rgb: np.ndarray, result: Any, style: OverlayStyle = OverlayStyle()) -> np.ndarray:
    """Input frame with canonical colours on the face, boxes, ids and tracked query points."""
    out = rgb.copy()
    rows, cols = np.nonzero(result.mask)
    canonical = result.canonical[rows, cols]
    finite = np.isfinite(canonical).all(axis=1)
    rows, cols = rows[finite], cols[finite]
    if rows.size:
        blend = canonical_to_rgb(canonical[finite]).astype(np.float32)
        out[rows, cols] = (
            (1.0 - style.canonical_alpha) * out[rows, cols].astype(np.float32) + style.canonical_alpha * blend
        ).astype(np.uint8)
    for face in result.faces:
        x0, y0, x1, y1 = (round(float(v)) for v in face.box_xyxy)
        cv2.rectangle(out, (x0, y0), (x1, y1), style.box_colour, style.line_width)
        score = float(face.score)
        label = f"id {face.track_id}" + (f"  {score:.2f}" if np.isfinite(score) else "")
        cv2.putText(
            out, label, (x0, max(y0 - 6, 12)), cv2.FONT_HERSHEY_SIMPLEX, style.font_scale, style.box_colour, 2
        )
        pixels = np.asarray(face.query_pixels, dtype=np.float32).reshape(-1, 2)
        visible = np.asarray(face.query_visible, dtype=bool).reshape(-1)
        for (u, v), seen in zip(pixels, visible, strict=False):
            if seen and np.isfinite(u) and np.isfinite(v):
                # query pixels use the corner-origin convention; cv2 draws at pixel centres
                centre = (round(u - 0.5), round(v - 0.5))
                cv2.circle(out, centre, style.point_radius, style.point_colour, -1)
    return out


def tile_grid(images: list[np.ndarray], columns: int, tile_width: int = 320) -> np.ndarray:
    """Images resized to one width and tiled row by row (empty cells black)."""
    if not images:
        raise ValueError("no images to tile")
    h, w = images[0].shape[:2]
    tile_height = round(tile_width * h / w)
    tiles = [cv2.resize(im, (tile_width, tile_height), interpolation=cv2.INTER_AREA) for im in images]
    rows = -(-len(tiles) // columns)
    grid = np.zeros((rows * tile_height, columns * tile_width, 3), dtype=np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        grid[r * tile_height : (r + 1) * tile_height, c * tile_width : (c + 1) * tile_width] = tile
    return grid

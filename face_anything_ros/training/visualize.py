"""Picture of predictions: input | GT canonical | predicted canonical | depth | mask."""

from __future__ import annotations

import cv2
import numpy as np

from face_anything_ros.core.colormap import colorize_depth
from face_anything_ros.core.face_template import canonical_to_rgb

COLUMNS = ("input", "GT canonical", "pred canonical", "pred depth", "pred mask")


def prediction_grid(batch: dict[str, np.ndarray], pred: dict[str, np.ndarray], rows: int = 6) -> np.ndarray:
    """RGB uint8 grid, one sample per row; predicted maps are shown where the predicted mask is on."""
    tiles = []
    for i in range(min(rows, len(batch["image"]))):
        mask = pred["mask_logits"][i][..., 0] > 0.0
        canonical = np.where(mask[..., None], pred["canonical"][i], np.nan)
        row = [
            batch["image"][i],
            canonical_to_rgb(batch["canonical"][i]),
            canonical_to_rgb(canonical),
            colorize_depth(pred["depth"][i][..., 0], mask),
            np.repeat((mask * 255).astype(np.uint8)[..., None], 3, axis=-1),
        ]
        tiles.append(np.concatenate(row, axis=1))
    grid = np.concatenate(tiles, axis=0)
    size = batch["image"].shape[1]
    header = np.full((18, grid.shape[1], 3), 255, np.uint8)
    for col, name in enumerate(COLUMNS):
        cv2.putText(header, name, (col * size + 3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1)
    return np.concatenate([header, grid], axis=0)


def save_prediction_grid(path: str, batch: dict[str, np.ndarray], pred: dict[str, np.ndarray]) -> None:
    cv2.imwrite(str(path), prediction_grid(batch, pred)[..., ::-1])

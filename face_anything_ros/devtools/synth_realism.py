"""Before/after picture of the generator's rendering (docs/images/synth_realism.png).

Two steps, so the "before" can come from an older checkout of the package:

    PYTHONPATH=/path/to/old/checkout python face_anything_ros/devtools/synth_realism.py render old.npz
    python face_anything_ros/devtools/synth_realism.py render new.npz
    python face_anything_ros/devtools/synth_realism.py sheet old.npz new.npz docs/images/synth_realism.png

``render`` uses only the generator's public API and config fields both versions know, with the
camera degradations off (noise, JPEG and blur would hide the rendering differences) and every
crop supersampled where the version supports it. Crops are shown at 1x, skin patches at 4x.
"""

from __future__ import annotations

import argparse
from dataclasses import fields

import cv2
import numpy as np

CROPS = 8
CROP_SIZE = 128
SEED = 3
ZOOM = 4  # skin patches are shown at 4x (nearest), crops at 1x
PATCH = CROP_SIZE // ZOOM  # crop pixels per skin patch, so a zoomed patch is as wide as a crop
PATCH_LANDMARK = 6  # template landmark at the patch centre (nose bridge: T-zone, highlights)
CLEAN_CAMERA = {
    "motion_blur_probability": 0.0,
    "defocus_probability": 0.0,
    "noise_std_range": (0.0, 0.0),
    "jpeg_probability": 0.0,
    "occluder_probability": 0.0,
    "supersample_probability": 1.0,
}


def render(path: str) -> None:
    """Save the crops (image, mask, canonical) of the package version on the import path."""
    from face_anything_ros.synth.config import SynthConfig
    from face_anything_ros.synth.generator import FaceSequenceGenerator

    known = {f.name for f in fields(SynthConfig)}
    config = SynthConfig(**{k: v for k, v in CLEAN_CAMERA.items() if k in known})
    batch = FaceSequenceGenerator(config, seed=SEED).sample_crops(CROPS, CROP_SIZE)
    np.savez_compressed(path, image=batch["image"], mask=batch["mask"], canonical=batch["canonical"])


def _patch_centre(mask: np.ndarray, canonical: np.ndarray, target: np.ndarray) -> tuple[int, int]:
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return mask.shape[0] // 2, mask.shape[1] // 2
    best = np.argmin(np.linalg.norm(canonical[ys, xs] - target, axis=1))
    half = PATCH // 2
    return (
        int(np.clip(ys[best], half, mask.shape[0] - half)),
        int(np.clip(xs[best], half, mask.shape[1] - half)),
    )


def _label(image: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((18, image.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, image], axis=0)


def sheet(old_path: str, new_path: str, out_path: str) -> None:
    """Rows: old crops, new crops, old skin patches, new skin patches (same seeds, same people)."""
    from face_anything_ros.core.face_template import load_face_template

    old, new = np.load(old_path), np.load(new_path)
    target = np.asarray(load_face_template().canonical)[PATCH_LANDMARK]
    rows: dict[str, list[np.ndarray]] = {"old": [], "new": [], "old 4x": [], "new 4x": []}
    for i in range(len(new["image"])):
        cy, cx = _patch_centre(new["mask"][i], new["canonical"][i], target)
        window = np.s_[cy - PATCH // 2 : cy + PATCH // 2, cx - PATCH // 2 : cx + PATCH // 2]
        for name, batch in (("old", old), ("new", new)):
            image = batch["image"][i]
            rows[name].append(image)
            rows[f"{name} 4x"].append(
                cv2.resize(image[window], None, fx=ZOOM, fy=ZOOM, interpolation=cv2.INTER_NEAREST)
            )
    labels = {
        "old": "before: point-sampled, per-vertex specular",
        "new": "after: 2x supersampled, pore micro-normals, sharp T-zone specular, tints",
        "old 4x": "before, 4x: skin around the nose bridge",
        "new 4x": "after, 4x",
    }
    picture = np.concatenate(
        [_label(np.concatenate(tiles, axis=1), labels[name]) for name, tiles in rows.items()]
    )
    cv2.imwrite(out_path, picture[..., ::-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("render")
    r.add_argument("out")
    s = sub.add_parser("sheet")
    s.add_argument("old")
    s.add_argument("new")
    s.add_argument("out")
    args = parser.parse_args()
    if args.command == "render":
        render(args.out)
    else:
        sheet(args.old, args.new, args.out)


if __name__ == "__main__":
    main()

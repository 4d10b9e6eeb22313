"""Measure the BlazeFace box -> landmark face box mapping (runtime/detection.py) on synthetic train frames.

The crop policy (core/crop.py) centres and scales every crop on the box of the 468 template landmarks,
the box the network was trained on. The face mesh reports those landmarks; BlazeFace, the cascade's
fallback where the mesh finds no face, reports a tighter eyes-to-mouth box that ``face_box_from_
detection_box`` maps with a fixed scale and shift. This tool renders train-split sequences (their
landmarks are known exactly), runs both BlazeFace models and the face mesh on every frame and prints
the medians of the mapping for every BlazeFace box matched to a face, and for those the face mesh
missed (the frames the fallback serves), with the crop IoU against the ground-truth crop under the
shipped constants and under the measured ones.

    python -m face_anything_ros.evaluation.detector_calibration --sequences 24 --frames 12 --seed 31

Use train-split seeds that no evaluation or choosing split uses; never the reserved photos.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, replace

import numpy as np
from tqdm import tqdm

from face_anything_ros.core.crop import CropBox, crop_box_from_face_box
from face_anything_ros.runtime import detection
from face_anything_ros.runtime.config import DetectionConfig
from face_anything_ros.runtime.ids import iou_matrix

MIN_MATCH_IOU = 0.2  # a detector box belongs to the ground-truth face it overlaps at least this much
MIN_INSIDE = 0.9  # faces with less of their landmark box in the image are skipped (clipped boxes)


@dataclass
class Matches:
    """Raw BlazeFace boxes matched to ground-truth landmark boxes, and whether the mesh found the face."""

    raw: list[np.ndarray] = field(default_factory=list)
    truth: list[np.ndarray] = field(default_factory=list)
    mesh_found: list[bool] = field(default_factory=list)


def raw_detection_box(face_box: np.ndarray) -> np.ndarray:
    """Invert ``face_box_from_detection_box``: the BlazeFace box a mapped face box came from."""
    x0, y0, x1, y1 = (float(v) for v in face_box)
    width = (x1 - x0) / detection.DETECTION_BOX_SCALE_X
    height = (y1 - y0) / detection.DETECTION_BOX_SCALE_Y
    cx = 0.5 * (x0 + x1)
    cy = 0.5 * (y0 + y1) - detection.DETECTION_BOX_SHIFT_Y * height
    return np.array([cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2])


def mapping_of(raw: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(N, 4) per-box mapping: width ratio, height ratio, centre x and y shift in raw box heights."""
    raw_w, raw_h = raw[:, 2] - raw[:, 0], raw[:, 3] - raw[:, 1]
    true_w, true_h = truth[:, 2] - truth[:, 0], truth[:, 3] - truth[:, 1]
    dx = (0.5 * (truth[:, 0] + truth[:, 2]) - 0.5 * (raw[:, 0] + raw[:, 2])) / raw_h
    dy = (0.5 * (truth[:, 1] + truth[:, 3]) - 0.5 * (raw[:, 1] + raw[:, 3])) / raw_h
    return np.column_stack([true_w / raw_w, true_h / raw_h, dx, dy])


def crop_iou(a: CropBox, b: CropBox) -> float:
    boxes = np.array([[c.x0, c.y0, c.x0 + c.side, c.y0 + c.side] for c in (a, b)])
    return float(iou_matrix(boxes[:1], boxes[1:])[0, 0])


def collect(sequences: int, frames: int, size: int, seed: int) -> Matches:
    from face_anything_ros.synth import FaceSequenceGenerator, SynthConfig

    generator = FaceSequenceGenerator(SynthConfig(), seed=seed, split="train")
    config = DetectionConfig()
    blazefaces = [
        detection.MediaPipeBoxDetector(replace(config, long_range=False)),
        detection.MediaPipeBoxDetector(replace(config, long_range=True)),
    ]
    mesh = detection.MediaPipeFaceMeshDetector(config, static_images=True)
    matches = Matches()
    for _ in tqdm(range(sequences), desc=f"calibrate {size} px", unit="seq"):
        sequence = generator.sample_sequence(frames, image_size=(size, size))
        for t, frame in enumerate(sequence["frames"]):
            truths = []
            for landmarks in sequence["landmarks_px"][t]:
                box = np.array([*landmarks.min(axis=0), *landmarks.max(axis=0)], np.float64)
                inside = np.clip(box, 0, size)
                area = (box[2] - box[0]) * (box[3] - box[1])
                if area > 0 and (inside[2] - inside[0]) * (inside[3] - inside[1]) >= MIN_INSIDE * area:
                    truths.append(box)
            if not truths:
                continue
            truth_boxes = np.stack(truths)
            mesh_boxes = [d.box_xyxy for d in mesh.detect(frame)]
            for detector in blazefaces:
                for found in detector.detect(frame):
                    overlaps = iou_matrix(found.box_xyxy[None], truth_boxes)[0]
                    best = int(np.argmax(overlaps))
                    if overlaps[best] < MIN_MATCH_IOU:
                        continue
                    matches.raw.append(raw_detection_box(found.box_xyxy))
                    matches.truth.append(truth_boxes[best])
                    seen = bool(mesh_boxes) and iou_matrix(truth_boxes[best][None], np.stack(mesh_boxes)).max() > 0.5
                    matches.mesh_found.append(seen)
    for detector in (*blazefaces, mesh):
        detector.close()
    return matches


def report(matches: Matches) -> list[str]:
    raw, truth = np.stack(matches.raw), np.stack(matches.truth)
    mesh_found = np.asarray(matches.mesh_found)
    lines = [f"BlazeFace boxes matched to a face: {len(raw)} ({int((~mesh_found).sum())} where the face mesh missed it)"]
    shipped = (detection.DETECTION_BOX_SCALE_X, detection.DETECTION_BOX_SCALE_Y, detection.DETECTION_BOX_SHIFT_Y)
    for name, rows in (("all", np.ones(len(raw), bool)), ("face mesh missed", ~mesh_found)):
        if rows.sum() < 5:
            lines.append(f"{name}: too few boxes")
            continue
        mapping = mapping_of(raw[rows], truth[rows])
        median = np.median(mapping, axis=0)
        spread = np.quantile(mapping, [0.25, 0.75], axis=0)
        measured = (median[0], median[1], median[3])
        ious = {}
        for label, constants in (("shipped", shipped), ("measured", measured)):
            ious[label] = np.median(
                [
                    crop_iou(
                        crop_box_from_face_box(detection.face_box_from_detection_box(r, *constants)),
                        crop_box_from_face_box(t),
                    )
                    for r, t in zip(raw[rows], truth[rows], strict=True)
                ]
            )
        lines.append(
            f"{name} ({int(rows.sum())}): scale x {median[0]:.3f} [{spread[0, 0]:.3f}, {spread[1, 0]:.3f}], "
            f"scale y {median[1]:.3f} [{spread[0, 1]:.3f}, {spread[1, 1]:.3f}], "
            f"shift x {median[2]:+.3f}, shift y {median[3]:+.3f} [{spread[0, 3]:+.3f}, {spread[1, 3]:+.3f}] "
            f"raw heights; median crop IoU vs ground truth: shipped {ious['shipped']:.3f}, measured {ious['measured']:.3f}"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sequences", type=int, default=24, help="train-split sequences per image size")
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--sizes", default="256,512", help="comma-separated square image sizes")
    parser.add_argument("--seed", type=int, default=31, help="generator seed (not a choosing split's)")
    args = parser.parse_args(argv)
    merged = Matches()
    for index, size in enumerate(int(s) for s in args.sizes.split(",")):
        found = collect(args.sequences, args.frames, size, args.seed + index)
        print(f"{size} px:", *report(found), sep="\n  ")
        for name in ("raw", "truth", "mesh_found"):
            getattr(merged, name).extend(getattr(found, name))
    print("all sizes:", *report(merged), sep="\n  ")


if __name__ == "__main__":
    main()

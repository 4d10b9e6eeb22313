"""The face score: finite, in [0, 1], high on faces and low on boxes that hold none (synthetic data)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from face_anything_ros.core.camera import Intrinsics
from face_anything_ros.runtime.config import PipelineConfig
from face_anything_ros.runtime.detection import Detection
from face_anything_ros.runtime.face_score import (
    DETECTOR_EXTERNAL,
    face_score,
    mask_coverage,
    presence,
    template_fill_fraction,
)


def test_presence_is_the_clipped_detector_score_and_one_without_a_score():
    assert presence(float("nan")) == 1.0
    assert presence(0.7) == pytest.approx(0.7)
    assert presence(1.3) == 1.0 and presence(-0.2) == 0.0


def test_template_silhouette_fills_most_of_its_landmark_box():
    assert 0.6 < template_fill_fraction() < 0.95


def test_mask_coverage_is_one_for_a_face_shaped_mask_and_zero_for_none():
    size, box = 128, np.array([24.0, 24.0, 104.0, 104.0])
    yy, xx = np.mgrid[:size, :size]
    # an ellipse inscribed in the box fills pi/4 of it: below the template's fill, so coverage < 1
    ellipse = ((xx - 64) / 40.0) ** 2 + ((yy - 64) / 40.0) ** 2 <= 1.0
    expected = (math.pi / 4) / template_fill_fraction()
    assert mask_coverage(ellipse.astype(np.float32), box) == pytest.approx(min(expected, 1.0), abs=0.03)
    assert mask_coverage(np.ones((size, size), np.float32), box) == 1.0  # clipped
    assert mask_coverage(np.zeros((size, size), np.float32), box) == 0.0
    assert mask_coverage(np.ones((size, size), np.float32), np.array([200.0, 200, 260, 260])) == 0.0
    assert face_score(0.5, np.ones((size, size), np.float32), box) == pytest.approx(0.5)


def test_score_separates_synthetic_faces_from_background_boxes():
    from face_anything_ros.runtime.pipeline import FacePipeline
    from face_anything_ros.synth import FaceSequenceGenerator, SynthConfig

    pipeline = FacePipeline(PipelineConfig.from_dict({"backend": {"name": "eager", "device": "cpu"}}))
    generator = FaceSequenceGenerator(SynthConfig(max_faces_per_frame=1), seed=11)
    on_face, off_face = [], []
    for _ in range(12):
        sequence = generator.sample_sequence(1, image_size=(256, 256))
        image, mask = sequence["frames"][0], sequence["mask"][0]
        rows, cols = np.nonzero(mask)
        if cols.size < 200:
            continue
        box = np.array([cols.min(), rows.min(), cols.max(), rows.max()], dtype=np.float64)
        side = box[2:] - box[:2]
        corners = [
            np.array([x, y, x + side[0], y + side[1]]) for x in (0, 256 - side[0]) for y in (0, 256 - side[1])
        ]
        empty = min(corners, key=lambda b: mask[int(b[1]) : int(b[3]), int(b[0]) : int(b[2])].mean())
        for target, scores in ((box, on_face), (empty, off_face)):
            pipeline.reset()
            result = pipeline.process(
                image, Intrinsics(**sequence["intrinsics"]), detections=[Detection(target, float("nan"))]
            )
            (face,) = result.faces
            assert face.detector == DETECTOR_EXTERNAL and math.isnan(face.detector_score)
            assert math.isfinite(face.score) and 0.0 <= face.score <= 1.0
            scores.append(face.score)
    assert len(on_face) >= 8
    assert np.median(on_face) > 0.6 and np.median(off_face) < 0.35
    assert np.median(on_face) - np.median(off_face) > 0.4

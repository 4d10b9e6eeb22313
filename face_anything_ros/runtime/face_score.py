"""One finite face score in [0, 1] per face: the detector's presence times the model's mask coverage.

Consumers filter faces with ``score > t`` (vision_msgs convention), so the score must exist for every
face, whatever found it:

* ``presence``: the detector's own confidence when it reports one (BlazeFace); 1.0 for the face mesh,
  whose landmark model keeps a face only while its hidden face-presence score is above
  ``min_detection_confidence`` / ``min_tracking_confidence`` (the Python solution API does not expose
  the value) and for boxes handed in from elsewhere without a score;
* ``coverage``: how much of the face the model sees where the detector put it: the sum of the
  predicted mask probability inside the face box (crop pixels), divided by the area the template
  face fills in such a box (``template_fill_fraction()`` of the box, from the template's frontal
  silhouette: 0.83), clipped to [0, 1]. A box on a face gives ~1; a box on background, a hand or a
  poster edge gives a low value, whatever the detector said.

``score = presence * coverage``. It is a bounded product of two probabilities, not a calibrated
probability of "this is a face" (no calibration set exists for that).
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

from face_anything_ros.core.face_template import load_face_template

# Detector names (FaceTrack.detector); "external": boxes passed to FacePipeline.process.
DETECTOR_FACE_MESH = "face_mesh"
DETECTOR_BLAZEFACE_SHORT = "blazeface_short_range"
DETECTOR_BLAZEFACE_FULL = "blazeface_full_range"
DETECTOR_EXTERNAL = "external"
# carried by the network's own pose after the detectors lost it (runtime/model_tracking.py)
DETECTOR_MODEL_TRACK = "model_track"
UNSCORED_PRESENCE = 1.0  # presence of a face from a detector that reports no score (see module doc)


@lru_cache(maxsize=1)
def template_fill_fraction() -> float:
    """Share of its landmark box that the template face covers seen from the front (0.83)."""
    xy = load_face_template().canonical[:, :2].astype(np.float32)
    hull = cv2.convexHull(xy)
    width, height = np.ptp(xy, axis=0)
    return float(cv2.contourArea(hull) / (width * height))


def presence(detector_score: float) -> float:
    """The detector's confidence clipped to [0, 1]; ``UNSCORED_PRESENCE`` when it reports none (NaN)."""
    if not math.isfinite(detector_score):
        return UNSCORED_PRESENCE
    return float(min(max(detector_score, 0.0), 1.0))


def mask_coverage(mask_probability: np.ndarray, face_box_crop_xyxy: np.ndarray) -> float:
    """Predicted face area inside the face box over the area a face fills in that box, in [0, 1].

    ``mask_probability``: (S, S) crop map in [0, 1]; ``face_box_crop_xyxy``: the detector's face box
    in crop pixel coordinates (pixel centres at integers). 0 for a box outside the crop or empty.
    """
    size_y, size_x = mask_probability.shape
    x0, y0, x1, y1 = (float(v) for v in face_box_crop_xyxy)
    expected = template_fill_fraction() * max(x1 - x0, 0.0) * max(y1 - y0, 0.0)
    left, top = max(math.floor(x0 + 0.5), 0), max(math.floor(y0 + 0.5), 0)
    right, bottom = min(math.ceil(x1 + 0.5), size_x), min(math.ceil(y1 + 0.5), size_y)
    if expected <= 0.0 or right <= left or bottom <= top:
        return 0.0
    seen = float(np.nansum(mask_probability[top:bottom, left:right], dtype=np.float64))
    return float(min(max(seen / expected, 0.0), 1.0))


def face_score(detector_score: float, mask_probability: np.ndarray, face_box_crop_xyxy: np.ndarray) -> float:
    """``presence(detector_score) * mask_coverage(...)``: finite, in [0, 1]."""
    return presence(detector_score) * mask_coverage(mask_probability, face_box_crop_xyxy)

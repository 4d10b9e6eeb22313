"""Faces the detector lost, carried on by the network's own head pose (tracking by re-detection).

The MediaPipe detectors drop faces long before our network does: turned past ~60° of yaw, small,
dark, blurred or partly covered. The network still predicts canonical coordinates and depth on such
a crop, and the pose fit of every frame places the whole template face in the image. Projecting the
468 template vertices with that pose gives the face box of the next frame in the crop policy's own
convention (the box of the 468 landmarks, hidden ones included), the way MediaPipe's face mesh
derives its next region of interest from its landmarks.

The same predicted box also corrects BlazeFace, the cascade's fallback: its box covers eyes to mouth,
and a fixed mapping to the landmark box cannot follow yaw, so a turned face gets a crop too small
and off-centre. A BlazeFace detection of a face that had a pose last frame is moved towards the box
that pose predicts (``pose_box_weight``). On the train splits' BlazeFace frames the predicted box's
median crop IoU with the true crop is 0.83 against the mapped BlazeFace box's 0.74; fused delta_avg
0.784 -> 0.794 at 512 px (README, "Correcting BlazeFace's boxes").

So a face seen in the last frame (detected, or carried) that no detection overlaps now is proposed
again at its predicted box, with detector name ``model_track``. The network then decides: the face
stays only while the predicted mask covers its box (``MIN_CARRIED_COVERAGE`` of the area a face fills,
``face_score.mask_coverage``) and a pose can be fitted; a box on the back of a head, a wall or a
hand fails and the face ends. At most ``max_frames`` frames in a row are carried without a detection.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from face_anything_ros.core.camera import Intrinsics, project
from face_anything_ros.core.face_template import CANONICAL_UNIT_M
from face_anything_ros.runtime.detection import Detection
from face_anything_ros.runtime.face_score import (
    DETECTOR_BLAZEFACE_FULL,
    DETECTOR_BLAZEFACE_SHORT,
    DETECTOR_MODEL_TRACK,
)
from face_anything_ros.runtime.ids import iou_matrix, overlap_of_smaller_matrix

# A carried face needs its predicted mask to fill at least this share of what a face fills in its box
# (a calibration chosen on the synthetic train split, not a setting: BENCHMARKS.md, "model tracking").
MIN_CARRIED_COVERAGE = 0.5
# A detection is the carried face when it covers more than this share of the smaller box (the same
# test `union` uses for duplicates: a BlazeFace box is offset from the landmark box).
SAME_FACE_OVERLAP = 0.3
# a predicted box with a side under this (a face too far away to carry) is not proposed
MIN_BOX_SIDE_PX = 4.0


@dataclass
class _Carried:
    box_xyxy: np.ndarray  # the face box predicted for the next frame
    carried_frames: int  # frames in a row without a detection


def predicted_face_box(
    rotation: np.ndarray, translation: np.ndarray, template_canonical: np.ndarray, camera: Intrinsics
) -> np.ndarray | None:
    """Box (x0, y0, x1, y1) of the template vertices posed by ``X = CANONICAL_UNIT_M R c + t`` and
    projected by ``camera``; None when the pose is not finite or any vertex is behind the camera."""
    points = CANONICAL_UNIT_M * template_canonical @ np.asarray(rotation).T + np.asarray(translation)
    if not np.isfinite(points).all() or (points[:, 2] <= 0).any():
        return None
    pixels = project(points, camera)
    box = np.concatenate([pixels.min(axis=0), pixels.max(axis=0)])
    if min(box[2] - box[0], box[3] - box[1]) < MIN_BOX_SIDE_PX:
        return None
    return box


class ModelTrackedFaces:
    """Per stream: the predicted next box of every face of the last frame, and how long each was carried."""

    def __init__(self, max_frames: int, template_canonical: np.ndarray, pose_box_weight: float = 0.0) -> None:
        self.max_frames = max_frames
        self.pose_box_weight = pose_box_weight
        self._template = np.asarray(template_canonical, dtype=np.float64)
        self._faces: dict[int, _Carried] = {}

    def reset(self) -> None:
        self._faces.clear()

    def refine_fallback_boxes(self, detections: list[Detection]) -> list[Detection]:
        """``detections`` with each BlazeFace box blended towards the predicted box most like it (highest
        IoU) where that one covers more than ``SAME_FACE_OVERLAP`` of the smaller box.

        By IoU, not by the overlap of the smaller box: a large predicted box (a face carried off a false
        detection) contains a real face's box wholly, and would otherwise take its place."""
        if self.pose_box_weight <= 0 or not self._faces:
            return detections
        predicted = np.stack([face.box_xyxy for face in self._faces.values()])
        refined = []
        for detection in detections:
            if detection.detector in (DETECTOR_BLAZEFACE_SHORT, DETECTOR_BLAZEFACE_FULL):
                best = int(np.argmax(iou_matrix(detection.box_xyxy, predicted)[0]))
                if (
                    overlap_of_smaller_matrix(detection.box_xyxy, predicted[best : best + 1])[0, 0]
                    > SAME_FACE_OVERLAP
                ):
                    box = (
                        self.pose_box_weight * predicted[best]
                        + (1 - self.pose_box_weight) * detection.box_xyxy
                    )
                    detection = replace(detection, box_xyxy=box)
            refined.append(detection)
        return refined

    def proposals(self, detections: list[Detection]) -> list[Detection]:
        """Detections at the predicted boxes of last frame's faces that no detection overlaps now."""
        if self.max_frames <= 0:
            return []
        boxes = np.array([d.box_xyxy for d in detections], dtype=np.float64).reshape(-1, 4)
        proposed: list[Detection] = []
        for face in self._faces.values():
            if face.carried_frames >= self.max_frames:
                continue
            if len(boxes) and overlap_of_smaller_matrix(face.box_xyxy, boxes).max() > SAME_FACE_OVERLAP:
                continue
            proposed.append(
                Detection(box_xyxy=face.box_xyxy.copy(), score=float("nan"), detector=DETECTOR_MODEL_TRACK)
            )
        return proposed

    def observe(
        self,
        track_ids: list[int],
        detectors: list[str],
        poses: list[tuple[np.ndarray, np.ndarray] | None],
        camera: Intrinsics,
    ) -> None:
        """Remember this frame's faces (published ones only) and their predicted boxes for the next.

        ``poses``: (rotation, translation) per face, None where no pose was fitted (such a face is not
        carried: there is nothing to predict its box from)."""
        previous = self._faces
        self._faces = {}
        for track_id, detector, pose in zip(track_ids, detectors, poses, strict=True):
            if pose is None:
                continue
            box = predicted_face_box(pose[0], pose[1], self._template, camera)
            if box is None:
                continue
            carried = 0
            if detector == DETECTOR_MODEL_TRACK:
                carried = (previous[track_id].carried_frames if track_id in previous else 0) + 1
            self._faces[track_id] = _Carried(box, carried)

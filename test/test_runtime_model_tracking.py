"""Faces the detector lost, carried on at the box the network's own head pose predicts."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from face_anything_ros.core.camera import Intrinsics, project
from face_anything_ros.core.face_template import CANONICAL_UNIT_M, load_face_template
from face_anything_ros.runtime.config import PipelineConfig
from face_anything_ros.runtime.detection import Detection
from face_anything_ros.runtime.face_score import (
    DETECTOR_BLAZEFACE_SHORT,
    DETECTOR_FACE_MESH,
    DETECTOR_MODEL_TRACK,
)
from face_anything_ros.runtime.ids import iou_matrix
from face_anything_ros.runtime.model_tracking import ModelTrackedFaces, predicted_face_box

CAMERA = Intrinsics.from_fov(320, 240, 60.0)
TEMPLATE = load_face_template().canonical.astype(np.float64)
FACING_CAMERA = np.diag([1.0, -1.0, -1.0])  # canonical y up, z out of the face -> camera y down, z ahead
AHEAD = np.array([0.01, -0.02, 0.6])


def test_predicted_box_is_the_box_of_the_posed_template_projected():
    box = predicted_face_box(FACING_CAMERA, AHEAD, TEMPLATE, CAMERA)
    pixels = project(CANONICAL_UNIT_M * TEMPLATE @ FACING_CAMERA.T + AHEAD, CAMERA)
    np.testing.assert_allclose(box, [*pixels.min(axis=0), *pixels.max(axis=0)])
    assert 30 < box[2] - box[0] < 200  # a face at 60 cm through a 60 degree lens
    assert predicted_face_box(FACING_CAMERA, np.array([0.0, 0.0, -0.6]), TEMPLATE, CAMERA) is None  # behind
    assert predicted_face_box(np.full((3, 3), np.nan), AHEAD, TEMPLATE, CAMERA) is None


def test_only_faces_no_detection_covers_are_proposed_and_for_a_bounded_run():
    carried = ModelTrackedFaces(3, TEMPLATE)
    pose = (FACING_CAMERA, AHEAD)
    carried.observe([7], [DETECTOR_FACE_MESH], [pose], CAMERA)
    (proposal,) = carried.proposals([])
    assert proposal.detector == DETECTOR_MODEL_TRACK
    np.testing.assert_allclose(proposal.box_xyxy, predicted_face_box(*pose, TEMPLATE, CAMERA))
    detected_again = Detection(proposal.box_xyxy + 5.0, 0.9)
    assert carried.proposals([detected_again]) == []  # the detector has it: nothing to carry
    elsewhere = Detection(np.array([0.0, 0.0, 20.0, 20.0]), 0.9)
    assert len(carried.proposals([elsewhere])) == 1
    for _ in range(3):  # carried three frames in a row ...
        assert len(carried.proposals([])) == 1
        carried.observe([7], [DETECTOR_MODEL_TRACK], [pose], CAMERA)
    assert carried.proposals([]) == []  # ... then it ends until a detector finds the face again
    carried.observe([7], [DETECTOR_FACE_MESH], [pose], CAMERA)
    assert len(carried.proposals([])) == 1
    carried.observe([7], [DETECTOR_FACE_MESH], [None], CAMERA)  # no pose: nothing to predict from
    assert carried.proposals([]) == []
    off = ModelTrackedFaces(0, TEMPLATE)
    off.observe([7], [DETECTOR_FACE_MESH], [pose], CAMERA)
    assert off.proposals([]) == []


def test_a_fallback_box_moves_towards_the_box_last_frames_pose_predicts():
    pose = (FACING_CAMERA, AHEAD)
    predicted = predicted_face_box(*pose, TEMPLATE, CAMERA)
    centre, side = (predicted[:2] + predicted[2:]) / 2, predicted[2:] - predicted[:2]
    too_small = np.concatenate([centre - 0.3 * side, centre + 0.3 * side]) + np.array([6.0, 0.0, 6.0, 0.0])
    blazeface = Detection(too_small, 0.9, detector=DETECTOR_BLAZEFACE_SHORT)
    mesh = Detection(too_small, float("nan"), detector=DETECTOR_FACE_MESH)
    elsewhere = Detection(np.array([0.0, 0.0, 20.0, 20.0]), 0.9, detector=DETECTOR_BLAZEFACE_SHORT)
    for weight in (0.0, 0.5, 1.0):
        carried = ModelTrackedFaces(30, TEMPLATE, pose_box_weight=weight)
        assert carried.refine_fallback_boxes([blazeface]) == [blazeface]  # no face last frame
        far_left = (
            FACING_CAMERA,
            AHEAD + np.array([-0.25, 0.0, 0.0]),
        )  # a second face, which it does not overlap
        carried.observe([3, 7], [DETECTOR_FACE_MESH] * 2, [far_left, pose], CAMERA)
        refined, untouched_mesh, untouched_other = carried.refine_fallback_boxes([blazeface, mesh, elsewhere])
        np.testing.assert_allclose(refined.box_xyxy, weight * predicted + (1 - weight) * too_small)
        assert refined.detector == DETECTOR_BLAZEFACE_SHORT and refined.score == 0.9
        assert untouched_mesh is mesh and untouched_other is elsewhere  # the mesh's box is exact


def test_a_fallback_box_takes_the_predicted_box_most_like_it_not_a_large_one_that_contains_it():
    """A face carried off a false detection can predict a box that wholly contains a real face's box;
    the real face's BlazeFace box must still take its own face's predicted box (by IoU)."""
    pose = (FACING_CAMERA, AHEAD)
    predicted = predicted_face_box(*pose, TEMPLATE, CAMERA)
    near = (FACING_CAMERA, AHEAD * np.array([1.0, 1.0, 0.4]))  # the same line of sight, 2.5x closer: larger
    large = predicted_face_box(*near, TEMPLATE, CAMERA)
    assert (large[:2] < predicted[:2]).all() and (large[2:] > predicted[2:]).all()  # contains the face's box
    blazeface = Detection(
        predicted + np.array([2.0, 3.0, -2.0, -1.0]), 0.9, detector=DETECTOR_BLAZEFACE_SHORT
    )
    carried = ModelTrackedFaces(30, TEMPLATE, pose_box_weight=1.0)
    carried.observe([5, 7], [DETECTOR_MODEL_TRACK, DETECTOR_FACE_MESH], [near, pose], CAMERA)  # large first
    (refined,) = carried.refine_fallback_boxes([blazeface])
    np.testing.assert_allclose(refined.box_xyxy, predicted)


class ScriptedDetector:
    """Returns the given boxes frame by frame, then nothing (the detector lost the face)."""

    def __init__(self, boxes: list[np.ndarray], detector: str = DETECTOR_FACE_MESH) -> None:
        self._boxes = list(boxes)
        self._detector = detector

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        if not self._boxes:
            return []
        return [Detection(self._boxes.pop(0), 0.9, detector=self._detector)]

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def moving_face():
    """A synthetic face (seed 1: one head, ~80 px) that the frames then pull 4 px right per frame."""
    from face_anything_ros.evaluation.method import mask_face_boxes
    from face_anything_ros.synth import FaceSequenceGenerator, SynthConfig

    sequence = FaceSequenceGenerator(SynthConfig(max_faces_per_frame=1), seed=1).sample_sequence(
        14, image_size=(240, 320)
    )
    frames, boxes = [], []
    for t, (frame, mask) in enumerate(zip(sequence["frames"], sequence["mask"], strict=True)):
        shift = np.float32([[1, 0, 4.0 * max(t - 3, 0)], [0, 1, 0]])
        frames.append(cv2.warpAffine(frame, shift, (320, 240), borderMode=cv2.BORDER_REPLICATE))
        moved = cv2.warpAffine(mask.astype(np.uint8), shift, (320, 240), flags=cv2.INTER_NEAREST)
        (box,) = mask_face_boxes(moved > 0)
        boxes.append(box)
    return frames, boxes, Intrinsics(**sequence["intrinsics"])


def _pipeline(model_track_frames: int, detected_boxes: list[np.ndarray], detector=None, pose_box_weight=1.0):
    from face_anything_ros.runtime.pipeline import FacePipeline

    config = {
        "backend": {"name": "eager", "device": "cpu"},
        "detection": {"model_track_frames": model_track_frames, "pose_box_weight": pose_box_weight},
    }
    return FacePipeline(
        PipelineConfig.from_dict(config), detector=detector or ScriptedDetector(detected_boxes)
    )


def test_a_lost_moving_face_is_carried_at_its_predicted_box_and_ends_on_background(moving_face):
    frames, boxes, camera = moving_face
    pipeline = _pipeline(30, boxes[:4])
    first = pipeline.process(frames[0], camera, 0.0).faces[0]
    for t in range(1, 4):
        pipeline.process(frames[t], camera, t / 30)
    for t in range(4, len(frames)):  # the detector returns nothing from frame 4 on
        (face,) = pipeline.process(frames[t], camera, t / 30).faces
        assert face.detector == DETECTOR_MODEL_TRACK and face.track_id == first.track_id
        assert face.pose_valid and 0.5 < face.score <= 1.0
        # the box follows the face (40 px to the right by the end; a box left behind would miss it)
        centre_error = np.linalg.norm(
            (face.box_xyxy[:2] + face.box_xyxy[2:]) / 2 - (boxes[t][:2] + boxes[t][2:]) / 2
        )
        assert centre_error < 0.2 * (boxes[t][2] - boxes[t][0]), t
        assert iou_matrix(face.box_xyxy, boxes[t][None])[0, 0] > 0.4, t
    background = np.full_like(frames[0], 90)
    assert pipeline.process(background, camera, 1.0).faces == []  # no face where the box went: it ends
    assert pipeline.process(frames[-1], camera, 1.1).faces == []  # and is not proposed again


def test_carrying_switched_off_publishes_no_face_the_detector_lost(moving_face):
    frames, boxes, camera = moving_face
    pipeline = _pipeline(0, boxes[:4])
    counts = [len(pipeline.process(frame, camera, t / 30).faces) for t, frame in enumerate(frames)]
    assert counts == [1] * 4 + [0] * (len(frames) - 4)


class MeshThenShrunkenBlazeFace:
    """The face mesh's exact boxes for ``mesh_frames`` frames, then BlazeFace boxes 35 % too small."""

    def __init__(self, boxes: list[np.ndarray], mesh_frames: int) -> None:
        self._boxes, self._mesh_frames, self._frame = list(boxes), mesh_frames, 0

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        box = self._boxes[self._frame]
        self._frame += 1
        if self._frame <= self._mesh_frames:
            return [Detection(box, float("nan"), detector=DETECTOR_FACE_MESH)]
        centre, half = (box[:2] + box[2:]) / 2, 0.65 * (box[2:] - box[:2]) / 2
        return [
            Detection(np.concatenate([centre - half, centre + half]), 0.9, detector=DETECTOR_BLAZEFACE_SHORT)
        ]

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_too_small_fallback_box_is_corrected_by_the_pose_and_follows_the_face(moving_face):
    frames, boxes, camera = moving_face
    overlaps = {}
    for weight in (0.0, 1.0):
        detector = MeshThenShrunkenBlazeFace(boxes, mesh_frames=4)
        pipeline = _pipeline(30, [], detector=detector, pose_box_weight=weight)
        overlaps[weight] = []
        for t, frame in enumerate(frames):
            (face,) = pipeline.process(frame, camera, t / 30).faces
            if t >= 4:
                assert face.detector == DETECTOR_BLAZEFACE_SHORT
                overlaps[weight].append(iou_matrix(face.box_xyxy, boxes[t][None])[0, 0])
    assert max(overlaps[0.0]) < 0.45  # the shrunken box as it came
    assert min(overlaps[1.0]) > 0.6, overlaps[1.0]  # the pose's box, following the face 40 px to the right

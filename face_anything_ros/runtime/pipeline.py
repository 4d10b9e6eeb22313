"""The runtime data path in one place: frame -> faces -> crops -> model -> geometry -> maps -> tracks.

``FacePipeline.process`` is what the ROS node, the offline CLI, ``evaluate`` and ``bench``
call per frame. Everything per face is done at crop resolution (fast, independent of the
image size) and only the final maps are pasted into the frame.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
import torch

from face_anything_ros.core.camera import Intrinsics, resolve_intrinsics
from face_anything_ros.core.crop import CropBox, crop_affine, crop_to_image_pixels, image_to_crop_pixels
from face_anything_ros.core.face_template import load_face_template
from face_anything_ros.core.fast_reductions import finite_vectors
from face_anything_ros.core.sampling import sample_bilinear, sample_nearest
from face_anything_ros.runtime.anchoring import anchor_canonical
from face_anything_ros.runtime.backends import BackendChain
from face_anything_ros.runtime.backends.base import InferenceBackend
from face_anything_ros.runtime.backends.selection import build_backend
from face_anything_ros.runtime.config import PipelineConfig
from face_anything_ros.runtime.detection import Detection, FaceDetector, make_detector
from face_anything_ros.runtime.distance_smoothing import DistanceSmoother
from face_anything_ros.runtime.face_score import DETECTOR_MODEL_TRACK, face_score, mask_coverage
from face_anything_ros.runtime.fused_tracker import FusedTracker, lookup_measurement, mesh_measurement
from face_anything_ros.runtime.geometry import (
    FaceGeometry,
    backproject_pixels,
    fit_face_geometry,
    invalid_geometry,
    rescale_relief,
)
from face_anything_ros.runtime.ids import IdAssigner, Track
from face_anything_ros.runtime.landmark_distance import landmark_distance_ratio, with_landmark_distance
from face_anything_ros.runtime.mesh_points import point_front_facing, template_barycentric
from face_anything_ros.runtime.mesh_prior import MeshPrior, PriorMaps, with_prior_channels
from face_anything_ros.runtime.model_tracking import MIN_CARRIED_COVERAGE, ModelTrackedFaces
from face_anything_ros.runtime.postprocess import CropMaps, FrameMaps, paste_faces, split_crop_maps
from face_anything_ros.runtime.preprocess import crop_batch, to_rgb_uint8
from face_anything_ros.runtime.stabilize import BoxStabilizer
from face_anything_ros.runtime.track_uuid import TrackUuids
from face_anything_ros.runtime.tracking import (
    TrackFilters,
    build_query_set,
    locate_canonical_distances,
    pixel_weight,
    template_vertex_normals,
)

LOGGER = logging.getLogger(__name__)

STAGES = ("detect", "preprocess", "model", "geometry", "postprocess", "tracking", "total")


@dataclass
class FaceResult:
    """One face in one frame (camera frame: OpenCV, metres)."""

    track_id: int  # per stream: 0, 1, 2, ... (restarts with the stream)
    track_uuid: uuid.UUID  # unique across streams, restarts and resets (runtime.track_uuid)
    age: int  # frames since this id first appeared
    box_xyxy: np.ndarray  # (4,) face box, image pixels
    score: float  # face score in [0, 1], never NaN: detector presence x mask coverage (runtime.face_score)
    detector: str  # which detector found the face (runtime.face_score.DETECTOR_* names)
    detector_score: float  # the detector's own confidence (NaN: the face-mesh detector exposes none)
    rotation: np.ndarray  # (3, 3) canonical face frame -> camera (NaN when pose_valid is False)
    translation: np.ndarray  # (3,) metres
    scale: float  # metres per canonical unit (the average-face prior, core.face_template.CANONICAL_UNIT_M)
    pose_valid: bool
    median_depth_m: float  # metric median depth of the face pixels (NaN when pose_valid is False)
    query_names: tuple[str, ...]
    query_canonical: np.ndarray  # (N, 3)
    query_pixels: np.ndarray  # (N, 2) x, y image pixels (NaN: not found)
    query_points: np.ndarray  # (N, 3) camera frame metres (NaN: unknown)
    query_visible: np.ndarray  # (N,) bool
    # (N,) standard deviation of query_pixels, image pixels (fused tracker; lookup-only: the lookup's own);
    # inf where the point has no current evidence
    query_uncertainty_px: np.ndarray
    mesh_vertices: np.ndarray  # (468, 3) template vertices placed by canonical lookup, camera frame
    mesh_visible: np.ndarray  # (468,) bool
    crop_box: CropBox
    landmarks_px: np.ndarray | None = None  # (468, 2) face-mesh landmarks (image px) when the mesh found it


@dataclass
class FrameResult:
    stamp_s: float
    depth: np.ndarray  # (H, W) float32 metres, NaN off-face
    canonical: np.ndarray  # (H, W, 3) float32, NaN off-face
    mask: np.ndarray  # (H, W) bool
    confidence: np.ndarray  # (H, W) float32, 0 off-face
    faces: list[FaceResult]
    intrinsics: Intrinsics
    timings_ms: dict[str, float] = field(default_factory=dict)
    face_index: np.ndarray | None = None  # (H, W) int16 index into ``faces``, -1 off-face


class _StageTimer:
    def __init__(self) -> None:
        self.timings: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        self._start = self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] += (now - self._last) * 1e3
        self._last = now

    def finish(self) -> dict[str, float]:
        self.timings["total"] = (time.perf_counter() - self._start) * 1e3
        return self.timings


class FacePipeline:
    """Stateful per-stream processor (keeps track ids, detector tracking and filters)."""

    def __init__(
        self,
        config: PipelineConfig | None = None,
        model: torch.nn.Module | None = None,
        detector: FaceDetector | None = None,
        backend_builder: Callable[..., InferenceBackend] | None = None,
    ) -> None:
        """``backend_builder`` replaces ``backends.build_backend`` in the backend chain (fault drills)."""
        self.config = (config or PipelineConfig()).validate()
        if model is None:
            from face_anything_ros.model import load_model

            model = load_model(self.config.weights, device="cpu")
        # the weights' typical confidence (model/io.py): confidence maps are relative to it
        self._confidence_reference = float(getattr(model, "confidence_reference", 1.0))
        # how the network's depth relief follows distance (NaN: unknown, relief left as predicted)
        self._relief = (
            (
                float(getattr(model, "relief_distance_m", "nan")),
                float(getattr(model, "relief_exponent", "nan")),
            )
            if self.config.geometry.relief_correction
            else (float("nan"), float("nan"))
        )
        if self.config.backend.flip_average:
            from face_anything_ros.model.flip_average import FlipAveragedCanonical

            model = FlipAveragedCanonical(model)
        model_config = getattr(model, "config", None)
        self.input_size = int(getattr(model_config, "image_size", 128))
        self._backend = BackendChain(
            model, self.config.backend, self.input_size, builder=backend_builder or build_backend
        )
        self._detector = detector if detector is not None else make_detector(self.config.detection)
        self._ids = IdAssigner(self.config.ids)
        self._track_uuids = TrackUuids()
        self._queries = build_query_set(self.config.tracking)
        template = load_face_template()
        self._template_canonical = template.canonical.astype(np.float64)  # face-mesh landmark i = vertex i
        # One lookup per face serves the queries and the mesh: when the query set already holds every
        # template vertex the mesh reuses those rows, otherwise the vertices are appended.
        self._num_queries = len(self._queries.names)
        vertex_rows = [i for i, name in enumerate(self._queries.names) if name.startswith("vertex_")]
        if len(vertex_rows) == template.num_vertices:
            self._lookup_canonical = self._queries.canonical.astype(np.float64)
            self._lookup_normals = self._queries.normals
            self._mesh_rows = np.asarray(vertex_rows)
        else:
            self._lookup_canonical = np.concatenate([self._queries.canonical, self._template_canonical])
            self._lookup_normals = np.concatenate([self._queries.normals, template_vertex_normals()])
            self._mesh_rows = self._num_queries + np.arange(template.num_vertices)
        # each distinct canonical point is looked up and tracked once (named landmarks are vertices too)
        _, first, self._row_of = np.unique(
            self._lookup_canonical, axis=0, return_index=True, return_inverse=True
        )
        self._row_of = self._row_of.reshape(-1)
        self._lookup_canonical = self._lookup_canonical[first]
        self._lookup_normals = self._lookup_normals[first]
        self._lookup_corners, self._lookup_barycentric = template_barycentric(self._lookup_canonical)
        self._fusion = FusedTracker(self.config.fusion) if self.config.fusion.enabled else None
        self._gray: np.ndarray | None = None
        tracking = self.config.tracking  # optional One-Euro smoothing of the query pixels
        self._filters = TrackFilters(
            tracking.one_euro_min_cutoff_hz, tracking.one_euro_beta, tracking.one_euro_d_cutoff_hz
        )
        self._stabilizer = BoxStabilizer(self.config.crop_deadband)
        self._distances = DistanceSmoother(self.config.geometry)
        # faces with face-mesh landmarks whose landmark distance was not used (PnP failed or disagreed)
        self.landmark_distances_skipped = 0
        self._warned_default_intrinsics = False
        # The face-mesh prior: an input of models trained with it (option a), and/or fused with the
        # network's maps after the model when mesh_prior.enabled (option b); one fit per face serves both.
        self._prior_input = bool(getattr(model_config, "prior_channels", 0))
        self.mesh_prior = (
            MeshPrior(self.config.mesh_prior, self.input_size)
            if self.config.mesh_prior.enabled or self._prior_input
            else None
        )
        self._carried = ModelTrackedFaces(
            self.config.detection.model_track_frames,
            self._template_canonical,
            self.config.detection.pose_box_weight,
        )

    @property
    def backend_name(self) -> str:
        return self._backend.name

    @property
    def device(self) -> torch.device:
        """The device inference runs on."""
        return self._backend.device

    @property
    def backend_description(self) -> str:
        return self._backend.describe()

    @property
    def backend_failures(self) -> list[str]:
        return list(self._backend.failures)

    @property
    def query_names(self) -> tuple[str, ...]:
        return self._queries.names

    def reset(self) -> None:
        """Forget ids, filter and detector state (e.g. when a stream restarts, or between the sequences of
        an evaluation, which are then independent of their order)."""
        reset_detector = getattr(self._detector, "reset", None)  # detectors from elsewhere may not have one
        if reset_detector is not None:
            reset_detector()
        self._ids.reset()
        self._track_uuids = TrackUuids()  # the numbers restart: new UUIDs
        self._filters.forget_all_but(set())
        self._stabilizer.forget_all_but(set())
        self._distances.forget_all_but(set())
        self._carried.reset()
        if self._fusion is not None:
            self._fusion.reset()

    def close(self) -> None:
        self._detector.close()

    def process(
        self,
        frame: np.ndarray,
        intrinsics: Intrinsics | None = None,
        stamp_s: float = 0.0,
        detections: list[Detection] | None = None,
    ) -> FrameResult:
        """Process one frame (uint8 RGB; grey and RGBA are converted, see ``to_rgb_uint8``).

        ``detections`` bypasses the detector (boxes from elsewhere, e.g. ground truth) and the carrying
        of lost faces (``detection.model_track_frames``). Raises ``InvalidFrameError`` for unusable
        frames and ``ValueError`` for intrinsics that do not fit the frame.
        """
        timer = _StageTimer()
        rgb = to_rgb_uint8(frame)
        height, width = rgb.shape[:2]
        intrinsics = self._intrinsics_for(intrinsics, width, height)
        carry = detections is None
        if carry:
            detections = self._carried.refine_fallback_boxes(self._detector.detect(rgb))
            detections = detections + self._carried.proposals(detections)
        detections = detections[: self.config.detection.max_faces]
        tracks = self._ids.update(np.array([d.box_xyxy for d in detections]).reshape(-1, 4))
        self._forget_dead_tracks()
        if self._fusion is not None:
            self._gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            self._fusion.begin_frame(self._gray, stamp_s)
        timer.lap("detect")
        maps = FrameMaps.empty(height, width)
        faces: list[FaceResult] = []
        carried_poses: list[tuple[np.ndarray, np.ndarray] | None] = []
        if detections:
            face_boxes = [
                self._stabilizer(t.track_id, d.box_xyxy) for d, t in zip(detections, tracks, strict=True)
            ]
            images, boxes = crop_batch(rgb, face_boxes, self.input_size)
            crop_intrinsics = [intrinsics.for_crop(box, self.input_size) for box in boxes]
            priors = (
                self.mesh_prior.priors(detections, boxes, crop_intrinsics)
                if self.mesh_prior is not None
                else [None] * len(boxes)
            )
            if self._prior_input:
                images = with_prior_channels(images, priors)
            timer.lap("preprocess")
            outputs = self._backend(images)
            timer.lap("model")
            crops = split_crop_maps(outputs, self.config.mask_threshold, self._confidence_reference)
            kept = self._network_sees_face(detections, boxes, crops)
            if not all(kept):
                detections, tracks, boxes, crops, crop_intrinsics, priors = (
                    [item for item, keep in zip(items, kept, strict=True) if keep]
                    for items in (detections, tracks, boxes, crops, crop_intrinsics, priors)
                )
            if self._fusion is not None:  # each face's flow runs in a worker thread during its head pose fit
                for detection, track in zip(detections, tracks, strict=True):
                    self._fusion.prefetch_flow(track.track_id, self._gray, detection.box_xyxy)
            if self.config.tracking.landmark_anchoring:
                self._anchor_to_landmarks(crops, detections, boxes)
            network_crops = crops
            if self.config.mesh_prior.enabled:
                crops = self.mesh_prior.apply(crops, priors)
            weights = [self._weight(crop) for crop in crops]
            fitted = [
                fit_face_geometry(c.relative_depth, c.canonical, w, k, self.config.geometry)
                if w.any()
                else invalid_geometry()
                for c, w, k in zip(crops, weights, crop_intrinsics, strict=True)
            ]
            if self.config.geometry.landmark_distance_weight > 0:
                fitted = self._with_landmark_distances(fitted, detections, intrinsics)
            # the outputs get each track's smoothed distance; carrying lost faces predicts their boxes
            # from the fitted pose of this frame (a lagging distance would misplace them)
            carried_poses = [(g.rotation, g.translation) if g.pose_valid else None for g in fitted]
            geometries = [
                self._distances(t.track_id, g, stamp_s) for t, g in zip(tracks, fitted, strict=True)
            ]
            crops = self._distance_reliefs(
                network_crops, crops, priors, geometries, boxes, detections, width, height
            )
            timer.lap("geometry")
            paste_faces(
                maps, crops, boxes, [g.median_depth_m for g in geometries], self.config.mask_threshold
            )
            timer.lap("postprocess")
            faces = [
                self._face_result(*parts, stamp_s)
                for parts in zip(
                    detections, tracks, boxes, crops, weights, crop_intrinsics, geometries, strict=True
                )
            ]
            timer.lap("tracking")
        if carry:
            self._carried.observe(
                [f.track_id for f in faces],
                [f.detector for f in faces],
                carried_poses,
                intrinsics,
            )
        if self._fusion is not None:
            # Faces the detector missed this frame keep their points moving by flow (bounded gap), so a
            # face found again continues from where it went, as in `evaluate`; they are not published.
            self._fusion.coast_undetected(self._gray)
            timer.lap("tracking")
        return FrameResult(
            stamp_s=stamp_s,
            depth=maps.depth,
            canonical=maps.canonical,
            mask=maps.mask,
            confidence=maps.confidence,
            faces=faces,
            intrinsics=intrinsics,
            timings_ms=timer.finish(),
            face_index=maps.face_index,
        )

    def _intrinsics_for(self, intrinsics: Intrinsics | None, width: int, height: int) -> Intrinsics:
        if intrinsics is None:
            if not self._warned_default_intrinsics:
                LOGGER.warning(
                    "no camera intrinsics given: assuming a pinhole with %.0f deg horizontal field of view",
                    self.config.geometry.default_hfov_deg,
                )
                self._warned_default_intrinsics = True
            return resolve_intrinsics(None, width, height, self.config.geometry.default_hfov_deg)
        if not isinstance(intrinsics, Intrinsics):
            raise ValueError(
                f"intrinsics must be an Intrinsics instance or None, got {type(intrinsics).__name__}"
            )
        if (intrinsics.width, intrinsics.height) != (width, height):
            raise ValueError(
                f"intrinsics are for {intrinsics.width}x{intrinsics.height} but the frame is {width}x{height}"
            )
        return intrinsics

    def _anchor_to_landmarks(
        self, crops: list[CropMaps], detections: list[Detection], boxes: list[CropBox]
    ) -> None:
        """Correct each crop's canonical map towards its face-mesh landmarks (where it has them)."""
        tracking = self.config.tracking
        for crop, detection, box in zip(crops, detections, boxes, strict=True):
            if detection.landmarks is None:
                continue
            affine = crop_affine(box, self.input_size)
            landmark_pixels = detection.landmarks @ affine[:, :2].T + affine[:, 2]
            crop.canonical, _ = anchor_canonical(
                crop.canonical,
                landmark_pixels,
                self._template_canonical,
                tracking.anchor_sigma_fraction * self.input_size,
                tracking.anchor_max_residual,
                tracking.anchor_min_landmarks,
            )

    def _with_landmark_distances(
        self, fitted: list[FaceGeometry], detections: list[Detection], intrinsics: Intrinsics
    ) -> list[FaceGeometry]:
        """Each face's distance log-averaged with the template posed on its face-mesh landmarks (where it
        has them; ``geometry.landmark_distance_weight``)."""
        weight = self.config.geometry.landmark_distance_weight
        out = []
        for geometry, detection in zip(fitted, detections, strict=True):
            ratio = landmark_distance_ratio(geometry, detection.landmarks, intrinsics)
            if detection.landmarks is not None and geometry.pose_valid and not np.isfinite(ratio):
                self.landmark_distances_skipped += 1
            out.append(with_landmark_distance(geometry, ratio, weight))
        return out

    def _network_sees_face(
        self, detections: list[Detection], boxes: list[CropBox], crops: list[CropMaps]
    ) -> list[bool]:
        """Per face: False for a carried face (``model_track``) whose predicted mask no longer covers its
        box (the face turned away, left or was covered: the carrying ends); True for every detected one."""
        return [
            d.detector != DETECTOR_MODEL_TRACK
            or mask_coverage(c.mask_probability, _box_in_crop(d, b, self.input_size)) >= MIN_CARRIED_COVERAGE
            for d, b, c in zip(detections, boxes, crops, strict=True)
        ]

    def _distance_reliefs(
        self,
        network_crops: list[CropMaps],
        crops: list[CropMaps],
        priors: list[PriorMaps | None],
        geometries: list[FaceGeometry],
        boxes: list[CropBox],
        detections: list[Detection],
        width: int,
        height: int,
    ) -> list[CropMaps]:
        """The crops with each face's network relief rescaled to its fitted distance (``rescale_relief``).

        A face with a mesh prior is fused again from its rescaled network maps: the prior's relief,
        from the landmark fit, is right at any distance and must not be rescaled with it. A face cut by
        the image border keeps its relief: the distance fitted to a partial face is not trustworthy.
        """
        out = []
        for network, crop, prior, geometry, box, detection in zip(
            network_crops, crops, priors, geometries, boxes, detections, strict=True
        ):
            depth = rescale_relief(network.relative_depth, *self._relief, geometry.median_depth_m)
            if depth is network.relative_depth or _face_cut_by_border(
                detection, network.mask, box, self.input_size, width, height
            ):
                out.append(crop)
            elif crop is network:  # no prior fused into this face
                out.append(replace(network, relative_depth=depth))
            else:
                (fused,) = self.mesh_prior.apply([replace(network, relative_depth=depth)], [prior])
                out.append(fused)
        return out

    def _weight(self, crop: CropMaps) -> np.ndarray:
        """Per-pixel weight of the pose fit and the lookup (``tracking.pixel_weight``)."""
        return pixel_weight(crop.mask, crop.confidence, self.config.tracking.min_confidence)

    def _face_result(
        self,
        detection: Detection,
        track: Track,
        box: CropBox,
        crop: CropMaps,
        weight: np.ndarray,
        crop_intrinsics: Intrinsics,
        geometry: FaceGeometry,
        stamp_s: float,
    ) -> FaceResult:
        tracking = self.config.tracking
        crop_pixels, distance = locate_canonical_distances(crop.canonical, weight, self._lookup_canonical)
        crop_scale = box.side / self.input_size  # image pixels per crop pixel
        lookup = lookup_measurement(
            crop_to_image_pixels(crop_pixels, box, self.input_size),
            distance,
            sample_nearest(weight, crop_pixels, fill=0.0),
            crop_scale,
            tracking.max_canonical_distance,
            self.config.fusion,
        )
        metric_depth = sample_bilinear(crop.relative_depth, crop_pixels) * geometry.median_depth_m
        facing = self._facing(geometry, backproject_pixels(crop_pixels, metric_depth, crop_intrinsics))
        if self._fusion is None:
            image_pixels, uncertainty, visible = (
                lookup.positions,
                np.sqrt(lookup.variance),
                lookup.valid & facing,
            )
        else:
            mesh = self._mesh_measurement(detection)
            fused = self._fusion.update(
                track.track_id, self._gray, detection.box_xyxy, [lookup, mesh], facing
            )
            image_pixels, uncertainty, visible = (
                fused.positions.copy(),
                fused.uncertainty_px,
                fused.visible.copy(),
            )
            crop_pixels = image_to_crop_pixels(image_pixels, box, self.input_size)
            metric_depth = sample_bilinear(crop.relative_depth, crop_pixels) * geometry.median_depth_m
        points = backproject_pixels(crop_pixels, metric_depth, crop_intrinsics)
        if geometry.pose_valid:  # a point on the face must have a depth; without a pose none has
            visible &= finite_vectors(points)
        rows = self._row_of  # distinct points -> query rows, then mesh rows
        image_pixels, uncertainty, visible, points = (
            a[rows] for a in (image_pixels, uncertainty, visible, points)
        )
        n = self._num_queries
        query_pixels = image_pixels[:n]
        if tracking.smoothing:
            query_pixels = self._filters(track.track_id, query_pixels, stamp_s)
        return FaceResult(
            track_id=track.track_id,
            track_uuid=self._track_uuids.uuid(track.track_id),
            age=track.age,
            box_xyxy=np.asarray(detection.box_xyxy, dtype=np.float64),
            score=face_score(
                detection.score, crop.mask_probability, _box_in_crop(detection, box, self.input_size)
            ),
            detector=detection.detector,
            detector_score=detection.score,
            rotation=geometry.rotation,
            translation=geometry.translation,
            scale=geometry.scale,
            pose_valid=geometry.pose_valid,
            median_depth_m=geometry.median_depth_m,
            query_names=self._queries.names,
            query_canonical=self._queries.canonical,
            query_pixels=query_pixels,
            query_points=points[:n],
            query_visible=visible[:n],
            query_uncertainty_px=uncertainty[:n],
            mesh_vertices=points[self._mesh_rows],
            mesh_visible=visible[self._mesh_rows],
            crop_box=box,
            landmarks_px=detection.landmarks,
        )

    def _mesh_measurement(self, detection: Detection):
        """The face mesh's landmarks as a measurement of every lookup row (none for BlazeFace faces)."""
        landmarks = detection.landmarks
        box = np.asarray(detection.box_xyxy, dtype=np.float64)
        facing = None if landmarks is None else point_front_facing(landmarks, self._lookup_corners)
        side = float(np.sqrt(max((box[2] - box[0]) * (box[3] - box[1]), 0.0)))
        return mesh_measurement(
            landmarks, self._lookup_corners, self._lookup_barycentric, facing, side, self.config.fusion
        )

    def _facing(self, geometry: FaceGeometry, points: np.ndarray) -> np.ndarray:
        """True where the query's template normal, rotated by the head pose, faces the camera."""
        if not geometry.pose_valid:
            return np.ones(len(points), dtype=bool)  # unknown pose: do not reject on facing
        normals = self._lookup_normals @ geometry.rotation.T
        view = -points / np.maximum(np.linalg.norm(points, axis=1, keepdims=True), 1e-12)
        cosine = np.einsum("ij,ij->i", normals, view)
        return ~(cosine < self.config.tracking.min_facing_cos)  # NaN points are not rejected here

    def _forget_dead_tracks(self) -> None:
        """Drop the crop and point-filter state of tracks the id assigner no longer holds."""
        live = {t.track_id for t in self._ids.tracks}
        self._stabilizer.forget_all_but(live)
        self._distances.forget_all_but(live)
        self._filters.forget_all_but(live)
        if self._fusion is not None:
            self._fusion.forget_all_but(live)


def _box_in_crop(detection: Detection, box: CropBox, size: int) -> np.ndarray:
    """The detection's face box (x0, y0, x1, y1) in the crop's pixel coordinates."""
    affine = crop_affine(box, size)
    return (np.asarray(detection.box_xyxy, np.float64).reshape(2, 2) * affine[0, 0] + affine[:, 2]).ravel()


def _face_cut_by_border(
    detection: Detection, mask: np.ndarray, box: CropBox, size: int, width: int, height: int
) -> bool:
    """Whether the image border cuts the face: its detection box leaves the image, or its crop mask
    reaches the border (within a pixel; boxes from elsewhere are often clipped to the image)."""
    x0, y0, x1, y1 = np.asarray(detection.box_xyxy, np.float64)
    if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
        return True
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return False
    corners = crop_to_image_pixels(
        np.array([[cols.min(), rows.min()], [cols.max(), rows.max()]], dtype=np.float64), box, size
    )
    (x0, y0), (x1, y1) = corners
    return bool(x0 <= 1.0 or y0 <= 1.0 or x1 >= width - 2.0 or y1 >= height - 2.0)

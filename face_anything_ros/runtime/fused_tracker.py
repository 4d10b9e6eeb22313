"""Online fused point tracking: optical flow propagation + absolute measurements, per point.

Flow is precise from frame to frame but drifts and never recovers after an occluder or a fast
move; canonical lookup (and the face mesh's landmarks) has no drift and re-finds a point at once,
but is noisy by a few pixels in every frame. Each point keeps a position and an isotropic
variance (pixels^2) and, every frame:

1. **propagate** by flow on the face region (``face_flow.py``): the variance grows by the flow's
   noise; a point whose flow fails (forward-backward, leaves the region, no flow) keeps its
   position with infinite variance (no prediction);
2. **measure** absolutely (canonical lookup; face-mesh landmarks where the detector is the mesh),
   each measurement with its own variance;
3. **fuse** each measurement in a Kalman update (gain = P / (P + R)) unless it lies outside the
   gate (squared Mahalanobis distance > ``gate_chi2``);
4. **re-acquire** from the absolute measurements alone where they are gated out and the point
   had no agreeing measurement in the previous frame (it was occluded, lost or already disagreed
   once), or where most of a face's points disagree at once (a cut or a jump).

Visibility: some absolute measurement saw the point (found on the face) and its normal faces the
camera. ``FusedTracker`` holds one ``FusedPoints`` per face track and resets (starts from the
absolute measurements alone) on a new id, a track seen again after ``max_gap_frames``, a frame of
another size or a timestamp going backwards, each logged once per event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from face_anything_ros.runtime.config import FusionConfig
from face_anything_ros.runtime.face_flow import FaceFlow, FlowResult, face_region

LOGGER = logging.getLogger(__name__)
MIN_VARIANCE_PX2 = 1e-4  # a query pixel given exactly (evaluation) still gets a finite variance
MIN_POINTS_FOR_NOISE = 8  # points agreeing in a frame before its innovations update a source's noise
MIN_LOOKUP_WEIGHT = 0.05  # mask x confidence floor in the lookup's uncertainty (no division by ~0)


@dataclass(frozen=True)
class Measurement:
    """One absolute measurement of every point: position, variance (px^2), whether it exists."""

    positions: np.ndarray  # (N, 2) image pixels
    variance: np.ndarray  # (N,) px^2
    valid: np.ndarray  # (N,) bool: measured and seen (found on the face) in this frame

    @classmethod
    def none(cls, count: int) -> Measurement:
        return cls(np.full((count, 2), np.nan), np.full(count, np.inf), np.zeros(count, dtype=bool))


def lookup_measurement(
    pixels: np.ndarray,
    distance: np.ndarray,
    weight: np.ndarray,
    crop_px_to_image_px: float,
    max_distance: float,
    config: FusionConfig,
) -> Measurement:
    """Canonical lookup as a measurement: uncertainty from canonical distance and mask x confidence."""
    pixels = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
    distance = np.asarray(distance, dtype=np.float64)
    weight = np.nan_to_num(np.asarray(weight, dtype=np.float64), nan=0.0)
    valid = np.isfinite(pixels).all(axis=1) & (distance <= max_distance)
    sigma_crop = (
        config.lookup_sigma_crop_px
        * (1.0 + np.nan_to_num(distance, nan=np.inf, posinf=1e6) / config.lookup_distance_scale)
        / np.sqrt(np.clip(weight, MIN_LOOKUP_WEIGHT, 1.0))
    )
    variance = np.where(valid, (sigma_crop * crop_px_to_image_px) ** 2, np.inf)
    return Measurement(pixels, variance, valid)


def mesh_measurement(
    landmarks: np.ndarray | None,
    corners: np.ndarray,
    barycentric: np.ndarray,
    front_facing: np.ndarray | None,
    box_side_px: float,
    config: FusionConfig,
) -> Measurement:
    """Face-mesh landmarks as a measurement: each point a barycentric mix of its triangle's landmarks.

    ``corners`` (N, 3) landmark indices and ``barycentric`` (N, 3) weights (a vertex: its own index
    three times, weight 1, 0, 0; -1 corners: the point is on no mesh triangle); ``front_facing``
    (N,) whether the point's triangle faces the camera (None: all).
    """
    count = len(corners)
    if landmarks is None or count == 0:
        return Measurement.none(count)
    on_mesh = (corners >= 0).all(axis=1)
    safe = np.where(on_mesh[:, None], corners, 0)
    positions = np.einsum("nk,nkd->nd", barycentric, np.asarray(landmarks, dtype=np.float64)[safe, :2])
    valid = on_mesh & np.isfinite(positions).all(axis=1)
    if front_facing is not None:
        valid &= front_facing
    variance = np.where(valid, (config.mesh_sigma_fraction * box_side_px) ** 2, np.inf)
    return Measurement(positions, variance, valid)


class FusedPoints:
    """Kalman-style state of N points on one face."""

    def __init__(self, count: int, config: FusionConfig) -> None:
        self.config = config
        self.positions = np.full((count, 2), np.nan)
        self.variance = np.full(count, np.inf)
        self.visible = np.zeros(count, dtype=bool)
        self.frames_since_agreement = np.zeros(count, dtype=np.int64)
        # per measurement source (by position in the list): factor on its stated variance, learnt
        # from its innovations against the flow prediction (adaptive measurement noise)
        self.noise_scale: list[float] = []

    @property
    def uncertainty_px(self) -> np.ndarray:
        """Standard deviation (pixels) of each position; inf while a point has no evidence."""
        return np.sqrt(self.variance)

    def start(self, positions: np.ndarray, variance: np.ndarray | None = None) -> None:
        """Set points to known positions (query pixels), e.g. when a point starts being tracked."""
        positions = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
        self.positions = positions.copy()
        known = np.isfinite(positions).all(axis=1)
        given = np.full(len(positions), MIN_VARIANCE_PX2) if variance is None else np.asarray(variance, float)
        self.variance = np.where(known, np.maximum(given, MIN_VARIANCE_PX2), np.inf)
        self.visible = known.copy()
        self.frames_since_agreement = np.zeros(len(positions), dtype=np.int64)

    def set_known(self, select: np.ndarray, positions: np.ndarray) -> None:
        """Points ``select`` (N bool) are exactly at ``positions`` (M, 2) now (e.g. a query pixel)."""
        self.positions[select] = positions
        self.variance[select] = MIN_VARIANCE_PX2
        self.visible[select] = True
        self.frames_since_agreement[select] = 0

    def step(
        self, flow: FlowResult | None, measurements: list[Measurement], facing: np.ndarray | None
    ) -> None:
        """One frame: propagate by ``flow`` (None: no previous frame), fuse, gate, re-acquire."""
        config = self.config
        count = len(self.positions)
        if flow is not None:
            motion = np.linalg.norm(flow.points - self.positions, axis=1)
            noise = (
                config.flow_sigma_px**2
                + (config.flow_sigma_per_px * np.nan_to_num(motion, nan=0.0)) ** 2
                + np.where(np.isfinite(flow.fb_error_px), flow.fb_error_px, 0.0) ** 2
            )
            self.positions = np.where(flow.ok[:, None], flow.points, self.positions)
            self.variance = np.where(flow.ok, self.variance + noise, np.inf)
        else:
            self.variance = np.full(count, np.inf)
        predicted = np.isfinite(self.variance) & np.isfinite(self.positions).all(axis=1)
        prior_positions, prior_variance = self.positions.copy(), self.variance.copy()
        measurements = self._scaled(measurements, predicted)
        measured = np.zeros(count, dtype=bool)
        agreed = np.zeros(count, dtype=bool)
        rejected = np.zeros(count, dtype=bool)
        for m in measurements:
            valid = m.valid & np.isfinite(m.positions).all(axis=1) & np.isfinite(m.variance)
            measured |= valid
            innovation = m.positions - self.positions
            total = self.variance + m.variance
            squared = np.where(
                np.isfinite(total),
                (innovation**2).sum(axis=1) / np.where(np.isfinite(total), total, 1.0),
                0.0,
            )
            has_prior = np.isfinite(self.variance) & np.isfinite(self.positions).all(axis=1)
            inside_gate = valid & has_prior & (squared <= config.gate_chi2)
            fresh = valid & ~has_prior  # nothing to disagree with: take the measurement
            gain = np.where(inside_gate, self.variance / np.where(inside_gate, total, 1.0), 0.0)
            self.positions = np.where(
                inside_gate[:, None], self.positions + gain[:, None] * innovation, self.positions
            )
            self.variance = np.where(inside_gate, (1.0 - gain) * self.variance, self.variance)
            self.positions = np.where(fresh[:, None], m.positions, self.positions)
            self.variance = np.where(fresh, m.variance, self.variance)
            agreed |= inside_gate & predicted
            rejected |= valid & has_prior & ~inside_gate
        rejected &= ~agreed
        stale = self.frames_since_agreement > 0
        # most of the face's measured points without a usable flow or disagreeing: a cut or a jump
        troubled = rejected | (measured & ~predicted)
        cut = measured.any() and troubled.sum() > config.reacquire_face_fraction * measured.sum()
        reacquire = rejected & (stale | cut)
        if reacquire.any():
            positions, variance = _combine(measurements, reacquire)
            self.positions[reacquire] = positions
            self.variance[reacquire] = variance
        # rejected once after agreeing: keep the flow prediction this frame (one outlier tolerated)
        keep = rejected & ~reacquire
        self.positions[keep], self.variance[keep] = prior_positions[keep], prior_variance[keep]
        self.frames_since_agreement = np.where(agreed, 0, self.frames_since_agreement + 1)
        unplaced = ~np.isfinite(self.positions).all(axis=1)
        for m in measurements:  # no position yet: a best-effort one (not visible, infinite variance)
            fill = unplaced & np.isfinite(m.positions).all(axis=1)
            self.positions[fill] = m.positions[fill]
            unplaced &= ~fill
        self.visible = measured & np.isfinite(self.positions).all(axis=1)
        if facing is not None:
            self.visible &= facing

    def _scaled(self, measurements: list[Measurement], predicted: np.ndarray) -> list[Measurement]:
        """Measurements with variances rescaled by each source's learnt noise factor.

        With the right variance R, the innovation v = z - x_pred of a 2D isotropic measurement has
        |v|^2 / (P + R) ~ chi2(2), whose median is 2 ln 2; so median(|v|^2) / (2 ln 2) - median(P)
        estimates this frame's R (medians: robust to the occluded and the re-found). Its ratio to
        the stated R, averaged over frames, is the source's factor: a lookup twice as noisy as its
        canonical distance and confidence say gets half the gain (the network on a face unlike
        its training faces), a mesh that is steadier than assumed gets more.
        """
        config = self.config
        while len(self.noise_scale) < len(measurements):
            self.noise_scale.append(1.0)
        scaled = []
        for k, m in enumerate(measurements):
            usable = m.valid & predicted & np.isfinite(m.variance) & np.isfinite(m.positions).all(axis=1)
            if config.adapt_noise and usable.sum() >= MIN_POINTS_FOR_NOISE:
                squared = ((m.positions[usable] - self.positions[usable]) ** 2).sum(axis=1)
                estimate = np.median(squared) / (2 * np.log(2)) - np.median(self.variance[usable])
                ratio = np.clip(
                    estimate / np.median(m.variance[usable]), config.noise_scale_min, config.noise_scale_max
                )
                rate = config.noise_adapt_rate
                self.noise_scale[k] = float((1 - rate) * self.noise_scale[k] + rate * ratio)
            scaled.append(Measurement(m.positions, m.variance * self.noise_scale[k], m.valid))
        return scaled


def _combine(measurements: list[Measurement], select: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse-variance average of the valid absolute measurements of the selected points."""
    information = np.zeros(int(select.sum()))
    weighted = np.zeros((int(select.sum()), 2))
    for m in measurements:
        valid = (m.valid & np.isfinite(m.variance) & np.isfinite(m.positions).all(axis=1))[select]
        inverse = np.where(valid, 1.0 / np.maximum(m.variance[select], MIN_VARIANCE_PX2), 0.0)
        information += inverse
        weighted += inverse[:, None] * np.nan_to_num(m.positions[select])
    with np.errstate(invalid="ignore", divide="ignore"):
        return weighted / information[:, None], 1.0 / information


def _centre(box_xyxy: np.ndarray) -> np.ndarray:
    box = np.asarray(box_xyxy, dtype=np.float64)
    return 0.5 * (box[:2] + box[2:])


@dataclass
class _TrackState:
    points: FusedPoints
    gray: np.ndarray  # the grey frame the state belongs to
    box_xyxy: np.ndarray
    frame_number: int


class FusedTracker:
    """Per face track fused point state for one stream (the pipeline owns one)."""

    def __init__(self, config: FusionConfig) -> None:
        self.config = config
        self._flow = FaceFlow(config.flow_method, config.max_region_side, config.fb_threshold_px)
        self._tracks: dict[int, _TrackState] = {}
        self._frame_number = 0
        self._frame_shape: tuple[int, int] | None = None
        self._last_stamp: float | None = None
        self._warned_empty_region = False

    def begin_frame(self, gray: np.ndarray, stamp_s: float) -> None:
        """Start a frame: forget every track on a frame-size change or a timestamp going backwards."""
        self._frame_number += 1
        shape = tuple(gray.shape[:2])
        if self._frame_shape is not None and shape != self._frame_shape:
            if self._tracks:
                LOGGER.warning(
                    "frame size changed from %dx%d to %dx%d: point tracks restart from the absolute measurements",
                    self._frame_shape[1],
                    self._frame_shape[0],
                    shape[1],
                    shape[0],
                )
            self._tracks.clear()
        elif self._last_stamp is not None and np.isfinite(stamp_s) and stamp_s < self._last_stamp:
            if self._tracks:
                LOGGER.warning(
                    "timestamp went backwards (%.3f s after %.3f s, e.g. a looped bag): point tracks restart "
                    "from the absolute measurements",
                    stamp_s,
                    self._last_stamp,
                )
            self._tracks.clear()
        self._frame_shape = shape
        if np.isfinite(stamp_s):
            self._last_stamp = stamp_s

    def reset(self) -> None:
        self._tracks.clear()
        self._frame_shape = None
        self._last_stamp = None

    def forget_all_but(self, live_ids: set[int]) -> None:
        for track_id in list(self._tracks):
            if track_id not in live_ids:
                del self._tracks[track_id]

    def update(
        self,
        track_id: int,
        gray: np.ndarray,
        box_xyxy: np.ndarray,
        measurements: list[Measurement],
        facing: np.ndarray | None,
    ) -> FusedPoints:
        """Fuse one face's measurements in this frame (call ``begin_frame`` first)."""
        count = len(measurements[0].positions) if measurements else 0
        state = self._tracks.get(track_id)
        if state is not None and len(state.points.positions) != count:
            state = None
        if state is not None and self._frame_number - state.frame_number - 1 > self.config.max_gap_frames:
            LOGGER.info(
                "track %d seen again after %d frames: its points restart from the absolute measurements",
                track_id,
                self._frame_number - state.frame_number - 1,
            )
            state = None
        if state is None:
            points = FusedPoints(count, self.config)
            points.step(None, measurements, facing)
        else:
            points = state.points
            height, width = gray.shape[:2]
            region = face_region([state.box_xyxy, box_xyxy], self.config.region_margin, width, height)
            if region is None and not self._warned_empty_region:
                LOGGER.warning(
                    "face %d: empty face region (box %s): no flow, absolute measurements only",
                    track_id,
                    np.round(box_xyxy, 1).tolist(),
                )
                self._warned_empty_region = True
            shift = _centre(box_xyxy) - _centre(state.box_xyxy)
            points.step(self._flow(state.gray, gray, points.positions, region, shift), measurements, facing)
        self._tracks[track_id] = _TrackState(
            points, gray, np.asarray(box_xyxy, dtype=np.float64), self._frame_number
        )
        return points

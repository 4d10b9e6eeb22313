"""Online fused point tracking: optical flow propagation + absolute measurements, per point.

Flow is precise from frame to frame but drifts and never recovers after an occluder or a fast
move; canonical lookup (and the face mesh's landmarks) has no drift and re-finds a point at once,
but is noisy by a few pixels in every frame. Each point keeps a position (and per source a bias,
below) with an isotropic covariance and, every frame:

1. **propagate** by flow on the face region (``face_flow.py``): the variance grows by the flow's
   noise; a point whose flow fails (forward-backward, leaves the region, no flow) keeps its
   position with no information on it (no prediction);
2. **measure** absolutely (canonical lookup; face-mesh landmarks where the detector is the mesh),
   each measurement with its own variance;
3. **fuse** each measurement in a Kalman update unless it lies outside the gate (squared
   Mahalanobis distance of its innovation > ``gate_chi2``);
4. **re-acquire** from the absolute measurements alone where they are gated out and the point
   had no agreeing measurement in the previous frame (it was occluded, lost or already disagreed
   once), or where most of a face's points disagree at once (a cut or a jump). A point that no
   measurement saw for ``reacquire_after_hidden_frames`` frames (hidden by an occluder, whose motion
   a dense flow follows) is gated on the measurement's noise alone when it is seen again.

Each absolute source also carries a per-point **bias** (``learn_bias``): the network's lookup on a
real face is wrong by a few pixels fairly consistently per point, and a Kalman update on an
unbiased model is pulled by such an offset and re-acquires to it after an occluder. The bias is a
slowly varying state (zero-mean prior, random walk; units of the face box side so it survives
scale changes) in the point's joint Kalman state, observable while the flow carries the position
from a better-known past (a query pixel given exactly, the agreement of other sources); every
measurement is fused as z - bias, and a re-acquisition lands on z - bias. Biases start at zero
with the track. How large a source's biases are differs between faces (on our synthetic renders the
network is right and the face mesh off by a pixel or two, on real faces the reverse), so each source's
prior variance can be re-estimated per track from the biases learnt so far (``adapt_bias_prior``, an
empirical-Bayes step; off by default: it won on simulated biased sources, not on the real-texture set).

A face the detector misses in a frame is carried by flow alone for at most ``max_coast_frames``
(``FusedTracker.coast_undetected``).

Visibility: some absolute measurement saw the point (found on the face) and its normal faces the
camera. ``FusedTracker`` holds one ``FusedPoints`` per face track and resets (starts from the
absolute measurements alone) on a new id, a track seen again after ``max_gap_frames``, a frame of
another size or a timestamp going backwards, each logged once per event.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from face_anything_ros.core.fast_reductions import finite_vectors, median, norms, squared_norms
from face_anything_ros.runtime.config import FusionConfig
from face_anything_ros.runtime.face_flow import FaceFlow, FlowResult, face_region

LOGGER = logging.getLogger(__name__)
MIN_VARIANCE_PX2 = 1e-4  # a query pixel given exactly (evaluation) still gets a finite variance
MIN_POINTS_FOR_NOISE = 8  # points agreeing in a frame before its innovations update a source's noise
MIN_LOOKUP_WEIGHT = 0.05  # mask x confidence² floor in the lookup's uncertainty (no division by ~0)
# ceiling: a pixel the head calls 4x as reliable as a typical one gets at most half the typical sigma
MAX_LOOKUP_WEIGHT = 4.0
NO_PREDICTION_PX2 = 1e10  # position variance that stands for "no prediction" (finite: the update stays exact)


@dataclass(frozen=True)
class Measurement:
    """One absolute measurement of every point: position, variance (px^2), whether it exists."""

    positions: np.ndarray  # (N, 2) image pixels
    variance: np.ndarray  # (N,) px^2
    valid: np.ndarray  # (N,) bool: measured and seen (found on the face) in this frame
    # prior sigma of this source's per-point bias, face box sides (NaN: fusion.bias_prior_fraction)
    bias_prior_fraction: float = float("nan")

    @property
    def usable(self) -> np.ndarray:
        """(N,) points this measurement saw, with a finite position and variance."""
        return self.valid & finite_vectors(self.positions) & np.isfinite(self.variance)

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
    """Canonical lookup as a measurement: uncertainty from canonical distance and ``weight``, the
    pixel's inverse-variance weight (mask x relative confidence², 1 = a typical face pixel)."""
    pixels = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
    distance = np.asarray(distance, dtype=np.float64)
    weight = np.nan_to_num(np.asarray(weight, dtype=np.float64), nan=0.0)
    valid = finite_vectors(pixels) & (distance <= max_distance)
    sigma_crop = (
        config.lookup_sigma_crop_px
        * (1.0 + np.nan_to_num(distance, nan=np.inf, posinf=1e6) / config.lookup_distance_scale)
        / np.sqrt(np.clip(weight, MIN_LOOKUP_WEIGHT, MAX_LOOKUP_WEIGHT))
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
    valid = on_mesh & finite_vectors(positions)
    if front_facing is not None:
        valid &= front_facing
    variance = np.where(valid, (config.mesh_sigma_fraction * box_side_px) ** 2, np.inf)
    return Measurement(positions, variance, valid, config.mesh_bias_prior_fraction)


class FusedPoints:
    """Kalman state of N points on one face: position and, per absolute source, a bias.

    The state of a point is its position x (pixels) and one bias b_k per measurement source (units
    of the face box side s), with a joint covariance shared by both image axes (isotropic). Source
    k measures z_k = x + s b_k + noise. Only the sum x + s b_k is observable from one source alone;
    the bias's zero-mean prior keeps x on the measurements then, and the flow, which carries x from
    a better-known past (a query pixel given exactly, an agreement of sources), makes b_k
    observable. A point whose flow fails loses its position's information (and its correlation with
    the biases), keeping the biases: re-acquisition then lands on z_k - s b_k.
    """

    def __init__(self, count: int, config: FusionConfig) -> None:
        self.config = config
        self.positions = np.full((count, 2), np.nan)
        self.visible = np.zeros(count, dtype=bool)
        self.frames_since_agreement = np.zeros(count, dtype=np.int64)
        self.frames_hidden = np.zeros(count, dtype=np.int64)  # frames in a row no measurement saw it
        # per measurement source (by position in the list): factor on its stated variance, learnt
        # from its innovations against the flow prediction (adaptive measurement noise)
        self.noise_scale: list[float] = []
        self.bias = np.zeros((count, 0, 2))  # (N, sources, 2), units of the face box side
        # per source: the prior variance of its biases (face box sides^2), stated at first sight, then
        # re-estimated from the learnt biases (``_adapt_bias_prior``)
        self.bias_prior_var: list[float] = []
        self._stated_bias_prior_var: list[float] = []
        # joint covariance of (position px, bias_1, ..., bias_K face sides) per point
        self.covariance = np.zeros((count, 1, 1))
        self.covariance[:, 0, 0] = NO_PREDICTION_PX2

    @property
    def variance(self) -> np.ndarray:
        """Position variance (px^2) of each point; inf while a point has no prediction."""
        v = self.covariance[:, 0, 0]
        return np.where(v >= 0.1 * NO_PREDICTION_PX2, np.inf, v)

    @property
    def uncertainty_px(self) -> np.ndarray:
        """Standard deviation (pixels) of each position; inf while a point has no evidence."""
        return np.sqrt(self.variance)

    def start(self, positions: np.ndarray, variance: np.ndarray | None = None) -> None:
        """Set points to known positions (query pixels), e.g. when a point starts being tracked."""
        positions = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
        known = finite_vectors(positions)
        given = np.full(len(positions), MIN_VARIANCE_PX2) if variance is None else np.asarray(variance, float)
        self.positions = positions.copy()
        self._forget_positions(np.ones(len(positions), dtype=bool))
        self.covariance[:, 0, 0] = np.where(known, np.maximum(given, MIN_VARIANCE_PX2), NO_PREDICTION_PX2)
        self.visible = known.copy()
        self.frames_since_agreement = np.zeros(len(positions), dtype=np.int64)
        self.frames_hidden = np.zeros(len(positions), dtype=np.int64)

    def set_known(self, select: np.ndarray, positions: np.ndarray) -> None:
        """Points ``select`` (N bool) are exactly at ``positions`` (M, 2) now (e.g. a query pixel)."""
        self.positions[select] = positions
        self._forget_positions(select)
        self.covariance[select, 0, 0] = MIN_VARIANCE_PX2
        self.visible[select] = True
        self.frames_since_agreement[select] = 0
        self.frames_hidden[select] = 0

    def _forget_positions(self, select: np.ndarray) -> None:
        """No information on the selected positions (nor correlation with their biases) any more."""
        self.covariance[select, 0, :] = 0.0
        self.covariance[select, :, 0] = 0.0
        self.covariance[select, 0, 0] = NO_PREDICTION_PX2

    def _add_sources(self, measurements: list[Measurement], side: float) -> None:
        """Zero biases with their prior variance for sources seen for the first time.

        The prior is a share of the face box side plus a floor in pixels (``bias_prior_floor_px``, added
        in quadrature at the face's size ``side`` when the source is first seen): part of a measurement's
        consistent error scales with the face (millimetres of the network's canonical error), part does
        not (the image's own pixels, blur and aliasing on a small face)."""
        have, sources = self.bias.shape[1], len(measurements)
        if sources <= have:
            return
        count = len(self.positions)
        self.bias = np.concatenate([self.bias, np.zeros((count, sources - have, 2))], axis=1)
        grown = np.zeros((count, 1 + sources, 1 + sources))
        grown[:, : 1 + have, : 1 + have] = self.covariance
        for k in range(have, sources):  # the prior at the first measurement, after that frame's random walk
            stated = measurements[k].bias_prior_fraction
            fraction = stated if np.isfinite(stated) else self.config.bias_prior_fraction
            floor = self.config.bias_prior_floor_px / side if side > 0 else 0.0
            prior_var = fraction**2 + floor**2
            grown[:, 1 + k, 1 + k] = max(prior_var - self.config.bias_walk_fraction**2, 0.0)
            self.bias_prior_var.append(prior_var)
            self._stated_bias_prior_var.append(prior_var)
        self.covariance = grown

    def propagate(self, flow: FlowResult | None) -> None:
        """Move every point by ``flow`` (None: no previous frame); failed flow leaves no prediction."""
        config = self.config
        if flow is None:
            self._forget_positions(np.ones(len(self.positions), dtype=bool))
            return
        motion = norms(flow.points - self.positions)
        noise = (
            config.flow_sigma_px**2
            + (config.flow_sigma_per_px * np.nan_to_num(motion, nan=0.0)) ** 2
            + np.where(np.isfinite(flow.fb_error_px), flow.fb_error_px, 0.0) ** 2
        )
        self.positions = np.where(flow.ok[:, None], flow.points, self.positions)
        self.covariance[:, 0, 0] += np.where(flow.ok, noise, 0.0)
        self._forget_positions(~flow.ok)

    def coast(self, flow: FlowResult) -> None:
        """A frame without absolute measurements (the face was not detected): flow alone.

        A point stays visible only where it was visible and the flow followed it; where the flow
        fails it keeps its position with no prediction (re-acquired once the face is seen again).
        """
        self.propagate(flow)
        self.visible &= flow.ok
        self.frames_since_agreement += 1

    def step(
        self,
        flow: FlowResult | None,
        measurements: list[Measurement],
        facing: np.ndarray | None,
        face_side_px: float = float("nan"),
    ) -> None:
        """One frame: propagate by ``flow`` (None: no previous frame), fuse, gate, re-acquire.

        ``face_side_px``: the face box side, the unit of the biases (NaN, or ``learn_bias`` off: the
        biases are neither used nor learnt in this frame).
        """
        config = self.config
        count = len(self.positions)
        side = face_side_px if config.learn_bias and np.isfinite(face_side_px) and face_side_px > 0 else 0.0
        self._add_sources(measurements, side)
        self.propagate(flow)
        if self.bias.shape[1]:  # each bias drifts a little per frame (a slowly varying offset)
            sources = np.arange(1, 1 + self.bias.shape[1])
            self.covariance[:, sources, sources] += config.bias_walk_fraction**2
        placed = finite_vectors(self.positions)
        self.positions[~placed] = 0.0  # no position yet: any finite start (its variance is unbounded)
        usable = [m.usable for m in measurements]
        measured = np.logical_or.reduce(usable) if usable else np.zeros(count, dtype=bool)
        # seen again after a while unseen: the flow may have followed an occluder, however sure it is
        hidden_for = config.reacquire_after_hidden_frames
        reappeared = measured & (hidden_for > 0) & (self.frames_hidden >= hidden_for)
        self.frames_hidden = np.where(measured, 0, self.frames_hidden + 1)
        predicted = placed & (self.covariance[:, 0, 0] < 0.1 * NO_PREDICTION_PX2)
        prior = (self.positions.copy(), self.bias.copy(), self.covariance.copy())
        while len(self.noise_scale) < len(measurements):
            self.noise_scale.append(1.0)
        agreed = np.zeros(count, dtype=bool)
        rejected = np.zeros(count, dtype=bool)
        for k, m in enumerate(measurements):
            valid = usable[k]
            noise = np.where(valid, m.variance, 1.0)
            z = np.where(valid[:, None], m.positions, 0.0)
            innovation, spread, ph = self._innovation(k, z, side)
            self._learn_noise_factor(k, innovation, spread, noise, valid & predicted)
            noise = noise * self.noise_scale[k]
            squared = squared_norms(innovation) / (spread + noise)
            # a reappearing point is gated as if its prediction were exact: only the measurement's noise
            squared = np.where(reappeared, squared_norms(innovation) / noise, squared)
            has_prior = placed & (self.covariance[:, 0, 0] < 0.1 * NO_PREDICTION_PX2)
            inside_gate = valid & has_prior & (squared <= config.gate_chi2)
            fresh = valid & ~has_prior  # nothing to disagree with: take the measurement
            self._update(k, z, noise, inside_gate | fresh, side, (innovation, spread, ph))
            placed |= fresh
            agreed |= inside_gate & predicted
            rejected |= valid & has_prior & ~inside_gate
        rejected &= ~agreed
        stale = self.frames_since_agreement > 0
        # most of the face's measured points without a usable flow or disagreeing: a cut or a jump
        troubled = rejected | (measured & ~predicted)
        cut = measured.any() and troubled.sum() > config.reacquire_face_fraction * measured.sum()
        if cut:  # no flow on this face is to be trusted: every measured point restarts, biases untouched
            reacquire = measured.copy()
            agreed[:] = False
        else:
            reacquire = rejected & stale
        # back to the prediction: rejected once after agreeing keeps it this frame (one outlier tolerated);
        # a re-acquired point starts from it (its biases as they were before this frame's updates)
        restore = rejected | reacquire
        self.positions[restore], self.bias[restore], self.covariance[restore] = (a[restore] for a in prior)
        if reacquire.any():  # from the absolute measurements alone, each minus its learnt bias
            self._forget_positions(reacquire)
            for k, m in enumerate(measurements):
                valid = reacquire & usable[k]
                noise = np.where(valid, m.variance, 1.0) * self.noise_scale[k]
                self._update(k, np.where(valid[:, None], m.positions, 0.0), noise, valid, side)
        self.frames_since_agreement = np.where(agreed, 0, self.frames_since_agreement + 1)
        if side > 0 and config.adapt_bias_prior:
            for k in range(len(measurements)):
                self._adapt_bias_prior(k, usable[k] & agreed & ~reacquire)
        for m in measurements:  # no position yet: a best-effort one (not visible, infinite variance)
            fill = ~placed & finite_vectors(m.positions)
            self.positions[fill] = m.positions[fill]
            placed |= fill
        self.positions[~placed] = np.nan
        self.visible = measured & placed
        if facing is not None:
            self.visible &= facing

    def _observation(self, source: int, side: float) -> np.ndarray:
        """Row H of z_k = x + s b_k (the same for every point)."""
        row = np.zeros(1 + self.bias.shape[1])
        row[0] = 1.0
        row[1 + source] = side
        return row

    def _innovation(
        self, source: int, z: np.ndarray, side: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Innovation z - x - s b_k (N, 2), its variance without the measurement noise (N,), and P H'."""
        row = self._observation(source, side)
        ph = self.covariance @ row  # (N, 1+K)
        spread = ph @ row
        return z - self.positions - side * self.bias[:, source], spread, ph

    def _update(
        self,
        source: int,
        z: np.ndarray,
        noise: np.ndarray,
        select: np.ndarray,
        side: float,
        innovation: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """Kalman update of the selected points' positions and biases by source ``source``
        (``innovation``: ``_innovation``'s answer for this state, when already computed)."""
        rows = np.flatnonzero(select)
        if not rows.size:
            return
        residual, spread, ph = innovation if innovation is not None else self._innovation(source, z, side)
        residual, spread, ph = residual[rows], spread[rows], ph[rows]
        # no prediction: start at the measurement minus its bias (the update then only sets variances)
        unknown = self.covariance[rows, 0, 0] >= 0.1 * NO_PREDICTION_PX2
        if unknown.any():
            self.positions[rows[unknown]] += residual[unknown]
            residual = np.where(unknown[:, None], 0.0, residual)
        gain = ph / (spread + noise[rows])[:, None]  # (M, 1+K)
        self.positions[rows] += gain[:, :1] * residual
        self.bias[rows] += gain[:, 1:, None] * residual[:, None, :]
        self.covariance[rows] -= gain[:, :, None] * ph[:, None, :]

    def _adapt_bias_prior(self, source: int, informed: np.ndarray) -> None:
        """Re-estimate a source's bias prior variance from the biases learnt so far (empirical Bayes).

        Which source errs consistently depends on the faces: on our synthetic renders the network is
        right and the face mesh is off by a pixel or two per landmark, on real faces the reverse. A prior
        fixed on one domain splits a disagreement wrongly on the other. The EM estimate of a zero-mean
        prior's variance is the mean over points of (posterior mean^2 + posterior variance) of their
        biases; it is averaged over frames (``bias_prior_adapt_rate``), bounded by ``bias_prior_scale_*``
        times the stated sigma, and applied to every point's state as the change of prior precision it
        is: a pseudo-measurement b = 0 with variance 1 / (1/new - 1/old) (negative where the prior
        widens, which undoes part of the shrinkage).
        """
        config = self.config
        if informed.sum() < MIN_POINTS_FOR_NOISE:
            return
        row = 1 + source
        estimate = float(
            np.mean(0.5 * squared_norms(self.bias[informed, source]) + self.covariance[informed, row, row])
        )
        stated = self._stated_bias_prior_var[source]
        lowest, highest = stated * config.bias_prior_scale_min**2, stated * config.bias_prior_scale_max**2
        estimate = float(np.clip(estimate, lowest, highest))
        old = self.bias_prior_var[source]
        new = (1 - config.bias_prior_adapt_rate) * old + config.bias_prior_adapt_rate * estimate
        self.bias_prior_var[source] = new
        precision_change = 1.0 / new - 1.0 / old
        if precision_change == 0.0:
            return
        spread = self.covariance[:, row, row]
        # removing more precision than a bias has would make its variance negative: those keep theirs
        apply = (spread > 0) & (spread * precision_change > -0.9)
        if not apply.any():
            return
        ph = self.covariance[apply, :, row]  # (M, 1+K)
        gain = ph / (spread[apply] + 1.0 / precision_change)[:, None]
        residual = -self.bias[apply, source]  # (M, 2): the pseudo-measurement 0 minus the bias
        self.positions[apply] += gain[:, :1] * residual
        self.bias[apply] += gain[:, 1:, None] * residual[:, None, :]
        self.covariance[apply] -= gain[:, :, None] * ph[:, None, :]

    def _learn_noise_factor(
        self, source: int, innovation: np.ndarray, spread: np.ndarray, noise: np.ndarray, usable: np.ndarray
    ) -> None:
        """Rescale a source's stated variances by a factor learnt from its innovations.

        With the right variance R, the innovation v = z - x_pred of a 2D isotropic measurement has
        |v|^2 / (P + R) ~ chi2(2), whose median is 2 ln 2; so median(|v|^2) / (2 ln 2) - median(P)
        estimates this frame's R (medians: robust to the occluded and the re-found). Its ratio to
        the stated R, averaged over frames, is the source's factor: a lookup twice as noisy as its
        canonical distance and confidence say gets half the gain (the network on a face unlike
        its training faces), a mesh that is steadier than assumed gets more. P includes the
        bias's uncertainty, so a consistent offset already learnt does not count as noise.
        """
        config = self.config
        if not config.adapt_noise or usable.sum() < MIN_POINTS_FOR_NOISE:
            return
        squared = squared_norms(innovation[usable])
        estimate = median(squared) / (2 * np.log(2)) - median(spread[usable])
        ratio = np.clip(estimate / median(noise[usable]), config.noise_scale_min, config.noise_scale_max)
        rate = config.noise_adapt_rate
        self.noise_scale[source] = float((1 - rate) * self.noise_scale[source] + rate * ratio)


def _centre(box_xyxy: np.ndarray) -> np.ndarray:
    box = np.asarray(box_xyxy, dtype=np.float64)
    return 0.5 * (box[:2] + box[2:])


def box_side_px(box_xyxy: np.ndarray) -> float:
    """Side of the square with the box's area (the face's scale), NaN for an empty or invalid box."""
    x0, y0, x1, y1 = np.asarray(box_xyxy, dtype=np.float64)
    area = (x1 - x0) * (y1 - y0)
    return float(np.sqrt(area)) if np.isfinite(area) and area > 0 else float("nan")


@dataclass
class _TrackState:
    points: FusedPoints
    gray: np.ndarray  # the grey frame the state belongs to
    box_xyxy: np.ndarray
    frame_number: int
    coasted_frames: int = 0  # frames in a row carried by flow alone (face not detected)


@dataclass
class _PendingFlow:
    """A face's flow into this frame, running in the worker thread (``FusedTracker.prefetch_flow``)."""

    future: Future
    state: _TrackState  # the state it moves (used only if the track still has exactly this one)
    gray: np.ndarray
    box_xyxy: np.ndarray


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
        self._worker: ThreadPoolExecutor | None = None
        self._pending: dict[int, _PendingFlow] = {}

    def prefetch_flow(self, track_id: int, gray: np.ndarray, box_xyxy: np.ndarray) -> None:
        """Start the flow of face ``track_id`` into this frame (``gray``, its box ``box_xyxy``) in a worker
        thread; ``update`` with the same frame and box takes its result instead of computing it.

        OpenCV's flow releases the GIL and gains little from a second core, while the rest of a frame
        (head pose, canonical lookup: numpy) runs on one, so on a 2-core CPU the flow costs almost no
        wall time this way. The result is the same as ``update`` computing it (one flow at a time)."""
        state = self._tracks.get(track_id)
        if state is None or track_id in self._pending or not self._continues(state, track_id, log=False):
            return
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="face-flow")
        box = np.asarray(box_xyxy, dtype=np.float64)
        future = self._worker.submit(self._face_flow, track_id, state, gray, box)
        self._pending[track_id] = _PendingFlow(future, state, gray, box)

    def _wait_for_pending(self) -> None:
        """Wait until no prefetched flow runs (the flow engine serves one call at a time); keep their results."""
        for pending in self._pending.values():
            pending.future.exception()  # waits; an error is re-raised only where the result is used

    def _finish_pending(self) -> None:
        """Wait for every prefetched flow and drop them (a new frame, a reset, or this frame's updates done)."""
        self._wait_for_pending()
        self._pending.clear()

    def _continues(self, state: _TrackState, track_id: int, log: bool = True) -> bool:
        """Whether a track's state carries on into this frame (not unseen for more than the gap)."""
        unseen = self._frame_number - state.frame_number - 1
        if unseen <= self.config.max_gap_frames:
            return True
        if log:
            LOGGER.info(
                "track %d seen again after %d frames: its points restart from the absolute measurements",
                track_id,
                unseen,
            )
        return False

    def _face_flow(
        self, track_id: int, state: _TrackState, gray: np.ndarray, box_xyxy: np.ndarray
    ) -> FlowResult:
        """The flow of a track's points from its last frame into ``gray`` on the face region."""
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
        return self._flow(state.gray, gray, state.points.positions, region, shift)

    def begin_frame(self, gray: np.ndarray, stamp_s: float) -> None:
        """Start a frame: forget every track on a frame-size change or a timestamp going backwards."""
        self._finish_pending()
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
        self._finish_pending()
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
        box = np.asarray(box_xyxy, dtype=np.float64)
        pending = self._pending.pop(track_id, None)
        state = self._tracks.get(track_id)
        if state is not None and len(state.points.positions) != count:
            state = None
        if state is not None and not self._continues(state, track_id):
            state = None
        prefetched = (
            pending is not None
            and state is not None
            and pending.state is state
            and pending.gray is gray
            and np.array_equal(pending.box_xyxy, box)
        )
        if pending is not None and not prefetched:
            pending.future.exception()  # not for this state, frame or box: let it finish, unused
        side = box_side_px(box_xyxy)
        if state is None:
            points = FusedPoints(count, self.config)
            points.step(None, measurements, facing, side)
        else:
            points = state.points
            if prefetched:
                flow = pending.future.result()
            else:
                self._wait_for_pending()  # the flow engine serves one call at a time
                flow = self._face_flow(track_id, state, gray, box)
            points.step(flow, measurements, facing, side)
        self._tracks[track_id] = _TrackState(points, gray, box, self._frame_number)
        return points

    def coast_undetected(self, gray: np.ndarray) -> dict[int, tuple[FusedPoints, np.ndarray]]:
        """Carry by flow alone every track seen in the previous frame but not in this one (the detector
        missed its face), for at most ``max_coast_frames`` in a row; call after this frame's ``update``s.

        The flow runs on the last face region with no motion guess (the box's motion is unknown); the
        box moves by the median motion of the points the flow followed. Returns the coasted tracks'
        points and moved boxes by id. A coasted track whose face is detected again continues as usual.
        """
        coasted: dict[int, tuple[FusedPoints, np.ndarray]] = {}
        self._finish_pending()
        if self.config.max_coast_frames <= 0:
            return coasted
        height, width = gray.shape[:2]
        for track_id, state in self._tracks.items():
            if state.frame_number != self._frame_number - 1 or state.coasted_frames >= self.config.max_coast_frames:
                continue
            if state.gray.shape != gray.shape:
                continue
            region = face_region([state.box_xyxy], self.config.region_margin, width, height)
            before = state.points.positions.copy()
            flow = self._flow(state.gray, gray, before, region, None)
            state.points.coast(flow)
            motion = flow.points[flow.ok] - before[flow.ok]
            shift = np.median(motion, axis=0) if len(motion) else np.zeros(2)
            box = state.box_xyxy + np.concatenate([shift, shift])
            self._tracks[track_id] = _TrackState(
                state.points, gray, box, self._frame_number, state.coasted_frames + 1
            )
            coasted[track_id] = (state.points, box)
        return coasted

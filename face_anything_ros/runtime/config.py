"""Typed configuration of the runtime pipeline, loadable from a YAML dict.

Every number a user may turn lives here with its default and a comment on why.
Numbers nobody should turn (calibrations measured once, tolerances, fit internals) are
constants beside the code that uses them, each with a comment saying where it was measured:
``core/crop.DEFAULT_CROP_SCALE`` (fixed by training), ``core/face_template.CANONICAL_UNIT_M``
(fixed by the message), the BlazeFace box mapping (runtime/detection.py), the similarity fit
(runtime/geometry.py) and the backend parity limits (runtime/backends/selection.py). ``PipelineConfig.from_dict`` is
the one validation edge: unknown keys and out-of-range values raise
``ConfigError`` with the offending key named.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from face_anything_ros.core.camera import DEFAULT_HFOV_DEG

# Absolute ceiling on faces per frame: bounds memory and latency whatever the config says.
HARD_MAX_FACES = 50

DETECTION_METHODS = ("cascade", "union", "face_mesh", "face_detection")
BACKEND_NAMES = ("auto", "tensorrt", "compile", "onnxruntime", "eager")


class ConfigError(ValueError):
    """A configuration value is missing, unknown or out of range."""


@dataclass
class DetectionConfig:
    """Face detector (MediaPipe) settings."""

    # face_mesh: 468 landmarks whose box is exactly the crop policy's face box.
    # face_detection: cheaper box detector, also long range; its box is mapped to a face box.
    # cascade: face_mesh, and on frames where it finds no face face_detection (short, then long range).
    # union: all three on every frame, faces the mesh misses added (several people; ~2 passes slower).
    method: str = "cascade"
    max_faces: int = 4  # the node's default (outputs/params.py declares it from here)
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    # Unrelated still images (not a video stream): detect afresh every frame, no landmark tracking.
    static_images: bool = False
    # face_detection only (cascade tries both): the full-range model (faces up to ~5 m) instead of short range (~2 m).
    long_range: bool = False
    # Faces whose box overlaps the image by less than this fraction of its area are dropped.
    min_visible_fraction: float = 0.25
    # Of two boxes overlapping more than this IoU only the larger is kept (face mesh in tracking
    # mode can report a face twice when re-detection adds a face it already tracks).
    duplicate_iou: float = 0.5
    # A face the detectors lose is carried on at the box its last head pose predicts while the network
    # still sees a face there, for at most this many frames in a row (runtime/model_tracking.py); 0: off.
    # Not used for boxes handed to FacePipeline.process from elsewhere.
    model_track_frames: int = 30
    # A BlazeFace box (the cascade's fallback) of a face that had a head pose last frame becomes this
    # blend of the box that pose predicts and its own: BlazeFace boxes cover eyes to mouth and stay too
    # small and off-centre on a turned face (runtime/model_tracking.py; 0: off, 1: the pose's box).
    pose_box_weight: float = 1.0
    # Every this many frames (0: never) BlazeFace, short and full range, also searches 2 x 2 overlapping
    # tiles of the frame (each 5/8 of its side) and adds the faces no detection covers: faces too small
    # for a whole-frame pass, and the small faces beside a big one that the cascade never looks for. Faces
    # found so are then carried (model_track_frames) and found again at the next search
    # (runtime/detection.py, TiledSearch).
    tile_search_every: int = 10
    # The tiled search runs in a worker thread and its faces are added this many frames after the frame it
    # searched (0: in that frame, blocking it). Why: one search is ~9 BlazeFace passes (~20-35 ms on the dev
    # CPU), a spike in every tile_search_every-th frame; spread over the next frames it overlaps the rest of
    # the pipeline. The delay is fixed (the worker is waited for if it is late), so results stay reproducible.
    # At most tile_search_every - 1 (a search is added before the next starts); unrelated still images
    # (static_images) are always searched in their own frame.
    tile_search_delay_frames: int = 1  # 2 lost 0.003 delta_avg on the test split for no lower p95
    # The tiled search also looks at 3 x 3 finer tiles (each 0.4 of the frame's side, BlazeFace short range):
    # faces down to ~15-20 px at 256 px, ~40 px at 640x480 (a person 2-3 m from a 60-degree camera). Off by
    # default: +0.009 delta_avg on the 256 px train split, none on the test split, and 9 more passes per
    # search cost 2 ms per frame at 640x480 (BENCHMARKS.md, session 11).
    fine_tile_search: bool = False

    def validate(self) -> None:
        _check(self.model_track_frames >= 0, "detection.model_track_frames", ">= 0")
        _check(self.tile_search_every >= 0, "detection.tile_search_every", ">= 0")
        _check(self.tile_search_delay_frames >= 0, "detection.tile_search_delay_frames", ">= 0")
        _check(self.method in DETECTION_METHODS, "detection.method", f"one of {DETECTION_METHODS}")
        _check(1 <= self.max_faces <= HARD_MAX_FACES, "detection.max_faces", f"in [1, {HARD_MAX_FACES}]")
        for name in (
            "min_detection_confidence",
            "min_tracking_confidence",
            "min_visible_fraction",
            "duplicate_iou",
            "pose_box_weight",
        ):
            _check(0.0 <= getattr(self, name) <= 1.0, f"detection.{name}", "in [0, 1]")


@dataclass
class IdConfig:
    """Track-id assignment (Hungarian matching on box overlap + centre distance)."""

    # A detection may continue a track only if IoU >= min_iou OR the centre moved less than
    # max_center_distance (in units of the track's box diagonal).
    min_iou: float = 0.1
    max_center_distance: float = 0.5
    center_weight: float = 0.5  # weight of normalised centre distance in the matching cost
    max_missed_frames: int = 5  # a track survives this many frames without a detection

    def validate(self) -> None:
        _check(0.0 <= self.min_iou <= 1.0, "ids.min_iou", "in [0, 1]")
        _check(self.max_center_distance >= 0, "ids.max_center_distance", ">= 0")
        _check(self.center_weight >= 0, "ids.center_weight", ">= 0")
        _check(self.max_missed_frames >= 0, "ids.max_missed_frames", ">= 0")


METRIC_SCALES = ("similarity", "pnp")


@dataclass
class GeometryConfig:
    """Intrinsics default and the plausible depth range of a face (the fit's internals are
    constants in runtime/geometry.py)."""

    default_hfov_deg: float = DEFAULT_HFOV_DEG  # pinhole assumed when no intrinsics are given
    min_depth_m: float = 0.05  # fitted median depth outside this range -> pose invalid
    max_depth_m: float = 20.0
    # similarity: metric scale and pose from the 3-D similarity of canonical coordinates to the face
    # back-projected with relative depth. pnp: then refined by perspective-n-point on the fit's inlier
    # pixels (canonical coordinates -> image), so the face's distance follows from its image size alone
    # and not from the depth relief the network predicts (runtime/geometry.py).
    metric_scale: str = "pnp"
    # rescale each face's depth relief from the distance the weights' relief stands for (their
    # relief_distance_m) to the face's fitted distance (runtime/geometry.py rescale_relief)
    relief_correction: bool = True
    # per face track, a One-Euro filter on the log of the fitted distance (runtime/distance_smoothing.py):
    # the fit's distance flickers by a few per cent from frame to frame, so point clouds breathe; the
    # filter's cutoff rises with the speed of the distance change (log units per second) for little lag
    # when the face moves in depth. Chosen on the synthetic train splits (BENCHMARKS.md, session 10).
    distance_smoothing: bool = True
    # where the detector is the face mesh, the share of the template posed on its 468 landmarks (PnP) in a
    # log-average with the network's distance (runtime/landmark_distance.py; 0: the network's alone)
    landmark_distance_weight: float = 0.0
    distance_min_cutoff_hz: float = 3.0
    distance_beta: float = 2.0
    distance_d_cutoff_hz: float = 1.0

    def validate(self) -> None:
        _check(self.metric_scale in METRIC_SCALES, "geometry.metric_scale", f"one of {METRIC_SCALES}")
        for name in ("distance_min_cutoff_hz", "distance_d_cutoff_hz"):
            _check(getattr(self, name) > 0, f"geometry.{name}", "> 0")
        _check(self.distance_beta >= 0, "geometry.distance_beta", ">= 0")
        _check(0.0 <= self.landmark_distance_weight <= 1.0, "geometry.landmark_distance_weight", "in [0, 1]")
        _check(0.0 < self.default_hfov_deg < 180.0, "geometry.default_hfov_deg", "in (0, 180)")
        _check(0 < self.min_depth_m < self.max_depth_m, "geometry.min_depth_m", "in (0, max_depth_m)")


@dataclass
class TrackingConfig:
    """Dense tracking by canonical lookup."""

    # Query set: named landmarks (face_template.NAMED_LANDMARKS; [] = none, None = all) plus, when
    # dense_vertices, every template vertex, plus extra canonical points [[x, y, z], ...].
    landmarks: list[str] | None = None
    dense_vertices: bool = False  # the node's default: the mesh is published either way
    extra_queries: list[list[float]] = field(default_factory=list)
    # A query is visible when its nearest predicted canonical coordinate is this close
    # (canonical units; 0.05 = 5 mm on an average face), the pixel is on the mask with enough
    # confidence, and its surface normal faces the camera.
    max_canonical_distance: float = 0.05
    min_confidence: float = 0.0
    min_facing_cos: float = 0.0
    # Landmark anchoring (runtime/anchoring.py): where the face-mesh detector gave the 468 landmarks,
    # correct the predicted canonical map towards them with a smooth field (Gaussian, sigma a
    # fraction of the crop side); residuals above anchor_max_residual (canonical units) are ignored.
    landmark_anchoring: bool = False
    anchor_sigma_fraction: float = 0.04
    anchor_max_residual: float = 0.15
    anchor_min_landmarks: int = 30
    # Optional One-Euro smoothing of query pixels (off: no lag).
    smoothing: bool = False
    one_euro_min_cutoff_hz: float = 1.0
    one_euro_beta: float = 0.05
    one_euro_d_cutoff_hz: float = 1.0

    def validate(self) -> None:
        from face_anything_ros.core.face_template import NAMED_LANDMARKS

        for name in self.landmarks or []:
            _check(name in NAMED_LANDMARKS, "tracking.landmarks", f"names from {sorted(NAMED_LANDMARKS)}")
        for point in self.extra_queries:
            ok = len(point) == 3 and all(math.isfinite(float(v)) for v in point)
            _check(ok, "tracking.extra_queries", "a list of finite [x, y, z] triples")
        _check(self.max_canonical_distance > 0, "tracking.max_canonical_distance", "> 0")
        _check(-1.0 <= self.min_facing_cos <= 1.0, "tracking.min_facing_cos", "in [-1, 1]")
        for name in ("one_euro_min_cutoff_hz", "one_euro_d_cutoff_hz"):
            _check(getattr(self, name) > 0, f"tracking.{name}", "> 0")
        _check(self.one_euro_beta >= 0, "tracking.one_euro_beta", ">= 0")
        _check(0 < self.anchor_sigma_fraction <= 0.5, "tracking.anchor_sigma_fraction", "in (0, 0.5]")
        _check(self.anchor_max_residual > 0, "tracking.anchor_max_residual", "> 0")
        _check(1 <= self.anchor_min_landmarks <= 468, "tracking.anchor_min_landmarks", "in [1, 468]")


FLOW_METHODS = ("lk", "dis", "dis_medium")


@dataclass
class FusionConfig:
    """The fused tracker (runtime/fused_tracker.py): flow propagation + absolute measurements.

    Uncertainties are standard deviations in pixels; the Kalman gains follow from them. The noise
    constants were chosen on the synthetic train split only (BENCHMARKS.md, ``evaluate`` block).
    """

    # false: every frame's query pixels come from canonical lookup alone (the earlier behaviour).
    enabled: bool = True
    # lk (pyramidal Lucas-Kanade on the points) | dis | dis_medium (DIS dense flow, OpenCV's fast or medium
    # preset, sampled at the points). dis_medium since session 11 (train splits: EPE 0.75 -> 0.71 px at 256 px,
    # 1.70 -> 1.68 at 512 px); ~3x the flow's CPU (6.3 vs 2.0 ms fwd+bwd on a 256 px region), which the
    # flow's worker thread hides beside the head-pose fit on 2 cores (bench unchanged). "dis": the cheaper one.
    flow_method: str = "dis_medium"
    region_margin: float = 0.15  # face region = both frames' face boxes grown by this fraction (was 0.25)
    # flow runs on the region resampled to at most this side (pixels). 192 since session 11 (was 256): with the
    # medium preset it halves the flow's cost on a face that fills the frame (node demo tracking 8.5 -> 4.5 ms)
    # for 0.0013 delta_avg on the 512 px train split (0.8290 -> 0.8277) and nothing on the 256 px one
    max_region_side: int = 192
    fb_threshold_px: float = 2.0  # forward-backward round trip above this (image px) = flow failed
    # flow step noise: sigma^2 = flow_sigma_px^2 + (flow_sigma_per_px * |motion|)^2 + fb error^2
    flow_sigma_px: float = 0.3
    flow_sigma_per_px: float = 0.05
    # canonical lookup: sigma = lookup_sigma_crop_px crop pixels x (1 + distance / lookup_distance_scale)
    # / sqrt(mask x confidence), in image pixels via the crop's scale
    lookup_sigma_crop_px: float = 0.5
    lookup_distance_scale: float = 0.02  # canonical units
    # face-mesh landmarks: sigma = mesh_sigma_fraction x the face box side
    mesh_sigma_fraction: float = 0.015
    # adaptive measurement noise: each source's variance is rescaled by a factor learnt per face track from
    # its innovations against the flow prediction (an exponential average at this rate, within these bounds)
    adapt_noise: bool = True
    noise_adapt_rate: float = 0.1
    noise_scale_min: float = 0.25
    noise_scale_max: float = 16.0
    # an absolute measurement farther than this (squared Mahalanobis distance, 2 dof) is gated out
    gate_chi2: float = 30.0  # chosen on the synthetic train split (13.8 = 99.9 % of chi2(2))
    # where more than this share of a face's measured points has no usable flow or is gated out (a cut, a
    # jump), every gated-out point re-acquires at once
    reacquire_face_fraction: float = 0.5
    # a point no absolute measurement saw for at least this many frames in a row while its face was measured
    # (hidden by an occluder: dense flow there follows the occluder) is gated, when seen again, as if its
    # flow prediction were exact, so an offset beyond the measurement's own noise re-acquires (0: never)
    reacquire_after_hidden_frames: int = 5
    # a track not seen for more frames than this restarts from the absolute measurements
    max_gap_frames: int = 5
    # per-point bias of each absolute source (runtime/fused_tracker.py): a slowly varying offset, in units
    # of the face box side, learnt from the source's innovations while the flow is reliable and removed
    # from its measurements (prior sigma of the bias, its random walk per frame)
    learn_bias: bool = True
    # canonical lookup: 0.03 since session 11 (0.01 before; re-chosen on the train splits, BENCHMARKS.md)
    bias_prior_fraction: float = 0.03
    mesh_bias_prior_fraction: float = 0.03  # face-mesh landmarks (chosen on the train split, like all here)
    # every source's prior may also have a floor in pixels, in quadrature (0: none): part of a consistent error
    # does not grow with the face (the image's pixels, blur and aliasing on small faces). 1 % + 0.8 px gained on
    # three train splits (the near-face one +0.0025) but shifts the lookup/mesh balance, which our renders
    # cannot judge (the face mesh fails on them); off (BENCHMARKS.md, session 13)
    bias_prior_floor_px: float = 0.0
    bias_walk_fraction: float = 0.0003
    # each source's bias prior re-estimated per face track from its learnt biases (empirical Bayes, at this
    # rate per frame, within these factors of the stated sigma): the source that errs consistently differs
    # between synthetic and real faces (runtime/fused_tracker.py, FusedPoints._adapt_bias_prior). Off by
    # default: train splits +0.0013 / +0.0010 delta_avg (under the 0.0015 that counts), large gains only on
    # simulated biased sources, and the real-texture set, measured after, lost 0.007 (BENCHMARKS.md, session 12)
    adapt_bias_prior: bool = False
    bias_prior_adapt_rate: float = 0.5
    bias_prior_scale_min: float = 0.1
    bias_prior_scale_max: float = 4.0
    # a track alive in the previous frame whose face the detector misses is carried by flow alone on its
    # last face region for at most this many frames (0: held still until it is detected again)
    max_coast_frames: int = 10

    def validate(self) -> None:
        _check(self.flow_method in FLOW_METHODS, "fusion.flow_method", f"one of {FLOW_METHODS}")
        _check(0.0 <= self.region_margin <= 2.0, "fusion.region_margin", "in [0, 2]")
        _check(16 <= self.max_region_side <= 1024, "fusion.max_region_side", "in [16, 1024]")
        for name in (
            "fb_threshold_px",
            "flow_sigma_px",
            "lookup_sigma_crop_px",
            "lookup_distance_scale",
            "mesh_sigma_fraction",
            "gate_chi2",
        ):
            _check(getattr(self, name) > 0, f"fusion.{name}", "> 0")
        _check(self.flow_sigma_per_px >= 0, "fusion.flow_sigma_per_px", ">= 0")
        _check(0.0 < self.reacquire_face_fraction <= 1.0, "fusion.reacquire_face_fraction", "in (0, 1]")
        _check(self.reacquire_after_hidden_frames >= 0, "fusion.reacquire_after_hidden_frames", ">= 0")
        _check(self.max_gap_frames >= 0, "fusion.max_gap_frames", ">= 0")
        _check(self.bias_prior_fraction > 0, "fusion.bias_prior_fraction", "> 0")
        _check(self.mesh_bias_prior_fraction > 0, "fusion.mesh_bias_prior_fraction", "> 0")
        _check(self.bias_walk_fraction >= 0, "fusion.bias_walk_fraction", ">= 0")
        _check(self.bias_prior_floor_px >= 0, "fusion.bias_prior_floor_px", ">= 0")
        _check(self.max_coast_frames >= 0, "fusion.max_coast_frames", ">= 0")
        _check(0.0 < self.noise_adapt_rate <= 1.0, "fusion.noise_adapt_rate", "in (0, 1]")
        _check(0.0 < self.bias_prior_adapt_rate <= 1.0, "fusion.bias_prior_adapt_rate", "in (0, 1]")
        _check(
            0.0 < self.bias_prior_scale_min <= 1.0 <= self.bias_prior_scale_max,
            "fusion.bias_prior_scale_min",
            "<= 1 <= bias_prior_scale_max, > 0",
        )
        _check(
            0.0 < self.noise_scale_min <= 1.0 <= self.noise_scale_max,
            "fusion.noise_scale_min",
            "<= 1 <= noise_scale_max, > 0",
        )


@dataclass
class MeshPriorConfig:
    """Face-mesh prior (runtime/mesh_prior.py): the template fitted to the face mesh's 468 landmarks,
    rasterised into the crop and fused per pixel with the network's maps (faces without landmarks,
    e.g. found by BlazeFace, keep the network's maps)."""

    enabled: bool = False
    # assumed landmark noise in template cm: the ridge weight of the shape fit (larger: nearer the mean)
    landmark_noise_cm: float = 0.3
    fit_iterations: int = 4
    # the prior is dropped for a face when its fit is worse than this (RMS, template cm), when less than
    # min_inside_fraction of its fitted vertices fall inside the crop, or when it covers too few pixels
    max_fit_residual_cm: float = 1.5
    min_inside_fraction: float = 0.8
    min_prior_pixels: int = 64
    # faces whose landmark box is smaller than this (image pixels, larger side) get no prior (0 = no
    # limit); measured with the prior-input run 5 in BENCHMARKS.md (model block)
    min_face_px: float = 0.0
    # per-pixel fusion weights 1/b^2 from expected L1 canonical errors (canonical units): the network's is
    # network_error_scale / confidence, the prior's prior_error. Both are the mean |error|_1 measured on
    # face pixels of the synthetic train split (12 sequences, 159 faces with landmarks): network 0.081,
    # prior 0.159, with the 0.2.x weights (whose confidence sat at 1 everywhere, so that is the error at
    # relative confidence 1). Not re-measured for the 0.3 weights (the prior is off by default).
    network_error_scale: float = 0.08
    prior_error: float = 0.16
    fuse_canonical: bool = True
    fuse_depth: bool = True
    # fill holes in the network's mask that the prior covers (glasses lenses): pixels enclosed by the
    # network's mask after closing gaps narrower than hole_close_fraction of the crop side
    fill_holes: bool = True
    hole_close_fraction: float = 0.05

    def validate(self) -> None:
        for name in ("landmark_noise_cm", "max_fit_residual_cm", "network_error_scale", "prior_error"):
            _check(getattr(self, name) > 0, f"mesh_prior.{name}", "> 0")
        _check(1 <= self.fit_iterations <= 20, "mesh_prior.fit_iterations", "in [1, 20]")
        _check(0.0 <= self.min_inside_fraction <= 1.0, "mesh_prior.min_inside_fraction", "in [0, 1]")
        _check(self.min_prior_pixels >= 1, "mesh_prior.min_prior_pixels", ">= 1")
        _check(self.min_face_px >= 0.0, "mesh_prior.min_face_px", ">= 0")
        _check(0.0 <= self.hole_close_fraction <= 0.5, "mesh_prior.hole_close_fraction", "in [0, 0.5]")


@dataclass
class BackendConfig:
    """Inference backend choice."""

    name: str = "auto"  # auto | tensorrt | compile | onnxruntime | eager
    device: str = "auto"  # auto (cuda when available) | cpu | cuda | cuda:N
    fp16: bool = True  # half precision on CUDA (autocast for compile, fp16 engine for TensorRT)
    cache_dir: str = "~/.cache/face_anything_ros"  # TensorRT engines and ONNX exports
    # Batches are padded up to the next bucket so compiled backends see a few fixed shapes.
    batch_buckets: list[int] = field(default_factory=lambda: [1, 2, 4, 8, 16, 32, 50])
    # CPU threads for inference (torch intra-op threads, process-wide, and ONNX Runtime's pool);
    # 0 keeps the libraries' defaults. On a CPU shared with other busy processes torch's spinning
    # thread barrier can make eager inference ~70x slower with 2 threads than with 1 (BENCHMARKS.md).
    cpu_threads: int = 0
    # ONNX Runtime's CPU threads busy-wait for the next run after each one (its default). Off here: on the
    # dev CPU that wait took ~26 % of the process's CPU time (bench, 1 face: 16.1 -> 11.9 CPU-s for 300
    # frames) for the same frame time, CPU the robot's other nodes and the tracker after the model need.
    cpu_spin_wait: bool = False
    # Offline accuracy option: average the canonical map with that of the mirrored crop
    # (model/flip_average.py). Costs ~1.5x model time; off for live streams.
    flip_average: bool = False

    def validate(self) -> None:
        _check(self.name in BACKEND_NAMES, "backend.name", f"one of {BACKEND_NAMES}")
        ok_device = self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")
        _check(ok_device, "backend.device", "auto, cpu, cuda or cuda:N")
        buckets = list(self.batch_buckets)
        _check(
            bool(buckets) and buckets == sorted(set(buckets)) and buckets[0] >= 1,
            "backend.batch_buckets",
            "a strictly increasing list of positive batch sizes",
        )
        _check(buckets[-1] >= HARD_MAX_FACES, "backend.batch_buckets", f"to end at >= {HARD_MAX_FACES}")
        _check(self.cpu_threads >= 0, "backend.cpu_threads", ">= 0 (0 = library default)")

    @property
    def cache_path(self) -> Path:
        return Path(self.cache_dir).expanduser()


@dataclass
class PipelineConfig:
    """Everything ``FacePipeline`` needs; the YAML ``runtime:`` section maps onto it."""

    weights: str | None = None  # None: the shipped default weights
    mask_threshold: float = 0.5  # sigmoid(mask_logits) above this is face
    # A face keeps its previous crop box while the detector's box moves less than this fraction of
    # the face size (runtime/stabilize.py); 0 re-crops on every move.
    crop_deadband: float = 0.0
    detection: DetectionConfig = field(default_factory=DetectionConfig)
    ids: IdConfig = field(default_factory=IdConfig)
    geometry: GeometryConfig = field(default_factory=GeometryConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    mesh_prior: MeshPriorConfig = field(default_factory=MeshPriorConfig)
    backend: BackendConfig = field(default_factory=BackendConfig)

    def validate(self) -> PipelineConfig:
        _check(0.0 < self.mask_threshold < 1.0, "mask_threshold", "in (0, 1)")
        _check(0.0 <= self.crop_deadband <= 0.5, "crop_deadband", "in [0, 0.5]")
        sections = (self.detection, self.ids, self.geometry, self.tracking, self.fusion, self.mesh_prior)
        for section in (*sections, self.backend):
            section.validate()
        return self

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PipelineConfig:
        """Build and validate from a (YAML-loaded) dict; unknown keys are errors."""
        config = _from_dict(cls, data or {}, prefix="")
        try:
            return config.validate()
        except TypeError as exc:  # e.g. a string where a number belongs
            raise ConfigError(f"config value of the wrong type: {exc}") from exc

    @classmethod
    def from_yaml(cls, path: str | Path) -> PipelineConfig:
        """Build from a YAML file: its ``runtime:`` section, or the whole file when it has none."""
        import yaml

        try:
            data = yaml.safe_load(Path(path).expanduser().read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read pipeline config {path}: {exc}") from exc
        section = data.get("runtime", data) if isinstance(data, dict) else data
        if not isinstance(section, dict):
            raise ConfigError(f"pipeline config {path}: expected a mapping (optionally under 'runtime:')")
        return cls.from_dict(section)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _from_dict(cls: type, data: dict[str, Any], prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"unknown config key(s) {[prefix + k for k in unknown]}; known: {sorted(fields)}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        default = fields[name].default_factory() if callable(fields[name].default_factory) else None
        if dataclasses.is_dataclass(default):
            kwargs[name] = _from_dict(type(default), value, prefix=f"{prefix}{name}.")
        else:
            _check_scalar_type(fields[name].default, value, prefix + name)
            kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{prefix or 'config'}: {exc}") from exc


def _check_scalar_type(default: Any, value: Any, key: str) -> None:
    """A YAML value must have the type of the key's default ("maybe" is not a bool, 3 is a float)."""
    if isinstance(default, bool):
        _check(isinstance(value, bool), key, f"true or false, not {value!r}")
    elif isinstance(default, int):
        _check(isinstance(value, int) and not isinstance(value, bool), key, f"an integer, not {value!r}")
    elif isinstance(default, float):
        number = isinstance(value, int | float) and not isinstance(value, bool)
        _check(number, key, f"a number, not {value!r}")
    elif isinstance(default, str):
        _check(isinstance(value, str), key, f"a string, not {value!r}")


def _check(ok: bool, key: str, expectation: str) -> None:
    if not ok:
        raise ConfigError(f"config key {key!r} must be {expectation}")

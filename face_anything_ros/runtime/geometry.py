"""Camera geometry: back-projection, metric scale and head pose (the camera itself: core/camera.py).

Scale model (docs/ARCHITECTURE.md): the network predicts relative depth
``d_rel = z / z_median``. Face pixels back-projected with relative depth along their
camera rays give a face shaped correctly but scaled by ``1 / z_median``. A robust
similarity (Umeyama inside RANSAC) from the canonical coordinates (x ``CANONICAL_UNIT_M``
metres for the average adult face) to those points has scale ``s = 1 / z_median``;
so metric depth = ``d_rel / s``. The same fit gives the head pose (canonical face frame
-> camera frame): ``X_cam = CANONICAL_UNIT_M * R @ c + t``. ``s`` also absorbs errors of the predicted
depth relief (a too-flat face fits smaller), so by default (``geometry.metric_scale: pnp``) the pose is
refined by perspective-n-point on the fit's inlier pixels and the median depth re-read from it: the
distance then follows from the face's image size. Metric depth therefore
assumes an average-sized face; its error is proportional to the real head-size deviation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from face_anything_ros.core.camera import Intrinsics
from face_anything_ros.core.face_template import CANONICAL_UNIT_M
from face_anything_ros.core.fast_reductions import finite_vectors, median
from face_anything_ros.runtime.config import GeometryConfig

# Similarity-fit internals (not settings). Chosen with the first runtime (64 minimal samples give a
# 3-point all-inlier sample with probability > 0.99 at 50 % outliers; 1 cm is about the network's depth
# error on the face; 500 points keep the fit under a millisecond); the metric-depth and pose figures of
# BENCHMARKS.md (`evaluate`, `runtime`) are measured with exactly these values.
MAX_FIT_POINTS = 500  # face pixels sampled for the fit
MIN_FIT_POINTS = 30  # fewer usable pixels: no pose
RANSAC_ITERATIONS = 64
RANSAC_INLIER_THRESHOLD_M = 0.01  # residual (metres, at the fitted scale) of an inlier
MIN_INLIER_RATIO = 0.3  # fewer inliers: no pose
RANSAC_SEED = 0  # sampling is deterministic per frame: the same frame gives the same pose


def pixel_rays(intrinsics: Intrinsics) -> np.ndarray:
    """(H, W, 3) rays with z = 1 through every pixel centre."""
    u = (np.arange(intrinsics.width, dtype=np.float32) - intrinsics.cx) / intrinsics.fx
    v = (np.arange(intrinsics.height, dtype=np.float32) - intrinsics.cy) / intrinsics.fy
    rays = np.ones((intrinsics.height, intrinsics.width, 3), dtype=np.float32)
    rays[..., 0] = u[None, :]
    rays[..., 1] = v[:, None]
    return rays


def backproject(depth: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
    """Camera-frame points (H, W, 3) from z-depth (H, W); NaN depth gives NaN points."""
    return pixel_rays(intrinsics) * depth[..., None].astype(np.float32)


def backproject_pixels(pixels: np.ndarray, depth: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
    """Camera-frame points (N, 3) for sub-pixel positions (N, 2) with depths (N,)."""
    x = (pixels[:, 0] - intrinsics.cx) / intrinsics.fx
    y = (pixels[:, 1] - intrinsics.cy) / intrinsics.fy
    return np.stack([x * depth, y * depth, depth], axis=1)


def umeyama(
    src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted similarity ``dst ~ s R src + t`` for batches: src, dst (K, N, 3), weights (K, N).

    Returns scale (K,), rotation (K, 3, 3) (proper, det = +1), translation (K, 3).
    """
    if weights is None:
        weights = np.ones(src.shape[:2])
    w = weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)
    mu_src = np.einsum("kn,knd->kd", w, src)
    mu_dst = np.einsum("kn,knd->kd", w, dst)
    src_c = src - mu_src[:, None]
    dst_c = dst - mu_dst[:, None]
    cov = np.einsum("kn,kni,knj->kij", w, dst_c, src_c)
    u, sigma, vt = np.linalg.svd(cov)
    sign = np.sign(np.linalg.det(u) * np.linalg.det(vt))
    sign[sign == 0] = 1.0
    d = np.ones((len(src), 3))
    d[:, 2] = sign
    rotation = np.einsum("kij,kj,kjl->kil", u, d, vt)
    var_src = np.einsum("kn,kn->k", w, (src_c**2).sum(axis=2))
    scale = (sigma * d).sum(axis=1) / np.maximum(var_src, 1e-12)
    translation = mu_dst - scale[:, None] * np.einsum("kij,kj->ki", rotation, mu_src)
    return scale, rotation, translation


def _minimal_samples(rng: np.random.Generator, n: int, count: int) -> np.ndarray:
    """``count`` triples of distinct indices in [0, n) (n >= 3), drawn without a per-triple permutation."""
    samples = rng.integers(0, n, size=(count, 3))
    while True:
        repeated = (
            (samples[:, 0] == samples[:, 1])
            | (samples[:, 0] == samples[:, 2])
            | (samples[:, 1] == samples[:, 2])
        )
        if not repeated.any():
            return samples
        samples[repeated] = rng.integers(0, n, size=(int(repeated.sum()), 3))


@dataclass(frozen=True)
class SimilarityFit:
    scale: float
    rotation: np.ndarray  # (3, 3)
    translation: np.ndarray  # (3,)
    inliers: np.ndarray  # (N,) bool
    valid: bool


def ransac_similarity(
    src: np.ndarray,
    dst: np.ndarray,
    weights: np.ndarray,
    threshold: np.ndarray | float,
) -> SimilarityFit:
    """Robust similarity dst ~ s R src + t: RANSAC on minimal 3-point samples, weighted refit on inliers.

    ``threshold`` is the inlier residual in dst units divided by the hypothesis scale (so it is
    expressed in src units), which keeps it meaningful whatever the unknown scale is.
    """
    n = len(src)
    rng = np.random.default_rng(RANSAC_SEED)
    samples = _minimal_samples(rng, n, RANSAC_ITERATIONS)
    scale, rotation, translation = umeyama(src[samples], dst[samples])
    # All hypotheses in one GEMM: (N, 3) @ (3, K*3) -> (N, K, 3), scale folded into the matrix.
    stacked = (scale[:, None, None] * rotation).transpose(2, 0, 1).reshape(3, -1)
    error = (src @ stacked).reshape(n, -1, 3) + translation[None] - dst[:, None]
    residual = (np.sqrt((error * error).sum(axis=2)) / np.maximum(np.abs(scale), 1e-12)[None]).T
    inlier_sets = (residual < threshold) & (scale[:, None] > 0)
    score = (inlier_sets * weights[None]).sum(axis=1)
    best = int(np.argmax(score))
    inliers = inlier_sets[best]
    s_best, r_best, t_best = float(scale[best]), rotation[best], translation[best]
    for _ in range(2):  # refit on the inliers, then re-select inliers with the refined model
        if inliers.sum() < 3:
            break
        s, r, t = umeyama(src[inliers][None], dst[inliers][None], weights[inliers][None])
        s_best, r_best, t_best = float(s[0]), r[0], t[0]
        residual = np.linalg.norm(s_best * src @ r_best.T + t_best - dst, axis=1) / max(abs(s_best), 1e-12)
        inliers = residual < threshold
    valid = bool(inliers.sum() >= max(3, MIN_INLIER_RATIO * n) and s_best > 0)
    return SimilarityFit(scale=s_best, rotation=r_best, translation=t_best, inliers=inliers, valid=valid)


@dataclass(frozen=True)
class FaceGeometry:
    """Metric scale and head pose of one face."""

    median_depth_m: float  # metres per unit of relative depth (NaN when the fit failed)
    rotation: np.ndarray  # (3, 3) canonical face frame -> camera
    translation: np.ndarray  # (3,) metres, the canonical origin in the camera frame
    scale: float  # metres per canonical unit (= CANONICAL_UNIT_M: the average-face prior)
    pose_valid: bool


def invalid_geometry() -> FaceGeometry:
    return FaceGeometry(
        median_depth_m=float("nan"),
        rotation=np.full((3, 3), np.nan),
        translation=np.full(3, np.nan),
        scale=CANONICAL_UNIT_M,
        pose_valid=False,
    )


def rescale_distance(geometry: FaceGeometry, distance_m: float) -> FaceGeometry:
    """The face moved along its camera rays to median depth ``distance_m`` (rotation and relief kept)."""
    ratio = distance_m / geometry.median_depth_m
    return replace(geometry, median_depth_m=float(distance_m), translation=geometry.translation * ratio)


def fit_face_geometry(
    relative_depth: np.ndarray,
    canonical: np.ndarray,
    weight: np.ndarray,
    intrinsics: Intrinsics,
    config: GeometryConfig,
) -> FaceGeometry:
    """Metric scale and pose from crop-resolution maps (weight 0 = not a face pixel)."""
    valid = (weight > 0) & np.isfinite(relative_depth) & (relative_depth > 0) & finite_vectors(canonical)
    rows, cols = np.nonzero(valid)
    if len(rows) < MIN_FIT_POINTS:
        return invalid_geometry()
    if len(rows) > MAX_FIT_POINTS:
        pick = np.random.default_rng(RANSAC_SEED).choice(len(rows), size=MAX_FIT_POINTS, replace=False)
        rows, cols = rows[pick], cols[pick]
    pixels = np.stack([cols, rows], axis=1).astype(np.float64)
    points_rel = backproject_pixels(pixels, relative_depth[rows, cols].astype(np.float64), intrinsics)
    src = canonical[rows, cols].astype(np.float64) * CANONICAL_UNIT_M
    fit = ransac_similarity(src, points_rel, weight[rows, cols].astype(np.float64), RANSAC_INLIER_THRESHOLD_M)
    median_depth = 1.0 / fit.scale if fit.scale > 0 else float("nan")
    pose_valid = fit.valid and config.min_depth_m <= median_depth <= config.max_depth_m
    if not pose_valid:
        return invalid_geometry()
    rotation, translation = fit.rotation, fit.translation * median_depth
    if config.metric_scale == "pnp":
        refined = _perspective_refit(src[fit.inliers], pixels[fit.inliers], rotation, translation, intrinsics)
        if refined is not None:
            rotation, translation = refined
            depth = (src[fit.inliers] @ rotation.T + translation)[:, 2]
            median_depth = median(depth / relative_depth[rows, cols][fit.inliers])
            if not config.min_depth_m <= median_depth <= config.max_depth_m:
                return invalid_geometry()
    return FaceGeometry(
        median_depth_m=median_depth,
        rotation=rotation,
        translation=translation,
        scale=CANONICAL_UNIT_M,
        pose_valid=True,
    )


def _perspective_refit(
    points_m: np.ndarray,
    pixels: np.ndarray,
    rotation: np.ndarray,
    translation: np.ndarray,
    intrinsics: Intrinsics,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Pose (R, t) minimising the reprojection error of ``points_m`` (canonical, metres) at ``pixels``,
    started from the similarity's pose; None when it fails or leaves the face behind the camera."""
    camera = intrinsics.matrix
    rvec, _ = cv2.Rodrigues(np.ascontiguousarray(rotation))
    ok, rvec, tvec = cv2.solvePnP(
        points_m.reshape(-1, 1, 3),
        pixels.reshape(-1, 1, 2),
        camera,
        None,
        rvec,
        np.asarray(translation, dtype=np.float64).reshape(3, 1).copy(),
        useExtrinsicGuess=True,
        flags=cv2.SOLVEPNP_ITERATIVE,
    )
    if not ok or not np.isfinite(tvec).all() or tvec[2, 0] <= 0:
        return None
    return cv2.Rodrigues(rvec)[0], tvec.ravel()


# Bounds of the relief factor: a wrong distance (a bad pose fit) or a face far outside the training
# distances changes the predicted relief at most this much.
RELIEF_FACTOR_RANGE = (0.5, 2.0)


def rescale_relief(
    relative_depth: np.ndarray, reference_m: float, exponent: float, distance_m: float
) -> np.ndarray:
    """Relative depth whose relief (``d - median``) is scaled by ``(reference_m / distance_m) ** exponent``.

    Why: relative depth is ``1 + Δz / D``; a crop barely shows the distance D, so the network predicts
    a relief that follows D only partly, too flat up close and too deep far away. ``reference_m`` and
    ``exponent`` are the weights' measured calibration (``relief_distance_m``, ``relief_exponent``:
    training/relief.py); the head-pose fit knows D. The median (and so the metric scale) is kept and
    NaN pixels stay NaN; unchanged when the calibration or the distance is unknown.
    """
    known = np.isfinite([reference_m, exponent, distance_m]).all()
    if not (known and reference_m > 0 and distance_m > 0):
        return relative_depth
    face = relative_depth[np.isfinite(relative_depth)]
    if face.size == 0:
        return relative_depth
    center = np.float32(median(face))
    factor = np.float32(np.clip((reference_m / distance_m) ** exponent, *RELIEF_FACTOR_RANGE))
    return center + (relative_depth - center) * factor

"""The face-mesh prior: the template fitted to a face's 468 landmarks, rasterised into its crop and
fused per pixel with the network's maps.

Why: the network was trained on synthetic faces only; the face mesh was trained on real ones and
its landmarks are exactly the template's vertices. The fitted template gives canonical coordinates
and relative depth on the whole face (also under glasses, where the network's mask has holes).
Fusion is inverse-variance per pixel: the network's expected L1 canonical error is
``network_error_scale / confidence`` (what its confidence loss trains it to say), the prior's a
constant measured on the synthetic train split. Holes in the network's mask that the prior covers
and that the mask encloses (lenses) are filled from the prior; open gaps (a hand coming in from
the side) stay non-face.

Bad input never raises: a face whose landmarks are NaN, degenerate, badly fitted or mostly outside
the crop keeps the network's maps, and ``MeshPrior.drops`` counts why.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, replace

import cv2
import numpy as np

from face_anything_ros.core.camera import Intrinsics
from face_anything_ros.core.crop import CropBox, crop_affine
from face_anything_ros.core.face_template import load_face_template
from face_anything_ros.core.fast_reductions import finite_vectors
from face_anything_ros.model.config import PRIOR_INPUT_CHANNELS
from face_anything_ros.runtime.config import MeshPriorConfig
from face_anything_ros.runtime.detection import Detection
from face_anything_ros.runtime.landmark_fit import LandmarkFitError, fit_landmarks
from face_anything_ros.runtime.mesh_raster import interpolate_vertex_values, rasterize_mesh
from face_anything_ros.runtime.postprocess import CropMaps

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class PriorMaps:
    """One face's prior at crop resolution."""

    canonical: np.ndarray  # (S, S, 3) template canonical coordinates, NaN off the fitted mesh
    relative_depth: np.ndarray  # (S, S) z / median face z, NaN off the fitted mesh
    coverage: np.ndarray  # (S, S) bool, pixels the fitted mesh covers
    residual_cm: float  # RMS landmark-to-fit distance, template cm


def landmarks_in_crop(xy: np.ndarray, z: np.ndarray, box: CropBox, size: int) -> np.ndarray:
    """(468, 3) crop-pixel x, y and depth offset (same pixel scale) of image-pixel landmarks."""
    affine = crop_affine(box, size)
    crop_xy = np.asarray(xy, dtype=np.float64) @ affine[:, :2].T + affine[:, 2]
    return np.column_stack([crop_xy, np.asarray(z, dtype=np.float64) * affine[0, 0]])


def build_prior_maps(points: np.ndarray, focal_px: float, size: int, config: MeshPriorConfig) -> PriorMaps:
    """Fit and rasterise the template for crop-pixel landmark points (468, 3).

    Relative depth: under the face mesh's weak perspective a depth offset of ``dz`` pixel units is
    ``dz / focal`` of the face's distance, so depth ∝ ``focal + dz``, normalised by its face median.
    Raises ``LandmarkFitError`` (with a counter ``reason``) when the face gets no usable prior.
    """
    fit = fit_landmarks(points, config.landmark_noise_cm, config.fit_iterations)
    if fit.residual_cm > config.max_fit_residual_cm:
        raise LandmarkFitError("poor_fit", f"landmark fit residual {fit.residual_cm:.2f} cm")
    xy = fit.vertices[:, :2]
    inside = ((xy >= -0.5) & (xy <= size - 0.5)).all(axis=1).mean()
    if inside < config.min_inside_fraction:
        raise LandmarkFitError("outside_crop", f"only {inside:.0%} of the fitted face lies in the crop")
    template = load_face_template()
    fragments = rasterize_mesh(fit.vertices, template.faces, size, size)
    coverage = fragments.triangle >= 0
    if coverage.sum() < config.min_prior_pixels:
        raise LandmarkFitError("too_small", f"the fitted face covers {int(coverage.sum())} crop pixels")
    offset = fragments.depth - np.median(fragments.depth[coverage])
    pseudo_depth = focal_px + offset
    if not (pseudo_depth[coverage] > 0).all():
        raise LandmarkFitError("degenerate", "fitted face deeper than its distance to the camera")
    relative = pseudo_depth / np.median(pseudo_depth[coverage])
    canonical = interpolate_vertex_values(fragments, template.faces, template.canonical.astype(np.float64))
    return PriorMaps(
        canonical=canonical.astype(np.float32),
        relative_depth=relative.astype(np.float32),
        coverage=coverage,
        residual_cm=fit.residual_cm,
    )


def prior_input_channels(prior: PriorMaps | None, size: int) -> np.ndarray:
    """(S, S, PRIOR_INPUT_CHANNELS) float32 model input for one face: canonical xyz, log relative depth,
    coverage, present flag; off the fitted mesh (and for a face without a prior) all zero."""
    channels = np.zeros((size, size, PRIOR_INPUT_CHANNELS), np.float32)
    if prior is None:
        return channels
    if prior.coverage.shape != (size, size):
        raise ValueError(f"prior maps of shape {prior.coverage.shape} for a {size} px crop")
    covered = prior.coverage & finite_vectors(prior.canonical) & (prior.relative_depth > 0)
    channels[covered, :3] = prior.canonical[covered]
    channels[covered, 3] = np.log(prior.relative_depth[covered])
    channels[covered, 4] = 1.0
    channels[..., 5] = 1.0
    return channels


def with_prior_channels(images: np.ndarray, priors: list[PriorMaps | None]) -> np.ndarray:
    """(B, 3, S, S) crops → (B, 3 + PRIOR_INPUT_CHANNELS, S, S), the input of a prior-taking model."""
    size = images.shape[-1]
    channels = np.stack([prior_input_channels(prior, size) for prior in priors]).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(np.concatenate([images, channels], axis=1), dtype=np.float32)


def enclosed_holes(mask: np.ndarray, close_px: int) -> np.ndarray:
    """Pixels off ``mask`` that the mask encloses once gaps narrower than ``close_px`` are closed."""
    closed = mask.astype(np.uint8)
    if close_px > 1:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (close_px | 1, close_px | 1))
        closed = cv2.morphologyEx(closed, cv2.MORPH_CLOSE, kernel)
    _, labels = cv2.connectedComponents((closed == 0).astype(np.uint8), connectivity=4)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    open_background = np.isin(labels, border) & (closed == 0)
    return ~mask & ~open_background


def fuse_crop_maps(crop: CropMaps, prior: PriorMaps, config: MeshPriorConfig) -> CropMaps:
    """Inverse-variance per-pixel fusion of the network's maps with the prior (a new CropMaps)."""
    net_weight = (crop.confidence.astype(np.float64) / config.network_error_scale) ** 2
    prior_weight = 1.0 / config.prior_error**2
    prior_ok = prior.coverage & finite_vectors(prior.canonical)
    both = crop.mask & prior_ok & finite_vectors(crop.canonical)
    share = np.where(both, prior_weight / (net_weight + prior_weight), 0.0)
    canonical = crop.canonical.astype(np.float64)
    if config.fuse_canonical:
        canonical[both] += share[both, None] * (prior.canonical[both] - canonical[both])
    confidence = crop.confidence.astype(np.float64)
    confidence[both] = config.network_error_scale * np.sqrt(net_weight[both] + prior_weight)
    depth = crop.relative_depth.astype(np.float64)
    depth_ok = both & np.isfinite(depth) & (depth > 0)
    align = float(np.median(depth[depth_ok] / prior.relative_depth[depth_ok])) if depth_ok.any() else 1.0
    prior_depth = prior.relative_depth * align
    if config.fuse_depth:
        depth[depth_ok] += share[depth_ok] * (prior_depth[depth_ok] - depth[depth_ok])
    mask = crop.mask.copy()
    probability = crop.mask_probability.copy()
    if config.fill_holes:
        close_px = round(config.hole_close_fraction * crop.mask.shape[0])
        fill = enclosed_holes(crop.mask, close_px) & prior_ok
        canonical[fill] = prior.canonical[fill]
        depth[fill] = prior_depth[fill]
        confidence[fill] = config.network_error_scale / config.prior_error
        mask |= fill
        probability = np.where(fill, np.float32(1.0), probability)
    face_depth = depth[mask & np.isfinite(depth)]
    if face_depth.size:
        depth /= np.median(face_depth)  # keep the convention: relative depth = z / median face z
    return replace(
        crop,
        relative_depth=np.where(mask, depth, np.nan).astype(np.float32),
        canonical=np.where(mask[..., None], canonical, np.nan).astype(np.float32),
        mask_probability=probability.astype(np.float32),
        mask=mask,
        confidence=np.where(mask, confidence, 0.0).astype(np.float32),
    )


class MeshPrior:
    """Per-frame entry point: fused crop maps for every face that has usable face-mesh landmarks."""

    def __init__(self, config: MeshPriorConfig, input_size: int) -> None:
        self.config = config
        self.input_size = input_size
        self.drops: Counter[str] = Counter()  # faces whose prior was dropped, by reason
        self.used = 0  # faces fused with a prior

    def priors(
        self, detections: list[Detection], boxes: list[CropBox], crop_intrinsics: list[Intrinsics]
    ) -> list[PriorMaps | None]:
        """Each face's prior maps (None where it has none)."""
        return [
            self.prior_for(detection, box, intrinsics)
            for detection, box, intrinsics in zip(detections, boxes, crop_intrinsics, strict=True)
        ]

    def apply(self, crops: list[CropMaps], priors: list[PriorMaps | None]) -> list[CropMaps]:
        """The crops, each fused with its prior where the face has one (others unchanged)."""
        return [
            crop if prior is None else fuse_crop_maps(crop, prior, self.config)
            for crop, prior in zip(crops, priors, strict=True)
        ]

    def prior_for(self, detection: Detection, box: CropBox, intrinsics: Intrinsics) -> PriorMaps | None:
        """The face's prior maps, or None (no landmarks, or dropped and counted)."""
        if detection.landmarks is None or detection.landmarks_z is None:
            return None
        try:
            side = float(np.ptp(np.asarray(detection.landmarks, dtype=np.float64), axis=0).max())
            if side < self.config.min_face_px:  # NaN landmarks fail in the fit below, with their reason
                raise LandmarkFitError("small_face", f"the face is {side:.0f} px, under mesh_prior.min_face_px")
            points = landmarks_in_crop(detection.landmarks, detection.landmarks_z, box, self.input_size)
            prior = build_prior_maps(points, intrinsics.fx, self.input_size, self.config)
        except (ValueError, np.linalg.LinAlgError) as exc:  # LandmarkFitError is a ValueError
            reason = getattr(exc, "reason", "linalg" if isinstance(exc, np.linalg.LinAlgError) else "shape")
            if not self.drops[reason]:
                LOGGER.warning("face-mesh prior dropped for a face (%s): %s", reason, exc)
            self.drops[reason] += 1
            return None
        self.used += 1
        return prior

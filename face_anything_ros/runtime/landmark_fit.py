"""Fit the template to MediaPipe's 468 3D landmarks: a similarity plus the generator's deformation space.

Why: each face-mesh landmark is a template vertex, found by a model trained on real faces. Posing
and deforming the template onto them gives a dense, complete face surface (canonical coordinates
and relative depth everywhere on the face, also behind glasses) that the runtime can fuse with the
network's maps (runtime/mesh_prior.py).

The deformation modes (shipped in ``assets/face_template/landmark_deformation_basis.npz``, written by
synth/landmark_basis.py) are scaled to a unit prior, so the shape solve is one ridge regression.
The fit alternates a closed-form similarity (Umeyama) with that linear shape solve.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from face_anything_ros.core.face_template import load_face_template
from face_anything_ros.runtime.geometry import umeyama

LOGGER = logging.getLogger(__name__)

BASIS_ASSET = "landmark_deformation_basis.npz"
# second / first singular value of the centred landmarks below this: (nearly) collinear, no pose
MIN_SPREAD_RATIO = 0.05


@dataclass(frozen=True)
class LandmarkBasis:
    modes: np.ndarray  # (M, 468, 3) cm per unit-prior coefficient
    names: tuple[str, ...]


@lru_cache(maxsize=1)
def load_landmark_basis() -> LandmarkBasis:
    """The shipped deformation modes at the template vertices (cached, read-only)."""
    path = resources.files("face_anything_ros").joinpath("assets", "face_template", BASIS_ASSET)
    with path.open("rb") as handle, np.load(handle) as data:
        modes = data["modes"].astype(np.float64)
        names = tuple(str(n) for n in data["names"])
    modes.setflags(write=False)
    return LandmarkBasis(modes=modes, names=names)


@lru_cache(maxsize=4)
def _ridge_solver(noise_cm: float) -> tuple[np.ndarray, np.ndarray]:
    """The deformation design (468*3, M) and a joint solver (M+7, 468*3) for shape + a rigid correction.

    The rigid columns (scale, three small rotations, translation, linearised at the template) are
    solved together with the shape and not penalised, so the shape coefficients never try to absorb a
    residual misalignment of the similarity (alternating alone converges slowly).
    """
    template = load_face_template().vertices_cm
    basis = load_landmark_basis().modes
    design = basis.reshape(len(basis), -1).T
    rigid = [template.ravel()]
    rigid += [np.cross(axis, template).ravel() for axis in np.eye(3)]
    rigid += [np.tile(axis, len(template)) for axis in np.eye(3)]
    full = np.column_stack([design, *rigid])
    penalty = np.zeros(full.shape[1])
    penalty[: design.shape[1]] = noise_cm**2
    solver = np.linalg.solve(full.T @ full + np.diag(penalty) + 1e-9 * np.eye(full.shape[1]), full.T)
    return design, solver


@dataclass(frozen=True)
class LandmarkFit:
    """Template posed and deformed onto the landmarks (in the landmarks' coordinates)."""

    vertices: np.ndarray  # (468, 3) fitted vertices, target units
    coefficients: np.ndarray  # (M,) unit-prior mode coefficients
    scale: float  # target units per template cm
    rotation: np.ndarray  # (3, 3) template frame -> target frame
    residual_cm: float  # RMS distance of the landmarks to the fitted vertices, template cm


class LandmarkFitError(ValueError):
    """The landmarks cannot be fitted; ``reason`` is a short counter key."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def fit_landmarks(targets: np.ndarray, noise_cm: float, iterations: int = 4) -> LandmarkFit:
    """Similarity + deformation fit of the template to (468, 3) target points.

    ``noise_cm`` is the assumed landmark noise (template cm): the ridge penalty is its square,
    so a larger value keeps the shape nearer the mean. Raises ``LandmarkFitError`` on NaN or
    degenerate (collinear, zero-size) landmarks.
    """
    template = load_face_template().vertices_cm
    targets = np.asarray(targets, dtype=np.float64)
    if targets.shape != template.shape:
        raise LandmarkFitError("shape", f"expected landmarks of shape {template.shape}, got {targets.shape}")
    if not np.isfinite(targets).all():
        raise LandmarkFitError("nonfinite", "landmarks contain NaN or infinite values")
    spread = np.linalg.svd(targets - targets.mean(axis=0), compute_uv=False)
    if spread[0] <= 1e-9 or spread[1] < MIN_SPREAD_RATIO * spread[0]:
        raise LandmarkFitError("degenerate", f"landmarks span no plane (singular values {spread.round(4)})")
    design, solver = _ridge_solver(float(noise_cm))
    coefficients = np.zeros(design.shape[1])
    shape = template
    for _ in range(iterations):
        scale, rotation, translation = (a[0] for a in umeyama(shape[None], targets[None]))
        if not (np.isfinite(scale) and scale > 0):
            raise LandmarkFitError("degenerate", f"similarity fit failed (scale {scale})")
        in_template = (targets - translation) @ rotation / scale
        coefficients = (solver @ (in_template - template).ravel())[: design.shape[1]]
        shape = template + (design @ coefficients).reshape(template.shape)
    scale, rotation, translation = (a[0] for a in umeyama(shape[None], targets[None]))
    vertices = scale * shape @ rotation.T + translation
    residual = float(np.sqrt(np.mean(np.sum((vertices - targets) ** 2, axis=1)))) / scale
    return LandmarkFit(
        vertices=vertices,
        coefficients=coefficients,
        scale=float(scale),
        rotation=rotation,
        residual_cm=residual,
    )

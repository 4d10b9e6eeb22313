"""The face-mesh prior input of training crops: the generator's exact landmarks, perturbed the way
a face mesh errs, fitted and rasterised by the runtime's own code (runtime/mesh_prior.py).

Why simulated errors: at run time the prior comes from MediaPipe's landmarks, which are good on real
faces and worse on our synthetic ones; the network must learn to follow a good prior and to
overrule a poor one from the image. Each sample (each window: one draw for all its frames) is
absent (all-zero channels, as for faces found by BlazeFace) with ``absent_probability``; otherwise,
with ``face_mesh_probability`` and where it found the face, the prior comes from the real face mesh
run on the rendered crop (``FaceMeshLandmarks``, in the data worker: the errors the runtime's
prior really has on these faces, which are larger than on real ones); otherwise it is simulated
from the exact landmarks, its errors with a strength drawn log-uniformly from ``strength_range``. At strength 1 the errors,
in units of the landmarks' extent, are: a shift, scale and in-plane rotation of the whole face, a
smooth low-order warp (mouth, jaw and brows placed a little off), per-point jitter that changes
every frame, and a wrong depth scale (the face mesh's z is its weakest coordinate). Measured on
generator crops (the fitted prior against the ground truth, mean canonical error): 0.013 with exact
landmarks, 0.033 at strength 1, 0.11 at strength 4, near the face mesh's error on our
synthetic faces (0.159, evaluation/prior_calibration.py); the network alone is at about 0.06.
Fresh errors are drawn every time a sample is drawn from the replay pool.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from face_anything_ros.model.config import PRIOR_INPUT_CHANNELS
from face_anything_ros.model.network import FaceAnythingModel
from face_anything_ros.runtime.config import MeshPriorConfig
from face_anything_ros.runtime.mesh_prior import build_prior_maps, prior_input_channels

HELDOUT_PRIOR_SEED = 4321


@dataclass(frozen=True)
class PriorNoiseConfig:
    absent_probability: float = 0.25
    face_mesh_probability: float = 0.5  # of the present priors, where the face mesh found the face
    strength_range: tuple[float, float] = (0.25, 4.0)  # log-uniform scale of every error below
    shift: float = 0.009  # σ of the whole-face shift
    scale: float = 0.012  # σ of the relative scale error
    rotation_deg: float = 0.9
    warp: float = 0.007  # σ of each low-order warp coefficient
    jitter: float = 0.0025  # σ of the per-point, per-frame error
    depth_scale: tuple[float, float] = (0.8, 1.25)  # range of the depth offsets' scale error

    def __post_init__(self) -> None:
        for name in ("absent_probability", "face_mesh_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"prior noise {name} must be in [0, 1]")
        for name in ("strength_range", "depth_scale"):
            low, high = getattr(self, name)
            if not 0.0 < low <= high:
                raise ValueError(f"prior noise {name} must be an increasing positive range")


def perturb_landmarks(
    frames: np.ndarray, rng: np.random.Generator, cfg: PriorNoiseConfig, strength: float
) -> np.ndarray:
    """(T, 468, 3) landmarks of one window with one draw of face-level errors and per-frame jitter."""
    xy = frames[..., :2].astype(np.float64)
    centre = xy.mean(axis=(0, 1))
    extent = float(np.ptp(xy.reshape(-1, 2), axis=0).max()) or 1.0
    u = (xy - centre) / extent  # about [-0.5, 0.5]
    angle = np.deg2rad(rng.normal(0.0, cfg.rotation_deg * strength))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    scale = 1.0 + rng.normal(0.0, cfg.scale * strength)
    basis = np.stack([u[..., 0] * u[..., 1], u[..., 0] ** 2, u[..., 1] ** 2, u[..., 1] ** 3], axis=-1)
    warp = rng.normal(0.0, cfg.warp * strength, (basis.shape[-1], 2)) * 4.0  # basis terms are ~0.25
    moved = scale * (u @ rotation.T) + basis @ warp
    moved += rng.normal(0.0, cfg.shift * strength, 2) + rng.normal(0.0, cfg.jitter * strength, u.shape)
    out = frames.astype(np.float64).copy()
    out[..., :2] = centre + extent * moved
    out[..., 2] *= rng.uniform(*cfg.depth_scale) ** strength
    return out


def simulated_prior_channels(
    landmarks: np.ndarray,
    focal_px: np.ndarray,
    size: int,
    rng: np.random.Generator,
    noise: PriorNoiseConfig,
    fit: MeshPriorConfig,
    mesh_landmarks: np.ndarray | None = None,
) -> np.ndarray:
    """(B[, T], S, S, PRIOR_INPUT_CHANNELS) prior channels for generator landmarks (B[, T], 468, 3);
    ``mesh_landmarks`` (same shape, NaN where the face mesh found no face) are the face mesh's own.

    A sample whose fit the runtime would drop (too little of the face in the crop, a poor fit) gets
    an absent prior, as it would at run time.
    """
    windowed = landmarks.ndim == 4
    windows = landmarks if windowed else landmarks[:, None]
    focal = focal_px if windowed else focal_px[:, None]
    meshes = None if mesh_landmarks is None else (mesh_landmarks if windowed else mesh_landmarks[:, None])
    out = np.zeros((*windows.shape[:2], size, size, PRIOR_INPUT_CHANNELS), np.float32)
    for b in range(windows.shape[0]):
        if rng.random() < noise.absent_probability:
            continue
        found = meshes is not None and bool(np.isfinite(meshes[b]).all())
        if found and rng.random() < noise.face_mesh_probability:
            noisy = meshes[b].astype(np.float64)
        else:
            strength = float(np.exp(rng.uniform(*np.log(noise.strength_range))))
            noisy = perturb_landmarks(windows[b], rng, noise, strength)
        for t in range(windows.shape[1]):
            try:
                prior = build_prior_maps(noisy[t], float(focal[b, t]), size, fit)
            except (ValueError, np.linalg.LinAlgError):
                continue  # the runtime drops this face's prior too
            out[b, t] = prior_input_channels(prior, size)
    return out if windowed else out[:, 0]


def add_prior_channels(batch: dict[str, np.ndarray], rng: np.random.Generator, noise: PriorNoiseConfig) -> None:
    """Give a generator batch its ``prior`` channels (from and in place of its ``landmarks``)."""
    landmarks = batch.pop("landmarks")
    mesh_landmarks = batch.pop("mesh_landmarks", None)
    size = batch["image"].shape[-2]
    batch["prior"] = simulated_prior_channels(
        landmarks, batch["intrinsics"][..., 0], size, rng, noise, MeshPriorConfig(), mesh_landmarks
    )


class FaceMeshLandmarks:
    """The runtime's face mesh on rendered crops: its 468 landmarks in the runtime's (x, y, z) form."""

    def __init__(self) -> None:
        from face_anything_ros.runtime.config import DetectionConfig
        from face_anything_ros.runtime.detection import MediaPipeFaceMeshDetector

        self._mesh = MediaPipeFaceMeshDetector(DetectionConfig(max_faces=2), static_images=True)

    def __call__(self, images: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """(…, 468, 3) face-mesh landmarks of the face whose exact ``landmarks`` (…, 468, 3) they match
        (box IoU > 0.3) in each of ``images`` (…, S, S, 3) uint8; NaN where the mesh missed it."""
        from face_anything_ros.runtime.ids import iou_matrix

        flat_images = images.reshape(-1, *images.shape[-3:])
        flat_truth = landmarks.reshape(-1, *landmarks.shape[-2:])
        out = np.full(flat_truth.shape, np.nan, np.float32)
        for i, image in enumerate(flat_images):
            found = self._mesh.detect(image)
            if not found:
                continue
            truth_box = np.concatenate([flat_truth[i, :, :2].min(axis=0), flat_truth[i, :, :2].max(axis=0)])
            overlaps = iou_matrix(truth_box[None], np.stack([d.box_xyxy for d in found]))[0]
            best = int(np.argmax(overlaps))
            if overlaps[best] > 0.3 and found[best].landmarks_z is not None:
                out[i] = np.column_stack([found[best].landmarks, found[best].landmarks_z])
        return out.reshape(landmarks.shape)

    def close(self) -> None:
        self._mesh.close()


def add_heldout_prior(batch: dict[str, np.ndarray], noise: PriorNoiseConfig | None = None) -> None:
    """Held-out crops' priors: always present (the no-prior figure is measured beside them), and the
    same draw of errors every time, so checkpoints and weights files are compared on equal terms."""
    present = replace(noise or PriorNoiseConfig(), absent_probability=0.0)
    if "mesh_landmarks" not in batch and present.face_mesh_probability > 0:
        mesh = FaceMeshLandmarks()
        batch["mesh_landmarks"] = mesh(batch["image"], batch["landmarks"])
        mesh.close()
    add_prior_channels(batch, np.random.default_rng(HELDOUT_PRIOR_SEED), present)


def with_prior_input(model: FaceAnythingModel) -> FaceAnythingModel:
    """A copy of an image-only model that also takes the prior. Without a prior it predicts exactly what
    ``model`` does; with one, depth, mask and confidence are unchanged until trained (the branch's
    outputs start at zero) and the canonical gate starts almost closed (model/prior_encoder.py)."""
    config = replace(model.config, prior_channels=PRIOR_INPUT_CHANNELS)
    grown = FaceAnythingModel(config)
    missing, unexpected = grown.load_state_dict(model.state_dict(), strict=False)
    if unexpected or any(not name.startswith("prior_encoder.") for name in missing):
        raise ValueError(f"cannot add a prior input to this model (missing {missing}, unexpected {unexpected})")
    grown.confidence_reference = model.confidence_reference
    return grown

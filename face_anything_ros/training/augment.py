"""Camera-like augmentation of generator batches (numpy, runs in the data worker).

Photometric changes (gain, contrast, saturation, white balance, gamma, grayscale,
blur, sensor noise, JPEG) make synthetic renders look like many cameras. A
horizontal flip mirrors every map and negates canonical x: the MediaPipe
template is exactly mirror-symmetric in x, so a mirrored face is again a valid
face with canonical (−x, y, z). Frames of one window share their flip and
camera look (noise stays independent per frame).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    flip_prob: float = 0.5
    brightness: float = 0.35  # gain in [1-b, 1+b]
    contrast: float = 0.35
    saturation: float = 0.5
    white_balance: float = 0.12  # per-channel gain spread
    gamma: float = 0.3  # exponent in [1-g, 1+g]
    grayscale_prob: float = 0.1
    blur_prob: float = 0.15  # the generator already blurs, adds noise and JPEG; these add variety
    blur_sigma: tuple[float, float] = (0.3, 1.6)
    noise_prob: float = 0.3
    noise_sigma: tuple[float, float] = (1.0, 8.0)  # in 0..255 units
    jpeg_prob: float = 0.2
    jpeg_quality: tuple[int, int] = (30, 90)


def flip_horizontal(batch: dict[str, np.ndarray], which: np.ndarray) -> None:
    """Mirror the samples selected by ``which`` (leading-axis bool) in place."""
    if not which.any():
        return
    for key in ("image", "depth", "mask", "canonical"):
        arr = batch[key]
        width_axis = arr.ndim - 2 if key in ("image", "canonical") else arr.ndim - 1
        arr[which] = np.flip(arr[which], axis=width_axis)
    batch["canonical"][which, ..., 0] *= -1.0
    if "intrinsics" in batch:
        size = batch["image"].shape[-2]
        batch["intrinsics"][which, ..., 2] = size - 1 - batch["intrinsics"][which, ..., 2]


def _photometric(frames: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Apply one random camera look to ``frames`` (T, S, S, 3) uint8."""
    x = frames.astype(np.float32) / 255.0
    x = x * rng.uniform(1 - cfg.brightness, 1 + cfg.brightness)
    x = x * rng.uniform(1 - cfg.white_balance, 1 + cfg.white_balance, size=3).astype(np.float32)
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    x = (x - mean) * rng.uniform(1 - cfg.contrast, 1 + cfg.contrast) + mean
    gray = x @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    saturation = (
        0.0 if rng.random() < cfg.grayscale_prob else rng.uniform(1 - cfg.saturation, 1 + cfg.saturation)
    )
    x = gray[..., None] + (x - gray[..., None]) * saturation
    x = np.clip(x, 0.0, 1.0) ** rng.uniform(1 - cfg.gamma, 1 + cfg.gamma)
    blur = rng.uniform(*cfg.blur_sigma) if rng.random() < cfg.blur_prob else 0.0
    noise = rng.uniform(*cfg.noise_sigma) / 255.0 if rng.random() < cfg.noise_prob else 0.0
    quality = int(rng.integers(*cfg.jpeg_quality)) if rng.random() < cfg.jpeg_prob else 0
    out = np.empty(frames.shape, dtype=np.uint8)
    for t in range(x.shape[0]):
        frame = x[t]
        if blur > 0:
            frame = cv2.GaussianBlur(frame, (0, 0), blur)
        if noise > 0:
            frame = frame + rng.normal(0.0, noise, frame.shape).astype(np.float32)
        frame8 = np.clip(frame * 255.0 + 0.5, 0, 255).astype(np.uint8)
        if quality:
            ok, code = cv2.imencode(".jpg", frame8, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if ok:
                frame8 = cv2.imdecode(code, cv2.IMREAD_UNCHANGED)
        out[t] = frame8
    return out


def augment_batch(batch: dict[str, np.ndarray], rng: np.random.Generator, cfg: AugmentConfig) -> None:
    """Augment a generator batch in place: images (B, S, S, 3) or windows (B, T, S, S, 3)."""
    images = batch["image"]
    windowed = images.ndim == 5
    flip_horizontal(batch, rng.random(images.shape[0]) < cfg.flip_prob)
    for b in range(images.shape[0]):
        frames = images[b] if windowed else images[b][None]
        augmented = _photometric(frames, rng, cfg)
        images[b] = augmented if windowed else augmented[0]

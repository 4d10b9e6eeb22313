"""Camera-like image degradation: white balance, gamma, blur, motion blur, noise, JPEG."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from face_anything_ros.synth.config import SynthConfig


def linear_to_srgb(rgb: np.ndarray) -> np.ndarray:
    """Approximate display encoding (gamma 1/2.2) of linear light."""
    return np.power(np.clip(rgb, 0, 1), 1 / 2.2)


@dataclass(frozen=True)
class Degradation:
    """Camera character of one sequence (or one crop); noise is redrawn every frame."""

    white_balance: np.ndarray  # (3,)
    tone_gamma: float
    defocus_sigma: float  # 0 = sharp
    motion_kernel: np.ndarray | None
    noise_std: float
    jpeg_quality: int  # 0 = no JPEG


def sample_degradation(rng: np.random.Generator, config: SynthConfig, scale: float = 1.0) -> Degradation:
    """``scale`` = image size / 128 so blur lengths are comparable across sizes."""
    kernel = None
    if rng.random() < config.motion_blur_probability:
        length = max(3, int(rng.integers(3, 10) * scale) | 1)
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1.0
        rot = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), float(rng.uniform(0, 180)), 1.0)
        kernel = cv2.warpAffine(kernel, rot, (length, length))
        kernel /= max(float(kernel.sum()), 1e-6)
    return Degradation(
        white_balance=rng.uniform(0.88, 1.12, 3).astype(np.float32),
        tone_gamma=float(rng.uniform(0.8, 1.25)),
        defocus_sigma=float(rng.uniform(0.4, 1.6) * scale)
        if rng.random() < config.defocus_probability
        else 0.0,
        motion_kernel=kernel,
        noise_std=float(rng.uniform(*config.noise_std_range)),
        jpeg_quality=int(rng.integers(*config.jpeg_quality_range))
        if rng.random() < config.jpeg_probability
        else 0,
    )


def degrade(image: np.ndarray, deg: Degradation, rng: np.random.Generator) -> np.ndarray:
    """Turn a float display-referred image (H, W, 3) in [0, 1] into a uint8 'camera' image."""
    img = np.power(np.clip(image * deg.white_balance, 0, 1), deg.tone_gamma).astype(np.float32)
    if deg.defocus_sigma > 0:
        img = cv2.GaussianBlur(img, (0, 0), deg.defocus_sigma)
    if deg.motion_kernel is not None:
        img = cv2.filter2D(img, -1, deg.motion_kernel)
    if deg.noise_std > 0:
        img = img + rng.standard_normal((*img.shape[:2], 1), dtype=np.float32) * (deg.noise_std * 0.5)
        img = img + rng.standard_normal(img.shape, dtype=np.float32) * deg.noise_std
    out = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if deg.jpeg_quality:
        quality = deg.jpeg_quality
        ok, buf = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(out)

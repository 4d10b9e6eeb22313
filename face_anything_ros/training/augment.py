"""Camera-like augmentation of generator batches (numpy, runs in the data worker).

The list follows Wood et al., "Fake It Till You Make It" (ICCV 2021), whose synthetic-only
models transfer to real faces: a crop warp (shift, scale, rotation, a little perspective; every
map warped with the image), photometric changes (gain, contrast, saturation, white balance,
gamma, grayscale), Gaussian / median / motion blur, loss of resolution (down- and up-sampling),
ISO-like sensor noise (signal-dependent, coloured), JPEG, and distractor faces (another sample's
face pasted on the background beside this one, maps unchanged). A horizontal flip mirrors every map and negates canonical x: the MediaPipe
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
    # crop warp (the detector's box is never exactly the training box): shift in crop sides,
    # scale factor, rotation, and corner displacement of a perspective warp in crop sides
    geometric_prob: float = 0.5
    shift: float = 0.05
    scale: tuple[float, float] = (0.9, 1.1)
    rotation_deg: float = 15.0
    perspective: float = 0.03
    median_blur_prob: float = 0.05
    motion_blur_prob: float = 0.1
    motion_blur_length: tuple[int, int] = (3, 9)  # kernel length in pixels at 128 px
    resample_prob: float = 0.15  # down- then up-sampling: a smaller face in the real image
    resample_factor: tuple[float, float] = (0.35, 0.8)
    iso_noise_prob: float = 0.2
    iso_gain: tuple[float, float] = (0.002, 0.02)  # variance per unit of signal (0..1)
    iso_chroma: float = 0.5  # colour noise, relative to the luminance noise, at half resolution
    # another sample's face pasted next to this one, on background pixels only (a neighbour in a group
    # photo): the maps stay as they are, so the network learns that only the centred face is the face
    distractor_prob: float = 0.1
    distractor_offset: tuple[float, float] = (0.55, 0.85)  # shift of the pasted face, in crop sides


def basic_augmentation() -> AugmentConfig:
    """The list the 0.2.x weights were trained with: flip and photometric changes only (no crop warp,
    median/motion blur, resampling or ISO noise), for fine-tunes that should change one thing at a time."""
    return AugmentConfig(
        geometric_prob=0.0,
        median_blur_prob=0.0,
        motion_blur_prob=0.0,
        resample_prob=0.0,
        iso_noise_prob=0.0,
        distractor_prob=0.0,
    )


def flip_horizontal(batch: dict[str, np.ndarray], which: np.ndarray) -> None:
    """Mirror the samples selected by ``which`` (leading-axis bool) in place."""
    if not which.any():
        return
    channelled = ("image", "canonical", "prior")
    for key in ("image", "depth", "mask", *channelled[1:]):
        if key not in batch:
            continue
        arr = batch[key]
        width_axis = arr.ndim - 2 if key in channelled else arr.ndim - 1
        arr[which] = np.flip(arr[which], axis=width_axis)
    batch["canonical"][which, ..., 0] *= -1.0
    if "prior" in batch:
        batch["prior"][which, ..., 0] *= -1.0  # the prior's channel 0 is canonical x too
    if "intrinsics" in batch:
        size = batch["image"].shape[-2]
        batch["intrinsics"][which, ..., 2] = size - 1 - batch["intrinsics"][which, ..., 2]


def random_crop_warp(size: int, rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """A 3x3 homography of crop pixels: rotation and scale about the centre, a shift, corner jitter."""
    centre = (size - 1) / 2.0
    angle = np.deg2rad(rng.uniform(-cfg.rotation_deg, cfg.rotation_deg))
    scale = rng.uniform(*cfg.scale)
    shift = rng.uniform(-cfg.shift, cfg.shift, 2) * size
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    similarity = np.array(
        [
            [cos, -sin, centre - cos * centre + sin * centre + shift[0]],
            [sin, cos, centre - sin * centre - cos * centre + shift[1]],
            [0.0, 0.0, 1.0],
        ]
    )
    corners = np.array([[0, 0], [size - 1, 0], [size - 1, size - 1], [0, size - 1]], dtype=np.float32)
    jitter = rng.uniform(-cfg.perspective, cfg.perspective, (4, 2)) * size
    perspective = cv2.getPerspectiveTransform(corners, (corners + jitter).astype(np.float32))
    return perspective @ similarity


def warp_sample(batch: dict[str, np.ndarray], index: int, homography: np.ndarray) -> None:
    """Warp one sample's image and maps (all frames of a window alike) in place.

    Maps are resampled nearest-neighbour (no blended canonical coordinates or depths at the face's
    edge); pixels warped in from outside the crop are black and non-face. Depth values are the
    camera's z and stay as they are (exact for shift, scale and a roll about the crop centre; the small
    perspective part is an approximation). Intrinsics follow the warp's affine part.
    """
    size = batch["image"].shape[-2]
    nearest = {"flags": cv2.INTER_NEAREST, "borderMode": cv2.BORDER_CONSTANT}
    windowed = batch["image"].ndim == 5
    frames = range(batch["image"].shape[1]) if windowed else [None]
    for t in frames:
        key = (index, t) if windowed else index
        batch["image"][key] = cv2.warpPerspective(
            batch["image"][key],
            homography,
            (size, size),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
        )
        mask = cv2.warpPerspective(batch["mask"][key].astype(np.uint8), homography, (size, size), **nearest)
        batch["mask"][key] = mask.astype(batch["mask"].dtype)
        for name in ("depth", "canonical"):
            batch[name][key] = cv2.warpPerspective(
                np.ascontiguousarray(batch[name][key]),
                homography,
                (size, size),
                **nearest,
                borderValue=(np.nan,) * 4,
            )
        if "prior" in batch:
            warp_prior(batch["prior"], key, homography)
    if "intrinsics" in batch:
        fx, fy, cx, cy = np.moveaxis(batch["intrinsics"][index], -1, 0)
        a = homography[:2] / homography[2, 2]
        scale = np.sqrt(abs(np.linalg.det(a[:, :2])))
        batch["intrinsics"][index] = np.stack(
            [
                fx * scale,
                fy * scale,
                a[0, 0] * cx + a[0, 1] * cy + a[0, 2],
                a[1, 0] * cx + a[1, 1] * cy + a[1, 2],
            ],
            axis=-1,
        )


def warp_prior(prior: np.ndarray, key: tuple | int, homography: np.ndarray) -> None:
    """Warp one crop's prior channels like its image; pixels from outside the crop have no prior, and
    the present flag stays as it was (at run time it covers the whole crop)."""
    size = prior.shape[-2]
    maps = np.ascontiguousarray(prior[key][..., :-1])
    warped = [
        cv2.warpPerspective(
            np.ascontiguousarray(maps[..., c : c + 4]), homography, (size, size),
            flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=(0.0,) * 4,
        ).reshape(size, size, -1)
        for c in range(0, maps.shape[-1], 4)
    ]  # fmt: skip
    prior[key][..., :-1] = np.concatenate(warped, axis=-1)


def motion_blur_kernel(length: int, angle_deg: float) -> np.ndarray:
    """A normalised line kernel (length x length) at ``angle_deg``."""
    kernel = np.zeros((length, length), np.float32)
    centre = (length - 1) / 2.0
    direction = np.array([np.cos(np.deg2rad(angle_deg)), np.sin(np.deg2rad(angle_deg))]) * centre
    start = np.round(centre - direction).astype(int)
    end = np.round(centre + direction).astype(int)
    cv2.line(kernel, (int(start[0]), int(start[1])), (int(end[0]), int(end[1])), 1.0, 1)
    return kernel / kernel.sum()


def iso_noise(frame: np.ndarray, gain: float, chroma: float, rng: np.random.Generator) -> np.ndarray:
    """Signal-dependent (shot-like) luminance noise plus low-resolution colour noise, frame in 0..1."""
    luminance = frame @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    sigma = np.sqrt(gain * np.clip(luminance, 0.0, 1.0) + 0.1 * gain)[..., None]
    noisy = frame + sigma * rng.normal(0.0, 1.0, luminance.shape)[..., None].astype(np.float32)
    height, width = luminance.shape
    colour = rng.normal(0.0, 1.0, ((height + 1) // 2, (width + 1) // 2, 3)).astype(np.float32)
    colour = cv2.resize(colour, (width, height), interpolation=cv2.INTER_LINEAR)
    return noisy + chroma * sigma * colour


def paste_distractor(batch: dict[str, np.ndarray], index: int, other: int, shift: np.ndarray) -> None:
    """Paste sample ``other``'s face, shifted by ``shift`` (x, y pixels), onto ``index``'s background."""
    size = batch["image"].shape[-2]
    move = np.array([[1.0, 0.0, shift[0]], [0.0, 1.0, shift[1]]])
    windowed = batch["image"].ndim == 5
    for t in range(batch["image"].shape[1]) if windowed else [None]:
        key, source = ((index, t), (other, t)) if windowed else (index, other)
        face = cv2.warpAffine(
            batch["mask"][source].astype(np.uint8), move, (size, size), flags=cv2.INTER_NEAREST
        )
        image = cv2.warpAffine(batch["image"][source], move, (size, size), flags=cv2.INTER_LINEAR)
        paste = (face > 0) & ~batch["mask"][key].astype(bool)
        batch["image"][key][paste] = image[paste]


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
    size = frames.shape[-2]
    blur = rng.uniform(*cfg.blur_sigma) if rng.random() < cfg.blur_prob else 0.0
    motion = None
    if rng.random() < cfg.motion_blur_prob:
        length = round(rng.integers(cfg.motion_blur_length[0], cfg.motion_blur_length[1] + 1) * size / 128)
        motion = motion_blur_kernel(max(3, length | 1), rng.uniform(0.0, 180.0))
    median = rng.random() < cfg.median_blur_prob
    resample = rng.uniform(*cfg.resample_factor) if rng.random() < cfg.resample_prob else 0.0
    iso = rng.uniform(*cfg.iso_gain) if rng.random() < cfg.iso_noise_prob else 0.0
    noise = rng.uniform(*cfg.noise_sigma) / 255.0 if rng.random() < cfg.noise_prob else 0.0
    quality = int(rng.integers(*cfg.jpeg_quality)) if rng.random() < cfg.jpeg_prob else 0
    out = np.empty(frames.shape, dtype=np.uint8)
    for t in range(x.shape[0]):
        frame = x[t]
        if blur > 0:
            frame = cv2.GaussianBlur(frame, (0, 0), blur)
        if motion is not None:
            frame = cv2.filter2D(frame, -1, motion, borderType=cv2.BORDER_REFLECT)
        if resample:
            small = max(8, round(size * resample))
            frame = cv2.resize(cv2.resize(frame, (small, small), interpolation=cv2.INTER_AREA), (size, size))
        if iso:
            frame = iso_noise(frame, iso, cfg.iso_chroma, rng)
        if noise > 0:
            frame = frame + rng.normal(0.0, noise, frame.shape).astype(np.float32)
        frame8 = np.clip(frame * 255.0 + 0.5, 0, 255).astype(np.uint8)
        if median:
            frame8 = cv2.medianBlur(frame8, 3)
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
        if images.shape[0] > 1 and rng.random() < cfg.distractor_prob:
            other = (b + int(rng.integers(1, images.shape[0]))) % images.shape[0]
            angle = rng.uniform(0.0, 2.0 * np.pi)
            offset = rng.uniform(*cfg.distractor_offset) * images.shape[-2]
            paste_distractor(batch, b, other, offset * np.array([np.cos(angle), np.sin(angle)]))
        if rng.random() < cfg.geometric_prob:
            warp_sample(batch, b, random_crop_warp(images.shape[-2], rng, cfg))
        frames = images[b] if windowed else images[b][None]
        augmented = _photometric(frames, rng, cfg)
        images[b] = augmented if windowed else augmented[0]

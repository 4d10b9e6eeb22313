"""Anti-aliased rendering: render at an integer multiple of the target size, then box-downsample.

A camera integrates light over each pixel; the rasteriser samples one point per pixel,
so silhouettes, hair edges and fine skin texture alias (a gap between synthetic and
real images). Rendering at ``factor`` x and area-averaging removes most of it.

The ground truth stays exact and matches the downsampled image:

- ``mask``: the face covers more than half of the pixel's sub-pixels (the pixel mostly shows face);
  exactly half is a tie that a checkerboard breaks, since always counting (or never counting) ties
  would grow (shrink) every silhouette by a quarter pixel against the point-sampled masks;
- ``depth`` / ``canonical``: the mean over the face sub-pixels that lie on the front-most face
  surface of the pixel (within ``FOLD_TOLERANCE_M`` of the nearest one). Averaging is what the
  image does too, and an even factor has no sub-pixel at the pixel centre; the front-most filter
  keeps folds (a nose side over the cheek) from producing points floating between two surfaces;
- ``zbuffer``: the nearest surface in the pixel, ``triangle``: the triangle seen there.

Intrinsics stay those of the target image: the render uses ``upscaled_intrinsics``.
"""

from __future__ import annotations

import cv2
import numpy as np

from face_anything_ros.synth.render import DISPLAY_GAMMA, MeshRenderer, RenderedFrames

FOLD_TOLERANCE_M = 0.01  # face sub-pixels this far behind the pixel's nearest one are another surface


def upscaled_intrinsics(intrinsics: np.ndarray, factor: int) -> np.ndarray:
    """(N, 4) fx fy cx cy of the same camera on a ``factor`` x finer pixel grid (pixel centres at integers)."""
    out = np.asarray(intrinsics, dtype=np.float32).copy()
    out[:, :2] *= factor
    out[:, 2:] = out[:, 2:] * factor + (factor - 1) / 2
    return out


def _blocks(values: np.ndarray, factor: int) -> np.ndarray:
    """(N, H*f, W*f, ...) → (N, H, W, f*f, ...): the sub-pixels of every target pixel."""
    n, hf, wf = values.shape[:3]
    rest = values.shape[3:]
    h, w = hf // factor, wf // factor
    grid = values.reshape(n, h, factor, w, factor, *rest)
    grid = np.moveaxis(grid, 2, 3)  # (N, H, W, f, f, ...)
    return grid.reshape(n, h, w, factor * factor, *rest)


def _area_downsample_display(rgb: np.ndarray, factor: int, gamma: float = DISPLAY_GAMMA) -> np.ndarray:
    """Box-average display-referred images in linear light (what the sensor integrates)."""
    h, w = rgb.shape[1] // factor, rgb.shape[2] // factor
    linear = np.power(np.clip(rgb, 0, 1), 1.0 / gamma)
    small = np.stack([cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA) for img in linear])
    return np.power(np.clip(small, 0, 1), gamma).astype(np.float32)


def downsample_frames(frames: RenderedFrames, factor: int) -> RenderedFrames:
    """Target-size frames from frames rendered ``factor`` x larger (see the module docs for the GT rules)."""
    if factor == 1:
        return frames
    face = _blocks(frames.mask, factor)  # (N, H, W, S)
    twice_count = 2 * face.sum(axis=-1)
    rows, cols = np.indices(face.shape[1:3])
    mask = (twice_count > factor * factor) | ((twice_count == factor * factor) & ((rows + cols) % 2 == 0))
    depth = _blocks(frames.depth, factor)
    nearest = np.where(face, depth, np.inf).min(axis=-1, keepdims=True)
    front = face & (depth <= nearest + FOLD_TOLERANCE_M)
    count = np.maximum(front.sum(axis=-1), 1)
    depth_out = np.where(front, depth, 0.0).sum(axis=-1) / count
    canonical = np.where(front[..., None], _blocks(frames.canonical, factor), 0.0).sum(axis=-2)
    canonical /= count[..., None]
    depth_out[~mask] = np.nan
    canonical[~mask] = np.nan
    zbuf = _blocks(frames.zbuffer, factor)
    first = zbuf.argmin(axis=-1)[..., None]  # background sub-pixels are +inf, so any surface wins
    return RenderedFrames(
        rgb=_area_downsample_display(frames.rgb, factor),
        depth=depth_out.astype(np.float32),
        canonical=canonical.astype(np.float32),
        mask=mask,
        zbuffer=np.take_along_axis(zbuf, first, axis=-1)[..., 0],
        triangle=np.take_along_axis(_blocks(frames.triangle, factor), first, axis=-1)[..., 0],
    )


def render_antialiased(
    renderer: MeshRenderer,
    factors: np.ndarray,  # (N,) int supersampling factor of every frame (1 = point-sampled)
    verts_cam: np.ndarray,
    intrinsics: np.ndarray,
    height: int,
    width: int,
    background: np.ndarray,
    people: np.ndarray,
    gaze: np.ndarray,
    lights: np.ndarray,
) -> RenderedFrames:
    """``MeshRenderer.render`` at the target size, each frame rendered at its own factor and downsampled."""
    factors = np.asarray(factors, dtype=int)
    parts: list[tuple[np.ndarray, RenderedFrames]] = []
    for factor in np.unique(factors):
        idx = np.nonzero(factors == factor)[0]
        bg = np.asarray(background[idx])
        if factor > 1:  # nearest-neighbour upsampling, so the box filter gives the background back exactly
            bg = bg.repeat(factor, axis=1).repeat(factor, axis=2)
        frames = renderer.render(
            verts_cam[idx], upscaled_intrinsics(intrinsics[idx], int(factor)), height * factor, width * factor,
            bg, people[idx], gaze[idx], lights[idx],
        )  # fmt: skip
        parts.append((idx, downsample_frames(frames, int(factor))))
    if len(parts) == 1:
        return parts[0][1]
    out = {}
    for name in RenderedFrames.__annotations__:
        first = getattr(parts[0][1], name)
        merged = np.empty((len(factors), *first.shape[1:]), first.dtype)
        for idx, frames in parts:
            merged[idx] = getattr(frames, name)
        out[name] = merged
    return RenderedFrames(**out)

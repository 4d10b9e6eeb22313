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


def _grid(values: np.ndarray, factor: int) -> np.ndarray:
    """(N, H*f, W*f, ...) → a (N, H, f, W, f, ...) view: the sub-pixels of every target pixel."""
    n, hf, wf = values.shape[:3]
    return values.reshape(n, hf // factor, factor, wf // factor, factor, *values.shape[3:])


def _block_rows(values: np.ndarray, factor: int, where: tuple[np.ndarray, ...]) -> np.ndarray:
    """(K, f*f, ...) sub-pixels of the K target pixels ``where`` = (frame, row, column) index arrays.

    Only those blocks are copied: faces cover a small part of a sequence frame.
    """
    frame, row, col = where
    rows = _grid(values, factor)[frame, row, :, col, :]  # (K, f, f, ...)
    return rows.reshape(len(frame), factor * factor, *values.shape[3:])


def _area_downsample_display(
    rgb: np.ndarray, drawn: tuple[np.ndarray, ...], factor: int, gamma: float = DISPLAY_GAMMA
) -> np.ndarray:
    """cv2.INTER_AREA (a box mean for an integer factor); in linear light where a surface was drawn.

    The sensor integrates linear light; the background pool is display-referred and constant over
    each block (nearest-neighbour upsampled), so it needs no conversion.
    """
    h, w = rgb.shape[1] // factor, rgb.shape[2] // factor
    small = np.stack([cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA) for img in rgb])
    linear = np.power(np.clip(_block_rows(rgb, factor, drawn), 0, 1), 1.0 / gamma).mean(axis=1)
    small[drawn] = np.power(linear, gamma)
    return small.astype(np.float32)


def downsample_frames(frames: RenderedFrames, factor: int) -> RenderedFrames:
    """Target-size frames from frames rendered ``factor`` x larger (see the module docs for the GT rules)."""
    if factor == 1:
        return frames
    subpixels = factor * factor
    twice_count = 2 * _grid(frames.mask, factor).sum(axis=(2, 4))
    rows, cols = np.indices(twice_count.shape[1:])
    mask = (twice_count > subpixels) | ((twice_count == subpixels) & ((rows + cols) % 2 == 0))
    on_face = np.nonzero(mask)
    face = _block_rows(frames.mask, factor, on_face)  # (K, S)
    depth = _block_rows(frames.depth, factor, on_face)
    nearest = np.where(face, depth, np.inf).min(axis=1, keepdims=True)
    front = face & (depth <= nearest + FOLD_TOLERANCE_M)
    count = front.sum(axis=1)  # >= 1: the nearest face sub-pixel is always in front
    depth_out = np.full(mask.shape, np.nan, np.float32)
    depth_out[on_face] = np.where(front, depth, 0.0).sum(axis=1) / count
    canonical = np.full((*mask.shape, 3), np.nan, np.float32)
    front_canonical = np.where(front[..., None], _block_rows(frames.canonical, factor, on_face), 0.0)
    canonical[on_face] = front_canonical.sum(axis=1) / count[:, None]
    zbuffer = _grid(frames.zbuffer, factor).min(axis=(2, 4))
    drawn = np.nonzero(np.isfinite(zbuffer))
    triangle = np.full(mask.shape, -1, frames.triangle.dtype)
    first = _block_rows(frames.zbuffer, factor, drawn).argmin(axis=1)[:, None]  # the nearest surface
    triangle[drawn] = np.take_along_axis(_block_rows(frames.triangle, factor, drawn), first, axis=1)[:, 0]
    return RenderedFrames(
        rgb=_area_downsample_display(frames.rgb, drawn, factor),
        depth=depth_out,
        canonical=canonical,
        mask=mask,
        zbuffer=zbuffer,
        triangle=triangle,
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

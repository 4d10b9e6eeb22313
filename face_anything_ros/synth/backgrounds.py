"""Procedural backgrounds (no photos): gradients, noise, textures, clutter shapes, room-like planes.

A generator keeps a pool of backgrounds and refreshes a few per batch, so making
backgrounds costs little per sample; each use takes a random crop/flip/colour shift.
"""

from __future__ import annotations

import cv2
import numpy as np


def _noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    small = rng.random((cells, cells, 3)).astype(np.float32)
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)


def _gradient(rng: np.random.Generator, size: int) -> np.ndarray:
    a, b = rng.random(3), rng.random(3)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    t = np.clip(0.5 + (xx - 0.5) * np.cos(angle) + (yy - 0.5) * np.sin(angle), 0, 1)[..., None]
    return (a * (1 - t) + b * t).astype(np.float32)


def _stripes(rng: np.random.Generator, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(4, 60)
    phase = (xx * np.cos(angle) + yy * np.sin(angle)) / period
    wave = (np.sin(2 * np.pi * phase) > rng.uniform(-0.5, 0.5)).astype(np.float32)
    if rng.random() < 0.5:
        wave = cv2.GaussianBlur(wave, (0, 0), rng.uniform(0.5, 3))
    a, b = rng.random(3), rng.random(3)
    return (a * wave[..., None] + b * (1 - wave[..., None])).astype(np.float32)


def _clutter(rng: np.random.Generator, size: int, base: np.ndarray) -> np.ndarray:
    img = (base * 255).astype(np.uint8).copy()
    for _ in range(rng.integers(3, 30)):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = rng.integers(4)
        p = rng.integers(-size // 4, size + size // 4, 2)
        if kind == 0:
            q = p + rng.integers(5, size // 2, 2)
            cv2.rectangle(img, tuple(int(v) for v in p), tuple(int(v) for v in q), colour, -1)
        elif kind == 1:
            axes = tuple(int(v) for v in rng.integers(3, size // 4, 2))
            cv2.ellipse(img, tuple(int(v) for v in p), axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
        elif kind == 2:
            q = rng.integers(0, size, 2)
            cv2.line(img, tuple(int(v) for v in p), tuple(int(v) for v in q), colour, int(rng.integers(1, 8)))
        else:
            pts = (p + rng.integers(-size // 5, size // 5, (int(rng.integers(3, 7)), 2))).astype(np.int32)
            cv2.fillPoly(img, [pts], colour)
    out = img.astype(np.float32) / 255.0
    if rng.random() < 0.5:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 4))
    return out


def _room(rng: np.random.Generator, size: int) -> np.ndarray:
    """Walls/floor/door-frame like axis-aligned planes with soft gradients."""
    img = _gradient(rng, size) * rng.uniform(0.4, 1.0)
    for _ in range(rng.integers(1, 5)):
        x0 = int(rng.integers(0, size))
        x1 = min(size, x0 + int(rng.integers(size // 10, size)))
        shade = _gradient(rng, size) * rng.uniform(0.3, 1.1)
        if rng.random() < 0.5:
            img[:, x0:x1] = shade[:, x0:x1]
        else:
            img[x0:x1, :] = shade[x0:x1, :]
    return img


def make_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """One background (size, size, 3) float32 in [0, 1]."""
    kind = rng.integers(5)
    if kind == 0:
        img = _gradient(rng, size) * 0.6 + 0.4 * _noise(rng, size, int(rng.integers(2, 24)))
    elif kind == 1:
        img = _stripes(rng, size)
    elif kind == 2:
        img = _clutter(rng, size, _gradient(rng, size))
    elif kind == 3:
        img = _room(rng, size)
    else:
        img = _clutter(rng, size, _noise(rng, size, int(rng.integers(2, 40))))
    if rng.random() < 0.5:  # fine texture
        img = img * (1 + rng.uniform(0.02, 0.25) * (_noise(rng, size, int(rng.integers(30, 120))) - 0.5))
    # real scenes are rarely fully saturated: pull towards grey by a random amount
    grey = img.mean(axis=2, keepdims=True)
    img = grey + (img - grey) * rng.uniform(0.15, 1.0)
    return np.clip(img, 0, 1).astype(np.float32)


class BackgroundPool:
    """Pool of procedural backgrounds with cheap randomised views."""

    def __init__(self, rng: np.random.Generator, count: int, size: int) -> None:
        self._rng = rng
        self._size = size
        self._pool = [make_background(rng, size) for _ in range(count)]

    def refresh(self, count: int) -> None:
        for _ in range(count):
            self._pool[int(self._rng.integers(len(self._pool)))] = make_background(self._rng, self._size)

    def view(self, height: int, width: int) -> np.ndarray:
        """A random crop of a pool background resized to (height, width, 3) float32."""
        rng = self._rng
        img = self._pool[int(rng.integers(len(self._pool)))]
        frac = rng.uniform(0.3, 1.0)
        ch = max(4, int(self._size * frac))
        cw = max(4, min(self._size, int(ch * width / height)))
        y0 = int(rng.integers(0, self._size - ch + 1))
        x0 = int(rng.integers(0, self._size - cw + 1))
        view = cv2.resize(img[y0 : y0 + ch, x0 : x0 + cw], (width, height), interpolation=cv2.INTER_LINEAR)
        if rng.random() < 0.5:
            view = view[:, ::-1]
        gain = rng.uniform(0.5, 1.3, 3).astype(np.float32)
        return np.clip(view * gain, 0, 1)

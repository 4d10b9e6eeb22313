"""A simulated consistently wrong canonical lookup, for choosing fusion settings without real photos.

On real photos the network's lookup is wrong by a few pixels, and fairly consistently per point: a
network unsure of a face region places it off by about the same amount in every frame (issue 11). The
synthetic train split, where the network is good, does not show that regime, and the reserved real photos
may not be used to choose settings. So ``tune_fusion --lookup-bias-px A`` adds to every lookup an offset
that is a smooth random function of the query's canonical coordinate, ``A * sin(K c + phase)`` per image
axis (wave vectors ~ N(0, 8) per canonical unit: a few oscillations across a face), the same for a point
in every frame. Settings that hold up both there and on the clean split are robust to the domain gap.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

WAVE_SCALE = 8.0  # spread of the wave vectors, per canonical unit (a face is ~2 units across)


def smooth_canonical_offsets(amplitude_px: float, seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    """canonical coordinates (N, 3) -> offsets (N, 2) in image pixels, each axis within ±``amplitude_px``."""
    if not np.isfinite(amplitude_px) or amplitude_px < 0:
        raise ValueError(f"a lookup bias amplitude must be a finite number >= 0, got {amplitude_px}")
    rng = np.random.default_rng(seed)
    waves = rng.normal(0.0, WAVE_SCALE, size=(2, 3))
    phases = rng.uniform(0.0, 2 * np.pi, size=2)

    def offsets(canonical: np.ndarray) -> np.ndarray:
        c = np.asarray(canonical, dtype=np.float64).reshape(-1, 3)
        return amplitude_px * np.sin(c @ waves.T + phases)

    return offsets

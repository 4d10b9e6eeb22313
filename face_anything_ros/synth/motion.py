"""Continuous motion over time: head pose, expression (talking, blinks, changes), gaze.

Everything is sampled per frame index (about 30 fps), smooth, and reduces to a
single random still for ``num_frames == 1`` (training crops).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from face_anything_ros.synth.config import SynthConfig
from face_anything_ros.synth.deform import EXPRESSIONS, NUM_EXPRESSIONS

FPS = 30.0
BLINK_FRAMES = 5
TWO_SIDED = ("jaw_side",)


@dataclass
class HeadMotion:
    yaw: np.ndarray  # (T,) degrees
    pitch: np.ndarray
    roll: np.ndarray
    expressions: np.ndarray  # (T, E)
    gaze: np.ndarray  # (T, 2) canonical offset of the irises
    shift: np.ndarray  # (T, 3) metres, translation drift in the camera frame


def _sample_static_pose(rng: np.random.Generator, config: SynthConfig) -> tuple[float, float, float]:
    if rng.random() < 0.35:
        yaw = rng.uniform(-config.yaw_max_deg, config.yaw_max_deg)
    else:
        yaw = rng.normal(0, 25)
    pitch = rng.normal(0, 14)
    roll = rng.normal(0, 10)
    return (
        float(np.clip(yaw, -config.yaw_max_deg, config.yaw_max_deg)),
        float(np.clip(pitch, -config.pitch_max_deg, config.pitch_max_deg)),
        float(np.clip(roll, -config.roll_max_deg, config.roll_max_deg)),
    )


def _random_expression(rng: np.random.Generator, strength: float) -> np.ndarray:
    e = np.zeros(NUM_EXPRESSIONS)
    active = rng.random(NUM_EXPRESSIONS) < 0.3
    e[active] = rng.uniform(0, 1, active.sum()) ** 1.5
    if rng.random() < 0.4:  # symmetric smile/brows are most common
        for a, b in (("smile_r", "smile_l"), ("brow_up_r", "brow_up_l"), ("blink_r", "blink_l")):
            e[EXPRESSIONS.index(b)] = e[EXPRESSIONS.index(a)] * rng.uniform(0.8, 1.2)
    for name in TWO_SIDED:
        e[EXPRESSIONS.index(name)] *= rng.choice([-1, 1])
    e[EXPRESSIONS.index("jaw_open")] = rng.uniform(0, 1) ** 2 if rng.random() < 0.5 else 0.0
    return np.clip(e * strength, -1, 1)


def _smooth_keys(rng: np.random.Generator, num_frames: int, sampler, period_range=(8, 30)) -> np.ndarray:
    """Piecewise-cosine interpolation between random keyframes."""
    keys_t = [0.0]
    while keys_t[-1] < num_frames:
        keys_t.append(keys_t[-1] + rng.uniform(*period_range))
    keys = np.stack([sampler() for _ in keys_t])
    t = np.arange(num_frames, dtype=np.float64)
    idx = np.clip(np.searchsorted(keys_t, t, side="right") - 1, 0, len(keys_t) - 2)
    t0, t1 = np.asarray(keys_t)[idx], np.asarray(keys_t)[idx + 1]
    w = 0.5 - 0.5 * np.cos(np.pi * (t - t0) / (t1 - t0))
    return keys[idx] * (1 - w[:, None]) + keys[idx + 1] * w[:, None]


def sample_motion(rng: np.random.Generator, config: SynthConfig, num_frames: int) -> HeadMotion:
    yaw0, pitch0, roll0 = _sample_static_pose(rng, config)
    t = np.arange(num_frames, dtype=np.float64)
    if num_frames == 1:
        expressions = _random_expression(rng, config.expression_strength)[None]
        gaze = rng.normal(0, 0.03, (1, 2))
        return HeadMotion(
            np.array([yaw0]), np.array([pitch0]), np.array([roll0]), expressions, gaze, np.zeros((1, 3))
        )
    # head turns: a slow drift plus occasional sweeps
    turn_speed = rng.normal(0, 1.5)  # deg per frame
    sweep_amp, sweep_period = rng.uniform(0, 35), rng.uniform(40, 160)
    phase = rng.uniform(0, 2 * np.pi)
    yaw = yaw0 + turn_speed * t + sweep_amp * np.sin(2 * np.pi * t / sweep_period + phase)
    yaw = np.clip(yaw, -config.yaw_max_deg, config.yaw_max_deg)
    pitch = np.clip(pitch0 + rng.normal(0, 6) * np.sin(2 * np.pi * t / rng.uniform(30, 120) + rng.uniform(0, 6)),
                    -config.pitch_max_deg, config.pitch_max_deg)  # fmt: skip
    roll = np.clip(roll0 + rng.normal(0, 0.3) * t, -config.roll_max_deg, config.roll_max_deg)
    expressions = _smooth_keys(rng, num_frames, lambda: _random_expression(rng, config.expression_strength))
    jaw = EXPRESSIONS.index("jaw_open")
    if rng.random() < 0.6:  # talking: fast jaw/lip motion
        syllable = rng.uniform(3.0, 6.0) / FPS
        talk = np.abs(np.sin(np.pi * syllable * t + rng.uniform(0, np.pi))) * rng.uniform(0.2, 0.7)
        talk *= np.sin(2 * np.pi * t / rng.uniform(20, 60) + rng.uniform(0, 6)) > -0.4  # pauses
        expressions[:, jaw] = np.clip(expressions[:, jaw] * 0.3 + talk, 0, 1)
    for start in np.nonzero(rng.random(num_frames) < 1.0 / 90)[0]:  # blinks every ~3 s
        profile = np.sin(np.pi * (np.arange(BLINK_FRAMES) + 1) / (BLINK_FRAMES + 1))
        end = min(num_frames, start + BLINK_FRAMES)
        for name in ("blink_r", "blink_l"):
            k = EXPRESSIONS.index(name)
            expressions[start:end, k] = np.maximum(expressions[start:end, k], profile[: end - start])
    gaze = _smooth_keys(rng, num_frames, lambda: rng.normal(0, 0.03, 2), (10, 40))
    shift = np.cumsum(rng.normal(0, 0.0015, (num_frames, 3)), axis=0)
    return HeadMotion(yaw, pitch, roll, expressions, gaze, shift)

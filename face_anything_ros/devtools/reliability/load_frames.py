"""Frames for the soak: 0..N composited faces on a background, built once so publishing is cheap.

Face patches come from the bundled sample (a real face photo, demo input) or from the synthetic
generator (faces MediaPipe detects, ``bench.detectable_face_patches``). Patches are placed on a
grid with ``bench.compose_frames`` and drift a little from frame to frame so the detector tracks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FACE_SOURCES = ("sample", "synth")
PATCH_SCALE = 1.6  # patch side relative to the detected face box side (as in bench)
EMPTY_GREY = 100  # the frames without a face are plain grey


@dataclass(frozen=True)
class LoadFrameConfig:
    """Size and variety of the precomputed soak frames."""

    width: int = 640
    height: int = 480
    max_faces: int = 8
    frames_per_count: int = 4  # distinct frames per face count, cycled
    face_source: str = "sample"
    seed: int = 0


def sample_face_patch() -> np.ndarray:
    """A square patch around the face of the bundled sample's first frame (face mesh box x 1.6)."""
    import mediapipe as mp

    from face_anything_ros.offline.frame_sources import open_frames
    from face_anything_ros.offline.sample import sample_dir

    _, frame, _ = next(iter(open_frames(sample_dir()).frames()))
    height, width = frame.shape[:2]
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1) as mesh:
        found = mesh.process(frame).multi_face_landmarks
    if not found:
        raise RuntimeError("the bundled sample face was not detected; cannot build soak frames")
    xy = np.array([(p.x * width, p.y * height) for p in found[0].landmark])
    centre = 0.5 * (xy.min(axis=0) + xy.max(axis=0))
    side = min(PATCH_SCALE * float((xy.max(axis=0) - xy.min(axis=0)).max()), width, height)
    x0 = int(np.clip(centre[0] - side / 2, 0, width - side))
    y0 = int(np.clip(centre[1] - side / 2, 0, height - side))
    return frame[y0 : y0 + int(side), x0 : x0 + int(side)].copy()


def face_patches(config: LoadFrameConfig) -> list[np.ndarray]:
    if config.face_source == "sample":
        return [sample_face_patch()]
    if config.face_source == "synth":
        from face_anything_ros.devtools.bench import detectable_face_patches

        patches = detectable_face_patches(max(1, config.max_faces), seed=config.seed)
        if not patches:
            raise RuntimeError("no synthetic face was detectable; use --face-source sample")
        return patches
    raise ValueError(f"face source must be one of {FACE_SOURCES}, got {config.face_source!r}")


def load_frames(config: LoadFrameConfig) -> dict[int, list[np.ndarray]]:
    """face count -> ``frames_per_count`` RGB frames with that many faces (0..max_faces)."""
    from face_anything_ros.devtools.bench import compose_frames

    patches = face_patches(config)
    empty = np.full((config.height, config.width, 3), EMPTY_GREY, dtype=np.uint8)
    frames: dict[int, list[np.ndarray]] = {0: [empty] * config.frames_per_count}
    for count in range(1, config.max_faces + 1):
        frames[count] = compose_frames(
            patches, count, config.width, config.height, config.frames_per_count, seed=config.seed + count
        )
    return frames

"""The real-texture test set: reserved real face photos moved by known warps.

Two real face photos that ship inside installed packages (``skimage.data.astronaut()``
and matplotlib's ``grace_hopper.jpg``; reserved for evaluation, never for training) are
cropped around the face and animated by an exactly known warp per frame:

* head-like motion: the photo as a plane rotated in 3D (yaw, pitch, roll), scaled and
  translated — an exact homography per frame; slow and fast variants;
* non-rigid, expression-like motion: smooth Gaussian radial-basis displacement fields
  around the mouth corners, lips and brows (smile / mouth opening / brow raise) plus one
  wide field over the cheeks;
* lighting change: a smooth, time-varying gain ramp and a gamma change;
* occluders: a textured ellipse that passes over the face (ground-truth invisibility);
* a few static frames at the start, so jitter can be measured.

A frame-``t`` pixel of a base point ``p`` is ``F_t(p) = H_t(p + D_t(p))`` with homography
``H_t`` and displacement field ``D_t``. Ground-truth tracks are ``F_t`` of the query's
base point, so they are exact; rendering inverts ``F_t`` per pixel (fixed-point
iteration, the fields are contractive). Depth is unknown (no ``depth/`` folder).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

LOG = logging.getLogger(__name__)

PHOTOS = ("astronaut", "grace_hopper")
# MediaPipe landmark indices that anchor the expression fields
MOUTH_CORNERS = (61, 291)
UPPER_LIP, LOWER_LIP = 13, 14
BROWS = (105, 334)
# crop side around the detected face, relative to the larger side of the landmark box
BASE_CROP_SCALE = 1.9
FOCAL_PER_SIDE = 1.2  # pinhole focal length in units of the image side
INVERSE_ITERATIONS = 12


@dataclass(frozen=True)
class MotionSpec:
    """How one sequence moves. Angles in degrees, translations in image sides per frame."""

    name: str
    yaw_deg: float = 12.0
    pitch_deg: float = 8.0
    roll_deg: float = 6.0
    scale_amplitude: float = 0.05
    translation_per_frame: float = 0.006
    motion_period_frames: float = 24.0
    expression: float = 0.5  # 1.0 = strong smile + open mouth + raised brows
    lighting: float = 0.2  # amplitude of the gain ramp
    occluder: bool = True
    static_frames: int = 4


MOTION_SPECS: tuple[MotionSpec, ...] = (
    MotionSpec(name="slow"),
    MotionSpec(
        name="fast",
        yaw_deg=25.0,
        pitch_deg=15.0,
        roll_deg=15.0,
        scale_amplitude=0.12,
        translation_per_frame=0.03,
        motion_period_frames=10.0,
        expression=0.6,
    ),
    MotionSpec(
        name="expression",
        yaw_deg=6.0,
        pitch_deg=4.0,
        roll_deg=3.0,
        expression=1.0,
        lighting=0.35,
        occluder=False,
    ),
)


@dataclass
class RealTextureSequence:
    """One generated sequence, in memory, in the evaluation format's terms."""

    name: str
    frames: np.ndarray  # (T, S, S, 3) uint8 RGB
    intrinsics: dict[str, float]
    queries: np.ndarray  # (N, 3) t, x, y
    tracks: np.ndarray  # (T, N, 2)
    visible: np.ndarray  # (T, N) bool


def load_photo(name: str) -> np.ndarray:
    """RGB uint8 of a reserved photo (both ship inside installed packages, no download)."""
    if name == "astronaut":
        import skimage.data

        return np.asarray(skimage.data.astronaut())
    if name == "grace_hopper":
        from matplotlib import cbook

        with cbook.get_sample_data("grace_hopper.jpg") as handle:
            data = np.frombuffer(handle.read(), dtype=np.uint8)
        return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    raise ValueError(f"unknown photo {name!r}; choose from {PHOTOS}")


def face_landmarks(image: np.ndarray) -> np.ndarray:
    """MediaPipe's 468 landmarks (x, y pixels; z, a depth offset at the scale of x) on a still photo;
    raises if no face is found."""
    from face_anything_ros.evaluation.baselines.mediapipe_mesh import MediaPipeConfig, detect_landmarks

    found = detect_landmarks(image[None], MediaPipeConfig(static_image_mode=True))[0]
    if not found:
        raise RuntimeError("no face found in the photo")
    return max(found.values(), key=lambda lms: float(np.ptp(lms[:, 0])))


def base_view(photo: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Square crop around the face resized to ``size``, and its (468, 3) landmarks in that crop."""
    landmarks = face_landmarks(photo)
    lo, hi = landmarks[:, :2].min(axis=0), landmarks[:, :2].max(axis=0)
    centre = 0.5 * (lo + hi)
    side = BASE_CROP_SCALE * float(np.max(hi - lo))
    scale = size / side
    affine = np.array(
        [[scale, 0.0, size / 2 - scale * centre[0]], [0.0, scale, size / 2 - scale * centre[1]]]
    )
    image = cv2.warpAffine(
        photo, affine, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT_101
    )
    return image, np.column_stack(
        [landmarks[:, :2] @ affine[:, :2].T + affine[:, 2], scale * landmarks[:, 2]]
    )


# ----------------------------------------------------------------------------- warp


@dataclass
class SequenceWarp:
    """The exact per-frame warp ``F_t(p) = H_t(p + D_t(p))`` of one sequence."""

    homographies: np.ndarray  # (T, 3, 3)
    rbf_centres: np.ndarray  # (K, 2) base-image pixels
    rbf_sigmas: np.ndarray  # (K,)
    rbf_vectors: np.ndarray  # (T, K, 2) displacement at each centre

    def displacement(self, t: int, points: np.ndarray) -> np.ndarray:
        d2 = np.sum((points[:, None, :] - self.rbf_centres[None]) ** 2, axis=-1)
        weights = np.exp(-0.5 * d2 / self.rbf_sigmas[None] ** 2)
        return weights @ self.rbf_vectors[t]

    def forward(self, t: int, base_points: np.ndarray) -> np.ndarray:
        """Frame-``t`` pixels of base-image points (N, 2)."""
        moved = base_points + self.displacement(t, base_points)
        return cv2.perspectiveTransform(moved.reshape(-1, 1, 2), self.homographies[t]).reshape(-1, 2)

    def inverse(self, t: int, frame_points: np.ndarray) -> np.ndarray:
        """Base-image points of frame-``t`` pixels (fixed-point inversion of the field)."""
        target = cv2.perspectiveTransform(
            frame_points.reshape(-1, 1, 2).astype(np.float64), np.linalg.inv(self.homographies[t])
        ).reshape(-1, 2)
        points = target.copy()
        for _ in range(INVERSE_ITERATIONS):
            points = target - self.displacement(t, points)
        return points


def plane_homography(
    size: int, yaw: float, pitch: float, roll: float, scale: float, shift: np.ndarray
) -> np.ndarray:
    """Homography of the image plane rotated in 3D about its centre, scaled and shifted (pixels)."""
    focal = FOCAL_PER_SIDE * size
    centre = np.array([size / 2, size / 2])
    rotation = (
        cv2.Rodrigues(np.radians([pitch, yaw, 0.0]))[0] @ cv2.Rodrigues(np.radians([0.0, 0.0, roll]))[0]
    )
    corners = np.array([[0.0, 0.0], [size, 0.0], [size, size], [0.0, size]])
    plane = np.column_stack([(corners - centre) * scale, np.zeros(4)])
    rotated = plane @ rotation.T + np.array([0.0, 0.0, focal])
    projected = focal * rotated[:, :2] / rotated[:, 2:3] + centre + shift
    return cv2.getPerspectiveTransform(corners.astype(np.float32), projected.astype(np.float32)).astype(
        np.float64
    )


def motion_time(spec: MotionSpec, t: int) -> float:
    """Animation clock: frozen during the static frames at the start."""
    return float(max(0, t - spec.static_frames + 1))


def _oscillation(amplitude: float, angle: float, phase: float) -> float:
    """A sinusoid that is exactly 0 at angle 0 (the static start frames)."""
    return amplitude * (np.sin(angle + phase) - np.sin(phase))


def build_warp(
    spec: MotionSpec, landmarks: np.ndarray, size: int, num_frames: int, rng: np.random.Generator
) -> SequenceWarp:
    face_side = float(np.max(landmarks.max(axis=0) - landmarks.min(axis=0)))
    phases = rng.uniform(0, 2 * np.pi, size=5)
    homographies = []
    drift = rng.normal(size=2)
    drift /= np.linalg.norm(drift)
    travel = spec.translation_per_frame * size * spec.motion_period_frames / (2 * np.pi)
    for t in range(num_frames):
        angle = 2 * np.pi * motion_time(spec, t) / spec.motion_period_frames
        homographies.append(
            plane_homography(
                size,
                yaw=_oscillation(spec.yaw_deg, angle, phases[0]),
                pitch=_oscillation(spec.pitch_deg, 0.7 * angle, phases[1]),
                roll=_oscillation(spec.roll_deg, 1.3 * angle, phases[2]),
                scale=1.0 + _oscillation(spec.scale_amplitude, 0.5 * angle, phases[3]),
                # the translation walks back and forth so the face stays inside the frame
                shift=drift * _oscillation(travel, angle, phases[4]),
            )
        )
    # expression fields: (centre, sigma, direction of the full-strength displacement)
    amp = 0.06 * face_side * spec.expression
    left, right = landmarks[MOUTH_CORNERS[0]], landmarks[MOUTH_CORNERS[1]]
    outward = (right - left) / np.linalg.norm(right - left)
    up = np.array([outward[1], -outward[0]])  # image y is down
    if up[1] > 0:
        up = -up
    fields = [
        (left, 0.12 * face_side, amp * (-outward + 0.6 * up)),  # smile: corners out and up
        (right, 0.12 * face_side, amp * (outward + 0.6 * up)),
        (landmarks[LOWER_LIP], 0.10 * face_side, -amp * 0.9 * up),  # mouth opens
        (landmarks[UPPER_LIP], 0.08 * face_side, amp * 0.2 * up),
        (landmarks[BROWS[0]], 0.12 * face_side, amp * 0.7 * up),  # brows raise
        (landmarks[BROWS[1]], 0.12 * face_side, amp * 0.7 * up),
        (landmarks.mean(axis=0), 0.45 * face_side, amp * 0.5 * outward),  # wide cheek shift
    ]
    centres = np.array([f[0] for f in fields])
    sigmas = np.array([f[1] for f in fields])
    directions = np.array([f[2] for f in fields])
    profile = np.array(
        [
            0.5 - 0.5 * np.cos(2 * np.pi * motion_time(spec, t) / (1.5 * spec.motion_period_frames))
            for t in range(num_frames)
        ]
    )
    vectors = profile[:, None, None] * directions[None]
    return SequenceWarp(np.stack(homographies), centres, sigmas, vectors)


# --------------------------------------------------------------------------- render


@dataclass(frozen=True)
class Occluder:
    """A textured ellipse moving along a straight line over the face."""

    start: np.ndarray  # centre at the first occluded frame (pixels)
    end: np.ndarray  # centre at the last occluded frame
    axes: tuple[float, float]
    first: int
    last: int
    texture: np.ndarray  # (S, S, 3) uint8

    def centre(self, t: int) -> np.ndarray | None:
        if not self.first <= t <= self.last:
            return None
        a = (t - self.first) / max(self.last - self.first, 1)
        return (1 - a) * self.start + a * self.end

    def covers(self, t: int, points: np.ndarray) -> np.ndarray:
        centre = self.centre(t)
        if centre is None:
            return np.zeros(len(points), dtype=bool)
        d = (points - centre) / np.array(self.axes)
        return np.sum(d**2, axis=1) <= 1.0

    def covered_pixels(self, t: int, height: int, width: int) -> np.ndarray:
        """(H, W) bool: the pixels (centres at integers) the occluder covers in frame ``t``."""
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
        return self.covers(t, np.column_stack([xs.ravel(), ys.ravel()])).reshape(height, width)


def make_occluder(landmarks: np.ndarray, size: int, num_frames: int, rng: np.random.Generator) -> Occluder:
    face_centre = landmarks.mean(axis=0)
    face_side = float(np.max(landmarks.max(axis=0) - landmarks.min(axis=0)))
    first = num_frames // 3
    last = min(num_frames - 2, first + max(num_frames // 3, 2))
    noise = cv2.GaussianBlur(rng.uniform(0, 255, size=(size, size, 3)).astype(np.float32), (0, 0), 3)
    skin = np.array([200.0, 150.0, 120.0])
    texture = np.clip(0.6 * skin + 0.4 * noise, 0, 255).astype(np.uint8)
    offset = np.array([0.9 * face_side, -0.1 * face_side])
    return Occluder(
        start=face_centre - offset,
        end=face_centre + offset,
        axes=(0.28 * face_side, 0.4 * face_side),
        first=first,
        last=last,
        texture=texture,
    )


def render_frame(
    base: np.ndarray, warp: SequenceWarp, t: int, spec: MotionSpec, occluder: Occluder | None
) -> np.ndarray:
    size = base.shape[0]
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    grid = np.column_stack([xs.ravel(), ys.ravel()])
    source = warp.inverse(t, grid).astype(np.float32)
    frame = cv2.remap(
        base,
        source[:, 0].reshape(size, size),
        source[:, 1].reshape(size, size),
        interpolation=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT_101,
    )
    return light_and_occlude(frame, t, spec, occluder)


def light_and_occlude(frame: np.ndarray, t: int, spec: MotionSpec, occluder: Occluder | None) -> np.ndarray:
    """Frame ``t`` of a sequence under its lighting change (a moving gain ramp and a gamma), with the
    occluder drawn over it: (S, S, 3) uint8 in, uint8 out."""
    size = frame.shape[0]
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    phase = 2 * np.pi * motion_time(spec, t) / (2.0 * spec.motion_period_frames)
    ramp = (xs * np.cos(phase) + ys * np.sin(phase)) / size - 0.5
    gain = 1.0 + spec.lighting * (ramp * np.sin(phase) - 0.3 * (1 - np.cos(phase)))
    gamma = 1.0 + 0.5 * spec.lighting * np.sin(phase)
    lit = 255.0 * np.clip(frame.astype(np.float32) / 255.0 * gain[..., None], 0, 1) ** gamma
    if occluder is not None and occluder.centre(t) is not None:
        cover = occluder.covered_pixels(t, size, size)
        lit[cover] = occluder.texture[cover]
    return np.clip(lit, 0, 255).astype(np.uint8)


def sample_queries(
    landmarks: np.ndarray,
    warp: SequenceWarp,
    occluder: Occluder | None,
    num_frames: int,
    num_points: int,
    rng,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Queries on the face (inside the landmark hull), half in frame 0, the rest at random frames."""
    hull = cv2.convexHull(landmarks.astype(np.float32))
    size_lo, size_hi = landmarks.min(axis=0), landmarks.max(axis=0)
    base_points = []
    while len(base_points) < num_points:
        candidate = rng.uniform(size_lo, size_hi)
        if cv2.pointPolygonTest(hull, (float(candidate[0]), float(candidate[1])), False) > 0:
            base_points.append(candidate)
    base = np.array(base_points)
    tracks = np.stack([warp.forward(t, base) for t in range(num_frames)])
    visible = np.ones((num_frames, num_points), dtype=bool)
    if occluder is not None:
        for t in range(num_frames):
            visible[t] &= ~occluder.covers(t, tracks[t])
    query_frames = np.where(
        np.arange(num_points) < num_points // 2, 0, rng.integers(0, num_frames, size=num_points)
    )
    for n in range(num_points):  # a query must be visible in its own frame
        if not visible[query_frames[n], n]:
            query_frames[n] = int(np.flatnonzero(visible[:, n])[0])
    queries = np.column_stack([query_frames, tracks[query_frames, np.arange(num_points)]])
    return queries, tracks, visible


def make_sequence(
    photo_name: str,
    spec: MotionSpec,
    size: int = 256,
    num_frames: int = 24,
    num_points: int = 64,
    seed: int = 0,
) -> RealTextureSequence:
    rng = np.random.default_rng(seed)
    base, landmarks = base_view(load_photo(photo_name), size)
    landmarks = landmarks[:, :2]
    warp = build_warp(spec, landmarks, size, num_frames, rng)
    occluder = make_occluder(landmarks, size, num_frames, rng) if spec.occluder else None
    frames = np.stack([render_frame(base, warp, t, spec, occluder) for t in range(num_frames)])
    queries, tracks, visible = sample_queries(landmarks, warp, occluder, num_frames, num_points, rng)
    inside = (tracks >= 0).all(axis=-1) & (tracks <= size - 1).all(axis=-1)
    visible &= inside
    return RealTextureSequence(
        f"real_{photo_name}_{spec.name}", frames, pinhole_intrinsics(size), queries, tracks, visible
    )


def pinhole_intrinsics(size: int) -> dict[str, float]:
    """The sets' camera: a square image of ``size`` pixels, focal FOCAL_PER_SIDE x size, centred."""
    focal = FOCAL_PER_SIDE * size
    return {
        "fx": focal,
        "fy": focal,
        "cx": (size - 1) / 2,
        "cy": (size - 1) / 2,
        "width": size,
        "height": size,
    }


def photo_motion_variants(
    num_frames: int, specs: tuple[MotionSpec, ...] = MOTION_SPECS
) -> Iterator[tuple[str, MotionSpec, int]]:
    """(photo, motion spec, seed) of every sequence of a set; static start frames fit ``num_frames``."""
    for p, photo in enumerate(PHOTOS):
        for s, spec in enumerate(specs):
            yield (
                photo,
                replace(spec, static_frames=min(spec.static_frames, max(num_frames - 2, 0))),
                100 * p + s,
            )


def build_real_texture_set(
    out_dir: Path,
    size: int = 256,
    num_frames: int = 24,
    num_points: int = 64,
    specs: tuple[MotionSpec, ...] = MOTION_SPECS,
) -> list[Path]:
    """Write every photo x motion sequence to ``out_dir`` in the evaluation format."""
    from face_anything_ros.evaluation.sequence_io import write_ground_truth

    written = []
    for photo, spec, seed in photo_motion_variants(num_frames, specs):
        seq = make_sequence(photo, spec, size, num_frames, num_points, seed)
        folder = out_dir / seq.name
        write_ground_truth(folder, seq.frames, seq.intrinsics, seq.queries, seq.tracks, seq.visible)
        LOG.info("wrote %s (%d frames, %d queries)", folder, num_frames, num_points)
        written.append(folder)
    return written

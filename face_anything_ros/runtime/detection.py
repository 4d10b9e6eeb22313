"""Face detection with MediaPipe, returning face boxes in the crop policy's convention.

The crop policy (core/crop.py) defines the face box as the box of the 468 template landmarks.
MediaPipe's face mesh predicts exactly those 468 landmarks, so in ``face_mesh`` mode the
detector's box *is* the face box (tracking mode: landmarks of the previous frame seed the
next, detection only runs when faces are missing). ``face_detection`` mode is cheaper and
has a long-range model; its box is mapped to a face box by a fixed scale and
shift (``DETECTION_BOX_SCALE_X/_Y``, ``DETECTION_BOX_SHIFT_Y``). ``cascade`` (the default) runs the
face mesh and falls back to BlazeFace (short, then long range) on frames where the mesh finds no
face: the mesh's landmark model rejects many faces BlazeFace still finds (small, stylised, turned).
``union`` runs all three on every frame and adds the faces the mesh missed (several people).

Border and count policy: boxes are not clipped (the crop zero-fills outside the image);
a face is dropped when less than ``min_visible_fraction`` of its box lies in the image.
At most ``max_faces`` (<= HARD_MAX_FACES) faces are returned, largest first.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from face_anything_ros.runtime.config import HARD_MAX_FACES, DetectionConfig
from face_anything_ros.runtime.face_score import (
    DETECTOR_BLAZEFACE_FULL,
    DETECTOR_BLAZEFACE_SHORT,
    DETECTOR_EXTERNAL,
    DETECTOR_FACE_MESH,
)
from face_anything_ros.runtime.ids import iou_matrix, overlap_of_smaller_matrix

LOGGER = logging.getLogger(__name__)
# BlazeFace box -> landmark face box (a calibration, not a setting): medians over the 620 BlazeFace
# boxes of faces the face mesh missed (the frames the cascade's fallback serves) in 80 train-split
# sequences at 256 and 512 px (evaluation/detector_calibration.py, seeds 31 and 32): landmark box =
# 0.96 x width, 1.18 x height of the BlazeFace box, centre 0.065 box heights higher (negative = up).
# The 0.4.0 constants (0.93, 1.07, -0.055, from 14 frames) made crops about 10 % too tight.
DETECTION_BOX_SCALE_X = 0.96
DETECTION_BOX_SCALE_Y = 1.18
DETECTION_BOX_SHIFT_Y = -0.065


@dataclass(frozen=True)
class Detection:
    """One detected face."""

    box_xyxy: np.ndarray  # (4,) float64 image pixels, may extend past the image border
    score: float  # detector confidence; NaN when the detector exposes none (face mesh)
    landmarks: np.ndarray | None = None  # (468, 2) image pixels in face_mesh mode
    detector: str = DETECTOR_EXTERNAL  # which detector found it (runtime.face_score names)
    # (468,) face-mesh landmark depth in image pixels (x scale; larger = farther, origin near the head centre)
    landmarks_z: np.ndarray | None = None


class FaceDetector(Protocol):
    def detect(self, rgb: np.ndarray) -> list[Detection]: ...

    def reset(self) -> None:
        """Forget what the detector carries from frame to frame (a new stream or sequence)."""
        ...

    def close(self) -> None: ...


def visible_fraction(box_xyxy: np.ndarray, width: int, height: int) -> float:
    """Fraction of the box's area that lies inside the image."""
    x0, y0, x1, y1 = box_xyxy
    area = max(x1 - x0, 0.0) * max(y1 - y0, 0.0)
    if area <= 0:
        return 0.0
    inter = max(min(x1, width) - max(x0, 0.0), 0.0) * max(min(y1, height) - max(y0, 0.0), 0.0)
    return float(inter / area)


def select_faces(
    detections: list[Detection], width: int, height: int, config: DetectionConfig
) -> list[Detection]:
    """Border, duplicate and count policy: drop mostly-outside faces and duplicate reports of a face
    (keeping the larger box), keep the largest ``max_faces``."""
    inside = [
        d for d in detections if visible_fraction(d.box_xyxy, width, height) >= config.min_visible_fraction
    ]
    inside.sort(key=lambda d: -float((d.box_xyxy[2] - d.box_xyxy[0]) * (d.box_xyxy[3] - d.box_xyxy[1])))
    kept: list[Detection] = []
    for candidate in inside:
        overlaps = (
            iou_matrix(candidate.box_xyxy, np.stack([k.box_xyxy for k in kept])) if kept else np.zeros(1)
        )
        if overlaps.max() <= config.duplicate_iou:
            kept.append(candidate)
    limit = min(config.max_faces, HARD_MAX_FACES)
    if len(kept) > limit:
        LOGGER.debug("%d faces detected, keeping the %d largest", len(kept), limit)
    return kept[:limit]


class MediaPipeFaceMeshDetector:
    """MediaPipe face mesh in tracking mode: landmark box = face box."""

    def __init__(self, config: DetectionConfig, static_images: bool = False) -> None:
        import mediapipe as mp

        self._config = config
        self._make = lambda: mp.solutions.face_mesh.FaceMesh(
            static_image_mode=static_images,
            max_num_faces=min(config.max_faces, HARD_MAX_FACES),
            refine_landmarks=False,
            min_detection_confidence=config.min_detection_confidence,
            min_tracking_confidence=config.min_tracking_confidence,
        )
        self._mesh = self._make()

    def reset(self) -> None:
        """A fresh graph: in tracking mode the mesh seeds each frame with the last frame's landmarks."""
        self._mesh.close()
        self._mesh = self._make()

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        height, width = rgb.shape[:2]
        result = self._mesh.process(np.ascontiguousarray(rgb))
        detections = []
        for face in result.multi_face_landmarks or []:
            xyz = np.array(
                [(p.x * width, p.y * height, p.z * width) for p in face.landmark], dtype=np.float64
            )
            xy = xyz[:, :2]
            box = np.concatenate([xy.min(axis=0), xy.max(axis=0)])
            if box[2] > box[0] and box[3] > box[1]:
                detections.append(
                    Detection(
                        box_xyxy=box,
                        score=float("nan"),
                        landmarks=xy,
                        detector=DETECTOR_FACE_MESH,
                        landmarks_z=xyz[:, 2],
                    )
                )
        return select_faces(detections, width, height, self._config)

    def close(self) -> None:
        self._mesh.close()


class MediaPipeBoxDetector:
    """MediaPipe face detection (BlazeFace): a box per face, mapped to the landmark face box."""

    def __init__(self, config: DetectionConfig) -> None:
        import mediapipe as mp

        self._config = config
        self._name = DETECTOR_BLAZEFACE_FULL if config.long_range else DETECTOR_BLAZEFACE_SHORT
        self._detector = mp.solutions.face_detection.FaceDetection(
            model_selection=1 if config.long_range else 0,
            min_detection_confidence=config.min_detection_confidence,
        )

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        height, width = rgb.shape[:2]
        result = self._detector.process(np.ascontiguousarray(rgb))
        detections = []
        for det in result.detections or []:
            rel = det.location_data.relative_bounding_box
            box = face_box_from_detection_box(
                np.array(
                    [
                        rel.xmin * width,
                        rel.ymin * height,
                        (rel.xmin + rel.width) * width,
                        (rel.ymin + rel.height) * height,
                    ]
                )
            )
            if box[2] > box[0] and box[3] > box[1]:
                detections.append(Detection(box_xyxy=box, score=float(det.score[0]), detector=self._name))
        return select_faces(detections, width, height, self._config)

    def reset(self) -> None:
        """Nothing to forget: BlazeFace looks at every frame afresh."""

    def close(self) -> None:
        self._detector.close()


class CascadeDetector:
    """Detectors tried in order. ``make_detector`` builds the chain face mesh (exact landmark boxes,
    frame-to-frame tracking), BlazeFace short range, BlazeFace full range.

    ``merge=False`` (method ``cascade``): stop at the first detector that finds a face, so a
    fallback (one BlazeFace pass, ~5 ms at 640×480 on the dev CPU) runs only on frames the ones
    before came back empty for. ``merge=True`` (method ``union``): run all of them on every frame and
    add a later detector's face only if its box overlaps no face already kept by more than
    ``UNION_DUPLICATE_OVERLAP`` of the smaller box (earlier detectors win: the mesh's landmark box is the
    exact one), for scenes with several people where
    the mesh sees some of them.
    """

    def __init__(
        self, detectors: list[FaceDetector], merge: bool = False, max_faces: int = HARD_MAX_FACES
    ) -> None:
        if not detectors:
            raise ValueError("a cascade needs at least one detector")
        self._detectors = detectors
        self._merge = merge
        self._max_faces = min(max_faces, HARD_MAX_FACES)

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        kept: list[Detection] = []
        for detector in self._detectors:
            if kept and not self._merge:
                break
            earlier = list(kept)
            kept.extend(d for d in detector.detect(rgb) if not _overlaps_any(d.box_xyxy, earlier))
        return kept[: self._max_faces]

    def reset(self) -> None:
        for detector in self._detectors:
            detector.reset()

    def close(self) -> None:
        for detector in self._detectors:
            detector.close()


# TiledSearch levels: (tiles per side, tile side as a fraction of the frame's side). Coarse: 2 x 2 tiles
# (neighbours overlap by a quarter), BlazeFace short and full range. Fine: 3 x 3 tiles of 0.4, short
# range only (the full-range model on them too changed no accuracy figure and doubled the fine tiles' extra
# time; 256 px train split, BENCHMARKS.md session 11).
COARSE_TILES = (2, 0.625)
FINE_TILES = (3, 0.4)


@dataclass(frozen=True)
class TileLevel:
    """One grid of overlapping tiles and the detectors run on each."""

    per_side: int
    fraction: float
    searchers: list[FaceDetector]

    def tiles(self, height: int, width: int) -> list[tuple[int, int, int, int]]:
        """(top, left, tile height, tile width) of each tile, spread evenly from border to border."""
        side_y, side_x = round(self.fraction * height), round(self.fraction * width)
        tops = np.linspace(0, height - side_y, self.per_side).round().astype(int)
        lefts = np.linspace(0, width - side_x, self.per_side).round().astype(int)
        return [(int(top), int(left), side_y, side_x) for top in tops for left in lefts]


class TiledSearch:
    """A detector plus, every ``every`` frames, BlazeFace on overlapping tiles of the frame (2 x 2 of
    5/8 of its side, short and full range; with ``detection.fine_tile_search`` also 3 x 3 of 0.4,
    short range), adding the faces that overlap no face already found.

    Why: on a tile a face fills more of BlazeFace's input (1.6x on the coarse tiles, 2.5x on the fine
    ones), so faces too small for a whole-frame pass are found; and the cascade stops at the face
    mesh, so small faces beside a big one are never looked for. On the 256 px synthetic train split's
    frames (static detection, every 4th frame) a whole-frame pass finds 75 of 180 faces, the coarse
    tiles 106, coarse and fine 126 (faces under 30 px: 10, 37, 55 of 84), for 8 to 51 boxes on no face
    (the network's mask check drops such boxes). The passes cost a few milliseconds each, so the search
    runs every few frames and the pipeline carries what it found in between
    (``detection.model_track_frames``). With ``delay`` > 0 a search runs in a worker thread and its
    faces are added ``delay`` frames later (waited for if not done by then), so it overlaps the
    pipeline's work instead of stalling one frame; the first frame after a reset and a frame in which
    the detector found no face are still searched at once.
    """

    def __init__(
        self,
        base: FaceDetector,
        config: DetectionConfig,
        every: int,
        searchers: list[FaceDetector] | None = None,
        fine_searchers: list[FaceDetector] | None = None,
        delay: int = 0,
    ) -> None:
        """``searchers`` (default: BlazeFace short and full range) run on each coarse tile,
        ``fine_searchers`` (default: BlazeFace short range; only with ``config.fine_tile_search``) on
        each fine one."""
        if every < 1:
            raise ValueError(f"a tiled search needs every >= 1, got {every}")
        if not 0 <= delay < every:
            raise ValueError(f"a tiled search's delay must be in [0, every = {every}), got {delay}")
        self._base = base
        self._every = every
        self._delay = delay
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="tile-search") if delay else None
        self._pending: tuple[int, Future] | None = None  # (frame that adds its faces, the search)
        self._max_faces = min(config.max_faces, HARD_MAX_FACES)
        tile_config = replace(config, max_faces=HARD_MAX_FACES)
        short_range = None  # built once: the coarse and the fine tiles share it (BlazeFace keeps no state)
        if not searchers or (config.fine_tile_search and not fine_searchers):
            short_range = MediaPipeBoxDetector(replace(tile_config, long_range=False))
        coarse = searchers or [short_range, MediaPipeBoxDetector(replace(tile_config, long_range=True))]
        self._levels = [TileLevel(*COARSE_TILES, coarse)]
        if config.fine_tile_search:
            self._levels.append(TileLevel(*FINE_TILES, fine_searchers or [short_range]))
        self._frame = 0

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        found = list(self._base.detect(rgb))
        searched: list[Detection] = []
        if self._frame % self._every == 0:
            # in its own frame: without a worker, at the stream's start (nothing is tracked yet) and where
            # the detector found nothing (the frame has no other work to overlap)
            if self._worker is None or self._frame == 0 or not found:
                searched = self._search_tiles(rgb)
            else:  # the worker gets its own copy: the caller may reuse the frame's buffer
                self._pending = (
                    self._frame + self._delay,
                    self._worker.submit(self._search_tiles, rgb.copy()),
                )
        if self._pending is not None and self._pending[0] == self._frame:
            searched, self._pending = self._pending[1].result(), None
        for detection in sorted(searched, key=lambda d: -d.score):
            if not _overlaps_any(detection.box_xyxy, found):
                found.append(detection)
        self._frame += 1
        return found[: self._max_faces]

    def _search_tiles(self, rgb: np.ndarray) -> list[Detection]:
        height, width = rgb.shape[:2]
        out = []
        for level in self._levels:
            for top, left, side_y, side_x in level.tiles(height, width):
                tile = np.ascontiguousarray(rgb[top : top + side_y, left : left + side_x])
                offset = np.array([left, top, left, top], dtype=np.float64)
                for searcher in level.searchers:
                    out.extend(replace(d, box_xyxy=d.box_xyxy + offset) for d in searcher.detect(tile))
        return out

    def reset(self) -> None:
        self._drop_pending()
        self._frame = 0
        self._base.reset()

    def _drop_pending(self) -> None:
        """Forget a search still running (waited for: its detectors are not shared with a new one)."""
        if self._pending is not None:
            self._pending[1].result()
            self._pending = None

    def close(self) -> None:
        self._drop_pending()
        if self._worker is not None:
            self._worker.shutdown(wait=True)
        self._base.close()
        shared = {id(searcher): searcher for level in self._levels for searcher in level.searchers}
        for searcher in shared.values():  # a detector on both levels is closed once
            searcher.close()


# union: a later detector's box is the same face as an earlier one when their intersection covers
# more than this share of the smaller box (a BlazeFace box is offset from the mesh's landmark box
# and can be much larger, so neither IoU nor a centre test catches all duplicates)
UNION_DUPLICATE_OVERLAP = 0.3


def _overlaps_any(box_xyxy: np.ndarray, faces: list[Detection]) -> bool:
    if not faces:
        return False
    overlaps = overlap_of_smaller_matrix(box_xyxy, np.stack([f.box_xyxy for f in faces]))
    return bool(overlaps.max() > UNION_DUPLICATE_OVERLAP)


def face_box_from_detection_box(
    box_xyxy: np.ndarray,
    scale_x: float = DETECTION_BOX_SCALE_X,
    scale_y: float = DETECTION_BOX_SCALE_Y,
    shift_y: float = DETECTION_BOX_SHIFT_Y,
) -> np.ndarray:
    """Map a BlazeFace box (eyes to mouth) to the crop policy's landmark face box (the constants are
    the calibration's; evaluation/detector_calibration.py tries others)."""
    x0, y0, x1, y1 = (float(v) for v in box_xyxy)
    side_x = (x1 - x0) * scale_x
    side_y = (y1 - y0) * scale_y
    cx = 0.5 * (x0 + x1)
    cy = 0.5 * (y0 + y1) + shift_y * (y1 - y0)
    return np.array([cx - side_x / 2, cy - side_y / 2, cx + side_x / 2, cy + side_y / 2])


def make_detector(config: DetectionConfig, static_images: bool | None = None) -> FaceDetector:
    """The detector named by ``config.method`` (with the tiled search when ``tile_search_every``);
    ``static_images`` (default: the config's) disables frame-to-frame tracking. Unrelated still images
    are searched every one: nothing found on one image carries over to the next."""
    base = _method_detector(config, static_images)
    if not config.tile_search_every:
        return base
    static = config.static_images if static_images is None else static_images
    if static:  # unrelated images: each searched in its own frame
        return TiledSearch(base, config, 1)
    delay = min(config.tile_search_delay_frames, config.tile_search_every - 1)
    return TiledSearch(base, config, config.tile_search_every, delay=delay)


def _method_detector(config: DetectionConfig, static_images: bool | None) -> FaceDetector:
    static = config.static_images if static_images is None else static_images
    if config.method == "face_mesh":
        return MediaPipeFaceMeshDetector(config, static_images=static)
    if config.method in ("cascade", "union"):
        return CascadeDetector(
            [
                MediaPipeFaceMeshDetector(config, static_images=static),
                MediaPipeBoxDetector(replace(config, long_range=False)),
                MediaPipeBoxDetector(replace(config, long_range=True)),
            ],
            merge=config.method == "union",
            max_faces=config.max_faces,
        )
    return MediaPipeBoxDetector(config)

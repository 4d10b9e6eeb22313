"""Detection policy (border, cap, box mapping) and the real MediaPipe detectors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from face_anything_ros.runtime.config import HARD_MAX_FACES, DetectionConfig
from face_anything_ros.runtime.detection import (
    CascadeDetector,
    Detection,
    TiledSearch,
    face_box_from_detection_box,
    make_detector,
    select_faces,
    visible_fraction,
)


def det(x0, y0, x1, y1):
    return Detection(box_xyxy=np.array([x0, y0, x1, y1], dtype=np.float64), score=0.9)


def test_visible_fraction_of_inside_border_and_outside_boxes():
    assert visible_fraction(np.array([10, 10, 50, 50]), 100, 100) == 1.0
    assert visible_fraction(np.array([-20, 0, 20, 40]), 100, 100) == pytest.approx(0.5)
    assert visible_fraction(np.array([200, 0, 240, 40]), 100, 100) == 0.0


def test_border_faces_are_kept_unclipped_and_mostly_outside_faces_dropped():
    config = DetectionConfig(min_visible_fraction=0.25)
    kept = select_faces([det(-20, 0, 20, 40), det(-36, 0, 4, 40)], 100, 100, config)
    assert len(kept) == 1
    np.testing.assert_array_equal(kept[0].box_xyxy, [-20, 0, 20, 40])  # the crop zero-fills outside


def test_the_largest_faces_are_kept_up_to_the_cap():
    detections = [det(100 * s, 0, 100 * s + s, s) for s in range(10, 70)]  # disjoint, sides 10..69
    kept = select_faces(detections, 10_000, 1000, DetectionConfig(max_faces=HARD_MAX_FACES))
    assert len(kept) == HARD_MAX_FACES
    sides = [k.box_xyxy[3] for k in kept]
    assert sides[0] == 69 and sides[-1] == 69 - HARD_MAX_FACES + 1
    assert len(select_faces(detections, 10_000, 1000, DetectionConfig(max_faces=3))) == 3


def test_duplicate_reports_of_one_face_are_merged_into_the_larger_box():
    kept = select_faces(
        [det(10, 10, 50, 50), det(12, 12, 52, 52), det(60, 10, 100, 50)], 200, 200, DetectionConfig()
    )
    assert len(kept) == 2
    assert sorted(float(k.box_xyxy[0]) for k in kept) == [10.0, 60.0]


def test_blazeface_box_maps_to_the_landmark_box_convention():
    box = face_box_from_detection_box(np.array([100.0, 100.0, 200.0, 200.0]))
    # 0.96 x 100 wide, 1.18 x 100 high, centre 6.5 px up
    np.testing.assert_allclose(box, [102.0, 84.5, 198.0, 202.5], atol=1e-9)


def test_the_calibration_tool_inverts_the_mapping_and_measures_it_on_generated_frames():
    from face_anything_ros.evaluation.detector_calibration import (
        collect,
        mapping_of,
        raw_detection_box,
        report,
    )

    raw = np.array([40.0, 60.0, 90.0, 130.0])
    np.testing.assert_allclose(raw_detection_box(face_box_from_detection_box(raw)), raw, atol=1e-9)
    exact = mapping_of(raw[None], face_box_from_detection_box(raw)[None])[0]
    np.testing.assert_allclose(exact, [0.96, 1.18, 0.0, -0.065], atol=1e-9)
    matches = collect(sequences=2, frames=3, size=256, seed=31)
    assert len(matches.raw) == len(matches.truth) == len(matches.mesh_found) > 0
    lines = report(matches)
    assert lines[0].startswith("BlazeFace boxes matched to a face:") and "crop IoU" in lines[1]


@pytest.mark.parametrize("method", ["cascade", "union", "face_mesh", "face_detection"])
def test_real_detectors_find_no_face_in_an_empty_frame(method):
    detector = make_detector(DetectionConfig(method=method))
    try:
        assert detector.detect(np.full((240, 320, 3), 127, dtype=np.uint8)) == []
    finally:
        detector.close()


class _ScriptedDetector:
    def __init__(self, found: list[Detection]) -> None:
        self.found, self.calls, self.closed = found, 0, False

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        self.calls += 1
        return self.found

    def reset(self) -> None:
        self.resets = getattr(self, "resets", 0) + 1

    def close(self) -> None:
        self.closed = True


def test_cascade_falls_back_only_when_the_detectors_before_found_nothing():
    frame = np.zeros((8, 8, 3), dtype=np.uint8)
    empty, finds, never = _ScriptedDetector([]), _ScriptedDetector([det(1, 1, 5, 5)]), _ScriptedDetector([])
    cascade = CascadeDetector([empty, finds, never])
    assert cascade.detect(frame) == finds.found
    assert (empty.calls, finds.calls, never.calls) == (1, 1, 0)
    first = _ScriptedDetector([det(2, 2, 6, 6)])
    assert CascadeDetector([first, finds]).detect(frame) == first.found and finds.calls == 1
    assert CascadeDetector([empty, never]).detect(frame) == []
    cascade.reset()
    assert (empty.resets, finds.resets, never.resets) == (1, 1, 1)
    cascade.close()
    assert empty.closed and finds.closed and never.closed
    with pytest.raises(ValueError):
        CascadeDetector([])


def test_pipeline_reset_resets_its_detector_and_the_face_mesh_starts_a_fresh_graph():
    from test_runtime_pipeline import EllipsoidFace

    from face_anything_ros.runtime.config import DetectionConfig, PipelineConfig
    from face_anything_ros.runtime.detection import MediaPipeFaceMeshDetector
    from face_anything_ros.runtime.pipeline import FacePipeline

    scripted = _ScriptedDetector([])
    pipeline = FacePipeline(
        PipelineConfig.from_dict({"backend": {"name": "eager", "device": "cpu"}}),
        model=EllipsoidFace(),
        detector=scripted,
    )
    pipeline.reset()
    assert scripted.resets == 1  # sequences evaluated in one run do not inherit detector state
    mesh = MediaPipeFaceMeshDetector(DetectionConfig())
    before = mesh._mesh
    mesh.reset()
    assert mesh._mesh is not before
    mesh.close()


def test_union_adds_only_faces_the_earlier_detectors_missed_and_keeps_their_boxes():
    frame = np.zeros((8, 8, 3), dtype=np.uint8)
    mesh = _ScriptedDetector([det(10, 10, 50, 50)])
    blaze = _ScriptedDetector([det(12, 8, 52, 54), det(100, 10, 140, 50)])  # same face + a new one
    far = _ScriptedDetector([det(101, 11, 139, 49), det(200, 10, 220, 30), det(300, 10, 320, 30)])
    found = CascadeDetector([mesh, blaze, far], merge=True, max_faces=3).detect(frame)
    assert [f.box_xyxy[0] for f in found] == [10.0, 100.0, 200.0]  # capped at 3, earlier detectors first
    assert (mesh.calls, blaze.calls, far.calls) == (1, 1, 1)


def test_face_mesh_detects_a_synthetic_face_and_its_box_is_the_landmark_box():
    from face_anything_ros.devtools.bench import compose_frames, detectable_face_patches

    patches = detectable_face_patches(1, max_sequences=12)
    assert patches, "no synthetic face was detectable"
    frame = compose_frames(patches, 1, 640, 480, num_frames=1)[0]
    detector = make_detector(DetectionConfig(method="face_mesh"), static_images=True)
    try:
        (found,) = detector.detect(frame)
    finally:
        detector.close()
    assert found.landmarks.shape == (468, 2)
    np.testing.assert_allclose(found.box_xyxy[:2], found.landmarks.min(axis=0))
    np.testing.assert_allclose(found.box_xyxy[2:], found.landmarks.max(axis=0))
    assert np.isnan(found.score)  # face mesh exposes no score: NaN, not an invented number


def test_union_drops_offset_and_enclosing_boxes_of_a_face_already_found():
    frame = np.zeros((8, 8, 3), dtype=np.uint8)
    mesh = _ScriptedDetector([det(62, 106, 124, 185)])
    # a BlazeFace box of the same face whose centre lies outside the mesh box, and one far larger
    blaze = _ScriptedDetector([det(77, 85, 178, 201), det(20, -40, 240, 200), det(300, 100, 340, 150)])
    found = CascadeDetector([mesh, blaze], merge=True).detect(frame)
    assert [f.box_xyxy[0] for f in found] == [62.0, 300.0]


class _TileRecorder:
    """Records the tiles it is shown and reports one face at the same tile position on each."""

    def __init__(self) -> None:
        self.tiles: list[tuple[int, int]] = []

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        self.tiles.append(rgb.shape[:2])
        return [det(4, 6, 14, 16)]

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_tiled_search_runs_every_n_frames_on_four_overlapping_tiles_and_adds_only_new_faces():
    frame = np.zeros((160, 320, 3), dtype=np.uint8)
    base = _ScriptedDetector([det(4, 6, 14, 16)])  # the base detector already has the top-left tile's face
    recorder = _TileRecorder()
    search = TiledSearch(base, DetectionConfig(max_faces=3), every=3, searchers=[recorder])
    found = search.detect(frame)
    assert recorder.tiles == [(100, 200)] * 4  # 5/8 of each side
    # tiles start at x 0 / 120 and y 0 / 60; the face at the first tile's origin is the base's own
    assert [tuple(f.box_xyxy[:2]) for f in found] == [(4.0, 6.0), (124.0, 6.0), (4.0, 66.0)]  # capped at 3
    for _ in range(2):
        assert len(search.detect(frame)) == 1  # frames 1 and 2: the base detector only
    search.detect(frame)
    assert len(recorder.tiles) == 8  # frame 3 searches again
    search.reset()
    search.detect(frame)
    assert len(recorder.tiles) == 12 and base.resets == 1  # a reset starts the count again
    with pytest.raises(ValueError, match="every"):
        TiledSearch(base, DetectionConfig(), every=0, searchers=[recorder])


class _SlowTileRecorder(_TileRecorder):
    """A tile searcher that takes its time and records the thread it runs in."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[str] = set()

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        import threading
        import time

        time.sleep(0.01)
        self.threads.add(threading.current_thread().name)
        return super().detect(rgb)


def test_delayed_tiled_search_adds_its_faces_exactly_delay_frames_later_from_a_worker():
    frame = np.zeros((160, 320, 3), dtype=np.uint8)
    recorder = _SlowTileRecorder()
    base = _ScriptedDetector([det(300, 140, 310, 150)])  # one face the detector finds itself
    search = TiledSearch(base, DetectionConfig(max_faces=8), every=4, searchers=[recorder], delay=2)
    counts = [len(search.detect(frame)) for _ in range(11)]
    # frame 0 (the stream's start) is searched at once; frames 4 and 8 arrive in frames 6 and 10, never earlier
    assert counts == [5, 1, 1, 1, 1, 1, 5, 1, 1, 1, 5]
    assert any(name.startswith("tile-search") for name in recorder.threads)  # the delayed ones
    search.detect(frame)
    search.detect(frame)  # frame 12 submits a search ...
    search.reset()  # ... that the reset drops: it is not added after the reset
    assert [len(search.detect(frame)) for _ in range(3)] == [5, 1, 1]
    nothing = TiledSearch(_ScriptedDetector([]), DetectionConfig(max_faces=8), 2, [recorder], delay=1)
    assert [len(nothing.detect(frame)) for _ in range(3)] == [4, 0, 4]  # no face found: searched at once
    for closing in (search, nothing):
        closing.close()
    with pytest.raises(ValueError, match="delay"):
        TiledSearch(base, DetectionConfig(), every=2, searchers=[recorder], delay=2)


def test_make_detector_caps_the_delay_below_the_search_interval_and_never_delays_still_images():
    config = DetectionConfig(tile_search_every=1, tile_search_delay_frames=2)
    for static in (False, True):
        detector = make_detector(config, static_images=static)
        try:
            assert detector._delay == 0
        finally:
            detector.close()
    detector = make_detector(DetectionConfig(), static_images=False)
    try:
        assert detector._delay == DetectionConfig().tile_search_delay_frames
    finally:
        detector.close()


def test_fine_tile_search_adds_three_by_three_smaller_tiles_only_when_switched_on():
    frame = np.zeros((160, 320, 3), dtype=np.uint8)
    for on in (False, True):
        coarse, fine = _TileRecorder(), _TileRecorder()
        search = TiledSearch(
            _ScriptedDetector([]),
            DetectionConfig(max_faces=20, fine_tile_search=on),
            every=1,
            searchers=[coarse],
            fine_searchers=[fine],
        )
        found = search.detect(frame)
        assert coarse.tiles == [(100, 200)] * 4
        assert fine.tiles == ([(64, 128)] * 9 if on else [])  # 0.4 of each side
        # each tile reports a face at its own (4, 6); the coarse tiles start at x 0 / 120, y 0 / 60, the
        # fine ones at x 0 / 96 / 192, y 0 / 48 / 96, and a face already found is not added twice
        coarse_faces = {(4.0 + x, 6.0 + y) for x in (0, 120) for y in (0, 60)}
        fine_faces = {(4.0 + x, 6.0 + y) for x in (0, 96, 192) for y in (0, 48, 96)}
        fine_new = {
            face
            for face in fine_faces
            if all(
                abs(face[0] - c[0]) >= 10 or abs(face[1] - c[1]) >= 10 for c in coarse_faces
            )  # 10 px boxes
        }
        assert {tuple(f.box_xyxy[:2]) for f in found} == coarse_faces | (fine_new if on else set())
        assert len(fine_new) == 8  # all but the fine tile at the coarse tiles' origin


def test_tiled_search_finds_a_small_face_beside_a_big_one_that_the_cascade_never_looks_for():
    from face_anything_ros.devtools.bench import compose_frames, detectable_face_patches

    big, other = detectable_face_patches(2, max_sequences=12)
    frame = compose_frames([big], 1, 640, 480, num_frames=1)[0].copy()
    frame[40:120, 40:120] = cv2.resize(
        other, (80, 80), interpolation=cv2.INTER_AREA
    )  # found from 56 to 112 px
    found = {}
    for every in (0, 10):  # still images are searched every one, whatever the stream interval
        detector = make_detector(DetectionConfig(tile_search_every=every), static_images=True)
        try:
            detector.detect(frame)
            found[every] = detector.detect(frame)  # the second image too
        finally:
            detector.close()
    assert len(found[0]) == 1  # the face mesh found the big face, so the cascade stopped
    assert len(found[10]) == 2 and found[10][0].box_xyxy.tolist() == found[0][0].box_xyxy.tolist()
    small = found[10][1].box_xyxy
    assert 40 <= (small[0] + small[2]) / 2 <= 120 and 40 <= (small[1] + small[3]) / 2 <= 120

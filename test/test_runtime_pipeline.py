"""FacePipeline end to end with a geometrically exact stand-in network, and its bad-input contract."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from face_anything_ros.core.camera import Intrinsics
from face_anything_ros.core.crop import crop_box_from_face_box
from face_anything_ros.runtime.config import PipelineConfig
from face_anything_ros.runtime.detection import Detection
from face_anything_ros.runtime.pipeline import STAGES, FacePipeline
from face_anything_ros.runtime.postprocess import CropMaps, FrameMaps, paste_faces
from face_anything_ros.runtime.preprocess import InvalidFrameError

WIDTH, HEIGHT, SIZE = 320, 240, 128
INTRINSICS = Intrinsics.from_fov(WIDTH, HEIGHT, 60.0)
FACE_SIDE = 80.0  # pixels
FACE_DEPTH_M = 0.5  # distance of the stand-in face's canonical origin
FACE_BOX = np.array(
    [
        WIDTH / 2 - FACE_SIDE / 2,
        HEIGHT / 2 - FACE_SIDE / 2,
        WIDTH / 2 + FACE_SIDE / 2,
        HEIGHT / 2 + FACE_SIDE / 2,
    ]
)


class EllipsoidFace(torch.nn.Module):
    """Stand-in for the trained network (same I/O): a frontal half-ellipsoid face, exact in 3D.

    For the crop of FACE_BOX it returns the relative depth and canonical coordinates of an
    ellipsoid (semi-axes 0.78, 0.89, 0.5 canonical units) whose canonical origin sits
    FACE_DEPTH_M in front of the camera, seen through the crop's true pinhole, so a correct
    geometry step must recover its metric depth and a frontal pose exactly.
    """

    def __init__(self) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # a parameter so hashing/export see a module
        box = crop_box_from_face_box(FACE_BOX)
        k = INTRINSICS.for_crop(box, SIZE)
        v, u = torch.meshgrid(
            torch.arange(SIZE, dtype=torch.float64), torch.arange(SIZE, dtype=torch.float64), indexing="ij"
        )
        xn, yn = (u - k.cx) / k.fx, (v - k.cy) / k.fy
        depth = torch.full_like(xn, FACE_DEPTH_M)
        for _ in range(20):  # fixed point: z = D - 0.1 * cz(x / 0.1, -y / 0.1)
            cx, cy = xn * depth / 0.1, -yn * depth / 0.1
            inside = (cx / 0.78) ** 2 + (cy / 0.89) ** 2
            cz = 0.5 * torch.sqrt(torch.clamp(1 - inside, min=0))
            depth = FACE_DEPTH_M - 0.1 * cz
        face = inside < 0.95
        canonical = torch.stack([cx, cy, cz])
        relative = depth / depth[face].median()
        self.register_buffer(
            "maps",
            torch.cat(
                [relative[None], canonical, (face.double() * 20 - 10)[None], torch.ones_like(relative)[None]]
            ).float(),
        )

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        maps = self.maps[None].expand(images.shape[0], -1, -1, -1) + 0 * self.anchor
        return {
            "depth": maps[:, :1],
            "canonical": maps[:, 1:4],
            "mask_logits": maps[:, 4:5],
            "confidence": maps[:, 5:6],
        }


@pytest.fixture(scope="module")
def pipeline():
    config = PipelineConfig.from_dict(
        {
            "backend": {"name": "eager", "device": "cpu"},
            "tracking": {"extra_queries": [[0.0, 0.0, 0.5]], "dense_vertices": True},
            "detection": {"max_faces": 50},
        }
    )
    return FacePipeline(config, model=EllipsoidFace())


def frame():
    return np.full((HEIGHT, WIDTH, 3), 90, dtype=np.uint8)


def face(box=FACE_BOX):
    return Detection(box_xyxy=np.asarray(box, dtype=np.float64), score=0.9)


def test_frontal_face_gets_metric_depth_and_frontal_pose(pipeline):
    pipeline.reset()
    result = pipeline.process(frame(), INTRINSICS, 0.0, detections=[face()])
    (found,) = result.faces
    assert found.pose_valid
    np.testing.assert_allclose(found.rotation, np.diag([1.0, -1.0, -1.0]), atol=0.02)
    np.testing.assert_allclose(found.translation, [0.0, 0.0, FACE_DEPTH_M], atol=0.005)
    on_face = result.mask
    assert on_face.sum() > 0.5 * FACE_SIDE**2
    assert np.isfinite(result.depth[on_face]).all() and np.isnan(result.depth[~on_face]).all()
    assert FACE_DEPTH_M - 0.06 < np.nanmin(result.depth) < np.nanmax(result.depth) <= FACE_DEPTH_M + 0.001
    assert np.isnan(result.canonical[~on_face]).all()
    assert (result.face_index[on_face] == 0).all() and (result.face_index[~on_face] == -1).all()


def test_result_shapes_dtypes_and_stage_timings(pipeline):
    result = pipeline.process(frame(), INTRINSICS, 1.5, detections=[face()])
    assert result.depth.shape == (HEIGHT, WIDTH) and result.depth.dtype == np.float32
    assert result.canonical.shape == (HEIGHT, WIDTH, 3) and result.mask.dtype == bool
    assert set(result.timings_ms) == set(STAGES) and result.stamp_s == 1.5
    found = result.faces[0]
    n = len(pipeline.query_names)
    assert found.query_pixels.shape == (n, 2) and found.query_points.shape == (n, 3)
    assert found.query_visible.shape == (n,) and found.query_canonical.shape == (n, 3)
    assert found.mesh_vertices.shape == (468, 3) and found.mesh_visible.shape == (468,)


def test_query_on_the_face_centre_lands_on_the_box_centre_in_2d_and_3d(pipeline):
    result = pipeline.process(frame(), INTRINSICS, 0.0, detections=[face()])
    found = result.faces[0]
    index = found.query_names.index("extra_0")
    assert found.query_visible[index]
    np.testing.assert_allclose(found.query_pixels[index], [INTRINSICS.cx, INTRINSICS.cy], atol=1.0)
    np.testing.assert_allclose(found.query_points[index], [0.0, 0.0, FACE_DEPTH_M - 0.05], atol=0.003)
    # visible mesh vertices lie on the face, in front of the camera
    assert found.mesh_visible.any()
    assert (found.mesh_vertices[found.mesh_visible, 2] > 0.4).all()


def test_ids_stay_stable_while_the_face_moves(pipeline):
    pipeline.reset()
    results = [
        pipeline.process(
            frame(), INTRINSICS, k / 30, detections=[face(FACE_BOX + np.array([3 * k, 0, 3 * k, 0]))]
        )
        for k in range(4)
    ]
    assert len({r.faces[0].track_id for r in results}) == 1
    assert [r.faces[0].age for r in results] == [0, 1, 2, 3]


def test_no_face_gives_an_empty_result_with_all_nan_depth():
    pipeline = FacePipeline(PipelineConfig.from_dict({"backend": {"name": "eager"}}), model=EllipsoidFace())
    result = pipeline.process(frame(), None, 0.0)  # the real MediaPipe detector on a blank frame
    assert result.faces == []
    assert np.isnan(result.depth).all() and not result.mask.any()
    assert result.intrinsics == Intrinsics.from_fov(WIDTH, HEIGHT, 60.0)  # default pinhole


def test_faces_beyond_the_cap_are_dropped(pipeline):
    boxes = [face([x, y, x + 20, y + 20]) for x in range(0, 300, 30) for y in range(0, 180, 30)]
    assert len(boxes) == 60
    result = pipeline.process(frame(), INTRINSICS, 0.0, detections=boxes)
    assert len(result.faces) == 50


def test_face_at_the_border_is_processed_and_pasted_inside_the_image(pipeline):
    border = FACE_BOX + np.array([WIDTH / 2, 0, WIDTH / 2, 0])  # right half of the face outside the frame
    result = pipeline.process(frame(), INTRINSICS, 0.0, detections=[face(border)])
    assert len(result.faces) == 1 and result.mask.any()
    assert result.mask[:, WIDTH - 5 :].any()


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((0, 10, 3), dtype=np.uint8),
        np.zeros((10, 0, 3), dtype=np.uint8),
        np.zeros((10, 10, 3), dtype=np.float32),
        np.zeros((10, 10, 3), dtype=np.uint16),
        np.zeros((10, 10, 2), dtype=np.uint8),
        np.zeros((10,), dtype=np.uint8),
        [[0, 0, 0]],
    ],
)
def test_unusable_frames_raise_a_clear_error(pipeline, bad):
    with pytest.raises(InvalidFrameError):
        pipeline.process(bad, None, 0.0)


@pytest.mark.parametrize("shape", [(HEIGHT, WIDTH), (HEIGHT, WIDTH, 1), (HEIGHT, WIDTH, 4)])
def test_grey_and_rgba_frames_are_converted(pipeline, shape):
    result = pipeline.process(np.full(shape, 90, dtype=np.uint8), INTRINSICS, 0.0, detections=[face()])
    assert result.faces[0].pose_valid


def test_nan_or_mismatched_intrinsics_are_rejected(pipeline):
    with pytest.raises(ValueError, match="finite"):
        pipeline.process(frame(), Intrinsics(math.nan, 1.0, 1.0, 1.0, WIDTH, HEIGHT), 0.0)
    with pytest.raises(ValueError, match="frame is"):
        pipeline.process(frame(), Intrinsics.from_fov(640, 480, 60.0), 0.0, detections=[face()])


def test_nearer_face_wins_where_faces_overlap():
    box = crop_box_from_face_box(FACE_BOX)
    size = 16

    def maps(value):
        return CropMaps(
            relative_depth=np.ones((size, size), np.float32),
            canonical=np.full((size, size, 3), value, np.float32),
            mask_probability=np.ones((size, size), np.float32),
            mask=np.ones((size, size), bool),
            confidence=np.ones((size, size), np.float32),
        )

    for order in ([0, 1, 2], [2, 1, 0]):
        frame_maps = FrameMaps.empty(HEIGHT, WIDTH)
        crops = [maps(0.1), maps(0.2), maps(0.3)]
        depths = [2.0, 1.0, math.nan]  # face 2 has no metric depth: it only fills free pixels
        paste_faces(frame_maps, [crops[i] for i in order], [box] * 3, [depths[i] for i in order], 0.5)
        centre = frame_maps.canonical[HEIGHT // 2, WIDTH // 2]
        np.testing.assert_allclose(centre, 0.2)
        assert frame_maps.depth[HEIGHT // 2, WIDTH // 2] == pytest.approx(1.0)


def test_mesh_vertices_are_the_vertex_queries_or_looked_up_when_the_queries_lack_them(pipeline):
    pipeline.reset()  # both first frames: the fused tracker starts from the same lookup
    found = pipeline.process(frame(), INTRINSICS, 0.0, detections=[face()]).faces[0]
    first_vertex = found.query_names.index("vertex_0")
    np.testing.assert_array_equal(found.mesh_vertices, found.query_points[first_vertex : first_vertex + 468])
    sparse = FacePipeline(
        PipelineConfig.from_dict(
            {"backend": {"name": "eager"}, "tracking": {"landmarks": ["nose_tip"], "dense_vertices": False}}
        ),
        model=EllipsoidFace(),
    )
    only_nose = sparse.process(frame(), INTRINSICS, 0.0, detections=[face()]).faces[0]
    assert only_nose.query_names == ("nose_tip",)
    np.testing.assert_allclose(only_nose.mesh_vertices, found.mesh_vertices, equal_nan=True)


def test_landmark_anchoring_pulls_the_map_to_the_landmarks_at_their_pixels():
    """Landmarks are placed where the plain map's (x, y) matches the template vertex's; anchoring
    must then move the map at exactly those image pixels towards the vertices (z differs between
    the ellipsoid and the template). A wrong image-to-crop mapping would read residuals elsewhere."""
    from face_anything_ros.core.face_template import load_face_template

    plain = FacePipeline(PipelineConfig.from_dict({"backend": {"name": "eager"}}), model=EllipsoidFace())
    canonical = plain.process(frame(), INTRINSICS, 0.0, detections=[face()]).canonical
    ys, xs = np.nonzero(np.isfinite(canonical).all(axis=-1))
    template = load_face_template().canonical.astype(np.float64)
    nearest = np.argmin(
        ((canonical[ys, xs, None, :2] - template[None, :, :2]) ** 2).sum(axis=-1), axis=0
    )  # for each vertex, the pixel whose predicted (x, y) is closest
    landmarks = np.column_stack([xs[nearest], ys[nearest]]).astype(np.float64)
    config = {
        "backend": {"name": "eager"},
        "tracking": {"landmark_anchoring": True, "anchor_max_residual": 0.3},
    }
    anchored_pipeline = FacePipeline(PipelineConfig.from_dict(config), model=EllipsoidFace())
    detection = Detection(box_xyxy=FACE_BOX.astype(np.float64), score=0.9, landmarks=landmarks)
    anchored = anchored_pipeline.process(frame(), INTRINSICS, 0.0, detections=[detection]).canonical
    at = (landmarks[:, 1].astype(int), landmarks[:, 0].astype(int))
    usable = np.linalg.norm(template - canonical[at], axis=1) < 0.3
    before = np.linalg.norm(template - canonical[at], axis=1)[usable].mean()
    after = np.linalg.norm(template - anchored[at], axis=1)[usable].mean()
    assert usable.sum() > 100 and after < 0.3 * before, (usable.sum(), before, after)  # 3 px off: 0.42


def test_crop_dead_band_holds_the_crop_of_a_jittering_box_and_follows_a_real_move():
    config = PipelineConfig.from_dict({"backend": {"name": "eager"}, "crop_deadband": 0.02})
    steady = FacePipeline(config, model=EllipsoidFace())
    first = steady.process(frame(), INTRINSICS, 0.0, detections=[face()]).faces[0].crop_box
    jittered = steady.process(frame(), INTRINSICS, 0.1, detections=[face(FACE_BOX + 0.8)]).faces[0]
    assert jittered.crop_box == first and jittered.box_xyxy[0] == FACE_BOX[0] + 0.8
    moved = steady.process(frame(), INTRINSICS, 0.2, detections=[face(FACE_BOX + 6.0)]).faces[0]
    assert moved.crop_box != first


def _template_landmark_face() -> Detection:
    """FACE_BOX with face-mesh landmarks: the template's vertices, its height filling the box."""
    from face_anything_ros.core.face_template import load_face_template

    vertices = load_face_template().vertices_cm
    scale = FACE_SIDE / np.ptp(vertices[:, 1])
    centre = 0.5 * (FACE_BOX[:2] + FACE_BOX[2:])
    xy = np.column_stack([centre[0] + scale * vertices[:, 0], centre[1] - scale * (vertices[:, 1] - 1.0)])
    return Detection(
        box_xyxy=FACE_BOX.astype(np.float64), score=0.9, landmarks=xy, landmarks_z=-scale * vertices[:, 2]
    )


def test_mesh_prior_fuses_faces_with_landmarks_and_drops_bad_ones_without_failing_the_frame():
    good = _template_landmark_face()
    nan_xy = good.landmarks.copy()
    nan_xy[5] = np.nan
    bad = Detection(box_xyxy=FACE_BOX + 100.0, score=0.9, landmarks=nan_xy, landmarks_z=good.landmarks_z)
    config = {"backend": {"name": "eager"}, "mesh_prior": {"enabled": True}}
    pipeline = FacePipeline(PipelineConfig.from_dict(config), model=EllipsoidFace())
    result = pipeline.process(frame(), INTRINSICS, 0.0, detections=[good, bad])
    assert len(result.faces) == 2 and result.faces[0].pose_valid
    assert pipeline.mesh_prior.used == 1 and pipeline.mesh_prior.drops == {"nonfinite": 1}
    plain = FacePipeline(PipelineConfig.from_dict({"backend": {"name": "eager"}}), model=EllipsoidFace())
    baseline = plain.process(frame(), INTRINSICS, 0.0, detections=[good, bad])
    assert plain.mesh_prior is None
    changed = np.isfinite(result.canonical) & np.isfinite(baseline.canonical)
    assert (
        np.abs(result.canonical[changed] - baseline.canonical[changed]).max() > 1e-3
    )  # the prior moved the map


def _relief_span(result) -> float:
    depth = result.depth[np.isfinite(result.depth)]
    return float(depth.max() - depth.min())


def test_depth_relief_follows_the_weights_relief_calibration_except_for_faces_cut_by_the_border():
    """A network whose relief is right at 0.25 m (exponent 1) must get 0.25 / D of it at distance D,
    the same median depth, and no change where the face box leaves the image or the option is off."""
    base = {"backend": {"name": "eager", "device": "cpu"}}
    calibrated = EllipsoidFace()
    calibrated.relief_distance_m, calibrated.relief_exponent = 0.25, 1.0
    plain = FacePipeline(PipelineConfig.from_dict(base), model=EllipsoidFace())
    corrected = FacePipeline(PipelineConfig.from_dict(base), model=calibrated)
    switched_off = FacePipeline(
        PipelineConfig.from_dict({**base, "geometry": {"relief_correction": False}}), model=calibrated
    )
    results = [
        p.process(frame(), INTRINSICS, 0.0, detections=[face()]) for p in (plain, corrected, switched_off)
    ]
    reference, halved, off = (_relief_span(r) for r in results)
    distance = results[0].faces[0].median_depth_m  # ~0.46 m: the face's median, not its origin
    assert halved == pytest.approx(0.25 / distance * reference, rel=0.02)
    assert off == pytest.approx(reference, rel=1e-6)
    assert results[1].faces[0].median_depth_m == pytest.approx(results[0].faces[0].median_depth_m)
    half_out = FACE_BOX + np.array([WIDTH / 2, 0, WIDTH / 2, 0])
    clipped = FACE_BOX + np.array(
        [WIDTH / 2 - FACE_SIDE / 2, 0, WIDTH / 2 - FACE_SIDE / 2, 0]
    )  # ends at the edge
    for box in (half_out, clipped):
        cut = [p.process(frame(), INTRINSICS, 0.0, detections=[face(box)]) for p in (plain, corrected)]
        assert _relief_span(cut[1]) == pytest.approx(_relief_span(cut[0]), rel=1e-6)


def test_relief_rescaling_leaves_the_mesh_priors_relief_alone():
    """The landmark fit's relief is right at any distance: where the prior dominates the fusion the
    depth must not change with the network's relief calibration, while without a prior it does."""
    with_landmarks = _template_landmark_face()
    calibrated = EllipsoidFace()
    calibrated.relief_distance_m, calibrated.relief_exponent = 0.25, 1.0

    def depth(model, prior: bool) -> np.ndarray:
        config = {"backend": {"name": "eager"}, "mesh_prior": {"enabled": prior, "prior_error": 1e-4}}
        return (
            FacePipeline(PipelineConfig.from_dict(config), model=model)
            .process(frame(), INTRINSICS, 0.0, detections=[with_landmarks])
            .depth
        )

    def share_unchanged(a: np.ndarray, b: np.ndarray) -> float:
        """Share of face pixels whose depth ratio a / b is the frame's common one (the final median
        normalisation may scale the whole face; a changed relief changes the ratio pixel by pixel)."""
        both = np.isfinite(a) & np.isfinite(b)
        ratio = np.log(a[both] / b[both])
        return float(np.mean(np.abs(ratio - np.median(ratio)) < 1e-5))

    assert share_unchanged(depth(calibrated, False), depth(EllipsoidFace(), False)) < 0.1
    assert share_unchanged(depth(calibrated, True), depth(EllipsoidFace(), True)) > 0.5  # the prior's pixels


def test_distance_smoothing_steadies_a_flickering_distance_and_moves_the_points_with_it():
    """A face box that flickers in size (as a noisy fit would) gives a flickering distance; smoothed, it
    flickers less, and the pose and the 3D points follow the smoothed distance."""
    base = {"backend": {"name": "eager", "device": "cpu"}, "tracking": {"extra_queries": [[0.0, 0.0, 0.5]]}}
    pipelines = {
        on: FacePipeline(
            PipelineConfig.from_dict({**base, "geometry": {"distance_smoothing": on}}), model=EllipsoidFace()
        )
        for on in (True, False)
    }
    centre = FACE_BOX.reshape(2, 2).mean(axis=0)
    distances: dict[bool, list[float]] = {True: [], False: []}
    for index in range(12):
        half = (FACE_SIDE + (6.0 if index % 2 else 0.0)) / 2
        box = np.concatenate([centre - half, centre + half])
        for on, pipeline in pipelines.items():
            (found,) = pipeline.process(frame(), INTRINSICS, index / 30.0, detections=[face(box)]).faces
            distances[on].append(found.median_depth_m)
            # the pose moved along its ray with the distance; the nose-tip query lies on the moved face
            assert found.translation[2] / found.median_depth_m == pytest.approx(1.085, abs=0.02)
            assert found.query_points[-1, 2] == pytest.approx(found.translation[2] - 0.05, rel=0.02)
    steps = {on: np.abs(np.diff(np.log(d[4:]))).mean() for on, d in distances.items()}
    assert steps[False] > 0.05  # the fit itself flickers
    assert steps[True] < 0.5 * steps[False]
    assert np.mean(distances[True][4:]) == pytest.approx(np.mean(distances[False][4:]), rel=0.02)


class _ScriptedDetector:
    """A detector that reports the boxes it is given, one list per frame."""

    def __init__(self, boxes) -> None:
        self._boxes = list(boxes)

    def detect(self, rgb):
        return [face(self._boxes.pop(0))]

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_carrying_lost_faces_uses_the_fitted_pose_not_the_smoothed_distance():
    """The box a lost face is carried at comes from this frame's fitted pose: smoothing the published
    distance must not change where the carried box goes (a lagging distance would misplace it)."""
    centre = FACE_BOX.reshape(2, 2).mean(axis=0)
    boxes = [np.concatenate([centre - h, centre + h]) for h in (40.0, 43.0, 40.0, 43.0, 40.0)]
    observed: dict[bool, list] = {}
    published: dict[bool, list] = {}
    for on in (True, False):
        config = PipelineConfig.from_dict(
            {"backend": {"name": "eager", "device": "cpu"}, "geometry": {"distance_smoothing": on}}
        )
        pipeline = FacePipeline(config, model=EllipsoidFace(), detector=_ScriptedDetector(boxes))
        poses = observed[on] = []
        original = pipeline._carried.observe
        pipeline._carried.observe = lambda ids, kinds, p, k, original=original, poses=poses: (
            poses.append(p[0][1].copy()),
            original(ids, kinds, p, k),
        )
        published[on] = [
            pipeline.process(frame(), INTRINSICS, i / 30.0).faces[0].translation for i in range(len(boxes))
        ]
    np.testing.assert_allclose(observed[True], observed[False])
    np.testing.assert_allclose(observed[False], published[False])
    assert not np.allclose(published[True][1:], published[False][1:])  # the outputs are smoothed


def test_landmark_distance_moves_faces_with_landmarks_to_the_templates_distance_and_skips_bad_ones():
    from face_anything_ros.runtime.landmark_distance import fit_template_pose

    good = _template_landmark_face()
    nan_xy = good.landmarks.copy()
    nan_xy[5] = np.nan
    bad = Detection(box_xyxy=FACE_BOX + 100.0, score=0.9, landmarks=nan_xy, landmarks_z=good.landmarks_z)
    results = {}
    for weight in (0.0, 1.0):
        config = {"backend": {"name": "eager"}, "geometry": {"landmark_distance_weight": weight}}
        pipeline = FacePipeline(PipelineConfig.from_dict(config), model=EllipsoidFace())
        results[weight] = pipeline.process(frame(), INTRINSICS, 0.0, detections=[good, bad]).faces
    assert pipeline.landmark_distances_skipped == 1  # the NaN landmarks: the network's distance kept
    template_distance = np.linalg.norm(fit_template_pose(good.landmarks, INTRINSICS)[1])
    network, moved = results[0.0][0], results[1.0][0]
    assert abs(np.linalg.norm(network.translation) / template_distance - 1) > 0.02  # there is a gap to close
    assert np.linalg.norm(moved.translation) == pytest.approx(template_distance, rel=1e-6)
    ratio = np.linalg.norm(moved.translation) / np.linalg.norm(network.translation)
    assert moved.median_depth_m == pytest.approx(network.median_depth_m * ratio, rel=1e-6)
    assert results[1.0][1].median_depth_m == pytest.approx(results[0.0][1].median_depth_m, rel=1e-9)

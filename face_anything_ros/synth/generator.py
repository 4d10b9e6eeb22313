"""FaceSequenceGenerator: training crops, crop windows and full sequences with exact GT.

Determinism: every output is a function of (config, seed, split, call order). The
train and test splits draw people from disjoint identity index ranges, use
different skin-noise volumes and background streams, and different seed streams.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from face_anything_ros.core.camera import Intrinsics, focal_from_fov, project
from face_anything_ros.synth.appearance import (
    LIGHT_VECTOR_SIZE,
    NUM_PERSON_PARAMS,
    Lighting,
    PersonLook,
    lighting_vector,
    make_fine_texture,
    make_noise_volume,
    sample_lighting,
    sample_look,
)
from face_anything_ros.synth.backgrounds import BackgroundPool
from face_anything_ros.synth.camera import jittered_crop_box, rotation_from_euler
from face_anything_ros.synth.config import SynthConfig
from face_anything_ros.synth.deform import Identity, build_deformation_basis, deform, sample_identity
from face_anything_ros.synth.degrade import degrade, linear_to_srgb, sample_degradation
from face_anything_ros.synth.mesh import FACE_LABELS, build_render_mesh, vertex_normals
from face_anything_ros.synth.motion import HeadMotion, sample_motion
from face_anything_ros.synth.occluders import (
    BackHair,
    Occluder,
    draw_back_hair,
    draw_occluders,
    sample_back_hair,
    sample_occluders,
    sample_passing_occluder,
)
from face_anything_ros.synth.occlusion import vertex_ambient_occlusion
from face_anything_ros.synth.render import MeshRenderer, RenderedFrames
from face_anything_ros.synth.shading import tint_lighting
from face_anything_ros.synth.supersample import render_antialiased

LOG = logging.getLogger(__name__)

SPLITS = {"train": 0, "test": 1}
# people are drawn from disjoint identity index ranges per split
IDENTITY_RANGES = {"train": (0, 1_000_000_000), "test": (1_000_000_000, 1_000_100_000)}
IDENTITY_STREAM = 0x1D
OPTICS_STREAM = 0x0E  # skin optics of a person (its own stream: adding them changed no earlier draw)
CAMERA_OPTICS_STREAM = 0x55  # supersampling and light tints per generator (likewise)
PASSING_STREAM = 0x9A55  # passing occluders (likewise: a sequence with one is the same sequence plus it)
# the head rotates about a point behind the face, roughly the head centre (template cm)
HEAD_PIVOT_CM = np.array([0.0, -1.0, -3.0])
VIRTUAL_IMAGE_WIDTHS = (480, 2000)  # training crops come from images this wide (pixels)
FACES_PER_FRAME_WEIGHTS = (0.6, 0.25, 0.15)
BACKGROUND_REFRESH_PER_CALL = 2
HAIR_VOLUME_CM = (0.3, 2.2)
BODY_POSE_FOLLOW = 0.3  # the torso turns this fraction of the head's yaw/pitch/roll


@dataclass
class Person:
    identity: Identity
    look: PersonLook
    occluders: list[Occluder] = field(default_factory=list)
    back_hair: BackHair | None = None


def crop_landmark_points(points: np.ndarray, camera: Intrinsics) -> np.ndarray:
    """(468, 3) face-mesh-style landmarks of camera-frame template vertices in a crop: pixel x, y and
    the depth offset from the face's median depth in the same pixel units (weak perspective), the form
    the face mesh reports and the face-mesh prior is fitted to."""
    z = points[:, 2]
    median_z = float(np.median(z))
    return np.column_stack([project(points, camera), (z - median_z) * camera.fx / median_z])


class FaceSequenceGenerator:
    """Synthetic faces with exact depth / canonical / mask / track ground truth."""

    def __init__(self, config: SynthConfig | None = None, seed: int = 0, split: str = "train") -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
        self.config = config or SynthConfig()
        self.seed = int(seed)
        self.split = split
        stream = SPLITS[split]
        self._rng = np.random.default_rng([self.seed, stream, 11])
        self._optics_rng = np.random.default_rng([self.seed, stream, CAMERA_OPTICS_STREAM])
        self._passing_rng = np.random.default_rng([self.seed, stream, PASSING_STREAM])
        self._mesh = build_render_mesh(self.config.subdivisions)
        self._basis = build_deformation_basis(self.config.subdivisions)
        texture_rng = np.random.default_rng([stream, 0x7E])  # texture space is per split, not per seed
        self._renderer = MeshRenderer(
            self._mesh,
            make_noise_volume(texture_rng),
            make_fine_texture(texture_rng),
            vertex_ambient_occlusion(self.config.subdivisions),
        )
        self._backgrounds = BackgroundPool(
            np.random.default_rng([self.seed, stream, 0xB6]),
            self.config.background_pool_size,
            self.config.background_size,
        )
        self._pivot_m = HEAD_PIVOT_CM * 0.01
        self._neutral_normals = vertex_normals(
            np.asarray(self._mesh.vertices_cm), np.asarray(self._mesh.faces)
        )
        self._body_vertices = np.nonzero(self._mesh.head_weight < 1.0)[0]
        self._scalp = (self._basis.movable > 0) & ~self._mesh.is_face_vertex  # skull and ears, not the neck

    # ----------------------------------------------------------------- people
    def _sample_person(self) -> Person:
        low, high = IDENTITY_RANGES[self.split]
        index = int(self._rng.integers(low, high))
        prng = np.random.default_rng([IDENTITY_STREAM, index])
        cfg = self.config
        identity = sample_identity(
            self._basis, prng, cfg.identity_bump_cm, cfg.global_scale_range, cfg.axis_scale_std
        )
        look = sample_look(prng, cfg, np.random.default_rng([IDENTITY_STREAM, index, OPTICS_STREAM]))
        occluders = sample_occluders(
            self._rng, cfg, linear_to_srgb(look.hair), linear_to_srgb(look.skin), has_hair=look.bald < 0.5
        )
        back_hair = sample_back_hair(prng, linear_to_srgb(look.hair), look.bald < 0.5)
        identity = self._with_hair_volume(identity, look, prng)
        return Person(identity=identity, look=look, occluders=occluders, back_hair=back_hair)

    def _with_hair_volume(self, identity: Identity, look: PersonLook, rng: np.random.Generator) -> Identity:
        """Push the scalp outwards where there is hair, so hair has a silhouette (never the face surface)."""
        if look.bald >= 0.5:
            return identity
        pos = np.asarray(self._mesh.vertices_cm)
        back = np.clip(-pos[:, 2] / 10.0, 0, 1)
        height = look.hairline - (look.hairline - look.hair_back) * back
        weight = 1.0 / (1.0 + np.exp(-(pos[:, 1] - height) / 0.6))
        weight *= self._scalp
        volume = rng.uniform(*HAIR_VOLUME_CM)
        offsets = identity.offsets_cm + (volume * weight)[:, None] * self._neutral_normals
        return Identity(offsets_cm=offsets, scale=identity.scale)

    def _head_vertices(self, person: Person, motion: HeadMotion, translation: np.ndarray) -> np.ndarray:
        """(T, V, 3) camera-frame vertices for a motion track; ``translation`` places the pivot."""
        local = deform(
            self._mesh, self._basis, person.identity, motion.expressions, self.config.jaw_open_max_deg
        )
        rot = rotation_from_euler(motion.yaw, motion.pitch, motion.roll)  # (T, 3, 3)
        body = rotation_from_euler(*(BODY_POSE_FOLLOW * a for a in (motion.yaw, motion.pitch, motion.roll)))
        rel = local - self._pivot_m * person.identity.scale
        posed = rel @ rot.transpose(0, 2, 1)
        # the torso follows the head only partly; the neck blends between the two
        idx, w = self._body_vertices, self._mesh.head_weight[self._body_vertices][None, :, None]
        posed[:, idx] = w * posed[:, idx] + (1 - w) * (rel[:, idx] @ body.transpose(0, 2, 1))
        return posed + (translation[None] + motion.shift)[:, None]

    # ----------------------------------------------------------------- crops
    def sample_crops(self, batch_size: int, size: int = 128) -> dict[str, np.ndarray]:
        """Independent training crops (see module docs for the keys)."""
        window = self.sample_crop_windows(batch_size, 1, size)
        return {key: value[:, 0] for key, value in window.items()}

    def sample_crop_windows(self, batch_size: int, num_frames: int, size: int = 128) -> dict[str, np.ndarray]:
        """Crops of continuous motion: every key has shape (B, T, ...)."""
        if batch_size < 1 or num_frames < 1 or size < 8:
            raise ValueError("batch_size and num_frames must be >= 1 and size >= 8")
        cfg, rng = self.config, self._rng
        self._backgrounds.refresh(BACKGROUND_REFRESH_PER_CALL)
        n = batch_size * num_frames
        verts = np.zeros((n, 1, self._mesh.num_vertices, 3), np.float32)
        intr = np.zeros((n, 4), np.float32)
        outside = np.zeros((n, size, size), bool)
        background = np.zeros((n, size, size, 3), np.float32)
        people = np.zeros((n, 1, NUM_PERSON_PARAMS), np.float32)
        gaze = np.zeros((n, 1, 2), np.float32)
        lights = np.zeros((n, 1, LIGHT_VECTOR_SIZE), np.float32)
        crop_landmarks = []
        landmark_points = np.zeros((n, len(self._mesh.landmark_index), 3), np.float32)
        persons, motions, degradations = [], [], []
        for b in range(batch_size):
            person = self._sample_person()
            motion = sample_motion(rng, cfg, num_frames)
            width = int(rng.integers(*VIRTUAL_IMAGE_WIDTHS))
            height = int(width * rng.uniform(0.5, 1.0))
            f = focal_from_fov(rng.uniform(*cfg.fov_range_deg), width)
            cam = Intrinsics(
                f,
                f * rng.uniform(0.98, 1.02),
                width / 2 + rng.normal(0, 5),
                height / 2 + rng.normal(0, 5),
                width=width,
                height=height,
            )
            distance = rng.uniform(*cfg.crop_distance_range_m)
            target = np.array([rng.uniform(0.1, 0.9) * width, rng.uniform(0.1, 0.9) * height])
            translation = distance * np.array(
                [(target[0] - cam.cx) / cam.fx, (target[1] - cam.cy) / cam.fy, 1.0]
            )
            head = self._head_vertices(person, motion, translation)
            border = rng.random() < cfg.image_border_probability
            bg = self._backgrounds.view(size, size)
            light = lighting_vector(self._lighting())
            base_box_jitter = rng.uniform(-1, 1, 3)
            for t in range(num_frames):
                i = b * num_frames + t
                lm = project(head[t, : len(self._mesh.landmark_index)], cam)
                box = jittered_crop_box(lm, rng, cfg.crop_center_jitter * 0.15, (0.99, 1.01))
                box = type(box)(
                    cx=box.cx + base_box_jitter[0] * cfg.crop_center_jitter * box.side,
                    cy=box.cy + base_box_jitter[1] * cfg.crop_center_jitter * box.side,
                    side=box.side * np.interp(base_box_jitter[2], [-1, 1], cfg.crop_scale_jitter),
                )
                ccam = cam.for_crop(box, size)
                verts[i, 0] = head[t]
                intr[i] = ccam.as_array()
                background[i] = bg
                people[i, 0] = person.look.to_vector()
                gaze[i, 0] = motion.gaze[t]
                lights[i, 0] = light
                points = crop_landmark_points(head[t, : len(self._mesh.landmark_index)], ccam)
                landmark_points[i] = points
                crop_landmarks.append(points[:, :2])
                draw_back_hair(background[i], person.back_hair, crop_landmarks[-1])
                if border:
                    xs = (np.arange(size) + 0.5) / box.scale_to(size) + box.x0 - 0.5
                    ys = (np.arange(size) + 0.5) / box.scale_to(size) + box.y0 - 0.5
                    outside[i] = ((xs[None] < -0.5) | (xs[None] > width - 0.5)) | (
                        (ys[:, None] < -0.5) | (ys[:, None] > height - 0.5)
                    )
            persons.append(person)
            motions.append(motion)
            degradations.append(sample_degradation(rng, cfg, size / 128))
        factors = np.repeat(self._supersample_factors(batch_size), num_frames)  # one factor per window
        frames = render_antialiased(
            self._renderer, factors, verts, intr, size, size, background, people, gaze, lights
        )
        images = np.zeros((n, size, size, 3), np.uint8)
        for b in range(batch_size):
            for t in range(num_frames):
                i = b * num_frames + t
                covered = outside[i].copy()
                display = frames.rgb[i]
                draw_occluders(
                    display, covered, persons[b].occluders, crop_landmarks[i], t, float(motions[b].yaw[t]),
                    frames.triangle[i] >= 0,
                )  # fmt: skip
                display[outside[i]] = 0.0
                images[i] = degrade(display, degradations[b], rng)
                images[i][outside[i]] = 0
                self._clear_gt(frames, i, covered)
        shape = (batch_size, num_frames)
        return {
            "image": images.reshape(*shape, size, size, 3),
            "depth": frames.depth.reshape(*shape, size, size),
            "canonical": frames.canonical.reshape(*shape, size, size, 3),
            "mask": frames.mask.reshape(*shape, size, size),
            "intrinsics": intr.reshape(*shape, 4),
            "landmarks": landmark_points.reshape(*shape, *landmark_points.shape[1:]),
        }

    def _lighting(self) -> Lighting:
        """Key, fill and ambient light of one shot; tints come from the optics stream."""
        return tint_lighting(sample_lighting(self._rng), self._optics_rng, self.config.light_tint_probability)

    def _supersample_factors(self, count: int) -> np.ndarray:
        """(count,) render factor of each crop window or sequence: supersample_factor or 1 (point-sampled)."""
        cfg = self.config
        chosen = self._optics_rng.random(count) < cfg.supersample_probability
        return np.where(chosen, max(1, int(cfg.supersample_factor)), 1)

    @staticmethod
    def _clear_gt(frames: RenderedFrames, i: int, covered: np.ndarray) -> None:
        frames.mask[i][covered] = False
        frames.depth[i][covered] = np.nan
        frames.canonical[i][covered] = np.nan

    # ----------------------------------------------------------------- sequences
    def sample_sequence(self, num_frames: int, image_size: tuple[int, int] = (256, 256)) -> dict:
        """Full frames with possibly several faces and dense track GT (evaluation format content)."""
        height, width = (int(v) for v in image_size)
        if num_frames < 1 or height < 16 or width < 16:
            raise ValueError("num_frames must be >= 1 and the image at least 16x16")
        cfg, rng = self.config, self._rng
        self._backgrounds.refresh(BACKGROUND_REFRESH_PER_CALL)
        weights = np.asarray(FACES_PER_FRAME_WEIGHTS[: cfg.max_faces_per_frame])
        num_heads = int(rng.choice(len(weights), p=weights / weights.sum())) + 1
        f = focal_from_fov(rng.uniform(*cfg.fov_range_deg), width)
        cam = Intrinsics(f, f, (width - 1) / 2, (height - 1) / 2, width=width, height=height)
        heads, persons, motions = [], [], []
        order = np.argsort(rng.uniform(size=num_heads))
        for h in range(num_heads):
            person = self._sample_person()
            motion = sample_motion(rng, cfg, num_frames)
            distance = (
                rng.uniform(*cfg.sequence_distance_range_m)
                if num_heads > 1
                else rng.uniform(*cfg.single_face_distance_range_m)
            )
            # spread faces across the image; a single face sits near the centre
            slot = (order[h] + 0.5) / num_heads
            target = np.array([slot * width + rng.normal(0, 0.05) * width, height * rng.uniform(0.35, 0.6)])
            if num_heads == 1:
                target = np.array([width * rng.uniform(0.35, 0.65), height * rng.uniform(0.4, 0.6)])
            translation = distance * np.array(
                [(target[0] - cam.cx) / cam.fx, (target[1] - cam.cy) / cam.fy, 1.0]
            )
            heads.append(self._head_vertices(person, motion, translation))
            persons.append(person)
            motions.append(motion)
        verts = np.stack(heads, axis=1).astype(np.float32)  # (T, M, V, 3)
        intr = np.tile(cam.as_array(), (num_frames, 1))
        bg_display = self._backgrounds.view(height, width)
        background = np.broadcast_to(bg_display, (num_frames, height, width, 3))
        num_lm = len(self._mesh.landmark_index)
        if any(p.back_hair is not None for p in persons):
            background = np.empty((num_frames, height, width, 3), np.float32)
            for t in range(num_frames):
                frame_bg = bg_display.copy()
                for h in np.argsort([-verts[t, h, 1, 2] for h in range(num_heads)]):  # far to near
                    draw_back_hair(frame_bg, persons[h].back_hair, project(verts[t, h, :num_lm], cam))
                background[t] = frame_bg
        people = np.tile(np.stack([p.look.to_vector() for p in persons])[None], (num_frames, 1, 1))
        gaze = np.stack([m.gaze for m in motions], axis=1).astype(np.float32)
        lights = np.tile(lighting_vector(self._lighting())[None, None], (num_frames, num_heads, 1))
        factors = np.full(num_frames, self._supersample_factors(1)[0])
        frames = render_antialiased(
            self._renderer, factors, verts, intr, height, width, background, people, gaze, lights
        )
        deg = sample_degradation(rng, cfg, max(height, width) / 256)
        images = np.zeros((num_frames, height, width, 3), np.uint8)
        num_faces = len(self._mesh.faces)
        covered_all = np.zeros((num_frames, height, width), bool)
        passing = None
        if self._passing_rng.random() < cfg.passing_occluder_probability:
            crossed = int(self._passing_rng.integers(num_heads))
            landmarks = project(verts[:, crossed, :num_lm], cam)
            passing = sample_passing_occluder(self._passing_rng, landmarks, num_frames)
        for t in range(num_frames):
            display = frames.rgb[t]
            covered = covered_all[t]
            for h in np.argsort([-verts[t, h, 1, 2] for h in range(num_heads)]):  # far to near
                head_pixels = (frames.triangle[t] >= 0) & (frames.triangle[t] // num_faces == h)
                draw_occluders(display, covered, persons[h].occluders, project(verts[t, h, :num_lm], cam), t,
                               float(motions[h].yaw[t]), head_pixels)  # fmt: skip
            if passing is not None:  # in front of every head
                passing.draw(display, covered, t)
            images[t] = degrade(display, deg, rng)
            self._clear_gt(frames, t, covered)
        queries, tracks, visible, query_canonical = self._sample_tracks(verts, cam, frames, (height, width))
        # which head each face pixel belongs to (1-based; 0 off-face): touching faces stay apart
        on_head = frames.mask & (frames.triangle >= 0)
        instances = np.where(on_head, frames.triangle // num_faces + 1, 0).astype(np.uint8)
        return {
            "frames": images,
            "depth": frames.depth,
            "canonical": frames.canonical,
            "mask": frames.mask,
            "instances": instances,
            "intrinsics": {
                "fx": float(cam.fx),
                "fy": float(cam.fy),
                "cx": float(cam.cx),
                "cy": float(cam.cy),
                "width": width,
                "height": height,
            },
            "queries": queries,
            "tracks": tracks,
            "visible": visible,
            "landmarks_px": project(verts[:, :, :num_lm], cam).astype(np.float32),  # (T, heads, 468, 2)
            "query_canonical": query_canonical,
        }

    def _sample_tracks(
        self, verts: np.ndarray, cam: Intrinsics, frames: RenderedFrames, image_hw: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """GT tracks of random face-surface points: projection, visibility by z-buffer and mask."""
        cfg, rng = self.config, self._rng
        height, width = image_hw
        num_frames, num_heads = verts.shape[:2]
        mesh_faces = np.asarray(self._mesh.faces)
        face_tris = np.nonzero(np.isin(self._mesh.labels, FACE_LABELS))[0]
        canon = np.asarray(self._mesh.canonical)
        tri_canon = canon[mesh_faces[face_tris]]
        area = 0.5 * np.linalg.norm(
            np.cross(tri_canon[:, 1] - tri_canon[:, 0], tri_canon[:, 2] - tri_canon[:, 0]), axis=1
        )
        candidates = 4 * cfg.queries_per_sequence
        head = rng.integers(num_heads, size=candidates)
        tri = face_tris[rng.choice(len(face_tris), size=candidates, p=area / area.sum())]
        bary = rng.dirichlet(np.ones(3), size=candidates)
        corners = mesh_faces[tri]  # (C, 3)
        points = np.einsum(
            "tcki,ck->tci", verts[:, head[:, None], corners].astype(np.float64), bary
        )  # (T, C, 3)
        pix = project(points, cam)
        xi, yi = np.round(pix[..., 0]).astype(int), np.round(pix[..., 1]).astype(int)
        inside = (xi >= 0) & (xi < width) & (yi >= 0) & (yi < height) & (points[..., 2] > 0)
        xc, yc = np.clip(xi, 0, width - 1), np.clip(yi, 0, height - 1)
        t_idx = np.arange(num_frames)[:, None]
        zbuf = frames.zbuffer[t_idx, yc, xc]
        on_mask = frames.mask[t_idx, yc, xc]
        winner = frames.triangle[t_idx, yc, xc]
        num_faces = len(mesh_faces)
        same_head = (winner // num_faces) == head[None]
        win_corners = mesh_faces[np.clip(winner, 0, None) % num_faces]  # (T, C, 3)
        shares_vertex = (win_corners[..., :, None] == corners[None, :, None, :]).any(
            axis=(-1, -2)
        ) & same_head
        depth_ok = np.abs(zbuf - points[..., 2]) < cfg.visibility_tolerance_m
        near_ok = np.abs(zbuf - points[..., 2]) < 10 * cfg.visibility_tolerance_m
        visible = inside & on_mask & (depth_ok | (shares_vertex & near_ok))
        keep = np.nonzero(visible.any(axis=0))[0][: cfg.queries_per_sequence]
        queries = np.zeros((len(keep), 3), np.float32)
        for j, c in enumerate(keep):
            t = int(rng.choice(np.nonzero(visible[:, c])[0]))
            queries[j] = (t, pix[t, c, 0], pix[t, c, 1])
        query_canonical = np.einsum("cki,ck->ci", canon[corners[keep]].astype(np.float64), bary[keep])
        return queries, pix[:, keep].astype(np.float32), visible[:, keep], query_canonical.astype(np.float32)

"""2D occluders drawn over the rendered faces (hands, hair strands, glasses, face masks, objects).

They lie in front of everything, so the pixels they cover lose their face ground truth
(mask 0, NaN depth/canonical) and tracked points beneath them become invisible. Glasses are the
exception where the face shows through: only the frames (and sunglasses' opaque lenses) cover the
face; a transparent lens keeps the face ground truth under it and only changes how it looks (tint,
a reflection streak, a darker rim), which is what real glasses look like to a camera. Each
occluder is sampled once per face and drawn every frame relative to the face's
projected landmarks, so it moves with the face (or drifts, for hands/objects). A ``PassingOccluder``
(full-frame sequences only) is the other kind: a textured object crossing a face on its own path in the
image, the way a hand or a cup passes in front of someone; dense flow under it follows it, not the face.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from face_anything_ros.synth.config import SynthConfig
from face_anything_ros.synth.mesh import FACE_OVAL

RIGHT_EYE_CORNERS = (33, 133)
LEFT_EYE_CORNERS = (362, 263)
NOSE_BRIDGE = 6
KINDS = ("hand", "strands", "glasses", "mask", "object")
LONG_HAIR_PROBABILITY = 0.35
FRINGE_PROBABILITY = 0.2
SUNGLASSES_PROBABILITY = 0.2  # of glasses: opaque lenses (non-face like any other occluder)
GLASSES_LOOK_STREAM = (
    0x61A55  # lens looks come from their own stream: the generator's draws stay as they were
)
BACK_HAIR_STREAKS = 24
BACK_HAIR_SHADE = 0.7  # hair behind the head gets less light than the lit scalp


@dataclass
class Occluder:
    kind: str
    colour: np.ndarray  # (3,) display RGB in [0, 1]
    params: dict = field(default_factory=dict)


def sample_occluders(
    rng: np.random.Generator,
    config: SynthConfig,
    hair_colour: np.ndarray,
    skin_colour: np.ndarray,
    has_hair: bool = False,
) -> list[Occluder]:
    out: list[Occluder] = []
    if has_hair and rng.random() < FRINGE_PROBABILITY:
        out.append(
            Occluder(
                "fringe",
                np.clip(hair_colour, 0, 1),
                {
                    "length": rng.uniform(0.08, 0.3),
                    "width": rng.uniform(0.5, 1.0),
                    "side": rng.uniform(-0.4, 0.4),
                    "seed": int(rng.integers(1 << 30)),
                },
            )
        )
    if rng.random() < config.glasses_probability:
        out.append(
            Occluder(
                "glasses",
                rng.uniform(0, 0.5, 3) if rng.random() < 0.7 else rng.uniform(0, 1, 3),
                {
                    "thickness": rng.uniform(0.012, 0.04),
                    "tint": rng.uniform(0, 0.5),
                    "round": rng.uniform(0.6, 1.0),
                },
            )
        )
        out[-1].params.update(_lens_look(out[-1].params["thickness"]))
    if rng.random() < config.occluder_probability:
        kind = str(rng.choice(["hand", "strands", "mask", "object", "hand"]))
        colour = {
            "hand": skin_colour * rng.uniform(0.8, 1.2, 3),
            "strands": hair_colour,
            "mask": rng.choice([[0.85, 0.9, 0.95], [0.4, 0.6, 0.8], [0.1, 0.1, 0.12], rng.uniform(0, 1, 3)]),
            "object": rng.uniform(0, 1, 3),
        }[kind]
        params = {
            "anchor": rng.uniform(-0.6, 0.6, 2),
            "drift": rng.normal(0, 0.01, 2),
            "size": rng.uniform(0.3, 0.8),
            "angle": rng.uniform(0, 360),
            "seed": int(rng.integers(1 << 30)),
        }
        out.append(Occluder(kind, np.clip(np.asarray(colour, np.float64), 0, 1), params))
    return out


def _lens_look(thickness: float) -> dict:
    """Opacity, reflection and rim of a pair of lenses, seeded by the frame's own draw."""
    rng = np.random.default_rng([GLASSES_LOOK_STREAM, int(thickness * 1e12)])
    return {
        "opaque": bool(rng.random() < SUNGLASSES_PROBABILITY),
        "reflection": rng.uniform(0.0, 0.45) if rng.random() < 0.7 else 0.0,
        "reflection_angle": rng.uniform(20.0, 70.0),
        "reflection_width": rng.uniform(0.15, 0.45),
        "rim": rng.uniform(0.0, 0.35),
    }


def _draw_lens(
    image: np.ndarray, covered: np.ndarray, lens: np.ndarray, params: dict, colour: np.ndarray
) -> None:
    """One lens (``lens`` uint8 filled ellipse): opaque (non-face) or a see-through look on the image."""
    inside = lens > 0
    if not inside.any():
        return
    if params.get("opaque", False):
        image[inside] = np.clip(colour * 0.25, 0, 1)
        covered |= lens > 127
        return
    if params["tint"] > 0.05:
        image[inside] *= 1 - params["tint"] * 0.6
    ys, xs = np.nonzero(inside)
    if params.get("rim", 0.0) > 0:
        distance = cv2.distanceTransform((lens > 127).astype(np.uint8), cv2.DIST_L2, 3)[inside]
        width = max(1.0, 0.12 * (xs.max() - xs.min() + 1))
        image[inside] *= (1 - params["rim"] * np.exp(-distance / width))[:, None]
    if params.get("reflection", 0.0) > 0:
        angle = np.deg2rad(params["reflection_angle"])
        u = (xs - xs.mean()) * np.cos(angle) + (ys - ys.mean()) * np.sin(angle)
        band = max(1.0, params["reflection_width"] * 0.5 * (xs.max() - xs.min() + 1))
        streak = params["reflection"] * np.exp(-((u / band) ** 2))
        image[ys, xs] = image[ys, xs] + streak[:, None] * (1 - image[ys, xs])  # screen-like highlight


def _pt(p: np.ndarray) -> tuple[int, int]:
    return round(float(p[0]) * 16), round(float(p[1]) * 16)  # 4-bit sub-pixel for cv2 shift=4


PASSING_TEXTURE_PX = 64  # side of the passing object's texture tile (pixels, scaled to the object)


@dataclass(frozen=True)
class PassingOccluder:
    """A textured ellipse moving in a straight line across a face from frame ``first`` to ``last``."""

    start: np.ndarray  # (2,) centre at ``first`` (image pixels)
    end: np.ndarray  # (2,) centre at ``last``
    axes: tuple[float, float]  # ellipse half-axes, pixels
    angle_deg: float
    first: int
    last: int
    texture: np.ndarray  # (S, S, 3) float RGB in [0, 1]; it moves with the object

    def centre(self, t: int) -> np.ndarray | None:
        if not self.first <= t <= self.last:
            return None
        a = (t - self.first) / max(self.last - self.first, 1)
        return (1 - a) * self.start + a * self.end

    def draw(self, image: np.ndarray, covered: np.ndarray, t: int) -> None:
        """Draw the object as it is in frame ``t`` into ``image`` (H, W, 3 float) and ``covered``, in place."""
        centre = self.centre(t)
        if centre is None:
            return
        layer = np.zeros(covered.shape, np.uint8)
        axes = (int(self.axes[0] * 16), int(self.axes[1] * 16))
        cv2.ellipse(layer, _pt(centre), axes, self.angle_deg, 0, 360, 255, -1, cv2.LINE_AA, 4)
        hit = layer > 127
        if not hit.any():
            return
        ys, xs = np.nonzero(hit)
        side = 2.0 * max(self.axes)
        size = len(self.texture)
        u = np.clip(((xs - centre[0]) / side + 0.5) * (size - 1), 0, size - 1).astype(np.int64)
        v = np.clip(((ys - centre[1]) / side + 0.5) * (size - 1), 0, size - 1).astype(np.int64)
        image[ys, xs] = self.texture[v, u]
        covered |= hit


def sample_passing_occluder(
    rng: np.random.Generator, landmarks_px: np.ndarray, num_frames: int
) -> PassingOccluder | None:
    """An object crossing the face whose landmarks (T, 468, 2) are given, during a third to half of the
    sequence, in a random direction through the face's centre at the middle of its pass; None for
    sequences too short for a pass (fewer than 4 frames)."""
    if num_frames < 4:
        return None
    duration = int(rng.integers(max(2, num_frames // 3), max(3, num_frames // 2) + 1))
    first = int(rng.integers(1, max(2, num_frames - duration)))
    last = min(first + duration, num_frames - 1)
    middle = landmarks_px[(first + last) // 2]
    lo, hi = middle.min(axis=0), middle.max(axis=0)
    centre, extent = 0.5 * (lo + hi), float(np.max(hi - lo))
    direction = rng.normal(size=2)
    direction /= max(float(np.linalg.norm(direction)), 1e-9)
    reach = rng.uniform(0.6, 1.0) * extent
    size = rng.uniform(0.25, 0.45) * extent
    noise = cv2.GaussianBlur(rng.uniform(0, 1, (PASSING_TEXTURE_PX, PASSING_TEXTURE_PX, 3)), (0, 0), 2.0)
    tone = rng.uniform(0.2, 0.9, 3)
    texture = np.clip(0.6 * tone + 0.8 * (noise - 0.5) + 0.2, 0, 1).astype(np.float32)
    return PassingOccluder(
        start=centre - reach * direction,
        end=centre + reach * direction,
        axes=(size, size * rng.uniform(0.5, 1.0)),
        angle_deg=float(rng.uniform(0, 180)),
        first=first,
        last=last,
        texture=texture,
    )


def draw_occluders(
    image: np.ndarray,
    covered: np.ndarray,
    occluders: list[Occluder],
    landmarks_px: np.ndarray,
    frame: int,
    yaw_deg: float,
    head_pixels: np.ndarray | None = None,
) -> None:
    """Draw ``occluders`` for one face into ``image`` (H, W, 3 float) and ``covered`` (H, W bool), in place.

    ``head_pixels`` (H, W bool), where given, bounds the worn face mask to the head's silhouette.
    """
    if not occluders:
        return
    lo, hi = landmarks_px.min(axis=0), landmarks_px.max(axis=0)
    center, extent = 0.5 * (lo + hi), float(np.max(hi - lo))
    for occ in occluders:
        layer = np.zeros(covered.shape, np.uint8)
        p = occ.params
        if occ.kind == "glasses":
            if abs(yaw_deg) > 55:
                continue
            t = max(1, round(p["thickness"] * extent))
            for a, b in (RIGHT_EYE_CORNERS, LEFT_EYE_CORNERS):
                c = 0.5 * (landmarks_px[a] + landmarks_px[b])
                half = 0.75 * np.linalg.norm(landmarks_px[a] - landmarks_px[b])
                angle = float(np.degrees(np.arctan2(*(landmarks_px[b] - landmarks_px[a])[::-1])))
                axes = (int(half * 16), int(half * p["round"] * 0.8 * 16))
                lens = np.zeros_like(layer)
                cv2.ellipse(lens, _pt(c), axes, angle, 0, 360, 255, -1, cv2.LINE_AA, 4)
                _draw_lens(image, covered, lens, p, occ.colour)
                cv2.ellipse(layer, _pt(c), axes, angle, 0, 360, 255, t, cv2.LINE_AA, 4)
            cv2.line(layer, _pt(landmarks_px[133]), _pt(landmarks_px[362]), 255, t, cv2.LINE_AA, 4)
            for eye, ear in ((33, 234), (263, 454)):
                cv2.line(layer, _pt(landmarks_px[eye]), _pt(landmarks_px[ear]), 255, t, cv2.LINE_AA, 4)
        elif occ.kind == "fringe":
            _draw_fringe(layer, image, occ, landmarks_px, _head_support(head_pixels, extent))
            covered |= layer > 127
            continue
        elif occ.kind == "mask":
            if abs(yaw_deg) > 55:
                continue
            pts = np.concatenate([landmarks_px[list(FACE_OVAL[8:29])], landmarks_px[[NOSE_BRIDGE]]])
            hull = cv2.convexHull(np.round(pts * 16).astype(np.int32))
            cv2.fillConvexPoly(layer, hull, 255, cv2.LINE_AA, 4)
            support = _head_support(head_pixels, extent)
            if support is not None:
                layer[~support] = 0
        else:
            rng = np.random.default_rng(p["seed"])
            anchor = center + (p["anchor"] + p["drift"] * frame) * extent * 0.5
            size = p["size"] * extent * 0.5
            if occ.kind == "hand":
                cv2.ellipse(layer, _pt(anchor), (int(size * 0.6 * 16), int(size * 0.45 * 16)), p["angle"], 0, 360, 255, -1,
                            cv2.LINE_AA, 4)  # fmt: skip
                base_angle = np.radians(p["angle"])
                for k in range(4):
                    a = base_angle + (k - 1.5) * 0.3
                    tip = anchor + size * 1.3 * np.array([np.cos(a), np.sin(a)])
                    cv2.line(layer, _pt(anchor), _pt(tip), 255, max(1, int(size * 0.22)), cv2.LINE_AA, 4)
            elif occ.kind == "strands":
                top = landmarks_px[10]
                for _ in range(int(rng.integers(3, 15))):
                    x = top + rng.normal(0, 0.25, 2) * extent
                    pts = [x]
                    for _ in range(6):
                        x = x + np.array([rng.normal(0, 0.04), rng.uniform(0.03, 0.09)]) * extent
                        pts.append(x)
                    poly = np.round(np.asarray(pts) * 16).astype(np.int32)
                    cv2.polylines(
                        layer,
                        [poly],
                        False,
                        255,
                        max(1, int(extent * rng.uniform(0.004, 0.02))),
                        cv2.LINE_AA,
                        4,
                    )
            else:  # object: a random polygon (cup, phone, microphone …)
                n = int(rng.integers(3, 7))
                pts = anchor + rng.normal(0, 1, (n, 2)) * size * 0.6
                hull = cv2.convexHull(np.round(pts * 16).astype(np.int32))
                cv2.fillConvexPoly(layer, hull, 255, cv2.LINE_AA, 4)
        hit = layer > 127
        if not hit.any():
            continue
        ys = np.nonzero(hit)[0]
        shade = 0.75 + 0.35 * (ys - ys.min()) / max(1, ys.max() - ys.min())  # a little top-down shading
        image[hit] = np.clip(occ.colour[None] * shade[:, None], 0, 1)
        covered |= hit


UPPER_OVAL = (234, 127, 162, 21, 54, 103, 67, 109, 10, 338, 297, 332, 284, 251, 389, 356, 454)


def _head_support(head_pixels: np.ndarray | None, extent: float) -> np.ndarray | None:
    """The head's silhouette grown by 2 % of the face size (worn things stay on the head)."""
    if head_pixels is None:
        return None
    margin = max(1, round(0.02 * extent))
    return cv2.dilate(head_pixels.astype(np.uint8), np.ones((2 * margin + 1,) * 2, np.uint8)) > 0


def _draw_fringe(
    layer: np.ndarray, image: np.ndarray, occ: Occluder, landmarks_px: np.ndarray, support: np.ndarray | None
) -> None:
    """Bangs: hair from the upper face outline falling over the forehead, with a ragged lower edge."""
    p = occ.params
    top, chin = landmarks_px[10], landmarks_px[152]
    height = float(np.linalg.norm(chin - top))
    if height < 2:
        return
    down = (chin - top) / height
    rng = np.random.default_rng(p["seed"])
    outline = landmarks_px[list(UPPER_OVAL)]
    k = len(outline)
    x = np.linspace(-1, 1, k)
    # longer at the sides (parted hair) or in the middle (straight bangs), shifted by the parting side
    profile = p["length"] * (1 + 0.6 * p["side"] * x + (0.5 * x * x if p["width"] > 0.75 else -0.3 * x * x))
    jag = rng.normal(0, 0.025, k)
    lower = outline + down[None] * ((profile + jag) * height)[:, None]
    upper = outline - down[None] * 0.04 * height
    cv2.fillPoly(
        layer, [np.round(np.concatenate([lower, upper[::-1]]) * 16).astype(np.int32)], 255, cv2.LINE_AA, 4
    )
    if support is not None:
        layer[~support] = 0
    hit = layer > 127
    if not hit.any():
        return
    streaks = np.zeros(layer.shape, np.float32)
    for _ in range(60):
        j = rng.uniform(0, k - 1)
        start = outline[int(j)] * (1 - j % 1) + outline[min(int(j) + 1, k - 1)] * (j % 1)
        end = start + down * p["length"] * height * rng.uniform(0.7, 1.4)
        cv2.line(streaks, _pt(start), _pt(end), float(rng.uniform(-1, 1)), 1, cv2.LINE_AA, 4)
    ys = np.nonzero(hit)[0]
    shade = 0.85 + 0.25 * (ys - ys.min()) / max(1, ys.max() - ys.min())
    image[hit] = np.clip(occ.colour[None] * (shade + 0.12 * streaks[hit])[:, None], 0, 1)


@dataclass
class BackHair:
    """Long hair hanging behind the head (drawn into the background, so the head covers it)."""

    colour: np.ndarray  # (3,) display RGB
    length: float  # below the chin, in face heights
    width: float  # in face widths
    seed: int


def sample_back_hair(
    rng: np.random.Generator, hair_colour_display: np.ndarray, has_hair: bool
) -> BackHair | None:
    if not has_hair or rng.random() > LONG_HAIR_PROBABILITY:
        return None
    return BackHair(
        colour=np.clip(hair_colour_display, 0, 1),
        length=float(rng.uniform(0.1, 1.2)),
        width=float(rng.uniform(1.1, 1.45)),
        seed=int(rng.integers(1 << 30)),
    )


def draw_back_hair(image: np.ndarray, hair: BackHair | None, landmarks_px: np.ndarray) -> None:
    """Draw ``hair`` into the display-space ``image`` (H, W, 3 float) behind the face, in place."""
    if hair is None:
        return
    top, chin = landmarks_px[10], landmarks_px[152]
    right, left = landmarks_px[234], landmarks_px[454]
    down = chin - top
    height = float(np.linalg.norm(down))
    if height < 2:
        return
    down /= height
    across = left - right
    half = 0.5 * hair.width * float(np.linalg.norm(across))
    side = across / max(float(np.linalg.norm(across)), 1e-6)
    center = 0.5 * (right + left)
    crown = top - down * 0.25 * height
    bottom = chin + down * hair.length * height
    rng = np.random.default_rng(hair.seed)
    # rounded crown (half ellipse over the head), straight sides, ragged ends
    angles = np.linspace(0, np.pi, 16)
    rise = float(np.dot(center - crown, down))
    arc = [center - side * half * np.cos(a) - down * rise * np.sin(a) for a in angles]
    ends = [
        bottom + side * half * 0.9 * (1 - 2 * k / 9) + down * rng.uniform(-0.12, 0.12) * height
        for k in range(10)
    ]
    pts = [*arc, center + side * half, *ends, center - side * half]
    layer = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(layer, [np.round(np.asarray(pts) * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    hit = layer > 127
    if not hit.any():
        return
    # strands: streaks along the hair direction
    streaks = np.zeros(image.shape[:2], np.float32)
    for _ in range(BACK_HAIR_STREAKS):
        start = crown + side * rng.uniform(-half, half) + down * rng.uniform(-0.1, 0.3) * height
        end = start + down * rng.uniform(0.6, 1.6) * height + side * rng.normal(0, 0.1) * half
        cv2.line(streaks, _pt(start), _pt(end), float(rng.uniform(-1, 1)), 1, cv2.LINE_AA, 4)
    shade = np.clip(1.0 + 0.25 * streaks[hit], 0.5, 1.5)
    image[hit] = np.clip(hair.colour[None] * BACK_HAIR_SHADE * shade[:, None], 0, 1)

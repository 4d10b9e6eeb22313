"""Realism of the generator's images: supersampling keeps the ground truth exact, per-pixel skin optics."""

from __future__ import annotations

import numpy as np
import pytest

from face_anything_ros.core.face_template import load_face_template
from face_anything_ros.synth import FaceSequenceGenerator, SynthConfig
from face_anything_ros.synth.appearance import sample_lighting
from face_anything_ros.synth.render import RenderedFrames
from face_anything_ros.synth.shading import tint_lighting
from face_anything_ros.synth.supersample import downsample_frames, upscaled_intrinsics

# the camera's own noise, blur and JPEG would hide what these tests look at
CLEAN = dict(
    motion_blur_probability=0.0,
    defocus_probability=0.0,
    noise_std_range=(0.0, 0.0),
    jpeg_probability=0.0,
    occluder_probability=0.0,
)


def _crops(count: int, size: int, seed: int = 7, **overrides) -> dict[str, np.ndarray]:
    return FaceSequenceGenerator(SynthConfig(**{**CLEAN, **overrides}), seed=seed).sample_crops(count, size)


@pytest.fixture(scope="module")
def point_and_super():
    return _crops(6, 64, supersample_probability=0.0), _crops(6, 64, supersample_probability=1.0)


def test_supersampled_ground_truth_matches_the_point_sampled_scene(point_and_super):
    point, sup = point_and_super
    np.testing.assert_array_equal(point["intrinsics"], sup["intrinsics"])  # target-size crop intrinsics
    area_p, area_s = point["mask"].sum(axis=(1, 2)), sup["mask"].sum(axis=(1, 2))
    assert np.all(np.abs(area_s - area_p) <= 0.02 * area_p + 4), (area_p, area_s)  # ties do not grow masks
    both = point["mask"] & sup["mask"]
    assert both.sum() > 0.9 * point["mask"].sum()
    depth_error = np.abs(point["depth"][both] - sup["depth"][both])
    assert np.median(depth_error) < 1e-3 and np.percentile(depth_error, 99) < 0.01  # metres
    canonical_error = np.linalg.norm(point["canonical"][both] - sup["canonical"][both], axis=-1)
    assert np.median(canonical_error) < 0.01


def test_supersampled_maps_keep_the_nan_convention(point_and_super):
    _, sup = point_and_super
    mask = sup["mask"]
    assert np.all(np.isfinite(sup["depth"][mask])) and np.all(np.isfinite(sup["canonical"][mask]))
    assert np.all(np.isnan(sup["depth"][~mask])) and np.all(np.isnan(sup["canonical"][~mask]))
    assert np.all(np.abs(sup["canonical"][mask]) < 1.0)


def test_supersampling_approaches_an_area_integrated_reference():
    """Against a 4x-supersampled render of the same scenes, 2x errs much less than point sampling."""
    reference = _crops(4, 48, supersample_probability=1.0, supersample_factor=4)["image"].astype(float)
    errors = {}
    for name, overrides in {
        "point": dict(supersample_probability=0.0),
        "2x": dict(supersample_probability=1.0),
    }.items():
        errors[name] = np.abs(_crops(4, 48, **overrides)["image"] - reference).mean()
    assert errors["2x"] < 0.7 * errors["point"], errors


def test_downsampling_rules_on_a_known_pixel_block():
    """Area fraction for the mask, front-most face sub-pixels for depth/canonical, linear-light colour."""
    mask = np.zeros((1, 2, 4), bool)
    mask[0, :, 0:2] = True  # target pixel 0: all four sub-pixels face
    mask[0, 0, 2] = mask[0, 1, 2] = mask[0, 0, 3] = True  # pixel 1: three quarters face
    depth = np.where(mask, 0.5, np.nan).astype(np.float32)
    depth[0, 1, 1] = 0.6  # a fold: one sub-pixel of pixel 0 sees a surface 10 cm behind
    canonical = np.where(mask[..., None], np.array([0.1, 0.2, 0.3], np.float32), np.nan).astype(np.float32)
    rgb = np.zeros((1, 2, 4, 3), np.float32)
    rgb[0, :, 2] = 1.0  # pixel 1: half white in linear light
    frames = RenderedFrames(
        rgb=rgb,
        depth=depth,
        canonical=canonical,
        mask=mask,
        zbuffer=np.where(mask, depth, np.inf).astype(np.float32),
        triangle=np.where(mask, 3, -1),
    )
    small = downsample_frames(frames, 2)
    np.testing.assert_array_equal(small.mask, [[[True, True]]])
    np.testing.assert_allclose(small.depth, [[[0.5, 0.5]]])  # the fold's 0.6 is not averaged in
    np.testing.assert_allclose(small.canonical[0, 0], [[0.1, 0.2, 0.3]] * 2, rtol=1e-6)
    np.testing.assert_allclose(small.rgb[0, 0, 1], 0.5 ** (1 / 2.2), rtol=1e-5)  # not 0.5: sensors add light
    np.testing.assert_allclose(small.zbuffer, [[[0.5, 0.5]]])
    np.testing.assert_array_equal(small.triangle, [[[3, 3]]])
    mask[0, 1, 2] = mask[0, 0, 3] = False  # a quarter of the pixel is face: not a face pixel any more
    assert not downsample_frames(frames, 2).mask[0, 0, 1]
    mask[:] = False
    mask[0, :, 0] = mask[0, :, 2] = True  # both pixels half face: a checkerboard breaks the ties
    np.testing.assert_array_equal(downsample_frames(frames, 2).mask, [[[True, False]]])


def test_upscaled_intrinsics_keep_pixel_centres_on_the_same_rays():
    k = np.array([[100.0, 110.0, 31.5, 30.0]], np.float32)
    big = upscaled_intrinsics(k, 2)[0]
    point = np.array([0.03, -0.02, 0.5])
    u, v = k[0, 0] * point[0] / point[2] + k[0, 2], k[0, 1] * point[1] / point[2] + k[0, 3]
    u2, v2 = big[0] * point[0] / point[2] + big[2], big[1] * point[1] / point[2] + big[3]
    # target pixel (u, v) covers the 2x sub-pixels 2u and 2u + 1, whose mean is 2u + 0.5
    np.testing.assert_allclose([u2, v2], [2 * u + 0.5, 2 * v + 0.5], rtol=1e-6)


def _face_laplacian_energy(image: np.ndarray, mask: np.ndarray) -> float:
    """Mean squared Laplacian of (N, H, W) ``image`` over face pixels whose four neighbours are face too."""
    lap = (
        4 * image[:, 1:-1, 1:-1]
        - image[:, :-2, 1:-1]
        - image[:, 2:, 1:-1]
        - image[:, 1:-1, :-2]
        - image[:, 1:-1, 2:]
    )
    h, w = mask.shape[1] - 2, mask.shape[2] - 2
    inner = mask[:, 1:-1, 1:-1].copy()
    for dy, dx in ((0, 1), (2, 1), (1, 0), (1, 2)):
        inner &= mask[:, dy : dy + h, dx : dx + w]
    return float((lap[inner] ** 2).mean())


def test_micro_normals_give_the_specular_per_pixel_detail():
    """The specular layer (shiny minus matte render of the same faces) gains high frequencies from the bumps."""
    base = dict(supersample_probability=0.0, specular_exponent_range=(60.0, 60.0))
    energy = {}
    for name, bump in {"flat": (0.0, 0.0), "bumpy": (0.05, 0.05)}.items():
        matte = _crops(8, 96, specular_range=(0.0, 0.0), skin_bump_range=bump, **base)
        shiny = _crops(8, 96, specular_range=(0.3, 0.3), skin_bump_range=bump, **base)
        specular = shiny["image"].astype(float).mean(-1) - matte["image"].astype(float).mean(-1)
        energy[name] = _face_laplacian_energy(specular, matte["mask"])
    assert energy["bumpy"] > 1.4 * energy["flat"], energy


def _region_means(difference: np.ndarray, canonical: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """Mean of ``difference`` on the T-zone (forehead, nose bridge, nose) and on the cheeks."""
    template = np.asarray(load_face_template().canonical)
    means = []
    for landmarks in ((151, 6, 4), (205, 425)):
        near = np.zeros(mask.shape, bool)
        for index in landmarks:
            near |= np.linalg.norm(np.nan_to_num(canonical) - template[index], axis=-1) < 0.12
        means.append(float(difference[near & mask].mean()))
    return means[0], means[1]


def test_the_t_zone_shines_more_than_the_cheeks():
    base = dict(supersample_probability=0.0, specular_exponent_range=(30.0, 30.0), seed=11)
    matte = _crops(32, 64, specular_range=(0.0, 0.0), **base)
    ratios = {}
    for oil in (0.0, 2.5):
        shiny = _crops(32, 64, specular_range=(0.3, 0.3), tzone_oil_range=(oil, oil), **base)
        specular = shiny["image"].astype(float).mean(-1) - matte["image"].astype(float).mean(-1)
        tzone, cheeks = _region_means(specular, matte["canonical"], matte["mask"])
        ratios[oil] = tzone / max(cheeks, 1e-6)
    assert ratios[2.5] > 1.5 * ratios[0.0] and ratios[2.5] > 1.5, ratios


def test_light_tints_vary_the_colour_without_shifting_other_draws():
    light = sample_lighting(np.random.default_rng(0))
    rngs = [np.random.default_rng(1), np.random.default_rng(1)]
    untinted = tint_lighting(light, rngs[0], 0.0)
    tinted = tint_lighting(light, rngs[1], 1.0)
    np.testing.assert_array_equal(untinted.colour, light.colour)
    assert rngs[0].random() == rngs[1].random()  # the probability changed no later sample
    chroma = [tinted.colour / tinted.colour.mean(), light.colour / light.colour.mean()]
    assert np.abs(chroma[0] - chroma[1]).max() > 0.01
    assert np.all(tinted.colour <= light.colour + 1e-12)  # a tint only filters: exposure stays bounded


def test_same_seed_same_crops_with_supersampling_and_new_optics():
    a = FaceSequenceGenerator(SynthConfig(), seed=3).sample_crops(4, 48)
    b = FaceSequenceGenerator(SynthConfig(), seed=3).sample_crops(4, 48)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])

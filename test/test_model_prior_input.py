"""The face-mesh prior as model input (issue 12, option a): the branch, its training data, its runtime."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from face_anything_ros.model import FaceAnythingModel, ModelConfig, load_model
from face_anything_ros.model.config import PRIOR_INPUT_CHANNELS
from face_anything_ros.model.flip_average import FlipAveragedCanonical
from face_anything_ros.runtime.backends.onnx_runtime import export_onnx
from face_anything_ros.runtime.mesh_prior import PriorMaps, prior_input_channels, with_prior_channels
from face_anything_ros.synth import FaceSequenceGenerator, SynthConfig
from face_anything_ros.training.augment import flip_horizontal, warp_sample
from face_anything_ros.training.prior_inputs import PriorNoiseConfig, add_prior_channels, with_prior_input
from face_anything_ros.training.train import TrainConfig, train

SIZE = 64
EXACT = PriorNoiseConfig(
    absent_probability=0.0,
    shift=0.0,
    scale=0.0,
    rotation_deg=0.0,
    warp=0.0,
    jitter=0.0,
    depth_scale=(1.0, 1.0),
)


def tiny_config(prior_channels: int = 0) -> ModelConfig:
    return ModelConfig(embed_dim=48, depth=2, num_heads=2, decoder_dim=32, image_size=SIZE, prior_channels=prior_channels)


def wake_prior_branch(model: FaceAnythingModel, std: float = 0.2) -> FaceAnythingModel:
    """Give the zero-initialised output projections weights, as training would."""
    torch.manual_seed(7)
    with torch.no_grad():
        for projection in model.prior_encoder.out:
            projection.weight.normal_(0.0, std)
    return model


def inputs(batch: int = 2, prior_value: float | None = None) -> torch.Tensor:
    generator = torch.Generator().manual_seed(3)
    images = torch.rand(batch, 3, SIZE, SIZE, generator=generator)
    prior = torch.rand(batch, PRIOR_INPUT_CHANNELS, SIZE, SIZE, generator=generator) * 2 - 1
    if prior_value is not None:
        prior.fill_(prior_value)
    return torch.cat([images, prior], dim=1)


@pytest.fixture(scope="module")
def generator_batch() -> dict[str, np.ndarray]:
    return FaceSequenceGenerator(SynthConfig(), seed=9, split="train").sample_crops(6, size=128)


@torch.no_grad()
def test_a_grown_model_starts_from_the_image_only_models_predictions():
    torch.manual_seed(0)
    plain = FaceAnythingModel(tiny_config()).eval()
    grown = with_prior_input(plain).eval()
    assert grown.config.prior_channels == PRIOR_INPUT_CHANNELS and grown.config.input_channels == 9
    x = inputs()
    before = plain(x[:, :3])
    absent = grown(torch.cat([x[:, :3], torch.zeros_like(x[:, 3:])], dim=1))
    for name in before:  # no prior: exactly the image-only model
        torch.testing.assert_close(absent[name], before[name], atol=0, rtol=0)
    after = grown(x)
    for name in ("depth", "mask_logits", "confidence"):  # the prior's branch starts at zero
        torch.testing.assert_close(after[name], before[name], atol=0, rtol=0)
    # the canonical gate starts almost closed: sigmoid(-3) of the way to the prior, where it covers
    share = torch.sigmoid(torch.tensor(-3.0)) * x[:, 7:8]
    expected = before["canonical"] + share * (x[:, 3:6] - before["canonical"])
    torch.testing.assert_close(after["canonical"], expected, atol=1e-6, rtol=0)
    woken = wake_prior_branch(grown)
    changed = woken(x)["depth"]
    assert (changed - before["depth"]).abs().max() > 1e-3, "the prior branch does not reach the output"


def test_an_open_gate_copies_the_prior_canonical_where_the_prior_covers():
    model = FaceAnythingModel(tiny_config(PRIOR_INPUT_CHANNELS)).eval()
    with torch.no_grad():
        model.prior_encoder.gate.bias.fill_(30.0)
        x = inputs()
        x[:, 7] = (torch.arange(SIZE) < SIZE // 2).float()  # coverage: the left half
        out = model(x)["canonical"]
    torch.testing.assert_close(out[..., : SIZE // 2], x[:, 3:6, :, : SIZE // 2], atol=1e-6, rtol=0)
    assert (out[..., SIZE // 2 :] - x[:, 3:6, :, SIZE // 2 :]).abs().max() > 0.1


def test_the_wrong_number_of_input_channels_is_a_clear_error():
    model = FaceAnythingModel(tiny_config(PRIOR_INPUT_CHANNELS)).eval()
    with pytest.raises(ValueError, match="takes 9 input channels"):
        model(torch.rand(1, 3, SIZE, SIZE))
    with pytest.raises(ValueError, match="prior_channels must be 0 or 6"):
        tiny_config(4)


@torch.no_grad()
def test_onnx_export_of_a_prior_model_matches_eager(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    model = wake_prior_branch(FaceAnythingModel(tiny_config(PRIOR_INPUT_CHANNELS))).eval()
    path = tmp_path / "prior.onnx"
    export_onnx(model, path, SIZE)
    x = inputs(3)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    canonical = session.run(["canonical"], {"images": x.numpy()})[0]
    assert np.abs(canonical - model(x)["canonical"].numpy()).max() < 1e-4


@torch.no_grad()
def test_flip_averaging_mirrors_the_prior_too():
    model = wake_prior_branch(FaceAnythingModel(tiny_config(PRIOR_INPUT_CHANNELS))).eval()
    averaged = FlipAveragedCanonical(model).eval()
    x = inputs()
    mirrored = torch.flip(x, dims=[-1])
    mirrored[:, 3] *= -1.0  # a mirrored face's prior has its canonical x negated
    out, out_of_mirror = averaged(x), averaged(mirrored)
    flip_back = torch.tensor([-1.0, 1.0, 1.0]).view(3, 1, 1)
    torch.testing.assert_close(
        torch.flip(out_of_mirror["canonical"], dims=[-1]) * flip_back, out["canonical"], atol=1e-5, rtol=0
    )


def test_prior_channels_encode_the_maps_and_a_missing_prior_is_all_zero():
    assert not prior_input_channels(None, 8).any()
    coverage = np.zeros((8, 8), bool)
    coverage[2:6, 2:6] = True
    canonical = np.where(coverage[..., None], np.float32(0.25), np.nan).astype(np.float32)
    relative = np.where(coverage, np.float32(np.e), np.nan).astype(np.float32)
    channels = prior_input_channels(PriorMaps(canonical, relative, coverage, 0.1), 8)
    np.testing.assert_allclose(channels[coverage, :3], 0.25)
    np.testing.assert_allclose(channels[coverage, 3], 1.0, rtol=1e-6)
    np.testing.assert_array_equal(channels[..., 4], coverage.astype(np.float32))
    assert (channels[..., 5] == 1).all() and not channels[~coverage, :4].any()
    stacked = with_prior_channels(np.zeros((2, 3, 8, 8), np.float32), [None, PriorMaps(canonical, relative, coverage, 0.1)])
    assert stacked.shape == (2, 9, 8, 8) and not stacked[0].any() and stacked[1, 8].all()
    with pytest.raises(ValueError, match="for a 16 px crop"):
        prior_input_channels(PriorMaps(canonical, relative, coverage, 0.1), 16)


def _prior_error(batch: dict[str, np.ndarray]) -> float:
    errors = []
    for i in range(len(batch["image"])):
        both = batch["mask"][i].astype(bool) & np.isfinite(batch["canonical"][i]).all(-1)
        both &= batch["prior"][i][..., 4] > 0
        errors.append(np.linalg.norm(batch["prior"][i][both, :3] - batch["canonical"][i][both], axis=-1).mean())
    return float(np.mean(errors))


def test_training_priors_agree_with_the_ground_truth_and_their_error_follows_the_strength(generator_batch):
    errors = {}
    for name, noise in (
        ("exact", EXACT),
        ("weak", replace(PriorNoiseConfig(absent_probability=0.0), strength_range=(0.5, 0.5))),
        ("strong", replace(PriorNoiseConfig(absent_probability=0.0), strength_range=(4.0, 4.0))),
    ):
        batch = {k: v.copy() for k, v in generator_batch.items()}
        add_prior_channels(batch, np.random.default_rng(0), noise)
        assert "landmarks" not in batch and batch["prior"].shape == (6, 128, 128, PRIOR_INPUT_CHANNELS)
        assert (batch["prior"][..., 5] == 1).all()
        errors[name] = _prior_error(batch)
    assert errors["exact"] < 0.02, errors
    assert errors["exact"] < errors["weak"] < errors["strong"], errors
    absent = {k: v.copy() for k, v in generator_batch.items()}
    add_prior_channels(absent, np.random.default_rng(0), replace(EXACT, absent_probability=1.0))
    assert not absent["prior"].any()


def test_a_window_shares_one_prior_draw_and_bad_noise_settings_are_refused():
    windows = FaceSequenceGenerator(SynthConfig(), seed=2, split="train").sample_crop_windows(4, 3, size=64)
    assert windows["landmarks"].shape == (4, 3, 468, 3)
    add_prior_channels(windows, np.random.default_rng(1), PriorNoiseConfig(absent_probability=0.5))
    present = windows["prior"][..., 5].max(axis=(2, 3))  # (B, T)
    assert (present == present[:, :1]).all()
    with pytest.raises(ValueError, match="absent_probability"):
        PriorNoiseConfig(absent_probability=1.5)
    with pytest.raises(ValueError, match="strength_range"):
        PriorNoiseConfig(strength_range=(2.0, 1.0))


def test_flip_and_warp_move_the_prior_with_the_image(generator_batch):
    batch = {k: v.copy() for k, v in generator_batch.items()}
    add_prior_channels(batch, np.random.default_rng(0), EXACT)
    original = batch["prior"].copy()
    flip_horizontal(batch, np.array([True, False, False, False, False, False]))
    np.testing.assert_array_equal(batch["prior"][0, :, ::-1, 1:], original[0, :, :, 1:])
    np.testing.assert_array_equal(batch["prior"][0, :, ::-1, 0], -original[0, :, :, 0])
    np.testing.assert_array_equal(batch["prior"][1], original[1])
    shift = np.array([[1.0, 0.0, 10.0], [0.0, 1.0, -6.0], [0.0, 0.0, 1.0]])
    warp_sample(batch, 2, shift)
    np.testing.assert_array_equal(batch["prior"][2, 20:100, 30:110, :5], original[2, 26:106, 20:100, :5])
    assert not batch["prior"][2, :, :10, :5].any(), "pixels from outside the crop have a prior"
    assert (batch["prior"][2, ..., 5] == 1).all(), "the present flag must cover the whole crop"
    assert _prior_error(batch) < 0.03  # still aligned with the (equally moved) ground truth


@pytest.mark.slow
def test_a_prior_run_trains_reports_both_held_out_errors_and_reloads(tmp_path):
    base = FaceAnythingModel(tiny_config())
    from face_anything_ros.model import save_model

    save_model(base, tmp_path / "base.pt", {})
    summary = train(
        TrainConfig(
            out=str(tmp_path / "run"),
            steps=2,
            batch=2,
            image_size=SIZE,
            workers=0,
            heldout_crops=4,
            init_weights=str(tmp_path / "base.pt"),
            prior_input=True,
        )
    )
    assert summary["steps"] == 2
    assert summary["heldout"]["canonical_error"] > 0 and summary["heldout"]["canonical_error_no_prior"] > 0
    tuned = load_model(tmp_path / "run" / "model.pt")
    assert tuned.config.prior_channels == PRIOR_INPUT_CHANNELS


def test_the_pipeline_feeds_a_prior_model_the_face_meshs_prior():
    from face_anything_ros.offline.sample import sample_frames
    from face_anything_ros.runtime.config import PipelineConfig
    from face_anything_ros.runtime.pipeline import FacePipeline

    frames, intrinsics = sample_frames(2)
    config = PipelineConfig.from_dict({"backend": {"name": "eager"}})
    torch.manual_seed(0)
    plain = FaceAnythingModel(tiny_config()).eval()
    with torch.no_grad():
        plain.decoder.head[-1].bias[4] = 10.0  # mask logit: every crop pixel is face, so maps get pasted
    results = {}
    for name, model in (("plain", plain), ("grown", with_prior_input(plain).eval())):
        pipeline = FacePipeline(config, model=model)
        results[name] = [pipeline.process(frame, intrinsics) for frame in frames]
        if name == "grown":
            assert pipeline.mesh_prior is not None and pipeline.mesh_prior.used >= len(frames)
            assert not pipeline.mesh_prior.drops
        pipeline.close()
    for plain_result, grown_result in zip(results["plain"], results["grown"], strict=True):
        assert len(grown_result.faces) == len(plain_result.faces) >= 1
        assert np.isfinite(plain_result.canonical).all(-1).sum() > 1000
        # the same faces and maps, up to the gate's small start (sigmoid(-3) of the way to the prior)
        np.testing.assert_allclose(grown_result.canonical, plain_result.canonical, atol=0.05)
    woken = FacePipeline(config, model=wake_prior_branch(with_prior_input(plain), std=0.01).eval())
    changed = woken.process(frames[0], intrinsics)
    woken.close()
    face = np.isfinite(changed.canonical).all(-1) & np.isfinite(results["grown"][0].canonical).all(-1)
    assert np.abs(changed.canonical[face] - results["grown"][0].canonical[face]).max() > 1e-3


def test_training_priors_can_come_from_the_real_face_mesh_on_the_rendered_crops(generator_batch):
    from face_anything_ros.training.prior_inputs import FaceMeshLandmarks

    mesh = FaceMeshLandmarks()
    try:
        found = mesh(generator_batch["image"], generator_batch["landmarks"])
        blank = mesh(np.zeros((1, 128, 128, 3), np.uint8), generator_batch["landmarks"][:1])
    finally:
        mesh.close()
    assert found.shape == generator_batch["landmarks"].shape and np.isnan(blank).all()
    hits = np.isfinite(found).all(axis=(1, 2))
    assert hits.any(), "the face mesh found none of the generated faces"
    xy_error = np.linalg.norm(found[hits, :, :2] - generator_batch["landmarks"][hits, :, :2], axis=-1)
    assert 0.1 < np.median(xy_error) < 15.0  # real landmarks: close, not exact
    batches = {}
    for share in (0.0, 1.0):
        batch = {k: v.copy() for k, v in generator_batch.items()} | {"mesh_landmarks": found}
        add_prior_channels(batch, np.random.default_rng(0), replace(EXACT, face_mesh_probability=share))
        batches[share] = batch
    assert "mesh_landmarks" not in batches[1.0]
    differs = [not np.array_equal(batches[0.0]["prior"][i], batches[1.0]["prior"][i]) for i in range(6)]
    np.testing.assert_array_equal(differs, hits)  # the mesh's prior where it found the face, else exact

"""Forward shapes, value ranges and exportability of FaceAnythingModel."""

from __future__ import annotations

import pytest
import torch

from face_anything_ros.model import FaceAnythingModel, ModelConfig, get_config


@pytest.fixture(scope="module")
def model() -> FaceAnythingModel:
    torch.manual_seed(0)
    return FaceAnythingModel(get_config("small")).eval()


def test_single_frame_outputs_have_contract_shapes_and_ranges(model):
    images = torch.rand(2, 3, 128, 128)
    with torch.inference_mode():
        out = model(images)
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "depth": (2, 1, 128, 128),
        "canonical": (2, 3, 128, 128),
        "mask_logits": (2, 1, 128, 128),
        "confidence": (2, 1, 128, 128),
    }
    assert (out["depth"] > 0).all() and (out["confidence"] > 0).all()
    assert out["canonical"].abs().max() <= model.config.canonical_range


def test_multi_frame_mode_keeps_time_axis_and_mixes_frames(model):
    images = torch.rand(1, 3, 3, 96, 96)
    with torch.inference_mode():
        out = model(images)
        assert tuple(out["canonical"].shape) == (1, 3, 3, 96, 96)
        changed = images.clone()
        changed[0, 2] = torch.rand(3, 96, 96)
        out_changed = model(changed)
    # cross-frame attention: editing frame 2 changes the prediction for frame 0
    assert not torch.allclose(out["canonical"][0, 0], out_changed["canonical"][0, 0])


def test_single_frame_equals_window_of_one(model):
    images = torch.rand(2, 3, 64, 64)
    with torch.inference_mode():
        single = model(images)
        window = model(images[:, None])
    torch.testing.assert_close(single["depth"], window["depth"][:, 0])


def test_torch_export_matches_eager(model):
    images = torch.rand(1, 3, 128, 128)
    exported = torch.export.export(model, (images,))
    with torch.inference_mode():
        eager = model(images)
        traced = exported.module()(images)
    torch.testing.assert_close(traced["canonical"], eager["canonical"], atol=1e-5, rtol=1e-4)


def test_onnx_export_runs_in_onnxruntime(model, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    images = torch.rand(1, 3, 128, 128)
    path = tmp_path / "model.onnx"
    torch.onnx.export(
        model,
        (images,),
        str(path),
        input_names=["images"],
        output_names=list(model(images)),
        opset_version=17,
        dynamo=False,
    )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    canonical = session.run(["canonical"], {"images": images.numpy()})[0]
    with torch.inference_mode():
        expected = model(images)["canonical"].numpy()
    assert abs(canonical - expected).max() < 1e-4


def test_config_rejects_bad_sizes():
    with pytest.raises(ValueError):
        ModelConfig(image_size=100)
    with pytest.raises(ValueError):
        get_config("huge")


def test_folded_batchnorm_equals_plain_batchnorm():
    from face_anything_ros.model.encoder import EfficientNetLiteEncoder

    torch.manual_seed(3)
    encoder = EfficientNetLiteEncoder("lite0")
    for module in encoder.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
    images = torch.rand(2, 3, 64, 64)
    encoder.eval()
    with torch.inference_mode():
        folded = encoder(images)[-1]
        x = torch.nn.functional.relu6(encoder._bn0(encoder._conv_stem(images)))
        for block in encoder._blocks:
            y = x
            if block.has_expand:
                y = torch.nn.functional.relu6(block._bn0(block._expand_conv(y)))
            y = torch.nn.functional.relu6(block._bn1(block._depthwise_conv(y)))
            y = block._bn2(block._project_conv(y))
            x = x + y if block.residual else y
    torch.testing.assert_close(folded, x, atol=1e-4, rtol=1e-4)

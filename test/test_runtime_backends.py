"""Backends: automatic order, parity with eager on the real architecture, caching, fallback."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from face_anything_ros.model import FaceAnythingModel, ModelConfig
from face_anything_ros.runtime.backends.base import (
    OUTPUT_NAMES,
    BackendUnavailable,
    InferenceBackend,
    model_hash,
)
from face_anything_ros.runtime.backends.eager import EagerBackend
from face_anything_ros.runtime.backends.selection import BackendChain, build_backend, candidate_order
from face_anything_ros.runtime.backends.tensorrt import engine_cache_key
from face_anything_ros.runtime.config import BackendConfig

# fp32 backends must match eager to this absolute error on every output (stated in README).
FP32_ATOL = 1e-4
SIZE = 128
SMALL_SIZE = 64


# The fallback/caching logic tests use the same architecture at a reduced size (fast on a busy CPU);
# parity is checked on the default size.
SMALL = ModelConfig(
    name="test", embed_dim=48, depth=2, num_heads=2, mlp_ratio=2.0, decoder_dim=16, image_size=64
)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return FaceAnythingModel(ModelConfig()).eval()


@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(0)
    return FaceAnythingModel(SMALL).eval()


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("backend-cache")


@pytest.fixture
def config(shared_cache):
    return BackendConfig(device="cpu", cache_dir=str(shared_cache))


def crops(batch, seed=0, size=SIZE):
    return np.random.default_rng(seed).random((batch, 3, size, size), dtype=np.float32)


def test_automatic_order_per_device():
    assert candidate_order("auto", torch.device("cpu")) == ["onnxruntime", "eager"]
    assert candidate_order("auto", torch.device("cuda")) == ["tensorrt", "compile", "onnxruntime", "eager"]
    assert candidate_order("compile", torch.device("cpu")) == ["compile", "onnxruntime", "eager"]


def test_cpu_default_is_onnxruntime_and_matches_eager(model, config):
    chain = BackendChain(model, config, SIZE)
    assert chain.name == "onnxruntime"
    reference = EagerBackend(model, torch.device("cpu"), config.batch_buckets)
    for batch in (1, 3):  # the batch axis is dynamic
        images = crops(batch, seed=batch)
        expected, actual = reference(images), chain(images)
        for name in OUTPUT_NAMES:
            assert actual[name].shape == expected[name].shape == (batch, expected[name].shape[1], SIZE, SIZE)
            np.testing.assert_allclose(actual[name], expected[name], atol=FP32_ATOL, err_msg=name)


def test_onnx_export_is_cached_by_model_hash_and_leaves_the_model_in_eval_mode(small_model, tmp_path):
    config = BackendConfig(device="cpu", cache_dir=str(tmp_path))
    BackendChain(small_model, config, SMALL_SIZE)
    assert not any(m.training for m in small_model.modules())  # exporters restore train mode if unwrapped
    files = list(config.cache_path.rglob("*.onnx"))
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    BackendChain(small_model, config, SMALL_SIZE)
    assert files[0].stat().st_mtime_ns == stamp


def test_onnxruntime_threads_sleep_between_runs_unless_spin_wait_is_asked_for(small_model, config):
    from dataclasses import replace

    def allows_spinning(backend_config: BackendConfig) -> str:
        digest = model_hash(small_model)
        backend = build_backend(
            "onnxruntime", small_model, torch.device("cpu"), backend_config, SMALL_SIZE, digest
        )
        options = backend._session.get_session_options()
        try:
            return options.get_session_config_entry("session.intra_op.allow_spinning")
        except Exception:  # not set: onnxruntime's own default, which spins
            return "default"

    assert allows_spinning(config) == "0"
    assert allows_spinning(replace(config, cpu_spin_wait=True)) == "default"


def test_model_hash_changes_with_any_weight(small_model):
    other = FaceAnythingModel(SMALL).eval()
    other.load_state_dict(small_model.state_dict())
    assert model_hash(other) == model_hash(small_model)
    with torch.no_grad():
        next(other.parameters()).view(-1)[0] += 1e-3
    assert model_hash(other) != model_hash(small_model)


def test_tensorrt_is_unavailable_here_and_requesting_it_falls_back(small_model, config, caplog):
    with pytest.raises(BackendUnavailable):
        build_backend("tensorrt", small_model, torch.device("cpu"), config, SMALL_SIZE, "digest")
    config.name = "tensorrt"
    with caplog.at_level(logging.WARNING):
        chain = BackendChain(small_model, config, SMALL_SIZE)
    assert chain.name == "onnxruntime"
    assert "tensorrt" in caplog.text and "falling back" in caplog.text


def test_engine_cache_key_depends_on_every_ingredient():
    base = dict(
        digest="abc",
        input_shapes={"min": (1, 3, 128, 128), "max": (50, 3, 128, 128)},
        precision="fp16",
        gpu_name="NVIDIA H100",
        compute_capability=(9, 0),
        versions={"torch": "2.13.0", "torch_tensorrt": "2.13.0", "tensorrt": "10.9"},
    )
    key = engine_cache_key(**base)
    assert engine_cache_key(**base) == key
    changes = [
        {"digest": "abd"},
        {"input_shapes": {"min": (1, 3, 160, 160), "max": (50, 3, 160, 160)}},
        {"precision": "fp32"},
        {"gpu_name": "Orin"},
        {"compute_capability": (8, 7)},
        {"versions": {"torch": "2.13.0", "torch_tensorrt": "2.13.1", "tensorrt": "10.9"}},
    ]
    for change in changes:
        assert engine_cache_key(**(base | change)) != key, change


class _Misbehaving(InferenceBackend):
    """A backend wrapper that breaks in a chosen way (stands in for a broken library build)."""

    def __init__(self, model, mode):
        super().__init__([1])
        self.name = f"broken-{mode}"
        self._eager = EagerBackend(model, torch.device("cpu"), [1])
        self._mode = mode
        self.calls = 0

    def _run(self, images):
        self.calls += 1
        if self._mode == "load":
            raise RuntimeError("cannot load")
        outputs = self._eager(images)
        if self._mode == "wrong":
            outputs["depth"] = outputs["depth"] + 0.5
        if self._mode == "runtime" and self.calls > 1:  # passes the probe, fails later
            raise RuntimeError("device lost")
        if self._mode == "nan" and self.calls > 1:
            outputs["canonical"][:] = np.nan
        return outputs


@pytest.mark.parametrize("mode", ["load", "wrong"])
def test_a_backend_that_fails_or_disagrees_with_eager_is_replaced(small_model, config, mode, caplog):
    def builder(name, model, *args):
        if name == "onnxruntime":
            return _Misbehaving(small_model, mode)
        return build_backend(name, model, *args)

    with caplog.at_level(logging.WARNING):
        chain = BackendChain(small_model, config, SMALL_SIZE, builder=builder)
    assert chain.name == "eager"
    assert chain.failures and chain.failures[0].startswith("onnxruntime")
    assert "falling back" in caplog.text


@pytest.mark.parametrize("mode", ["runtime", "nan"])
def test_a_backend_failing_at_run_time_falls_back_and_still_answers(small_model, config, mode, caplog):
    def builder(name, model, *args):
        return _Misbehaving(small_model, mode) if name == "onnxruntime" else build_backend(name, model, *args)

    chain = BackendChain(small_model, config, SMALL_SIZE, builder=builder)
    assert chain.name.startswith("broken")
    images = crops(1, size=SMALL_SIZE)
    with caplog.at_level(logging.WARNING):
        outputs = chain(images)
    assert chain.name == "eager"
    assert "failed at run time" in caplog.text
    expected = EagerBackend(small_model, torch.device("cpu"), [1])(images)
    np.testing.assert_allclose(outputs["canonical"], expected["canonical"], atol=FP32_ATOL)


def test_eager_failure_is_an_error_not_a_silent_result(small_model, config):
    config.name = "eager"
    chain = BackendChain(small_model, config, SMALL_SIZE)
    with pytest.raises(ValueError, match="empty batch"):
        chain(np.zeros((0, 3, SMALL_SIZE, SMALL_SIZE), dtype=np.float32))


def test_bucketed_backends_pad_and_trim_the_batch(small_model):
    class Bucketed(EagerBackend):
        uses_buckets = True

        def _run(self, images):
            self.seen = images.shape[0]
            return super()._run(images)

    backend = Bucketed(small_model, torch.device("cpu"), [1, 2, 4, 8])
    outputs = backend(crops(3, size=SMALL_SIZE))
    assert backend.seen == 4
    assert outputs["depth"].shape[0] == 3


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error")
def test_asking_for_cuda_without_cuda_is_a_clear_error(small_model, shared_cache):
    with pytest.raises(BackendUnavailable, match="CUDA is not available"):
        BackendChain(small_model, BackendConfig(device="cuda", cache_dir=str(shared_cache)), SMALL_SIZE)

"""torch.compile backend: matches eager on the real architecture (reduced size, so compiling fits a minute).

The default-size model's parity is also enforced at every start by the backend probe
(``backends.selection.PARITY_ATOL``), so a compile that disagrees is never used.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from face_anything_ros.model import FaceAnythingModel, ModelConfig
from face_anything_ros.runtime.backends.base import OUTPUT_NAMES
from face_anything_ros.runtime.backends.eager import EagerBackend
from face_anything_ros.runtime.backends.selection import BackendChain
from face_anything_ros.runtime.config import BackendConfig

FP32_ATOL = 1e-4
SIZE = 64
REDUCED = ModelConfig(
    name="test", embed_dim=48, depth=2, num_heads=2, mlp_ratio=2.0, decoder_dim=16, image_size=SIZE
)


@pytest.mark.slow
def test_compiled_model_matches_eager_and_pads_to_buckets(tmp_path):
    torch.manual_seed(0)
    model = FaceAnythingModel(REDUCED).eval()
    # buckets [2, 50]: the probe (batch 2) and a batch of 1 (padded to 2) share one compiled shape
    config = BackendConfig(name="compile", device="cpu", cache_dir=str(tmp_path), batch_buckets=[2, 50])
    chain = BackendChain(model, config, SIZE)
    assert chain.name == "compile", chain.failures
    images = np.random.default_rng(3).random((1, 3, SIZE, SIZE), dtype=np.float32)
    expected = EagerBackend(model, torch.device("cpu"), [1])(images)
    actual = chain(images)
    for name in OUTPUT_NAMES:
        assert actual[name].shape == expected[name].shape
        np.testing.assert_allclose(actual[name], expected[name], atol=FP32_ATOL, err_msg=name)

"""Mirror averaging of the canonical map on the shipped model: exact equivariance and pass-through."""

from __future__ import annotations

import torch

from face_anything_ros.model import load_model
from face_anything_ros.model.flip_average import FlipAveragedCanonical

MIRROR = torch.tensor([-1.0, 1.0, 1.0]).view(3, 1, 1)


def _crops(*shape: int) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(3))


@torch.no_grad()
def test_canonical_is_the_mean_of_direct_and_mirrored_back_and_the_rest_is_direct():
    model = load_model(device="cpu").eval()
    averaged = FlipAveragedCanonical(model).eval()
    images = _crops(2, 3, 64, 64)
    direct, mirrored, out = model(images), model(torch.flip(images, dims=[-1])), averaged(images)
    expected = 0.5 * (direct["canonical"] + torch.flip(mirrored["canonical"], dims=[-1]) * MIRROR)
    torch.testing.assert_close(out["canonical"], expected, atol=1e-5, rtol=0)
    for name in ("depth", "mask_logits", "confidence"):
        torch.testing.assert_close(out[name], direct[name], atol=1e-5, rtol=0)
    assert not torch.allclose(out["canonical"], direct["canonical"], atol=1e-3), "averaging changed nothing"


@torch.no_grad()
def test_averaged_canonical_is_exactly_mirror_equivariant_also_for_windows():
    averaged = FlipAveragedCanonical(load_model(device="cpu")).eval()
    windows = _crops(1, 2, 3, 64, 64)
    out, out_of_mirror = averaged(windows), averaged(torch.flip(windows, dims=[-1]))
    assert out["canonical"].shape == (1, 2, 3, 64, 64)
    torch.testing.assert_close(
        torch.flip(out_of_mirror["canonical"], dims=[-1]) * MIRROR, out["canonical"], atol=1e-5, rtol=0
    )
    assert averaged.config is not None and averaged.config.image_size > 0

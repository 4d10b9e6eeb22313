"""The generator's shape and expression deformation, restricted to the 468 template vertices.

Why: the runtime face-mesh prior (runtime/mesh_prior.py) fits the template to MediaPipe's 468
landmarks with the very deformation space the training faces were drawn from, but the runtime
must not import the generator. This module linearises that space at the template vertices
(identity bumps, structured identity modes, per-axis head scales, blendshapes, the jaw hinge) and
writes it to a small asset the runtime reads; ``python -m face_anything_ros.synth.landmark_basis``
regenerates it (a test checks the shipped file matches this code).

Each mode is scaled by the generator's prior standard deviation of its coefficient, so a fit can
use one isotropic ridge penalty (unit prior on every coefficient).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from face_anything_ros.core.face_template import load_face_template, template_center_cm
from face_anything_ros.synth.config import SynthConfig
from face_anything_ros.synth.deform import (
    EXPRESSIONS,
    IDENTITY_MODES,
    JAW_HINGE_CM,
    build_deformation_basis,
)

ASSET_NAME = "landmark_deformation_basis.npz"
DEFAULT_ASSET = Path(__file__).resolve().parents[1] / "assets" / "face_template" / ASSET_NAME
# std of a coefficient drawn uniformly from [0, 1] (expressions, jaw) or [-1, 1] (identity modes)
_UNIT_UNIFORM_STD = 1.0 / np.sqrt(12.0)
_SYMMETRIC_UNIFORM_STD = 1.0 / np.sqrt(3.0)


def _along_each_axis(weight: np.ndarray) -> list[np.ndarray]:
    """Three (V, 3) displacement fields: ``weight`` along x, along y and along z."""
    return [weight[:, None] * axis for axis in np.eye(3)]


def landmark_modes(config: SynthConfig | None = None) -> tuple[np.ndarray, tuple[str, ...]]:
    """(M, 468, 3) cm displacement per unit-prior coefficient and the mode names."""
    cfg = config or SynthConfig()
    basis = build_deformation_basis(cfg.subdivisions)
    template = load_face_template()
    count = template.num_vertices  # the render mesh's first vertices are the template's
    points = template.vertices_cm
    modes: list[np.ndarray] = []
    names: list[str] = []
    weights = basis.anchor_weights[:count]
    for anchor in range(weights.shape[1]):
        modes.extend(_along_each_axis(weights[:, anchor] * cfg.identity_bump_cm))
        names.extend(f"bump_{anchor}_{axis}" for axis in "xyz")
    for index, name in enumerate(IDENTITY_MODES):
        modes.append(basis.identity_modes[index, :count] * _SYMMETRIC_UNIFORM_STD)
        names.append(f"identity_{name}")
    centred = points - template_center_cm(points)
    for axis, field in enumerate(_along_each_axis(np.ones(count))):
        modes.append(field * centred[:, axis, None] * cfg.axis_scale_std)  # per-axis head scale
        names.append(f"scale_{'xyz'[axis]}")
    for index, name in enumerate(EXPRESSIONS):
        if name == "jaw_open":  # a rotation, linearised below
            continue
        # blinks also carry the per-identity eye openness (a negative blink), so a wider prior
        std = 0.5 if name.startswith("blink") else _UNIT_UNIFORM_STD * cfg.expression_strength
        modes.append(basis.blendshapes[index, :count] * std)
        names.append(f"expression_{name}")
    jaw = basis.jaw_weight[:count]
    rel = points - JAW_HINGE_CM
    hinge = np.stack([np.zeros(count), -rel[:, 2], rel[:, 1]], axis=1) * jaw[:, None]
    modes.append(hinge * np.deg2rad(cfg.jaw_open_max_deg) * _UNIT_UNIFORM_STD)
    names.append("expression_jaw_open")
    return np.stack(modes).astype(np.float32), tuple(names)


def write_asset(path: Path = DEFAULT_ASSET) -> Path:
    modes, names = landmark_modes()
    np.savez_compressed(path, modes=modes, names=np.array(names))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_ASSET)
    args = parser.parse_args()
    write_asset(args.out)


if __name__ == "__main__":
    main()

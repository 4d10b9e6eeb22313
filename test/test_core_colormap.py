"""core/colormap.py: one depth colour convention (near blue, far red, unknown black) for every picture."""

from __future__ import annotations

import numpy as np

from face_anything_ros.core.colormap import colorize_depth


def test_near_is_blue_far_is_red_and_unknown_is_black():
    depth = np.array([[0.5, 1.0, np.nan]], dtype=np.float32)
    rgb = colorize_depth(depth)
    near, far, unknown = rgb[0]
    assert near[2] > near[0] and far[0] > far[2]
    assert unknown.tolist() == [0, 0, 0]


def test_valid_mask_and_fixed_range_limit_what_is_coloured():
    depth = np.full((2, 2), 1.0, dtype=np.float32)
    valid = np.array([[True, False], [False, False]])
    rgb = colorize_depth(depth, valid=valid, near_far=(0.0, 2.0))
    assert rgb[0, 0].any() and not rgb[0, 1].any() and not rgb[1].any()
    assert not colorize_depth(np.full((3, 3), np.nan)).any()

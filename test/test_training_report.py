"""The held-out report of a weights file: clean and degraded crops, and what the confidence head says."""

from __future__ import annotations

import json
import math

from face_anything_ros.training import report


def test_report_scores_clean_and_degraded_crops_and_the_uncertainty_head(tmp_path):
    out = tmp_path / "report.json"
    assert report.main(["--crops", "16", "--threads", "1", "--degraded", "--json", str(out)]) == 0
    metrics = json.loads(out.read_text())
    for scores in (metrics, metrics["degraded"]):
        assert scores["num_crops"] == 16
        assert 0.5 < scores["mask_iou"] <= 1.0 and 0.0 < scores["canonical_error"] < 0.5
    # the augmentation makes the crops harder: the same weights do worse on them
    assert metrics["degraded"]["canonical_error"] > metrics["canonical_error"]
    head = metrics["uncertainty"]
    assert head["confidence_median"] >= 1.0 and head["occluded_pixels"] > 0
    assert all(
        math.isfinite(head[k])
        for k in ("uncertainty_clear", "uncertainty_occluded", "error_rank_correlation")
    )
    assert report.main(["--weights", str(tmp_path / "missing.pt")]) == 1

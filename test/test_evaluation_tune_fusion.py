"""``tune_fusion`` on a real (tiny) synthetic train sequence with the shipped model: it scores candidates,
writes its JSON, and ``--lookup-bias-px`` really makes the lookup wrong (the clean score is better)."""

from __future__ import annotations

import json

from face_anything_ros.cli.main import main as cli_main
from face_anything_ros.evaluation.tune_fusion import main as tune_main


def test_tuning_scores_candidates_and_a_biased_lookup_scores_worse(tmp_path):
    data = tmp_path / "train"
    rc = cli_main(
        [
            *("synth", "--out", str(data), "--sequences", "1", "--frames", "6", "--size", "192"),
            *("--split", "train", "--seed", "41"),
        ]
    )
    assert rc == 0
    scores = {}
    for bias in (0.0, 6.0):
        out = tmp_path / f"tune_{bias}.json"
        args = [str(data), "--out", str(out), "--params", "gate_chi2", "--lookup-bias-px", str(bias)]
        assert tune_main(args) == 0
        result = json.loads(out.read_text())
        assert len(result["history"]) == 3  # the defaults and the two other gates
        assert {"delta_avg", "epe_median_px"} <= set(result["history"][0])
        scores[bias] = result["history"][0]  # the defaults' score
    assert scores[6.0]["epe_median_px"] > scores[0.0]["epe_median_px"]

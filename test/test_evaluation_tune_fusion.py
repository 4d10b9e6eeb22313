"""``tune_fusion`` on a real (tiny) synthetic train sequence with the shipped model: it scores candidates,
writes its JSON, and ``--lookup-bias-px`` really makes the lookup wrong (the clean score is better)."""

from __future__ import annotations

import json

import pytest

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


@pytest.mark.parametrize("bad", ["-1", "nan"])
def test_a_bad_lookup_bias_is_refused_before_any_work(tmp_path, bad, capsys):
    with pytest.raises(SystemExit) as stop:
        tune_main([str(tmp_path), "--out", str(tmp_path / "t.json"), "--lookup-bias-px", bad])
    assert stop.value.code == 2
    assert "--lookup-bias-px must be a finite number >= 0" in capsys.readouterr().err

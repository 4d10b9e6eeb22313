"""``face-anything stress``: bad arguments give one clear line and exit code 2 before any node starts."""

from __future__ import annotations

import pytest

from face_anything_ros.cli.main import main


@pytest.mark.parametrize(
    "argv,message",
    [
        (["stress", "fuzz", "--cases", "0"], "error: --cases must be at least 1"),
        (["stress", "soak", "--frames", "0"], "error: need --frames >= 1"),
        (["stress", "soak", "--size", "10x10"], "error: need --frames >= 1"),
        (["stress", "soak", "--max-faces", "51"], "error: need --frames >= 1"),
        (
            ["stress", "faults", "--weights", "/nonexistent/w.pt"],
            "error: weights file /nonexistent/w.pt not found",
        ),
    ],
)
def test_bad_arguments_are_one_line_errors_with_exit_code_2(argv, message, capsys, tmp_path):
    assert main([*argv, "--workdir", str(tmp_path)]) == 2
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith(message), out


def test_stress_without_a_job_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["stress"])
    assert exit_info.value.code == 2

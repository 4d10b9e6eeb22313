"""bench: report formatting, BENCHMARKS.md block writing, frame composition, CLI argument errors."""

from __future__ import annotations

import numpy as np

from face_anything_ros.cli.main import main
from face_anything_ros.devtools import bench


def case(fps_total_ms=40.0):
    stages = dict.fromkeys(bench.BENCH_STAGES, 1.0) | {"total": fps_total_ms}
    return bench.CaseResult("eager (fp32)", 640, 480, 1, 10, stages, 45.0, 1000 / fps_total_ms, 1.0, 500.0)


def test_report_has_a_row_per_case_and_checks_the_cpu_target():
    report = bench.BenchReport(machine="test machine", weights="w", face_source="s", cases=[case(40.0)])
    text = bench.format_report(report, "2026-01-01", "face-anything bench")
    assert "| eager (fp32) | 640x480 | 1 (1.00) |" in text
    assert "met (25.0 fps" in text
    slow = bench.format_report(bench.BenchReport("m", "w", "s", cases=[case(80.0)]), "d", "c")
    assert "NOT met (12.5 fps" in slow


def test_block_writer_prepends_and_leaves_other_blocks_alone(tmp_path):
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(
        "# B\n<!-- BEGIN model (owner: model) -->\nkeep\n<!-- END model -->\n"
        "<!-- BEGIN runtime (owner: runtime) -->\nold run\n<!-- END runtime -->\ntail\n"
    )
    bench.write_benchmarks_block(path, "runtime", "new run")
    text = path.read_text()
    assert "keep" in text and text.endswith("tail\n")
    assert text.index("new run") < text.index("old run") < text.index("<!-- END runtime -->")


def test_composed_frames_have_the_requested_size_and_move():
    patch = np.random.default_rng(0).integers(0, 255, (90, 90, 3), dtype=np.uint8)
    frames = bench.compose_frames([patch], 4, 1280, 720, num_frames=5)
    assert len(frames) == 5 and frames[0].shape == (720, 1280, 3) and frames[0].dtype == np.uint8
    assert not np.array_equal(frames[0], frames[1])
    decoded = bench.decode_frame(bench.encode_frames(frames[:1])[0])
    np.testing.assert_array_equal(decoded, frames[0])


def test_bad_arguments_exit_with_a_one_line_error(capsys):
    assert main(["bench", "--sizes", "10x10"]) == 2
    assert "bad size" in capsys.readouterr().err
    assert main(["bench", "--backends", "tpu"]) == 2
    assert main(["bench", "--faces", "0"]) == 2


def test_pipeline_config_is_applied_under_the_bench_settings_and_a_bad_one_is_one_line(tmp_path, capsys):
    import argparse

    from face_anything_ros.cli.commands.bench import _case_config
    from face_anything_ros.runtime.config import PipelineConfig

    path = tmp_path / "lk.yaml"
    path.write_text("runtime:\n  fusion: {flow_method: lk}\n  tracking: {dense_vertices: false}\n")
    args = argparse.Namespace(device="cpu", cpu_threads=1)
    config = _case_config(PipelineConfig.from_yaml(path), "eager", args, 8)
    assert config.fusion.flow_method == "lk" and config.backend.name == "eager"
    assert config.tracking.dense_vertices and config.detection.max_faces == 8  # the bench's own settings win
    bad = tmp_path / "bad.yaml"
    bad.write_text("fusion: {flow_method: magic}\n")
    assert main(["bench", "--pipeline-config", str(bad)]) == 2
    assert "fusion.flow_method" in capsys.readouterr().err

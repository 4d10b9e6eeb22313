"""Evaluation output: metrics.json, a markdown table, and a tracks overlay per sequence."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np

OURS = "ours"
OURS_LOOKUP = "ours (canonical lookup only)"  # same run, tracks by canonical lookup alone (no fusion)
OURS_GT_BOXES = "ours (GT boxes)"  # same pipeline, faces from the ground-truth mask instead of the detector
# canonical lookup on the ground-truth canonical maps: the tracking plumbing's upper bound, not a method
ORACLE = "oracle: lookup on GT canonical"
# depth of ours and of the fitted template on the pixels both predict: the two cover different faces and
# pixels (the template only where MediaPipe finds a face), so only this pair compares like with like
OURS_ON_SHARED = "ours, depth on pixels template also covers"
TEMPLATE_ON_SHARED = "template, depth on pixels ours also covers"
TEMPLATE = "template"
FLOW_BASELINES = ("lk", "dis", "farneback")
# (key in the summary, column title, format)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("delta_avg", "δ_avg ↑", "{:.3f}"),
    ("epe_median_px", "EPE px ↓", "{:.2f}"),
    ("epe_gain_vs_best_flow", "EPE gain vs best flow ↑", "{:.2f}x"),
    ("occlusion_accuracy", "OA ↑", "{:.3f}"),
    ("delta_avg_after_occlusion", "δ_avg after occlusion ↑", "{:.3f}"),
    ("jitter_px", "jitter px ↓", "{:.3f}"),
    ("delta_avg_faces_lt40", "δ_avg faces < 40 px ↑", "{:.3f}"),
    ("delta_avg_faces_40_80", "δ_avg faces 40–80 px ↑", "{:.3f}"),
    ("delta_avg_faces_ge80", "δ_avg faces ≥ 80 px ↑", "{:.3f}"),
    ("absrel_aligned", "AbsRel aligned ↓", "{:.4f}"),
    ("delta105_aligned", "δ<1.05 aligned ↑", "{:.3f}"),
    ("absrel_metric", "AbsRel metric ↓", "{:.4f}"),
    ("delta105_metric", "δ<1.05 metric ↑", "{:.3f}"),
    ("depth_coverage", "depth coverage ↑", "{:.3f}"),
    ("depth_flicker_pct", "depth flicker % ↓", "{:.2f}"),
    ("canonical_error_median", "canonical error ↓", "{:.4f}"),
    ("canonical_coverage", "canonical coverage ↑", "{:.3f}"),
    ("ms_per_frame", "ms/frame ↓", "{:.1f}"),
    ("fps", "fps ↑", "{:.1f}"),
)


def best_flow_baseline(methods: dict[str, dict[str, float]]) -> str | None:
    """The flow-type baseline (LK / DIS / Farnebäck) with the lowest median EPE."""
    candidates = [
        (summary["epe_median_px"], name)
        for name, summary in methods.items()
        if name in FLOW_BASELINES and _finite(summary.get("epe_median_px"))
    ]
    return min(candidates)[1] if candidates else None


def add_ratios(methods: dict[str, dict[str, float]]) -> str | None:
    """Add ``epe_gain_vs_best_flow`` (best flow EPE / method EPE) to every method; returns the best."""
    best = best_flow_baseline(methods)
    for summary in methods.values():
        epe = summary.get("epe_median_px")
        if best is None or not _finite(epe):
            summary["epe_gain_vs_best_flow"] = float("nan")
        else:
            reference = methods[best]["epe_median_px"]
            summary["epe_gain_vs_best_flow"] = reference / epe if epe > 0 else float("inf")
    return best


def _finite(value) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _cell(value, fmt: str) -> str:
    return fmt.format(value) if _finite(value) else "–"


def markdown_table(methods: dict[str, dict[str, float]]) -> str:
    """Methods as rows, metrics as columns; columns no method has a value for are dropped."""
    columns = [c for c in COLUMNS if any(_finite(s.get(c[0])) for s in methods.values())]
    lines = [
        "| method | " + " | ".join(title for _, title, _ in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for name, summary in methods.items():
        lines.append(
            f"| {name} | " + " | ".join(_cell(summary.get(key), fmt) for key, _, fmt in columns) + " |"
        )
    return "\n".join(lines)


def per_sequence_table(per_sequence: dict[str, dict[str, dict[str, float]]], methods: list[str]) -> str:
    """Median EPE (px) and δ_avg per sequence and method."""
    lines = [
        "| sequence | " + " | ".join(f"{m} EPE / δ_avg" for m in methods) + " |",
        "|---|" + "---|" * len(methods),
    ]
    for seq, results in per_sequence.items():
        cells = []
        for m in methods:
            summary = results.get(m, {})
            cells.append(
                f"{_cell(summary.get('epe_median_px'), '{:.2f}')} / {_cell(summary.get('delta_avg'), '{:.3f}')}"
            )
        lines.append(f"| {seq} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN; null = not measured
    return value


def write_report(out_dir: Path, report: dict, markdown: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(_jsonable(report), indent=2, ensure_ascii=False))
    (out_dir / "metrics.md").write_text(markdown + "\n", encoding="utf-8")


def draw_tracks(
    frame: np.ndarray, gt: np.ndarray, gt_visible: np.ndarray, pred: np.ndarray, title: str, scale: int = 2
) -> np.ndarray:
    """One frame with ground truth (green dots) and predictions (red) joined by error lines."""
    image = cv2.resize(
        cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST
    )
    for g, p, vis in zip(gt, pred, gt_visible, strict=True):
        if not (vis and np.all(np.isfinite(g)) and np.all(np.isfinite(p))):
            continue
        gp = tuple(round(v * scale) for v in g)
        pp = tuple(round(v * scale) for v in p)
        cv2.line(image, gp, pp, (0, 255, 255), 1, cv2.LINE_AA)
        cv2.circle(image, gp, 2, (0, 255, 0), -1, cv2.LINE_AA)
        cv2.circle(image, pp, 2, (0, 0, 255), -1, cv2.LINE_AA)
    cv2.putText(image, title, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return image


def tracks_overlay(
    frames: np.ndarray,
    gt_tracks: np.ndarray,
    gt_visible: np.ndarray,
    predictions: dict[str, np.ndarray],
    path: Path,
) -> None:
    """Last frame with each method's tracks vs ground truth, side by side (BGR png)."""
    t = len(frames) - 1
    panels = [
        draw_tracks(frames[t], gt_tracks[t], gt_visible[t], tracks[t], f"{name} (t={t})")
        for name, tracks in predictions.items()
    ]
    if panels:
        cv2.imwrite(str(path), np.concatenate(panels, axis=1))

"""``face-anything evaluate``: the method and its baselines on the same sequences.

For every sequence folder (evaluation format, docs/ARCHITECTURE.md) the product's
pipeline runs on every frame; its depth is scored against ground-truth depth and its
canonical-lookup tracks against ground-truth tracks. The baselines (LK, DIS, Farnebäck,
MediaPipe mesh, fitted-template depth) run on the same frames and queries. Metrics pool
over all sequences (per-sequence results are kept too); whatever ground truth a sequence
lacks is skipped with a logged reason. Predictions are written per sequence in the
ground-truth format so an outside scorer can check them.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from face_anything_ros.evaluation import metrics as M
from face_anything_ros.evaluation.report import (
    ORACLE,
    OURS,
    OURS_GT_BOXES,
    OURS_LOOKUP,
    OURS_ON_SHARED,
    TEMPLATE,
    TEMPLATE_ON_SHARED,
    add_ratios,
    markdown_table,
    per_sequence_table,
    tracks_overlay,
    write_report,
)
from face_anything_ros.evaluation.sequence_io import (
    EvalSequence,
    SequenceError,
    load_sequence,
    write_predictions,
)

LOG = logging.getLogger(__name__)
TRACKING_BASELINES = ("lk", "dis", "farneback", "mediapipe", "mediapipe+flow")
DEPTH_BASELINES = (TEMPLATE, "flat")
ALL_BASELINES = TRACKING_BASELINES + DEPTH_BASELINES


@dataclass
class EvaluateConfig:
    out_dir: Path
    weights: Path | None = None  # None: the shipped default weights
    baselines: tuple[str, ...] = ALL_BASELINES
    max_frames: int | None = None
    device: str | None = None  # None: the pipeline's default (cuda when available)
    run_method: bool = True  # False: baselines only (`--no-model`)
    # ground-truth face boxes (from mask/) instead of the detector: "also" adds an extra row
    # where masks exist, "only" replaces the detector row, "no" never
    gt_boxes: str = "also"
    flip_average: bool = False  # the pipeline's offline mirror averaging of the canonical map
    detection_method: str | None = None  # None: the pipeline's default detector
    pipeline_config: Path | None = None  # runtime YAML (runtime: section) instead of the defaults


@dataclass
class MethodResults:
    """Everything pooled for one method over the evaluated sequences."""

    tracking: list[M.TrackingSamples] = field(default_factory=list)
    depth: list[M.DepthSamples] = field(default_factory=list)
    canonical: list[M.CanonicalSamples] = field(default_factory=list)
    frame_ms: list[float] = field(default_factory=list)
    stage_ms: list[dict[str, float]] = field(default_factory=list)  # per frame, pipeline runs only

    def summary(self) -> dict:
        result: dict = {}
        if self.tracking:
            result.update(M.summarize_tracking(M.TrackingSamples.concat(self.tracking)))
        if self.depth:
            result.update(M.summarize_depth(M.DepthSamples.concat(self.depth)))
        if self.canonical:
            result.update(M.summarize_canonical(M.CanonicalSamples.concat(self.canonical)))
        result.update(M.summarize_speed(self.frame_ms))
        if self.stage_ms:
            stages = sorted({stage for frame in self.stage_ms for stage in frame})
            result["stages_ms"] = {
                stage: float(np.mean([frame.get(stage, 0.0) for frame in self.stage_ms])) for stage in stages
            }
        return result


@dataclass
class SequencePredictions:
    """One method's predictions on one sequence (None where it predicts nothing)."""

    tracks: np.ndarray | None = None
    visible: np.ndarray | None = None
    depth: np.ndarray | None = None
    canonical: np.ndarray | None = None  # (T, H, W, 3), NaN where none (the pipeline's rows only)
    frame_ms: list[float] = field(default_factory=list)
    stage_ms: list[dict[str, float]] = field(default_factory=list)


def depth_samples(seq: EvalSequence, depth: np.ndarray) -> M.DepthSamples:
    """Depth ratios of every frame, aligned per ground-truth face (``EvalSequence.face_labels``) where a
    mask exists, and the faces' frame-to-frame depth flicker."""
    masks = seq.mask if seq.mask is not None else [None] * len(depth)
    labels = seq.face_labels if seq.face_labels is not None else [None] * len(depth)
    frames = [
        M.depth_frame_samples(d, g, m, f) for d, g, m, f in zip(depth, seq.depth, masks, labels, strict=True)
    ]
    pooled = M.DepthSamples.concat(frames)
    pooled.scale_steps = M.depth_scale_steps(frames)
    return pooled


def point_face_sides(seq: EvalSequence) -> np.ndarray | None:
    """(T, N) size of the ground-truth face under each track point (None without tracks or masks): the same
    for every method, so computed once per sequence."""
    if seq.tracks is None or seq.face_labels is None:
        return None
    return M.point_face_sides(seq.face_labels, seq.tracks)


def score(
    seq: EvalSequence, pred: SequencePredictions, sides: np.ndarray | None = None
) -> tuple[M.TrackingSamples | None, M.DepthSamples | None, M.CanonicalSamples | None]:
    """``sides``: ``point_face_sides(seq)``, for δ_avg per face size."""
    tracking = None
    if seq.tracks is not None and pred.tracks is not None:
        tracking = M.tracking_samples(
            pred.tracks, pred.visible, seq.tracks, seq.visible, seq.queries[:, 0], seq.image_hw, sides
        )
    depth = depth_samples(seq, pred.depth) if seq.depth is not None and pred.depth is not None else None
    canonical = None
    if seq.canonical is not None and pred.canonical is not None:
        canonical = M.canonical_samples(pred.canonical, seq.canonical)
    return tracking, depth, canonical


def _timed(fn: Callable, num_frames: int):
    start = time.perf_counter()
    value = fn()
    per_frame = 1000.0 * (time.perf_counter() - start) / max(num_frames, 1)
    return value, [per_frame] * num_frames


def run_baselines(seq: EvalSequence, names: tuple[str, ...]) -> dict[str, SequencePredictions]:
    """Every requested baseline on one sequence (MediaPipe landmarks shared by mesh and template)."""
    from face_anything_ros.core.camera import Intrinsics
    from face_anything_ros.evaluation.baselines.flat_depth import flat_depth
    from face_anything_ros.evaluation.baselines.flow import FlowConfig, track_flow
    from face_anything_ros.evaluation.baselines.lk import track_lk
    from face_anything_ros.evaluation.baselines.mediapipe_flow import track_mediapipe_flow
    from face_anything_ros.evaluation.baselines.mediapipe_mesh import detect_landmarks, landmarks_to_tracks
    from face_anything_ros.evaluation.baselines.template_depth import template_depth

    num_frames = len(seq.frames)
    out: dict[str, SequencePredictions] = {}
    queries = seq.queries
    landmarks, landmark_ms = (None, [])
    uses_mesh = {"mediapipe", "mediapipe+flow"} & set(names)
    if (uses_mesh and queries is not None) or (TEMPLATE in names and seq.depth is not None):
        landmarks, landmark_ms = _timed(lambda: detect_landmarks(seq.frames), num_frames)
        missing = sum(not frame_faces for frame_faces in landmarks)
        if missing:
            seq.skipped.append(
                f"mediapipe: no face in {missing} of {num_frames} frames (points held, invisible)"
            )
    for name in names:
        if name in TRACKING_BASELINES and queries is None:
            continue  # no ground-truth queries: nothing to track
        if name == "lk":
            (tracks, visible), ms = _timed(lambda: track_lk(seq.frames, queries), num_frames)
        elif name in ("dis", "farneback"):
            config = FlowConfig(method=name)
            (tracks, visible), ms = _timed(
                lambda config=config: track_flow(seq.frames, queries, config), num_frames
            )
        elif name == "mediapipe":
            (tracks, visible), ms = _timed(
                lambda: landmarks_to_tracks(landmarks, queries, num_frames), num_frames
            )
            ms = [a + b for a, b in zip(ms, landmark_ms, strict=True)]
        elif name == "mediapipe+flow":
            (tracks, visible), ms = _timed(
                lambda: track_mediapipe_flow(seq.frames, queries, landmarks), num_frames
            )
            ms = [a + b for a, b in zip(ms, landmark_ms, strict=True)]
        elif name == "flat":
            if seq.depth is None:
                continue
            # reads the ground truth, so it has no speed to report
            out[name] = SequencePredictions(depth=flat_depth(seq.depth, seq.mask, seq.face_labels))
            continue
        elif name == TEMPLATE:
            if seq.depth is None:
                continue
            camera = Intrinsics.from_mapping(seq.intrinsics)
            depth, ms = _timed(
                lambda camera=camera: template_depth(landmarks, camera, seq.image_hw), num_frames
            )
            ms = [a + b for a, b in zip(ms, landmark_ms, strict=True)]
            out[name] = SequencePredictions(depth=depth, frame_ms=ms)
            continue
        else:
            raise ValueError(f"unknown baseline {name!r}; choose from {ALL_BASELINES}")
        out[name] = SequencePredictions(tracks=tracks, visible=visible, frame_ms=ms)
    return out


def run_ours(
    seq: EvalSequence, pipeline, face_labels: np.ndarray | None = None
) -> tuple[SequencePredictions, SequencePredictions | None]:
    """Our depth, tracks and per-frame stage timings on one sequence, and the canonical-lookup-only
    tracks of the same run (None when the pipeline's fusion is off: the first is lookup-only then)."""
    from face_anything_ros.evaluation.fused_tracks import track_ours_fused
    from face_anything_ros.evaluation.method import run_pipeline, track_by_canonical_lookup

    output = run_pipeline(pipeline, seq.frames, seq.intrinsics, face_labels)
    if output.frames_without_face:
        source = "ground-truth mask" if face_labels is not None else "the pipeline's detector"
        seq.skipped.append(
            f"ours: no face from {source} in {output.frames_without_face} of {len(seq.frames)} frames"
        )
    # the first frame warms the backend up; it is not part of the speed figure
    pred = SequencePredictions(
        depth=output.depth, canonical=output.canonical, frame_ms=output.frame_ms[1:] or output.frame_ms
    )
    pred.stage_ms = output.stage_ms[1:] or output.stage_ms
    if seq.queries is None:
        return pred, None
    lookup = SequencePredictions(frame_ms=pred.frame_ms, stage_ms=pred.stage_ms)
    lookup.tracks, lookup.visible = track_by_canonical_lookup(
        output.canonical,
        output.weight,
        seq.queries,
        pipeline.config.tracking.max_canonical_distance,
        face_ids=output.face_ids,
    )
    if not pipeline.config.fusion.enabled:
        pred.tracks, pred.visible = lookup.tracks, lookup.visible
        return pred, None
    pred.tracks, pred.visible = track_ours_fused(
        output, seq.frames, seq.queries, pipeline.config, pipeline.input_size
    )
    return pred, lookup


def shared_depth_rows(predictions: dict[str, SequencePredictions]) -> dict[str, SequencePredictions]:
    """Ours and the template's depth restricted to the pixels both predict (scored only, not written)."""
    ours, template = predictions.get(OURS), predictions.get(TEMPLATE)
    if ours is None or template is None or ours.depth is None or template.depth is None:
        return {}
    shared = np.isfinite(ours.depth) & np.isfinite(template.depth)
    return {
        OURS_ON_SHARED: SequencePredictions(depth=np.where(shared, ours.depth, np.nan)),
        TEMPLATE_ON_SHARED: SequencePredictions(depth=np.where(shared, template.depth, np.nan)),
    }


def evaluate_sequence(
    seq: EvalSequence, config: EvaluateConfig, pipeline=None
) -> dict[str, SequencePredictions]:
    """Ours (when a pipeline is given) and every requested baseline on one sequence."""
    predictions: dict[str, SequencePredictions] = {}
    if pipeline is not None:
        if config.gt_boxes != "only" or seq.mask is None:
            predictions[OURS], lookup = run_ours(seq, pipeline)
            if lookup is not None:
                predictions[OURS_LOOKUP] = lookup
        if config.gt_boxes != "no" and seq.mask is not None:
            predictions[OURS_GT_BOXES] = run_ours(seq, pipeline, seq.face_labels)[0]
    predictions.update(run_baselines(seq, config.baselines))
    if seq.canonical is not None and seq.queries is not None:
        predictions[ORACLE] = run_oracle(seq)
    return predictions


def run_oracle(seq: EvalSequence) -> SequencePredictions:
    """Canonical lookup on the ground-truth canonical maps (synthetic data only): what tracking
    by lookup reaches with a perfect model, i.e. the ceiling set by the lookup itself."""
    from face_anything_ros.evaluation.method import mask_face_ids, track_by_canonical_lookup

    weight = np.all(np.isfinite(seq.canonical), axis=-1).astype(np.float32)
    face_ids = mask_face_ids(weight > 0)
    (tracks, visible), ms = _timed(
        lambda: track_by_canonical_lookup(seq.canonical, weight, seq.queries, face_ids=face_ids),
        len(seq.frames),
    )
    return SequencePredictions(tracks=tracks, visible=visible, frame_ms=ms)


def prediction_folder(out_dir: Path, seq_name: str, method: str, predictions: dict) -> Path:
    """Ours at DIR/<seq>/ (the detector run, else the ground-truth-box run), the rest below it."""
    if method == OURS or (method == OURS_GT_BOXES and OURS not in predictions):
        return out_dir / seq_name
    if method == OURS_GT_BOXES:
        return out_dir / seq_name / "ours_gt_boxes"
    if method == ORACLE:
        return out_dir / seq_name / "oracle_gt_canonical"
    if method == OURS_LOOKUP:
        return out_dir / seq_name / "ours_lookup_only"
    return out_dir / seq_name / "baselines" / method


def save_sequence_outputs(
    seq: EvalSequence, predictions: dict[str, SequencePredictions], out_dir: Path
) -> None:
    """Predictions in the ground-truth format (ours at DIR/<seq>/, baselines under baselines/) and the overlay."""
    for name, pred in predictions.items():
        write_predictions(
            prediction_folder(out_dir, seq.name, name, predictions),
            seq.frame_names,
            pred.tracks,
            pred.visible,
            seq.queries,
            pred.depth,
        )
    if seq.tracks is None:
        return
    trackers = {n: p for n, p in predictions.items() if p.tracks is not None}
    shown = {n: trackers[n].tracks for n in (OURS, OURS_GT_BOXES) if n in trackers}
    baseline_epe = {
        n: float(np.nanmedian(np.linalg.norm(p.tracks - seq.tracks, axis=-1)[seq.visible]))
        for n, p in trackers.items()
        if n not in (OURS, OURS_GT_BOXES, OURS_LOOKUP, ORACLE)
    }
    if baseline_epe:
        best = min(baseline_epe, key=baseline_epe.get)
        shown[best] = trackers[best].tracks
    tracks_overlay(seq.frames, seq.tracks, seq.visible, shown, out_dir / f"{seq.name}_tracks.png")


@dataclass
class RunState:
    """Results accumulated over the sequences of one run."""

    pooled: dict[str, MethodResults] = field(default_factory=dict)
    per_sequence: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    skipped: dict[str, list[str]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def add(self, seq: EvalSequence, predictions: dict[str, SequencePredictions]) -> None:
        self.skipped[seq.name] = list(seq.skipped)
        self.per_sequence[seq.name] = {}
        sides = point_face_sides(seq)
        for name, pred in predictions.items():
            tracking, depth, canonical = score(seq, pred, sides)
            single = MethodResults(frame_ms=list(pred.frame_ms), stage_ms=list(pred.stage_ms))
            if tracking is not None:
                single.tracking.append(tracking)
            if depth is not None:
                single.depth.append(depth)
            if canonical is not None:
                single.canonical.append(canonical)
            pooled = self.pooled.setdefault(name, MethodResults())
            pooled.tracking += single.tracking
            pooled.depth += single.depth
            pooled.canonical += single.canonical
            pooled.frame_ms += single.frame_ms
            pooled.stage_ms += single.stage_ms
            self.per_sequence[seq.name][name] = single.summary()


def evaluate(
    sequence_folders: list[Path], config: EvaluateConfig, progress: bool = True
) -> tuple[dict, str, int]:
    """Evaluate every folder; returns (report dict, markdown, number of unreadable folders)."""
    from tqdm import tqdm

    state = RunState()
    config.out_dir.mkdir(parents=True, exist_ok=True)
    pipeline, backend = None, None
    if config.run_method:
        from face_anything_ros.evaluation.method import make_pipeline

        pipeline = make_pipeline(
            config.weights,
            config.device,
            config.flip_average,
            config.detection_method,
            config.pipeline_config,
        )
        backend = pipeline.backend_description
    try:
        for folder in tqdm(sequence_folders, desc="evaluate", unit="seq", disable=not progress):
            try:
                seq = load_sequence(folder, config.max_frames)
            except SequenceError as exc:
                LOG.error("%s", exc)
                state.failures[folder.name] = str(exc)
                continue
            predictions = evaluate_sequence(seq, config, pipeline)
            state.add(seq, predictions | shared_depth_rows(predictions))
            save_sequence_outputs(seq, predictions, config.out_dir)
    finally:
        if pipeline is not None:
            pipeline.close()
    methods = {name: results.summary() for name, results in state.pooled.items()}
    best_flow = add_ratios(methods)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "weights": _weights_label(config),
        "backend": backend,
        "max_frames": config.max_frames,
        "sequences": list(state.per_sequence),
        "best_flow_baseline": best_flow,
        "methods": methods,
        "per_sequence": state.per_sequence,
        "skipped": state.skipped,
        "failures": state.failures,
    }
    markdown = build_markdown(report)
    write_report(config.out_dir, report, markdown)
    return report, markdown, len(state.failures)


def _weights_label(config: EvaluateConfig) -> str:
    if not config.run_method:
        return "none (baselines only)"
    label = str(config.weights) if config.weights else "shipped default"
    label += " + flip averaging" if config.flip_average else ""
    label += f"; detector {config.detection_method}" if config.detection_method else ""
    return label + (f"; pipeline config {config.pipeline_config}" if config.pipeline_config else "")


def build_markdown(report: dict) -> str:
    lines = [
        f"Sequences: {len(report['sequences'])}; best flow baseline: {report['best_flow_baseline'] or '–'}; "
        f"weights: {report['weights']}",
        "",
        markdown_table(report["methods"]),
    ]
    tracked = [m for m in report["methods"] if np.isfinite(report["methods"][m].get("epe_median_px", np.nan))]
    if tracked and len(report["per_sequence"]) > 1:
        lines += ["", per_sequence_table(report["per_sequence"], tracked)]
    notes = [f"- {seq}: {reason}" for seq, reasons in report["skipped"].items() for reason in reasons]
    notes += [f"- {seq}: not evaluated: {reason}" for seq, reason in report["failures"].items()]
    if notes:
        lines += ["", "Notes (skipped metrics, missed faces, unreadable folders):", *notes]
    return "\n".join(lines)

"""``face-anything bench``: per-stage latency, fps and memory of the runtime, with baselines.

Frames: faces rendered by the synthetic generator (``face_anything_ros.synth``) that MediaPipe
actually detects are cut out and composited, 1 or N per frame, onto a background of the
requested size, moving a few pixels per frame (so the detector tracks, as on a live camera).
Each frame is PNG-encoded once up front; the timed loop decodes it (stage ``decode``) and runs
``FacePipeline.process``. The number of detected faces per frame is reported next to the
intended count so a run where the detector misses faces is visible, not hidden.

Baselines in the same run: MediaPipe face mesh alone (tracking mode), and pyramidal
Lucas-Kanade tracking of the same number of points as the pipeline's query set.
"""

from __future__ import annotations

import logging
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from face_anything_ros.devtools.reliability.memory import peak_rss_mib, rss_mib

if TYPE_CHECKING:
    from face_anything_ros.runtime.pipeline import FacePipeline

LOGGER = logging.getLogger(__name__)

BENCH_STAGES = ("decode", "detect", "preprocess", "model", "geometry", "postprocess", "tracking", "total")
FACE_PATCH_SCALE = 1.6  # patch side relative to the detected face box side
FACE_PATCH_SIDE_AT_480 = 225  # patch side for a 480-pixel-high frame (face box ~0.3 of the height)
MOTION_PX_PER_FRAME = 2.0
CYCLE_FRAMES = 60  # distinct frames per case, replayed in a loop
CPU_TARGET_FPS = 20.0  # target: end-to-end, one face, 640x480, the 2-core dev CPU


@dataclass
class CaseResult:
    backend: str
    width: int
    height: int
    faces: int
    frames: int
    stage_ms: dict[str, float]  # mean per stage
    p95_total_ms: float
    fps: float
    detected_mean: float
    peak_rss_mib: float
    cuda_max_allocated_mib: float | None = None


@dataclass
class BaselineResult:
    name: str
    width: int
    height: int
    faces: int
    mean_ms: float
    fps: float
    detected_mean: float | None = None


@dataclass
class SoakResult:
    frames: int
    rss_start_mib: float
    rss_end_mib: float
    rss_max_mib: float
    mean_total_ms: float


@dataclass
class BenchReport:
    machine: str
    weights: str
    face_source: str
    cases: list[CaseResult] = field(default_factory=list)
    baselines: list[BaselineResult] = field(default_factory=list)
    soak: SoakResult | None = None
    backend_notes: list[str] = field(default_factory=list)


def machine_description() -> str:
    import os

    import torch

    cores = os.cpu_count()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    load = os.getloadavg()
    return (
        f"{platform.machine()} {cores} cores, {gpu}; torch {torch.__version__}; "
        f"load average at start {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}"
    )


def detectable_face_patches(count: int, seed: int = 0, max_sequences: int = 30) -> list[np.ndarray]:
    """Square patches around synthetic faces that MediaPipe face mesh detects reliably.

    A candidate is kept only if face mesh (static mode) finds it in every one of a few test
    compositions at the benchmark's patch size and different positions, so the benchmark's
    detector actually fires on the frames it times.
    """
    import mediapipe as mp

    from face_anything_ros.synth import FaceSequenceGenerator, SynthConfig

    generator = FaceSequenceGenerator(SynthConfig(), seed=seed, split="test")
    patches: list[np.ndarray] = []
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=4) as mesh:
        for _ in range(max_sequences):
            frame = generator.sample_sequence(1, image_size=(480, 640))["frames"][0]
            for landmarks in mesh.process(frame).multi_face_landmarks or []:
                xy = np.array([(p.x * 640, p.y * 480) for p in landmarks.landmark])
                centre = 0.5 * (xy.min(axis=0) + xy.max(axis=0))
                side = FACE_PATCH_SCALE * float((xy.max(axis=0) - xy.min(axis=0)).max())
                x0, y0 = (centre - side / 2).astype(int)
                x1, y1 = x0 + int(side), y0 + int(side)
                if x0 < 0 or y0 < 0 or x1 > 640 or y1 > 480 or side < 48:
                    continue
                patch = frame[y0:y1, x0:x1].copy()
                tests = compose_frames([patch], 1, 640, 480, num_frames=4, seed=len(patches))
                if all(len(mesh.process(test).multi_face_landmarks or []) == 1 for test in tests):
                    patches.append(patch)
            if len(patches) >= count:
                break
    return patches[:count]


def compose_frames(
    patches: list[np.ndarray], faces: int, width: int, height: int, num_frames: int, seed: int = 0
) -> list[np.ndarray]:
    """Frames with ``faces`` face patches on a smooth background, each drifting slowly."""
    rng = np.random.default_rng(seed)
    side = int(FACE_PATCH_SIDE_AT_480 * height / 480)
    columns = int(np.ceil(np.sqrt(faces)))
    rows = int(np.ceil(faces / columns))
    side = min(side, int(0.8 * width / columns), int(0.8 * height / rows))
    sized = [
        cv2.resize(patches[k % len(patches)], (side, side), interpolation=cv2.INTER_AREA)
        for k in range(faces)
    ]
    gradient = np.linspace(40, 160, width, dtype=np.float32)[None, :, None] * np.array(
        [0.6, 0.8, 1.0], np.float32
    )
    background = np.broadcast_to(gradient, (height, width, 3)).astype(np.uint8)
    anchors = [
        (int((c + 0.5) * width / columns - side / 2), int((r + 0.5) * height / rows - side / 2))
        for r in range(rows)
        for c in range(columns)
    ][:faces]
    phases = rng.uniform(0, 2 * np.pi, size=faces)
    frames = []
    for t in range(num_frames):
        frame = background.copy()
        for k, (ax, ay) in enumerate(anchors):
            amplitude = MOTION_PX_PER_FRAME * num_frames / (2 * np.pi)
            dx = int(
                np.clip(amplitude * np.sin(2 * np.pi * t / num_frames + phases[k]), -ax, width - side - ax)
            )
            dy = int(
                np.clip(
                    0.5 * amplitude * np.cos(2 * np.pi * t / num_frames + phases[k]), -ay, height - side - ay
                )
            )
            frame[ay + dy : ay + dy + side, ax + dx : ax + dx + side] = sized[k]
        frames.append(frame)
    return frames


def encode_frames(frames: list[np.ndarray]) -> list[bytes]:
    return [cv2.imencode(".png", cv2.cvtColor(f, cv2.COLOR_RGB2BGR))[1].tobytes() for f in frames]


def decode_frame(data: bytes) -> np.ndarray:
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _cuda_max_allocated_mib() -> float | None:
    import torch

    return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None


def run_case(
    pipeline: FacePipeline, encoded: list[bytes], faces: int, frames: int, warmup: int
) -> CaseResult:
    """Time ``frames`` frames (after ``warmup``) through decode + ``pipeline.process``."""
    pipeline.reset()
    sums = dict.fromkeys(BENCH_STAGES, 0.0)
    totals, detected = [], []
    for index in range(warmup + frames):
        start = time.perf_counter()
        rgb = decode_frame(encoded[index % len(encoded)])
        decode_ms = (time.perf_counter() - start) * 1e3
        result = pipeline.process(rgb, None, index / 30.0)
        total = (time.perf_counter() - start) * 1e3
        if index < warmup:
            continue
        sums["decode"] += decode_ms
        for stage in BENCH_STAGES[1:-1]:
            sums[stage] += result.timings_ms[stage]
        sums["total"] += total
        totals.append(total)
        detected.append(len(result.faces))
    height, width = decode_frame(encoded[0]).shape[:2]
    mean = {k: v / frames for k, v in sums.items()}
    return CaseResult(
        backend=pipeline.backend_description,
        width=width,
        height=height,
        faces=faces,
        frames=frames,
        stage_ms=mean,
        p95_total_ms=float(np.percentile(totals, 95)),
        fps=1000.0 / mean["total"],
        detected_mean=float(np.mean(detected)),
        peak_rss_mib=peak_rss_mib(),
        cuda_max_allocated_mib=_cuda_max_allocated_mib(),
    )


def _time_loop(step: Callable[[int], object], frames: int, warmup: int) -> float:
    for index in range(warmup):
        step(index)
    start = time.perf_counter()
    for index in range(warmup, warmup + frames):
        step(index)
    return (time.perf_counter() - start) * 1e3 / frames


def baseline_face_mesh(encoded: list[bytes], faces: int, frames: int, warmup: int) -> BaselineResult:
    """MediaPipe face mesh alone (tracking mode), including decode."""
    import mediapipe as mp

    detected: list[int] = []
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=max(faces, 1)) as mesh:

        def step(index: int) -> None:
            result = mesh.process(decode_frame(encoded[index % len(encoded)]))
            detected.append(len(result.multi_face_landmarks or []))

        mean_ms = _time_loop(step, frames, warmup)
    height, width = decode_frame(encoded[0]).shape[:2]
    return BaselineResult(
        "mediapipe face mesh",
        width,
        height,
        faces,
        mean_ms,
        1000 / mean_ms,
        float(np.mean(detected[warmup:])),
    )


def baseline_lucas_kanade(
    encoded: list[bytes], faces: int, points: int, frames: int, warmup: int
) -> BaselineResult:
    """Pyramidal LK of ``points`` corners per face between consecutive frames, including decode."""
    state: dict[str, np.ndarray] = {}

    def step(index: int) -> None:
        grey = cv2.cvtColor(decode_frame(encoded[index % len(encoded)]), cv2.COLOR_RGB2GRAY)
        if "points" not in state or len(state["points"]) < points * faces // 2:
            corners = cv2.goodFeaturesToTrack(
                grey, maxCorners=points * faces, qualityLevel=0.001, minDistance=2
            )
            state["points"] = (
                corners.astype(np.float32) if corners is not None else np.zeros((0, 1, 2), np.float32)
            )
        elif "grey" in state:
            moved, status, _ = cv2.calcOpticalFlowPyrLK(
                state["grey"], grey, state["points"], None, winSize=(15, 15), maxLevel=3
            )
            state["points"] = moved[status[:, 0] == 1]
        state["grey"] = grey

    mean_ms = _time_loop(step, frames, warmup)
    height, width = decode_frame(encoded[0]).shape[:2]
    return BaselineResult(f"LK ({points} points/face)", width, height, faces, mean_ms, 1000 / mean_ms)


def soak(
    pipeline: FacePipeline, encoded: list[bytes], frames: int, progress: Callable[[int], None] | None = None
) -> SoakResult:
    """Run ``frames`` frames and report RSS at the start (after 100 warm-up frames) and end."""
    pipeline.reset()
    warmup = min(100, frames // 10)
    totals = []
    rss_start = rss_max = rss_mib()
    for index in range(warmup + frames):
        start = time.perf_counter()
        pipeline.process(decode_frame(encoded[index % len(encoded)]), None, index / 30.0)
        if index == warmup - 1:
            rss_start = rss_mib()
        if index >= warmup:
            totals.append((time.perf_counter() - start) * 1e3)
            rss_max = max(rss_max, rss_mib())
        if progress is not None:
            progress(1)
    return SoakResult(frames, rss_start, rss_mib(), rss_max, statistics.fmean(totals))


def format_report(report: BenchReport, date: str, command: str) -> str:
    """Markdown for the BENCHMARKS.md block."""
    lines = [
        f"Measured {date} with `{command}`.",
        f"Machine: {report.machine}. Weights: {report.weights}. Input: {report.face_source}.",
        "",
        "| backend | frame | faces (detected) | "
        + " | ".join(BENCH_STAGES[:-1])
        + " | total ms | p95 ms | fps | peak RSS MiB |",
        "|---|---|---|" + "---|" * (len(BENCH_STAGES) - 1) + "---|---|---|---|",
    ]
    for case in report.cases:
        stages = " | ".join(f"{case.stage_ms[s]:.1f}" for s in BENCH_STAGES[:-1])
        lines.append(
            f"| {case.backend} | {case.width}x{case.height} | {case.faces} ({case.detected_mean:.2f}) | {stages} | "
            f"{case.stage_ms['total']:.1f} | {case.p95_total_ms:.1f} | {case.fps:.1f} | {case.peak_rss_mib:.0f} |"
        )
    if report.baselines:
        lines += [
            "",
            "Baselines (same frames, decode included):",
            "",
            "| baseline | frame | faces (detected) | ms | fps |",
            "|---|---|---|---|---|",
        ]
        for base in report.baselines:
            detected = "" if base.detected_mean is None else f" ({base.detected_mean:.2f})"
            lines.append(
                f"| {base.name} | {base.width}x{base.height} | {base.faces}{detected} | {base.mean_ms:.1f} | "
                f"{base.fps:.1f} |"
            )
    if report.soak:
        s = report.soak
        lines += [
            "",
            f"Soak: {s.frames} frames, mean {s.mean_total_ms:.1f} ms/frame; RSS after warm-up "
            f"{s.rss_start_mib:.0f} MiB, at the end {s.rss_end_mib:.0f} MiB, max {s.rss_max_mib:.0f} MiB.",
        ]
    lines += [""] + [f"- {note}" for note in report.backend_notes]
    lines += [f"- {line}" for line in target_lines(report)]
    return "\n".join(lines)


def target_lines(report: BenchReport) -> list[str]:
    """The runtime targets, checked against this run's numbers (only what was measured)."""
    import torch

    lines = []
    one_face = [c for c in report.cases if (c.width, c.height, c.faces) == (640, 480, 1)]
    if one_face:
        best = max(one_face, key=lambda c: c.fps)
        verdict = "met" if best.fps >= CPU_TARGET_FPS else "NOT met"
        device = "GPU" if torch.cuda.is_available() else "CPU"
        lines.append(
            f"Target >= {CPU_TARGET_FPS} fps end-to-end, 1 face, 640x480 ({device}): {verdict} "
            f"({best.fps:.1f} fps, {best.stage_ms['total']:.1f} ms/frame with {best.backend}; "
            f"detector found {best.detected_mean:.2f} faces per frame)."
        )
    if not torch.cuda.is_available():
        lines.append(
            "GPU targets (H100: model <= 2 ms per crop, >= 300 fps) and TensorRT / CUDA torch.compile speed: "
            "not measured (no GPU and no torch_tensorrt on this machine)."
        )
    return lines


def write_benchmarks_block(path: Path, block: str, text: str) -> None:
    """Add ``text`` at the top of the ``<!-- BEGIN block -->`` section (earlier runs stay below)."""
    content = path.read_text(encoding="utf-8")
    begin = f"<!-- BEGIN {block} (owner: {block}) -->"
    end = f"<!-- END {block} -->"
    if begin not in content or end not in content:
        raise ValueError(f"{path} has no {block!r} block markers")
    head, rest = content.split(begin, 1)
    previous, tail = rest.split(end, 1)
    body = text.strip() + ("\n\n" + previous.strip() if previous.strip() else "")
    path.write_text(f"{head}{begin}\n{body}\n{end}{tail}", encoding="utf-8")

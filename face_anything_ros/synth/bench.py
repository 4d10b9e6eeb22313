"""Throughput of the generator (frames per second), the figures in BENCHMARKS.md.

Run: ``face-anything synth --bench`` (or ``python -m face_anything_ros.synth.bench``).
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass

from face_anything_ros.synth.config import SynthConfig
from face_anything_ros.synth.generator import FaceSequenceGenerator


@dataclass
class BenchResult:
    name: str
    frames: int
    seconds: float  # best wall-clock time of one call
    cpu_seconds: float  # process CPU time of that call (less sensitive to other load on the machine)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds

    @property
    def cpu_fps(self) -> float:
        return self.frames / self.cpu_seconds


def _time(fn, repeats: int) -> tuple[float, float]:
    fn()  # warm-up (caches, allocator)
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
    return best, best_cpu


def run_benchmark(repeats: int = 3, threads: int = 1) -> list[BenchResult]:
    """One generator on ``threads`` torch threads (a DataLoader worker uses 1)."""
    import cv2
    import torch

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    gen = FaceSequenceGenerator(SynthConfig(), seed=0)
    cases = [
        ("crops 128x128, batch 32", 32, lambda: gen.sample_crops(32, 128)),
        ("crops 256x256, batch 16", 16, lambda: gen.sample_crops(16, 256)),
        ("crop windows 128x128, 8x4 frames", 32, lambda: gen.sample_crop_windows(8, 4, 128)),
        ("sequence 128x128, 16 frames", 16, lambda: gen.sample_sequence(16, (128, 128))),
        ("sequence 256x256, 16 frames", 16, lambda: gen.sample_sequence(16, (256, 256))),
    ]
    return [BenchResult(name, frames, *_time(fn, repeats)) for name, frames, fn in cases]


def machine_description() -> str:
    load = os.getloadavg()
    return (
        f"{platform.machine()} {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


def format_results(results: list[BenchResult]) -> str:
    lines = ["| case (one process, 1 thread) | frames/s (wall) | ms/frame (wall) | frames/s per CPU-second |"]
    lines += ["|---|---:|---:|---:|"]
    lines += [f"| {r.name} | {r.fps:.0f} | {1000 / r.fps:.1f} | {r.cpu_fps:.0f} |" for r in results]
    return "\n".join(lines)


if __name__ == "__main__":
    before = machine_description()
    table = format_results(run_benchmark())
    print(f"before: {before}\n{table}\nafter: {machine_description()}")

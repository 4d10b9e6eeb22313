"""What the node carries between its threads: frames in flight, its outputs, its counters."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from face_anything_ros.outputs.output_table import OutputSpec

STATS_WINDOW = 100  # frames averaged in the diagnostics


@dataclass
class Frame:
    """An image waiting for inference, with the intrinsics known when it arrived."""

    image: Any
    camera_info: Any
    received_s: float


@dataclass
class Processed:
    """A frame the model is done with, waiting for the output stage to build and publish its messages."""

    header: Any
    rgb: np.ndarray
    result: Any
    intrinsics: Any
    timings_ms: dict[str, float]
    received_s: float


@dataclass(frozen=True)
class Output:
    """One row of the output table (outputs/output_table.py) with the node's publisher for it."""

    spec: OutputSpec
    publisher: Any

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def enabled_by(self) -> str:
        return self.spec.enabled_by


@dataclass
class NodeStats:
    """Counters and recent timings reported on /diagnostics."""

    frames_in: int = 0
    frames_out: int = 0
    failed: int = 0
    incompatible_qos: int = 0  # publishers on `image` that can never match our QoS
    rejected: Counter = field(default_factory=Counter)
    published: Counter = field(default_factory=Counter)  # messages handed to DDS, per output
    latency_ms: deque = field(default_factory=lambda: deque(maxlen=STATS_WINDOW))
    stage_ms: dict[str, deque] = field(default_factory=dict)
    frames_idle: int = 0  # arrived while no output had a subscriber (lazy processing: not inferred)

    def add_timings(self, timings_ms: dict[str, float]) -> None:
        for stage, ms in timings_ms.items():
            self.stage_ms.setdefault(stage, deque(maxlen=STATS_WINDOW)).append(float(ms))

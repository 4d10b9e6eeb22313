"""The node's health on /diagnostics, judged the way ``diagnostic_updater`` judges it.

Levels come from what happened in the last window (``diagnostics_window_s``), never from lifetime
counters: one dropped or rejected frame an hour ago does not keep the node in WARN. The checks are
those of diagnostic_updater's tasks: a frequency check against an expected rate
(``FrequencyStatus``), a stale check (no image for ``stale_after_s``), plus the node's own input
problems (no camera_info, rejected or failed frames, a camera whose QoS can never match).
Pure Python with no ROS import, so every state is testable without DDS.
"""

from __future__ import annotations

import platform
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

OK, WARN, ERROR, STALE = 0, 1, 2, 3  # diagnostic_msgs/DiagnosticStatus levels
LEVEL_NAMES = {OK: "OK", WARN: "WARN", ERROR: "ERROR", STALE: "STALE"}
EVENT_KINDS = ("input", "output", "dropped", "rejected", "failed", "incompatible_qos")
MAX_EVENTS = 100_000  # bounds memory whatever the camera rate (about 15 min at 100 Hz)


@dataclass(frozen=True)
class HealthSettings:
    """The thresholds of the checks (node parameters of the same names)."""

    window_s: float = 5.0
    expected_rate_hz: float = 0.0  # 0: no frequency check
    rate_tolerance: float = 0.1  # WARN below expected_rate_hz * (1 - rate_tolerance)
    stale_after_s: float = 5.0


@dataclass(frozen=True)
class NodeSituation:
    """What the node knows when the status is assessed (graph and lifecycle facts)."""

    now_s: float
    active: bool
    processing: bool  # some output has a subscriber (lazy processing is on otherwise)
    image_publishers: int
    camera_info_received: bool
    image_topic: str = "image"


@dataclass(frozen=True)
class Health:
    """One assessment: the worst level, its message, and the windowed figures behind it."""

    level: int
    message: str
    values: dict[str, str]


@dataclass
class HealthMonitor:
    """Timestamps of recent events; ``assess`` turns the last window into a level and message."""

    settings: HealthSettings = field(default_factory=HealthSettings)
    since_s: float = 0.0  # start of monitoring (activation): the stale clock starts here
    _events: dict[str, deque] = field(
        default_factory=lambda: {kind: deque(maxlen=MAX_EVENTS) for kind in EVENT_KINDS}
    )

    def restart(self, now_s: float) -> None:
        """Forget every event (a new activation)."""
        self.since_s = now_s
        for events in self._events.values():
            events.clear()

    def record(self, kind: str, now_s: float) -> None:
        self._events[kind].append(now_s)

    def count(self, kind: str, now_s: float) -> int:
        """Events of ``kind`` in the last window (older ones are discarded)."""
        events, start = self._events[kind], now_s - self.settings.window_s
        while events and events[0] <= start:
            events.popleft()
        return len(events)

    def rate_hz(self, kind: str, now_s: float) -> float:
        """Events per second over the window (or over the time since activation when shorter)."""
        span = min(self.settings.window_s, now_s - self.since_s)
        return self.count(kind, now_s) / span if span > 0 else 0.0

    def last(self, kind: str) -> float | None:
        events = self._events[kind]
        return events[-1] if events else None

    def assess(self, situation: NodeSituation) -> Health:
        now, settings = situation.now_s, self.settings
        input_rate, output_rate = self.rate_hz("input", now), self.rate_hz("output", now)
        last_image = self.last("input")
        silent_s = now - (last_image if last_image is not None else self.since_s)
        values = {
            "state": ("processing" if situation.processing else "idle (no subscriber)")
            if situation.active
            else "inactive",
            "window_s": f"{settings.window_s:g}",
            "input_rate_hz": f"{input_rate:.2f}",
            "rate_hz": f"{output_rate:.2f}",
            "expected_rate_hz": f"{settings.expected_rate_hz:g}",
            "seconds_since_last_image": f"{silent_s:.1f}" if last_image is not None else "never",
            "image_publishers": str(situation.image_publishers),
        }
        for kind in ("dropped", "rejected", "failed", "incompatible_qos"):
            values[f"window_{kind}"] = str(self.count(kind, now))
        if not situation.active:
            return Health(OK, "inactive (lifecycle): not subscribed, no inference", values)
        problems = self._problems(situation, values, silent_s, input_rate, output_rate)
        if not problems:
            text = "ok" if situation.processing else "idle: no subscriber to any output, no inference"
            return Health(OK, text, values)
        level = max(level for level, _ in problems)
        return Health(level, "; ".join(text for _, text in sorted(problems, key=lambda p: -p[0])), values)

    def _problems(
        self,
        situation: NodeSituation,
        values: dict[str, str],
        silent_s: float,
        input_rate: float,
        output_rate: float,
    ) -> list[tuple[int, str]]:
        settings, problems = self.settings, []
        if silent_s > settings.stale_after_s:
            if situation.image_publishers:
                problems.append(
                    (
                        WARN,
                        f"no image for {silent_s:.0f} s although {situation.image_publishers} publisher(s) "
                        f"on {situation.image_topic} (QoS mismatch or large best-effort images: see README)",
                    )
                )
            else:
                problems.append(
                    (STALE, f"no image for {silent_s:.0f} s: no publisher on {situation.image_topic}")
                )
        elif settings.expected_rate_hz > 0:
            rate, what = (output_rate, "output") if situation.processing else (input_rate, "input")
            minimum = settings.expected_rate_hz * (1.0 - settings.rate_tolerance)
            if rate < minimum:
                problems.append(
                    (WARN, f"{what} rate {rate:.1f} Hz below the expected {settings.expected_rate_hz:g} Hz")
                )
        failed, rejected = int(values["window_failed"]), int(values["window_rejected"])
        if failed:
            level = ERROR if situation.processing and output_rate == 0 else WARN
            problems.append(
                (level, f"{failed} frame(s) failed inference in the last {settings.window_s:g} s")
            )
        if rejected:
            problems.append((WARN, f"{rejected} image(s) rejected in the last {settings.window_s:g} s"))
        if int(values["window_incompatible_qos"]):
            problems.append((WARN, f"a publisher on {situation.image_topic} offers an incompatible QoS"))
        if not situation.camera_info_received:
            problems.append((WARN, "no camera_info: a default pinhole is assumed"))
        return problems


def hardware_id(device: str) -> str:
    """The device inference runs on, by name: ``cuda:0 (NVIDIA H200)`` or ``cpu (<CPU model>)``."""
    if device.startswith("cuda"):
        try:
            import torch

            index = int(device.split(":")[1]) if ":" in device else torch.cuda.current_device()
            return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
        except (ImportError, RuntimeError, ValueError, AssertionError):
            return device
    return f"{device} ({_cpu_model()})"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def stage_profile(values: dict[str, str]) -> str:
    """One line per stage from the diagnostics' ``stage_ms_*`` means: where a frame's time goes
    (wait for the worker, image conversion, pipeline stages, per-output build and publish)."""
    stages = {k.removeprefix("stage_ms_"): float(v) for k, v in values.items() if k.startswith("stage_ms_")}
    if not stages:
        return "no stage timings yet"
    pipeline = [
        s for s in ("detect", "preprocess", "model", "geometry", "postprocess", "tracking") if s in stages
    ]
    outputs = sorted(s for s in stages if s.endswith(("_build", "_publish")))
    groups = [
        ("node", [s for s in ("wait", "convert") if s in stages]),
        ("pipeline", pipeline),
        ("outputs", outputs),
        ("totals", [s for s in ("total", "publish") if s in stages]),
    ]
    return "\n".join(
        f"  {title:9s} " + ", ".join(f"{name} {stages[name]:.1f}" for name in names)
        for title, names in groups
        if names
    )

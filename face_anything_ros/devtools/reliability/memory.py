"""Resident memory of a process, now, at its peak and over time, from Linux /proc (no psutil needed)."""

from __future__ import annotations

import resource
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

KIB_PER_MIB = 1024.0


def rss_mib(pid: int | str = "self") -> float:
    """Resident set size of ``pid`` now, MiB (``VmRSS`` of /proc/PID/status; NaN once it has exited)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return float("nan")
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / KIB_PER_MIB
    return float("nan")


def peak_rss_mib() -> float:
    """Highest resident set size of this process so far, MiB (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / KIB_PER_MIB


@dataclass
class MemoryTrace:
    """(seconds since start, RSS MiB) samples of one process."""

    samples: list[tuple[float, float]] = field(default_factory=list)

    @property
    def peak_mib(self) -> float:
        return max((mib for _, mib in self.samples), default=float("nan"))

    def at(self, seconds: float) -> float:
        """The first sample at or after ``seconds`` (the last one if none is that late)."""
        for t, mib in self.samples:
            if t >= seconds:
                return mib
        return self.samples[-1][1] if self.samples else float("nan")


class MemorySampler:
    """Samples a process's RSS every ``period_s`` in a daemon thread until ``stop()``."""

    def __init__(self, pid: int, period_s: float = 0.5) -> None:
        self.pid = pid
        self.period_s = period_s
        self.trace = MemoryTrace()
        self._stop = threading.Event()
        self._start = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="rss_sampler", daemon=True)

    def start(self) -> MemorySampler:
        self._start = time.monotonic()
        self._thread.start()
        return self

    def sample(self) -> float:
        """Take one sample now (also recorded in the trace)."""
        mib = rss_mib(self.pid)
        if mib == mib:  # not NaN: the process still runs
            self.trace.samples.append((time.monotonic() - self._start, mib))
        return mib

    def stop(self) -> MemoryTrace:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2 * self.period_s + 1.0)
        return self.trace

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.period_s)

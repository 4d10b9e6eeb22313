"""RSS sampling of another process from /proc (what the soak's memory bound is measured with)."""

from __future__ import annotations

import math
import subprocess
import sys
import time

from face_anything_ros.devtools.reliability.memory import MemorySampler, rss_mib

GROW_SCRIPT = (
    "import time; blob = bytearray(64 * 2**20); blob[::4096] = b'x' * len(blob[::4096]); time.sleep(30)"
)


def test_rss_of_a_process_follows_what_it_allocates():
    baseline = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    grower = subprocess.Popen([sys.executable, "-c", GROW_SCRIPT])
    try:
        sampler = MemorySampler(grower.pid, period_s=0.1).start()
        time.sleep(1.5)
        trace = sampler.stop()
        assert len(trace.samples) >= 5
        assert trace.peak_mib - rss_mib(baseline.pid) > 50  # the 64 MiB it touched
        assert trace.at(0.0) <= trace.peak_mib and trace.at(1e9) == trace.samples[-1][1]
    finally:
        for process in (baseline, grower):
            process.kill()
            process.wait()


def test_a_process_that_has_exited_reads_as_nan_and_is_not_sampled():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    assert math.isnan(rss_mib(process.pid))
    sampler = MemorySampler(process.pid)
    assert math.isnan(sampler.sample()) and sampler.trace.samples == []

"""The node's two worker threads: newest-frame inference (drops) and the output stage (never drops)."""

from __future__ import annotations

import threading
import time

from face_anything_ros.ros.frame_worker import LatestFrameWorker


def _slow_recorder(seen: list[int], release: threading.Event):
    def process(item: int) -> None:
        release.wait(5.0)
        seen.append(item)

    return process


def test_the_inference_worker_keeps_only_the_newest_frame():
    seen, release = [], threading.Event()
    worker = LatestFrameWorker(_slow_recorder(seen, release))
    worker.submit(0)
    time.sleep(0.1)  # 0 is being processed
    assert not worker.submit(1)
    assert worker.submit(2)  # replaces 1, never processed
    release.set()
    assert worker.wait_idle(5.0)
    worker.stop()
    assert seen == [0, 2] and worker.dropped == 1


def test_the_output_stage_publishes_every_item_in_order_and_drains_on_stop():
    seen, release = [], threading.Event()
    stage = LatestFrameWorker(_slow_recorder(seen, release), keep_every=True)
    stage.submit(0)
    time.sleep(0.1)
    stage.submit(1)  # waits in the slot
    blocked = threading.Thread(target=stage.submit, args=(2,))
    blocked.start()
    time.sleep(0.2)
    assert blocked.is_alive()  # the producer waits instead of dropping 1
    release.set()
    blocked.join(5.0)
    stage.stop()
    assert seen == [0, 1, 2] and stage.dropped == 0

"""Inference off the subscription callback, keeping only the newest frame.

When the camera is faster than inference, queuing frames would only add latency: the worker holds
one pending frame, a newer frame replaces it (counted as dropped), and the worker thread always
processes the most recent image. With ``keep_every=True`` the same worker is a one-slot hand-off
that never drops: ``submit`` waits while the slot is full (the node's output stage, where a
processed frame must always be published).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
LOGGER = logging.getLogger(__name__)


class LatestFrameWorker(Generic[Item]):
    """A thread that runs ``process`` on the newest submitted item (or on every one: ``keep_every``)."""

    def __init__(
        self, process: Callable[[Item], None], name: str = "face_anything_inference", keep_every: bool = False
    ) -> None:
        self._process = process
        self._keep_every = keep_every
        self._condition = threading.Condition()
        self._pending: Item | None = None
        self._stopping = False
        self.dropped = 0
        self.processed = 0
        self.busy = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: Item) -> bool:
        """Hand over a frame; True if it replaced one that was never processed (a drop)."""
        with self._condition:
            if self._keep_every:  # wait for the slot instead of replacing
                self._condition.wait_for(lambda: self._pending is None or self._stopping)
            replaced = self._pending is not None
            if replaced:
                self.dropped += 1
            self._pending = item
            self._condition.notify_all()  # the worker, and with keep_every possibly a waiting submitter
        return replaced

    def wait_idle(self, timeout_s: float) -> bool:
        """Block until nothing is pending or running (True) or the timeout passes (False)."""
        with self._condition:
            return self._condition.wait_for(lambda: self._pending is None and not self.busy, timeout_s)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Finish the item in hand (and, with ``keep_every``, the pending one), then end the thread."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._pending is not None or self._stopping)
                if self._stopping and (self._pending is None or not self._keep_every):
                    return
                item, self._pending = self._pending, None
                self.busy = True
            try:
                self._process(item)
            except Exception:  # the worker must survive any frame
                LOGGER.exception("frame processing failed")
            finally:
                with self._condition:
                    self.busy = False
                    self.processed += 1
                    self._condition.notify_all()

"""Lazy processing: no inference while no output has a subscriber (image_pipeline's convention).

The node keeps its input subscriptions (so /diagnostics still reports the camera's rate) but hands
a frame to the model only when some enabled output is listened to; the next frame after someone
subscribes is processed again. One check over every output, so new outputs join by being listed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol

LOGGER = logging.getLogger(__name__)


class ListenedOutput(Protocol):
    """What the check needs of an output: its publisher and the parameter that enables it."""

    enabled_by: str
    publisher: Any


def listened_outputs(outputs: Iterable[ListenedOutput], params: Any) -> list[ListenedOutput]:
    """The enabled outputs that have at least one subscriber (the only ones worth building)."""
    return [
        output
        for output in outputs
        if getattr(params, output.enabled_by) and output.publisher.get_subscription_count() > 0
    ]


class DemandTracker:
    """Remembers whether anyone listened at the last frame and logs each change once."""

    def __init__(self, log: Callable[[str], None] = LOGGER.info) -> None:
        self._log = log
        self.listening: bool | None = None

    def update(self, listening: bool) -> bool:
        if listening != self.listening:
            if listening:
                self._log("a subscriber appeared: inference resumes")
            elif self.listening is not None:
                self._log("no subscriber to any output: inference paused (lazy processing)")
            self.listening = listening
        return listening

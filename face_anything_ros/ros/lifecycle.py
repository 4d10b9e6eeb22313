"""Lifecycle helpers of the node: autostart through the real transitions, accelerator clean-up.

``autostart`` walks configure → activate with the same transitions a lifecycle manager would
request over ``<node>/change_state``, so a plain start and a managed start run the same code.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from rclpy.lifecycle import TransitionCallbackReturn

LOGGER = logging.getLogger(__name__)


class NodeStartError(RuntimeError):
    """Autostart could not bring the node to active (the message says which transition and why)."""


def start_managed(node: Any) -> None:
    """configure, then activate; NodeStartError with the failed transition's reason."""
    for name, trigger in (("configure", node.trigger_configure), ("activate", node.trigger_activate)):
        if trigger() != TransitionCallbackReturn.SUCCESS:
            reason = getattr(node, "last_transition_error", "") or "see the log"
            raise NodeStartError(f"{name} failed: {reason}")


def release_accelerator_memory() -> None:
    """Hand the CUDA caching allocator's unused blocks back to the device (no-op on a CPU).

    Only when torch is already loaded: an unconfigured node never imports it just to clean up.
    """
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    LOGGER.debug("CUDA cache released: %d bytes still allocated", torch.cuda.memory_allocated())

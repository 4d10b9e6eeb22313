"""Hold Ctrl-C (SIGINT) until a block of work is complete, then raise it.

Replay writes several messages per frame; a KeyboardInterrupt between two of those writes would
leave a frame with some outputs and not others (and an unfinished bag write), although the
summary counts only whole frames. Inside ``sigint_deferred()`` a SIGINT is remembered and raised
as KeyboardInterrupt when the block ends, so Ctrl-C lands between frames, as documented.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def sigint_deferred() -> Iterator[None]:
    """Run the block whole: a SIGINT during it reaches the SIGINT handler once the block ends.

    With Python's default handler that is a KeyboardInterrupt after the block. Acts only in the
    main thread (the only one that may set handlers) and when a Python handler is installed;
    otherwise (ignored, or not set from Python) the block runs unchanged.
    """
    previous = signal.getsignal(signal.SIGINT)
    in_main_thread = threading.current_thread() is threading.main_thread()
    if not in_main_thread or not callable(previous):
        yield
        return
    received: list[int] = []

    def remember(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    signal.signal(signal.SIGINT, remember)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        previous(signal.SIGINT, None)

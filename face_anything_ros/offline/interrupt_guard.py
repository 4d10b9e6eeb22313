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
    """Run the block whole: a SIGINT during it is raised as KeyboardInterrupt once it ends.

    Acts only in the main thread while Python's default SIGINT handler is installed (the only case
    where SIGINT raises KeyboardInterrupt); anywhere else the block runs unchanged.
    """
    in_main_thread = threading.current_thread() is threading.main_thread()
    if not in_main_thread or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    received: list[int] = []

    def remember(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    signal.signal(signal.SIGINT, remember)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if received:
        raise KeyboardInterrupt

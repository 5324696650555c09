"""Ctrl-C (and a batch system's SIGTERM) held off while compiled code runs or outputs go into
place: the signal is kept and raised as soon as the block ends.

Layer: bottom (beside ``errors``; the standard library only).

Python raises :class:`KeyboardInterrupt` at the next instruction of Python code wherever it
is, and some of that code must not be cut short. Ctrl-C during a compiled call crashed the
process: a segmentation fault unpacking the tuple a K1 kernel returned, 13 times in 40 signals
sent 1.12–1.22 s into a first μ = 200 event, while its kernels were loaded from Numba's cache
(none in 110 with the hold; measured 2026-12-04). And a run interrupted while its outputs were
renamed into place left some of them there. Inside :func:`interrupts_held` the signal is only
noted; the exception comes when the block ends, a stage's compiled call or a few renames later.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["HELD_SIGNALS", "interrupts_held"]

#: the signals held: Ctrl-C, and those a batch system or a closed terminal send to stop a job
#: (held only while Python handles them: the command line turns them into an interrupt)
HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Note the :data:`HELD_SIGNALS` that come inside the block, and deliver the first to its
    own handler when the block ends (for Ctrl-C: :class:`KeyboardInterrupt` raised there).

    Only signals with a Python handler are held; one left to the system's default (SIGTERM
    outside the command line) acts at once, as before. Python handles signals in its main
    thread only, so in another thread the block runs as it is. Blocks may nest.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def note(signum: int, _frame: object) -> None:
        caught.append(signum)

    previous = {}
    for signum in HELD_SIGNALS:
        handler = signal.getsignal(signum)
        if callable(handler):
            previous[signum] = signal.signal(signum, note)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if caught:
            previous[caught[0]](caught[0], None)

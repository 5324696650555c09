"""A watchdog that stops ``tritonserver`` when the ``serve`` process that started it dies.

Layer: triton (the standard library only).

``serve`` stops its tritonserver itself on SIGTERM, Ctrl-C and errors. A ``serve`` killed outright
(``kill -9``, the kernel's out-of-memory killer) cannot: PyTriton asks the kernel to send
tritonserver SIGTERM when its parent dies, which starts Triton's graceful shutdown — it kept its
ports open for 30 s, waiting for requests that the dead process's models would never answer, and
did not exit at all (measured: a client's request in flight waited out its whole timeout, 120 s,
instead of failing over at once). So :class:`Reaper` starts a small process of its own that
``serve`` tells the PIDs of its tritonservers through a pipe. When the pipe closes — ``serve``
ended, however it ended — the watchdog SIGKILLs those still running and their children (the
Python backend's stubs), after checking each one's start time, so that a reused PID is never hit.
After a clean stop there is nothing left to kill and it just exits. After ``serve`` died it also
removes the shared-memory blocks PyTriton named after ``serve``'s PID
(``/dev/shm/pytrtion<PID>-…``, 4 MiB each) and the segments of PyTriton's tensor store
(``/dev/shm/psm_…``, random names: two of 16 to 128 KiB after one request), which nothing else
would remove when ``serve``'s whole process group was killed (a batch system's kill; alone,
``serve``'s resource tracker removes them); the watchdog notes their names from ``serve``'s
memory map while it runs.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

__all__ = ["Reaper"]

#: the watchdog: reads "PID START" lines until EOF, then kills what is still those processes;
#: meanwhile it notes the shared memory segments serve maps, twice a second
_WATCHDOG = r"""
import os, select, signal, sys, time
for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(sig, signal.SIG_IGN)  # outlive whatever stops serve, to clean up after it

def stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    return None if fields[0] in ("Z", "X") else (int(fields[1]), fields[19])  # parent, start

def mapped(pid):  # the names of the POSIX shared memory segments (psm_...) the process maps
    try:
        with open(f"/proc/{pid}/maps") as f:
            lines = [line for line in f if "/dev/shm/psm_" in line]
        return {line.split("/dev/shm/", 1)[1].split()[0] for line in lines}
    except OSError:
        return set()

serve = os.getppid()
serve_start = (stat(serve) or (0, ""))[1]
told_bytes = b""
segments = set()  # PyTriton's tensor store: random names, noted while serve lives
while True:
    if select.select([0], [], [], 0.5)[0]:
        chunk = os.read(0, 65536)
        if not chunk:  # EOF: serve closed the pipe, or died
            break
        told_bytes += chunk
    if (stat(serve) or (0, ""))[1] == serve_start:
        segments |= mapped(serve)
told = dict(line.split() for line in told_bytes.decode().splitlines() if line.strip())
doomed = {int(pid): start for pid, start in told.items() if (stat(int(pid)) or (0, ""))[1] == start}
processes = {}
for entry in os.listdir("/proc"):
    if entry.isdigit() and (found := stat(int(entry))) is not None:
        processes[int(entry)] = found
grown = bool(doomed)
while grown:  # the children, grandchildren... of those, found before they are orphaned
    grown = False
    for pid, (parent, start) in processes.items():
        if parent in doomed and pid not in doomed:
            doomed[pid] = start
            grown = True
for pid, start in doomed.items():
    if (stat(pid) or (0, ""))[1] == start:
        segments |= mapped(pid)  # the stubs map them too
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
# serve's pipe closes as it starts to exit, before it is a zombie: wait for that a moment (a
# serve that stopped cleanly closes it and exits too; one still running after this went on)
deadline = time.monotonic() + 2.0
while (stat(serve) or (0, ""))[1] == serve_start and time.monotonic() < deadline:
    time.sleep(0.02)
if (stat(serve) or (0, ""))[1] != serve_start:  # serve died: PyTriton's shared memory is left
    try:
        names = os.listdir("/dev/shm")
    except OSError:
        names = []
    for name in names:
        if name.startswith(f"pytrtion{serve}-") or name in segments:  # PyTriton's blocks
            try:
                os.unlink(os.path.join("/dev/shm", name))
            except OSError:
                pass
"""


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (None: gone or a zombie)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    return None if fields[0] in ("Z", "X") else fields[19]


class Reaper:
    """Kills the processes it is told of, and their children, when this process ends however it
    ends (a no-op where there is no ``/proc``). Use as a context manager; :meth:`watch` may be
    called from any thread.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._told: set[int] = set()
        self._watchdog: subprocess.Popen | None = None
        if Path("/proc/self/stat").exists():
            # its own session: a Ctrl-C or a signal to serve's process group does not reach it;
            # the pipe's write end is not inherited by anything serve starts (PEP 446)
            self._watchdog = subprocess.Popen(
                [sys.executable, "-I", "-c", _WATCHDOG],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
                start_new_session=True,
            )

    def watch(self, pids: Iterable[int]) -> None:
        """Kill these processes (and their children) when this process ends, if still running."""
        if self._watchdog is None or self._watchdog.stdin is None:
            return
        with self._lock:
            for pid in set(pids) - self._told:
                start = _start_time(pid)
                if start is None:
                    continue
                try:
                    self._watchdog.stdin.write(f"{pid} {start}\n")
                    self._watchdog.stdin.flush()
                except (OSError, ValueError):  # the watchdog is gone, or closed
                    return
                self._told.add(pid)

    def close(self) -> None:
        """End the watch now: what is still running of the watched processes is killed."""
        if self._watchdog is None:
            return
        with self._lock:
            if self._watchdog.stdin is not None and not self._watchdog.stdin.closed:
                try:
                    self._watchdog.stdin.close()
                except OSError:
                    pass
        try:
            self._watchdog.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._watchdog.kill()
            self._watchdog.wait()

    def __enter__(self) -> Reaper:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

"""How many CPU threads this process should use: the cores it may really run on; and the
process-wide settings the command line makes before any work (:func:`passive_openmp_waits`,
:func:`avoid_numpy_huge_pages`, :func:`keep_freed_memory`).

Layer: bottom (beside ``errors``; the standard library only, torch and Numba imported inside
:func:`use_threads` and :func:`numba_threads`).

A batch system gives a job fewer cores than the machine has, by a CPU affinity mask (Slurm's
cgroup cpuset, ``taskset``) or by a CFS quota (Kubernetes CPU limits, Slurm with cgroup v2). A
process that starts as many threads as the machine has cores then runs them on fewer — threads wait
for a core that is not free, and throughput collapses. :func:`available_cpus` counts what is
really there; :func:`resolve_threads` is the one place a thread count is decided (argument →
``ACTS_GNN_THREADS`` → the available CPUs).
"""

from __future__ import annotations

import math
import os
import platform
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from acts_gnn.errors import ConfigError

__all__ = [
    "MAX_THREADS",
    "available_cpus",
    "avoid_numpy_huge_pages",
    "cgroup_cpu_limit",
    "keep_freed_memory",
    "machine",
    "numba_threads",
    "oversubscribed",
    "passive_openmp_waits",
    "resolve_threads",
    "use_threads",
]

_CGROUP = Path("/sys/fs/cgroup")
#: the most threads a count may ask for (far beyond any node's cores)
MAX_THREADS = 1024


def cgroup_cpu_limit(root: Path = _CGROUP) -> float | None:
    """CPUs allowed by this process's cgroup CPU quota (may be fractional); None without a quota.

    Reads cgroup v2 (``cpu.max``: ``QUOTA PERIOD`` or ``max PERIOD``) or, failing that, cgroup v1
    (``cpu/cpu.cfs_quota_us`` and ``cpu/cpu.cfs_period_us``, quota -1 = none).
    """
    try:
        fields = (root / "cpu.max").read_text().split()
        if len(fields) == 2 and fields[0] != "max":
            return int(fields[0]) / int(fields[1])
        if fields:
            return None
    except (OSError, ValueError):
        pass
    for v1 in (root / "cpu", root / "cpu,cpuacct"):
        try:
            quota = int((v1 / "cpu.cfs_quota_us").read_text())
            period = int((v1 / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            continue
        return quota / period if quota > 0 and period > 0 else None
    return None


def available_cpus() -> int:
    """CPUs this process may run on: its affinity mask, lowered to its cgroup quota (≥ 1)."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    if limit is not None:
        count = min(count, math.ceil(limit))
    return max(1, count)


def resolve_threads(threads: int | None = None, share: int = 1) -> int:
    """The thread count to use: ``threads``, else ``$ACTS_GNN_THREADS``, else the available CPUs
    divided among ``share`` workers that run at once (at least one each).

    Raises:
        ConfigError: a count below one, or an environment value that is not an integer.
    """
    source = "--threads"
    if threads is None:
        text = os.environ.get("ACTS_GNN_THREADS", "").strip()
        if text:
            source = "ACTS_GNN_THREADS"
            try:
                threads = int(text)
            except ValueError:
                raise ConfigError(f"ACTS_GNN_THREADS must be an integer, got {text!r}") from None
    if threads is not None:
        if threads < 1:
            raise ConfigError(f"{source} must be at least 1, got {threads}")
        if threads > MAX_THREADS:  # 100,000 aborted the process (its allocator's threads)
            raise ConfigError(f"{source} must be at most {MAX_THREADS}, got {threads}")
        return threads
    return max(1, available_cpus() // max(1, share))


def oversubscribed(threads: int, workers: int = 1) -> str | None:
    """A warning when ``workers`` running at once with ``threads`` threads each ask for more
    threads than there are CPUs this process may use (None otherwise, and for one thread each:
    workers beyond the CPUs then only take turns)."""
    cpus = available_cpus()
    if threads <= 1 or threads * workers <= cpus:
        return None
    asked = f"{threads} threads" if workers == 1 else f"{workers} × {threads} threads"
    fits = max(1, cpus // workers)
    return (
        f"{asked} on the {cpus} CPU(s) this process may use: threads that wait for a busy core "
        f"slow every stage (--threads {fits} fits)"
    )


def use_threads(threads: int) -> None:
    """Run torch's intra-op work (and K1, which asks torch) on ``threads`` threads."""
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


@contextmanager
def numba_threads(threads: int) -> Iterator[None]:
    """Run this thread's compiled (Numba) parallel loops inside the block on ``threads`` threads
    (at most Numba's pool; the setting is per calling thread), and leave torch's thread count
    as it was.

    Numba's OpenMP pool and torch share libgomp, and the first parallel loop of a process sets
    the calling thread's OpenMP thread count to the pool's size: without the restore, a
    ``--threads 1`` run went on with torch on every core after its first compiled loop.
    Ctrl-C is held off inside the block (:func:`acts_gnn.interrupts.interrupts_held`): it
    crashed the process during a compiled call.
    """
    import numba
    import torch

    from acts_gnn.interrupts import interrupts_held

    torch_threads = torch.get_num_threads()
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    try:
        with interrupts_held():
            yield
    finally:
        if torch.get_num_threads() != torch_threads:
            torch.set_num_threads(torch_threads)


def passive_openmp_waits() -> None:
    """Let torch's OpenMP threads sleep, not spin, while they wait (unless the user chose).

    libgomp's default keeps a waiting thread spinning on its core; beside other busy processes
    that core is taken from them and the event slows far beyond its fair share. Measured on a
    μ = 200 event on two cores (``benchmarks/results/contention.md``): beside one busy process
    ×2.20 spinning against ×1.50 passive (fair: ×1.5), beside two ×2.79 against ×1.93 (fair: ×2);
    alone the two are within this machine's run-to-run noise. Must run before torch is imported
    (the command line calls it first); ``OMP_WAIT_POLICY`` set by the user is kept.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def avoid_numpy_huge_pages() -> None:
    """Let NumPy's large arrays live in ordinary pages (unless the user chose).

    On Linux NumPy advises the kernel to back every array of 4 MiB or more with transparent huge
    pages (``madvise``). Where the kernel then compacts memory to find them at the first touch
    (THP ``defrag`` set to ``madvise``, a common default) and free memory is fragmented, as on a
    node that has run for hours, that first touch can stall for a second. Measured on a μ = 200
    event on two cores (this machine up 19 hours): the GNN's first pass, which fills a fresh
    170 MB array, took 0.07–1.4 s with the advice and 0.09 s every time without; the GNN stage
    1.19–1.47 s against 0.95 s per event, the K1 graph 0.51–0.67 s against 0.47 s (three runs
    each, alternating). Events whose arrays stay under 4 MiB never paid it, so it also steepened
    the growth of the time with the event's size. Sets ``NUMPY_MADVISE_HUGEPAGE=0`` (NumPy reads
    it when it is imported: here and in child processes) and turns the advice off in a NumPy
    already imported; ``NUMPY_MADVISE_HUGEPAGE`` set by the user is kept.
    """
    if "NUMPY_MADVISE_HUGEPAGE" in os.environ:
        return
    os.environ["NUMPY_MADVISE_HUGEPAGE"] = "0"
    numpy = sys.modules.get("numpy")
    if numpy is None:
        return
    core = getattr(numpy, "_core", None) or numpy.core  # NumPy 2, NumPy 1
    turn = getattr(getattr(core, "multiarray", None), "_set_madvise_hugepage", None)
    if turn is not None:
        turn(False)


#: glibc's ``mallopt`` parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -4, -8
#: the C allocator's settings a user may have chosen by environment
_MALLOC_SETTINGS = (
    "MALLOC_MMAP_MAX_",
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_ARENA_MAX",
)


def keep_freed_memory() -> bool:
    """Let the C allocator keep what an event freed for the next event (glibc; unless the user
    chose its settings). Returns whether it did.

    glibc serves every block above a threshold (at most 32 MiB) with a fresh ``mmap`` and gives
    it back to the kernel when freed, so each event's large arrays — the K1 rows, the GNN's
    edges — come back as new pages, zeroed by the kernel at their first touch. Here no block is
    mapped on its own and the heap is never trimmed: the memory of one event is reused by the
    next. All threads share one arena: a thread's own arena cannot hold such blocks and maps
    them afresh whatever the settings (``serve`` runs each request in a thread of its own).
    Measured with ``acts-gnn reconstruct`` on the 10 held-out μ = 200 events (2 cores, NumPy
    off huge pages, twice each): 4.9 M → 0.31 M page faults, 7.4 → 0.85 s of kernel time,
    2.48 → 2.06 s per event; the price is that the process keeps its largest event's memory
    (peak resident memory 1.05 → 1.42 GB). Call it before the threads start. Not in effect for
    the environment's ``MALLOC_MMAP_MAX_``, ``MALLOC_TRIM_THRESHOLD_``,
    ``MALLOC_MMAP_THRESHOLD_`` or ``MALLOC_ARENA_MAX``, nor with another C library.
    """
    if any(name in os.environ for name in _MALLOC_SETTINGS):
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    settings = ((_M_ARENA_MAX, 1), (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, 2**31 - 1))
    return all([bool(mallopt(parameter, value)) for parameter, value in settings])


def machine() -> str:
    """One line naming this machine (CPU model, cores, Python; torch's version once torch is
    imported, and the GPU once torch has started CUDA): it imports neither, so a run that never
    loads them (the truth finder, a remote client) does not for its record."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"
    torch = sys.modules.get("torch")
    if torch is not None:
        if torch.cuda.is_initialized():
            text += f", GPU {torch.cuda.get_device_name(0)}"
        text += f", torch {torch.__version__}"
    return text

"""``serve`` killed with SIGKILL leaves nothing running: its tritonserver and children go too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.triton
pytest.importorskip("pytriton", reason="nvidia-pytriton is not installed (acts-gnn[server])")

from acts_gnn.errors import ActsGnnError  # noqa: E402
from acts_gnn.triton.balancer import find_nginx  # noqa: E402
from tests.triton.serving import ServeProcess, descendants, running_command  # noqa: E402


def test_a_killed_balancer_parent_takes_its_servers_and_nginx_along(tmp_path):
    try:
        find_nginx()
    except ActsGnnError:
        pytest.skip("nginx is not installed (apt install nginx-light)")
    # what the killed parent cannot remove (the balancer's directory, its servers' workspaces)
    # goes in ServeProcess's own temporary directory, removed by served.kill()
    served = ServeProcess(
        tmp_path, "--balancer", "2", "--model", "unrolling_tracking", "--instances", "1"
    )
    try:
        served.wait_ready()
        family = descendants(served.process.pid)
        commands = {pid: running_command(pid) or "" for pid in family}
        # two serve children, each with its tritonserver, and the balancer
        assert sum("tritonserver" in c for c in commands.values()) >= 2, commands
        assert sum("nginx" in c for c in commands.values()) >= 1, commands
        os.kill(served.process.pid, signal.SIGKILL)  # what kill -9 or the OOM killer does
        served.process.wait()
        left = _gone_within(family, 60)
        assert left == {}, f"still running after the parent was killed: {left}"
    finally:
        _kill_all(descendants(served.process.pid) | locals().get("family", set()))
        served.kill()


def _kill_all(pids: set[int]) -> None:
    """SIGKILL what of ``pids`` still runs (a test's clean-up)."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _gone_within(pids: set[int], seconds: float) -> dict[int, str]:
    """What of ``pids`` still runs after waiting up to ``seconds`` for all to end."""
    deadline = time.monotonic() + seconds
    while True:
        left = {pid: c for pid in pids if (c := running_command(pid))}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


#: a finder that marks when a request reaches it, then takes five minutes to answer
SLOW_PLUGIN = """
import os, time
from acts_gnn.finders import register_finder

class SlowFinder:
    name = "slow"

    def run(self, features):
        open(os.environ["SLOW_MARK"], "w").close()
        time.sleep(300)

    def reconstruct(self, event):
        raise NotImplementedError

register_finder("slow", SlowFinder, summary="answers in five minutes")
"""


def test_a_killed_serve_takes_its_tritonserver_along_at_once(tmp_path):
    """PyTriton's parent-death signal only starts Triton's graceful stop, which waited for the
    request in flight — kept the ports open 30 s and the process running, and the client waited
    its whole timeout; the reaper ends it at once, and the client hears of it at once."""
    import threading

    from acts_gnn.errors import RemoteInferenceError
    from acts_gnn.finders import PLUGINS_VARIABLE
    from acts_gnn.io.example import example_dir
    from acts_gnn.io.source import open_events
    from acts_gnn.triton.client import RemotePipeline

    (tmp_path / "slow_plugin.py").write_text(SLOW_PLUGIN)
    mark = tmp_path / "in-flight"
    env = {PLUGINS_VARIABLE: "slow_plugin", "PYTHONPATH": str(tmp_path), "SLOW_MARK": str(mark)}
    served = ServeProcess(tmp_path, "--model", "slow", env=env)
    try:
        served.wait_ready()
        family = descendants(served.process.pid)
        commands = {pid: running_command(pid) or "" for pid in family}
        servers = [c for c in commands.values() if c.split()[0].endswith("/bin/tritonserver")]
        assert len(servers) == 1, commands
        (event,) = open_events([example_dir()])
        remote = RemotePipeline([served.grpc_url], "slow", retries=0, timeout_s=120)
        failures = []

        def request() -> None:
            try:
                remote.reconstruct(event)
            except RemoteInferenceError as exc:
                failures.append((exc, time.monotonic()))

        client = threading.Thread(target=request)
        client.start()
        deadline = time.monotonic() + 60
        while not mark.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert mark.exists(), served.log()[-2000:]
        shared = Path("/dev/shm")  # PyTriton's blocks, named after serve's PID: 4 MiB each
        blocks = sorted(shared.glob(f"pytrtion{served.process.pid}-*"))
        assert blocks or not shared.is_dir()
        os.kill(served.process.pid, signal.SIGKILL)  # serve alone, not its process group
        killed = time.monotonic()
        served.process.wait()
        left = _gone_within(family, 10)
        assert left == {}, f"still running 10 s after serve was killed: {left}"
        deadline = time.monotonic() + 10  # removed by the reaper: nothing else would
        while any(block.exists() for block in blocks) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [block for block in blocks if block.exists()]
        client.join(60)
        assert not client.is_alive()
        ((failure, when),) = failures
        assert when - killed < 10
        assert "the server closed the connection while answering" in str(failure)
    finally:
        _kill_all(descendants(served.process.pid) | locals().get("family", set()))
        served.kill()


def test_a_killed_process_group_leaves_no_shared_memory(tmp_path):
    """A batch system kills serve's whole process group (its resource tracker too): the segments
    of PyTriton's tensor store (random ``psm_`` names) that a request left mapped are removed by
    the watchdog, which noted them while serve ran."""
    from acts_gnn.io.example import example_dir
    from acts_gnn.io.source import open_events
    from acts_gnn.triton.client import RemotePipeline

    shared = Path("/dev/shm")
    if not shared.is_dir():
        pytest.skip("no /dev/shm here")
    served = ServeProcess(tmp_path, "--model", "unrolling_tracking")
    try:
        served.wait_ready()
        (event,) = open_events([example_dir()])
        RemotePipeline([served.grpc_url], "unrolling_tracking").reconstruct(event)
        segments = {shared / name for name in _mapped_segments(served.process.pid)}
        assert segments, "serve maps no psm_ segment after a request"
        time.sleep(1.5)  # the watchdog notes serve's segments twice a second
        served.kill()  # SIGKILL to the process group: serve, its resource tracker, tritonserver
        deadline = time.monotonic() + 10
        while any(s.exists() for s in segments) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [s for s in segments if s.exists()]
    finally:
        served.kill()


def _mapped_segments(pid: int) -> set[str]:
    """The names of the POSIX shared memory segments (``psm_…``) process ``pid`` maps."""
    try:
        lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
    except OSError:
        return set()
    return {line.split("/dev/shm/", 1)[1].split()[0] for line in lines if "/dev/shm/psm_" in line}


_WATCHING = """
import subprocess, sys, time
from acts_gnn.triton.reaper import Reaper
reaper = Reaper()
shell = subprocess.Popen(["sh", "-c", "sleep 300 & wait"])  # a child with a child
ignored = subprocess.Popen(["sleep", "300"])  # not told: left alone
time.sleep(0.3)
reaper.watch([shell.pid])
print(shell.pid, ignored.pid, flush=True)
if sys.stdin.readline() == "close\\n":
    reaper.close()
    print("closed", flush=True)
time.sleep(300)
"""


@pytest.mark.parametrize("ending", ["killed", "close"])
def test_the_reaper_kills_what_it_was_told_of_and_its_children(ending):
    with subprocess.Popen(
        [sys.executable, "-c", _WATCHING], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as watching:
        shell, ignored = map(int, watching.stdout.readline().split())
        told = {shell} | descendants(shell)
        try:
            assert len(told) == 2
            if ending == "killed":
                watching.kill()  # SIGKILL: no clean-up of its own runs
                watching.wait()
            else:
                watching.stdin.write("close\n")
                watching.stdin.flush()
                assert watching.stdout.readline() == "closed\n"
            assert _gone_within(told, 10) == {}
            assert running_command(ignored) == "sleep 300"
        finally:
            watching.kill()
            _kill_all(told | {ignored})

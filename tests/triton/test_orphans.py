"""``serve --balancer`` killed with SIGKILL leaves nothing running: its children die with it."""

from __future__ import annotations

import os
import signal
import time

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
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            left = {pid: c for pid in family if (c := running_command(pid))}
            if not left:
                break
            time.sleep(0.5)
        assert left == {}, f"still running after the parent was killed: {left}"
    finally:
        for pid in descendants(served.process.pid) | locals().get("family", set()):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        served.kill()

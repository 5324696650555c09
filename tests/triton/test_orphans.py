"""``serve --balancer`` killed with SIGKILL leaves nothing running: its children die with it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.triton
pytest.importorskip("pytriton", reason="nvidia-pytriton is not installed (acts-gnn[server])")

from acts_gnn.errors import ActsGnnError  # noqa: E402
from acts_gnn.triton.balancer import find_nginx  # noqa: E402
from tests.triton.serving import ServeProcess  # noqa: E402


def _children() -> dict[int, list[int]]:
    """parent pid → child pids, from /proc."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def _descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _running(pid: int) -> str | None:
    """The command line of ``pid`` while it runs (a zombie has finished), else None."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    return None if state == "Z" else command.strip()


def test_a_killed_balancer_parent_takes_its_servers_and_nginx_along(tmp_path):
    try:
        find_nginx()
    except ActsGnnError:
        pytest.skip("nginx is not installed (apt install nginx-light)")
    served = ServeProcess(
        tmp_path, "--balancer", "2", "--model", "unrolling_tracking", "--instances", "1"
    )
    try:
        served.wait_ready()
        family = _descendants(served.process.pid)
        commands = {pid: _running(pid) or "" for pid in family}
        # two serve children, each with its tritonserver, and the balancer
        assert sum("tritonserver" in c for c in commands.values()) >= 2, commands
        assert sum("nginx" in c for c in commands.values()) >= 1, commands
        os.kill(served.process.pid, signal.SIGKILL)  # what kill -9 or the OOM killer does
        served.process.wait()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            left = {pid: c for pid in family if (c := _running(pid))}
            if not left:
                break
            time.sleep(0.5)
        assert left == {}, f"still running after the parent was killed: {left}"
    finally:
        for pid in _descendants(served.process.pid) | locals().get("family", set()):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        served.kill()

"""A real single-node Slurm cluster in a temporary directory (test helper).

Debian's ``slurm-wlm`` and ``munge``, run as root: ``munged`` on its own socket and key,
``slurmctld`` and ``slurmd`` on free ports with ``proctrack/linuxproc`` and ``task/none`` (no
cgroups needed), one node with this machine's CPUs, and every file — configuration, state, spool,
logs, pid files — under the directory given. :meth:`SingleNodeSlurm.stop` cancels every job,
waits for them to end and stops the daemons: nothing is left running.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from acts_gnn.triton.spawn import free_ports

#: the programs a cluster needs
PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo")


def unavailable() -> str | None:
    """Why a cluster cannot be set up here, or None when it can."""
    missing = [p for p in PROGRAMS if shutil.which(p) is None]
    if missing:
        return (
            f"Slurm is not installed ({', '.join(missing)} missing): "
            "apt-get install slurm-wlm munge, or `make test-slurm`"
        )
    if os.geteuid() != 0:
        return "the single-node Slurm cluster runs its daemons as root"
    return None


class SlurmError(RuntimeError):
    """A Slurm command failed or a job did not end in time (the message has the logs)."""


class SingleNodeSlurm:
    """``with SingleNodeSlurm(tmp) as slurm:`` — a running cluster; :meth:`env` for commands."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.node = socket.gethostname().split(".")[0]
        self.conf = root / "slurm.conf"
        self.socket = root / "munge" / "munge.socket"

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of a command talking to this cluster."""
        return {**os.environ, "SLURM_CONF": str(self.conf), **(extra or {})}

    def __enter__(self) -> SingleNodeSlurm:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start(self) -> None:
        for sub in ("munge", "state", "spool", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root / "munge", 0o755)  # munged wants its socket's directory searchable
        key = self.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self._run(
            "munged",
            "--force",
            f"--socket={self.socket}",
            f"--key-file={key}",
            f"--log-file={self.root / 'log' / 'munged.log'}",
            f"--pid-file={self.root / 'munge' / 'munged.pid'}",
            f"--seed-file={self.root / 'munge' / 'munged.seed'}",
        )
        controller, node = free_ports(2)
        root = self.root
        self.conf.write_text(
            "\n".join(
                [
                    "ClusterName=actsgnntest",
                    f"SlurmctldHost={self.node}(127.0.0.1)",
                    "SlurmUser=root",
                    "SlurmdUser=root",
                    f"SlurmctldPort={controller}",
                    f"SlurmdPort={node}",
                    "AuthType=auth/munge",
                    "CredType=cred/munge",
                    f"AuthInfo=socket={self.socket}",
                    f"StateSaveLocation={root / 'state'}",
                    f"SlurmdSpoolDir={root / 'spool'}",
                    f"SlurmctldPidFile={root / 'slurmctld.pid'}",
                    f"SlurmdPidFile={root / 'slurmd.pid'}",
                    f"SlurmctldLogFile={root / 'log' / 'slurmctld.log'}",
                    f"SlurmdLogFile={root / 'log' / 'slurmd.log'}",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "SchedulerType=sched/builtin",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_CPU",
                    "ReturnToService=2",
                    "MpiDefault=none",
                    "JobAcctGatherType=jobacct_gather/none",
                    "AccountingStorageType=accounting_storage/none",
                    # a cancelled job's processes get SIGTERM, then SIGKILL this many s later
                    "KillWait=10",
                    f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={os.cpu_count()} State=UNKNOWN",
                    # jobs share the node's CPUs (a server and its clients on one machine)
                    f"PartitionName=main Nodes={self.node} Default=YES MaxTime=INFINITE "
                    "State=UP OverSubscribe=FORCE:8",
                    "",
                ]
            )
        )
        self._run("slurmctld", "-c")  # -c: a clean start, no state from an earlier cluster
        self._run("slurmd")
        deadline = time.monotonic() + 60
        while True:
            state = self._run("sinfo", "-h", "-N", "-o", "%T").strip()
            if state in ("idle", "mixed", "allocated"):
                return
            if time.monotonic() > deadline:
                raise SlurmError(f"the node did not come up (sinfo: {state!r})\n{self.logs()}")
            time.sleep(0.5)

    def _run(self, *command: str, env: Mapping[str, str] | None = None) -> str:
        done = subprocess.run(
            command, env=self.env(env), capture_output=True, text=True, timeout=60
        )
        if done.returncode != 0:
            raise SlurmError(
                f"{' '.join(command)}: exit {done.returncode}\n{done.stderr}\n{self.logs()}"
            )
        return done.stdout

    def sbatch(self, *args: str | Path, env: Mapping[str, str] | None = None) -> str:
        """Submit a job; its id."""
        out = self._run("sbatch", "--parsable", *map(str, args), env=env)
        return out.strip().split(";")[0]

    def jobs(self, job: str | None = None) -> list[tuple[str, str]]:
        """(job id, state) of the queued and running jobs (array tasks as ``J_T``)."""
        args = ["squeue", "-h", "-o", "%i %T"] + (["-j", job] if job else [])
        try:
            out = self._run(*args)
        except SlurmError:
            return []  # squeue -j on a job that has left the queue
        return [tuple(line.split()) for line in out.splitlines() if line.strip()]  # type: ignore[misc]

    def wait(self, job: str, timeout_s: float, running: bool = False) -> None:
        """Until ``job`` (all of its array tasks) has left the queue, or runs when ``running``."""
        deadline = time.monotonic() + timeout_s
        while True:
            states = [state for _, state in self.jobs(job)]
            if (running and "RUNNING" in states) or (not running and not states):
                return
            if time.monotonic() > deadline:
                raise SlurmError(f"job {job} still {states} after {timeout_s:g} s\n{self.logs()}")
            time.sleep(0.5)

    def cancel(self, job: str, *, signal_name: str | None = None) -> None:
        """``scancel`` (with ``--signal`` when given)."""
        self._run("scancel", *([f"--signal={signal_name}"] if signal_name else []), job)

    def logs(self) -> str:
        """The tails of the daemons' logs."""
        parts = []
        for path in sorted((self.root / "log").glob("*.log")):
            parts.append(f"--- {path.name}\n" + path.read_text(errors="replace")[-2000:])
        return "\n".join(parts)

    def stop(self, timeout_s: float = 60) -> None:
        """Cancel every job, wait for them to end, stop the daemons."""
        if self.conf.is_file() and (self.root / "slurmctld.pid").is_file():
            try:
                self._run("scancel", "--full", "--user=root")
                deadline = time.monotonic() + timeout_s
                while self.jobs() and time.monotonic() < deadline:
                    time.sleep(0.5)
            except (SlurmError, subprocess.TimeoutExpired):
                pass
        for name in ("slurmd.pid", "slurmctld.pid", "munge/munged.pid"):
            _stop_pid(self.root / name)


def _stop_pid(path: Path, timeout_s: float = 20) -> None:
    """SIGTERM the daemon whose pid ``path`` holds; SIGKILL it if it is still there later."""
    try:
        pid = int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.2)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def job_lines(text: str) -> Sequence[str]:
    """``Submitted batch job N`` lines of a log (for messages)."""
    return re.findall(r"Submitted batch job \d+", text)

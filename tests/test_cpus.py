"""The thread count: what the affinity mask and the cgroup quota allow, or what the user says."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from acts_gnn import cpus
from acts_gnn.errors import ConfigError


def test_cgroup_v2_quota(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cpus.cgroup_cpu_limit(tmp_path) == 1.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cpus.cgroup_cpu_limit(tmp_path) is None


def test_cgroup_v1_quota(tmp_path):
    v1 = tmp_path / "cpu"
    v1.mkdir()
    (v1 / "cpu.cfs_quota_us").write_text("50000\n")
    (v1 / "cpu.cfs_period_us").write_text("100000\n")
    assert cpus.cgroup_cpu_limit(tmp_path) == 0.5
    (v1 / "cpu.cfs_quota_us").write_text("-1\n")
    assert cpus.cgroup_cpu_limit(tmp_path) is None
    assert cpus.cgroup_cpu_limit(tmp_path / "absent") is None


def test_a_quota_lowers_the_count(monkeypatch):
    monkeypatch.setattr(cpus.os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3})
    monkeypatch.setattr(cpus, "cgroup_cpu_limit", lambda: 1.5)
    assert cpus.available_cpus() == 2  # a quota of 1.5 CPUs: two threads, not four
    monkeypatch.setattr(cpus, "cgroup_cpu_limit", lambda: None)
    assert cpus.available_cpus() == 4


def test_resolution_order(monkeypatch):
    monkeypatch.setattr(cpus, "available_cpus", lambda: 8)
    monkeypatch.delenv("ACTS_GNN_THREADS", raising=False)
    assert cpus.resolve_threads() == 8
    assert cpus.resolve_threads(share=3) == 2
    assert cpus.resolve_threads(share=16) == 1
    monkeypatch.setenv("ACTS_GNN_THREADS", "3")
    assert cpus.resolve_threads(share=4) == 3
    assert cpus.resolve_threads(5) == 5
    monkeypatch.setenv("ACTS_GNN_THREADS", "many")
    with pytest.raises(ConfigError, match="ACTS_GNN_THREADS must be an integer, got 'many'"):
        cpus.resolve_threads()
    with pytest.raises(ConfigError, match="--threads must be at least 1, got 0"):
        cpus.resolve_threads(0)
    with pytest.raises(ConfigError, match=r"^--threads must be at most 1024, got 100000$"):
        cpus.resolve_threads(100000)
    monkeypatch.setenv("ACTS_GNN_THREADS", "0")  # the setting the user made is named
    with pytest.raises(ConfigError, match=r"^ACTS_GNN_THREADS must be at least 1, got 0$"):
        cpus.resolve_threads()


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs sched_setaffinity")
def test_reconstruct_follows_the_affinity_mask(tmp_path):
    """Under ``taskset -c 0`` (one CPU) torch and K1 run one thread, not one per machine core."""
    code = (
        "import os, sys, torch\n"
        "os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
        "from acts_gnn.cli.main import main\n"
        f"rc = main(['reconstruct', '--example', '-q', '--timing', {str(tmp_path / 't.json')!r}])\n"
        "print('RESULT', rc, torch.get_num_threads())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ACTS_GNN_THREADS"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.split("RESULT")[1].split() == ["0", "1"], out.stderr


def test_threads_option(run_cli, tmp_path):
    import torch

    before = torch.get_num_threads()
    try:
        result = run_cli(
            "reconstruct", "--example", "--threads", "1", "-q", "--timing", tmp_path / "t.json"
        )
        assert result.exit_code == 0, result.stderr
        assert torch.get_num_threads() == 1
        result = run_cli("reconstruct", "--example", "--threads", "0", "--timing", tmp_path / "u")
        assert (result.exit_code, result.stderr) == (
            2,
            "acts-gnn: error: --threads must be at least 1, got 0\n",
        )
    finally:
        torch.set_num_threads(before)


def test_more_threads_than_cpus_is_warned(monkeypatch):
    monkeypatch.setattr(cpus, "available_cpus", lambda: 2)
    assert cpus.oversubscribed(2) is None
    assert cpus.oversubscribed(1, workers=4) is None  # one thread each: the workers take turns
    assert cpus.oversubscribed(64) == (
        "64 threads on the 2 CPU(s) this process may use: threads that wait for a busy core "
        "slow every stage (--threads 2 fits)"
    )
    assert cpus.oversubscribed(2, workers=2) == (
        "2 × 2 threads on the 2 CPU(s) this process may use: threads that wait for a busy core "
        "slow every stage (--threads 1 fits)"
    )


def test_reconstruct_warns_of_more_threads_than_cpus(run_cli, tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(cpus, "available_cpus", lambda: 2)
    before = torch.get_num_threads()
    try:
        result = run_cli(
            "reconstruct", "--example", "--backend", "truth", "--threads", "3", "-q",
            "--timing", tmp_path / "t.json",
        )  # fmt: skip
    finally:
        torch.set_num_threads(before)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == (
        "acts-gnn: warning: 3 threads on the 2 CPU(s) this process may use: threads that wait "
        "for a busy core slow every stage (--threads 2 fits)\n"
    )


@pytest.mark.parametrize(
    ("variable", "given", "expected"),
    [
        # torch's OpenMP threads sleep while they wait
        ("OMP_WAIT_POLICY", None, "PASSIVE"),
        ("OMP_WAIT_POLICY", "ACTIVE", "ACTIVE"),
        # NumPy's large arrays in ordinary pages
        ("NUMPY_MADVISE_HUGEPAGE", None, "0"),
        ("NUMPY_MADVISE_HUGEPAGE", "1", "1"),
    ],
)
def test_the_command_line_sets_its_process_defaults_unless_told(variable, given, expected):
    code = (
        "import os, sys\n"
        "from acts_gnn.cli.main import main\n"
        "main(['--version'])\n"
        "print('VALUE', os.environ[sys.argv[1]])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != variable}
    if given:
        env[variable] = given
    out = subprocess.run(
        [sys.executable, "-c", code, variable], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.split("VALUE")[1].split() == [expected]


@pytest.mark.parametrize(("given", "advice_after"), [(None, "False"), ("1", "True")])
def test_a_numpy_imported_before_stops_advising_huge_pages(given, advice_after):
    # _set_madvise_hugepage returns the setting it replaces: what avoid_numpy_huge_pages left
    code = (
        "import numpy\n"
        "from acts_gnn.cpus import avoid_numpy_huge_pages\n"
        "avoid_numpy_huge_pages()\n"
        "core = getattr(numpy, '_core', None) or numpy.core\n"
        "print('ADVICE', core.multiarray._set_madvise_hugepage(False))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    if given:
        env["NUMPY_MADVISE_HUGEPAGE"] = given
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.split("ADVICE")[1].split() == [advice_after]


# an event's arrays (200 MB) made and freed, then the next event's, each in a thread of its
# own (as `serve` runs requests); the page faults of the second
_REFAULTS = (
    "import resource, sys, threading\n"
    "import numpy\n"
    "from acts_gnn.cpus import keep_freed_memory\n"
    "kept = keep_freed_memory() if sys.argv[1] == 'keep' else None\n"
    "def event():\n"
    "    numpy.ones(25_000_000)\n"
    "for n in range(2):\n"
    "    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
    "    worker = threading.Thread(target=event)\n"
    "    worker.start()\n"
    "    worker.join()\n"
    "print('KEPT', kept, 'FAULTS', resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n"
)


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's allocator on Linux")
def test_freed_memory_is_kept_for_the_next_event():
    def run(mode: str, **env: str) -> tuple[str, int]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
        clean["NUMPY_MADVISE_HUGEPAGE"] = "0"  # as the command line runs: pages of 4 KiB
        out = subprocess.run(
            [sys.executable, "-c", _REFAULTS, mode],
            capture_output=True,
            text=True,
            check=True,
            env=clean | env,
        ).stdout.split()
        return out[1], int(out[3])

    # 200 MB is 48,828 pages of 4 KiB: each touched anew unless the freed ones are reused
    kept, faults = run("keep")
    assert kept == "True" and faults < 1_000
    assert run("default")[1] > 40_000
    # the user's own allocator settings win: nothing changed
    kept, faults = run("keep", MALLOC_TRIM_THRESHOLD_="131072")
    assert kept == "False" and faults > 40_000


def test_compiled_loops_leave_torchs_thread_count_as_it_was():
    # a fresh process: the first parallel loop of Numba's OpenMP pool is the one that set the
    # calling thread's OpenMP count (shared with torch) to the pool's size
    code = (
        "import torch\n"
        "from acts_gnn.gnn.pipeline import Pipeline\n"
        "from acts_gnn.io.example import example_dir\n"
        "from acts_gnn.io.source import open_events\n"
        "(event,) = list(open_events([example_dir()]))\n"
        "torch.set_num_threads(1)\n"
        "print('BEFORE', torch.get_num_threads())\n"
        "Pipeline(device='cpu').run(event.features())\n"
        "print('AFTER', torch.get_num_threads())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["BEFORE", "1", "AFTER", "1"], out.stderr[-3000:]


def test_naming_the_machine_loads_no_torch():
    # every run's record named the machine through torch: 0.9 s, and CUDA started on a GPU node
    import subprocess
    import sys

    script = (
        "import sys\nfrom acts_gnn.cpus import machine\ntext = machine()\n"
        "print('torch' in sys.modules, text)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded, text = out.stdout.split(" ", 1)
    assert loaded == "False" and "cores, Python" in text and "torch" not in text

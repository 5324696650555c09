"""The Slurm recipes of ``examples/slurm`` on a real single-node Slurm, unchanged in shape.

The server job (``serve-gpu.sbatch``) runs on the CPU without a GPU request through its documented
variables (``ACTS_GNN_DEVICE=cpu``, ``SBATCH_GRES=none``) and advertises its address only once
every model is ready; a reconstruction array job (``reconstruct-cpu.sbatch``) sends several input
directories to it. Every event's tracks must exist exactly once and equal a local run's. Then a
running task is cancelled mid-run (preemption) and submitted again: ``--resume`` finishes the
rest, nothing lost and nothing written twice. Everything is torn down at the end, the server and
its ``tritonserver`` included.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.slurm.cluster import SingleNodeSlurm, unavailable

pytestmark = [pytest.mark.slurm, pytest.mark.triton]
if reason := unavailable():
    pytest.skip(reason, allow_module_level=True)
pytest.importorskip("pytriton", reason="nvidia-pytriton is not installed (acts-gnn[server])")
pytest.importorskip("tritonclient.grpc", reason="tritonclient is not installed")

from acts_gnn.io.example import example_dir  # noqa: E402
from acts_gnn.triton.spawn import free_ports  # noqa: E402

RECIPES = Path(__file__).resolve().parents[2] / "examples" / "slurm"
BIN = Path(sys.executable).parent


def _events(directory: Path, ids: range) -> None:
    """The example event under each of ``ids`` (ACTS CSV: the id is in the file names)."""
    directory.mkdir(parents=True)
    for path in example_dir().glob("event000000000-*.csv"):
        suffix = path.name.removeprefix("event000000000")
        for event_id in ids:
            shutil.copy(path, directory / f"event{event_id:09d}{suffix}")


def _written(directory: Path) -> dict[str, str]:
    """File name → content of every proto-track CSV under ``directory``."""
    return {p.name: p.read_text() for p in sorted(directory.glob("*-prototracks.csv"))}


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that contain ``text``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in line and str(os.getpid()) != cmdline.parent.name:
            found.append(line)
    return found


def test_serve_and_reconstruct_recipes_with_preemption(tmp_path):
    # the local answer: the example event's proto-tracks, reconstructed in this machine's CPU
    reference = tmp_path / "local"
    subprocess.run(
        [BIN / "acts-gnn", "reconstruct", "--example", "--quiet", "--csv-dir", reference],
        check=True,
        timeout=300,
    )
    expected = (reference / "event000000000-prototracks.csv").read_text()

    inputs = tmp_path / "inputs"
    runs = {f"run{k}": range(2 * k, 2 * k + 2) for k in range(3)}
    for name, ids in runs.items():
        _events(inputs / name, ids)
    _events(inputs / "long", range(40))
    (tmp_path / "list.txt").write_text("".join(f"{inputs / n}\n" for n in runs))
    (tmp_path / "long.txt").write_text(f"{inputs / 'long'}\n")
    work, addresses, tracks = tmp_path / "work", tmp_path / "addresses", tmp_path / "tracks"
    work.mkdir()
    (tmp_path / "tmp").mkdir()
    grpc, http, metrics = free_ports(3)
    env = {
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "TMPDIR": str(tmp_path / "tmp"),
        "ACTS_GNN_ADDRESSES": str(addresses),
        "ACTS_GNN_OUTPUT": str(tracks),
        # the server recipe on a machine without GPUs: its documented variables
        "ACTS_GNN_DEVICE": "cpu",
        "ACTS_GNN_INSTANCES": "1",
        "ACTS_GNN_PORT": str(grpc),
        "ACTS_GNN_HTTP_PORT": str(http),
        "ACTS_GNN_METRICS_PORT": str(metrics),
        "SBATCH_GRES": "none",
    }
    chdir = f"--chdir={work}"
    with SingleNodeSlurm(tmp_path / "slurm") as slurm:
        server = slurm.sbatch(chdir, "--cpus-per-task=1", RECIPES / "serve-gpu.sbatch", env=env)
        deadline = time.monotonic() + 300
        while not (addresses.is_dir() and any(addresses.iterdir())):
            if not slurm.jobs(server) or time.monotonic() > deadline:
                logs = "\n".join(p.read_text() for p in work.glob("*.log"))
                pytest.fail(f"the server job never advertised its address:\n{logs[-4000:]}")
            time.sleep(1)
        # advertised = every model ready (the recipe asks Triton for each one)
        (address,) = [p.read_text().strip() for p in addresses.iterdir()]
        assert address.endswith(f":{grpc}")

        array = slurm.sbatch(chdir, "--array=0-2", RECIPES / "reconstruct-cpu.sbatch",
                             tmp_path / "list.txt", env=env)  # fmt: skip
        slurm.wait(array, timeout_s=300)
        for name, ids in runs.items():
            written = _written(tracks / name / "prototracks")
            assert sorted(written) == [f"event{i:09d}-prototracks.csv" for i in ids], name
            assert all(text == expected for text in written.values()), name
            timing = json.loads((tracks / name / "timing.json").read_text())
            # answered by the server, not by the recipe's local fallback
            assert {e["backend"] for e in timing["events"]} == {"remote:gnn_tracking"}

        # preemption: cancel the long task once its first events are written, then resubmit
        long_out = tracks / "long" / "prototracks"
        first = slurm.sbatch(chdir, "--array=0", RECIPES / "reconstruct-cpu.sbatch",
                             tmp_path / "long.txt", env=env)  # fmt: skip
        deadline = time.monotonic() + 300
        while not (long_out.is_dir() and any(long_out.glob("*-prototracks.csv"))):
            assert time.monotonic() < deadline, "the long task wrote nothing"
            time.sleep(0.1)
        slurm.cancel(first)
        slurm.wait(first, timeout_s=120)
        before = _written(long_out)
        assert 0 < len(before) < 40, f"{len(before)} of 40 events written before the cancel"
        assert all(text == expected for text in before.values())
        # nothing half written: no temporary file beside the finished ones
        assert sorted(p.name for p in long_out.iterdir()) == sorted(before)

        again = slurm.sbatch(chdir, "--array=0", RECIPES / "reconstruct-cpu.sbatch",
                             tmp_path / "long.txt", env=env)  # fmt: skip
        slurm.wait(again, timeout_s=300)
        after = _written(long_out)
        assert sorted(after) == [f"event{i:09d}-prototracks.csv" for i in range(40)]
        assert all(text == expected for text in after.values())
        for name, text in before.items():  # what the first task wrote was kept, not redone
            assert after[name] == text
        # the resumed task reconstructed exactly the events that were not written (its timing
        # report lists only those), each once, on the server
        timing = json.loads((tracks / "long" / "timing.json").read_text())
        done_before = {int(name[5:14]) for name in before}
        assert sorted(e["event_id"] for e in timing["events"]) == sorted(
            set(range(40)) - done_before
        )
        assert {e["backend"] for e in timing["events"]} == {"remote:gnn_tracking"}

        slurm.cancel(server)
        slurm.wait(server, timeout_s=120)
    # nothing left: no server, no tritonserver, no Slurm daemon of this cluster
    assert _processes_mentioning(str(tmp_path)) == []
    assert not any(addresses.iterdir()), "the server job left its address behind"

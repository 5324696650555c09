"""``acts-gnn simulate`` with real ACTS: tiny events, read back, reproducible, perfect truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from acts_gnn.acts.pileup import PileupModel
from acts_gnn.errors import ConfigError, OutputError
from acts_gnn.io.example import example_dir
from acts_gnn.io.source import open_events

pytestmark = pytest.mark.acts
pytest.importorskip("acts", reason="pyacts is not installed (pip install 'acts-gnn[acts]')")

from acts_gnn.acts.simulate import SimulationConfig, simulate  # noqa: E402


def _files(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.glob("event*.csv"))}


def test_tiny_event_reads_back_and_truth_backend_is_perfect(tmp_path, run_cli):
    config = SimulationConfig(events=2, seed=3, model=PileupModel(pileup=2, signal_particles=5))
    seen = []

    def done(number):  # reported once its files are written (it was when the event started)
        written = (tmp_path / "sim").glob(f".simulate-*/events/event{number:09d}-spacepoint.csv")
        seen.append((number, len(list(written))))

    written = simulate(config, tmp_path / "sim", on_event=done)
    assert seen == [(0, 1), (1, 1)]
    assert sorted(p.name for p in written) == sorted(
        f"event{n:09d}-{kind}.csv"
        for n in (0, 1)
        for kind in (
            "particles",
            "particles_simulated",
            "hits",
            "measurements",
            "measurement-simhit-map",
            "spacepoint",
        )
    )
    events = list(open_events([tmp_path / "sim"]))
    assert [e.event_id for e in events] == [0, 1]
    for event in events:
        assert len(event) > 50
        assert np.all(event.truth.particle_id != 0)  # no noise asked for
        assert set(np.unique(event.truth.particle_id)) <= set(event.truth.particles.particle_id)
    result = run_cli(
        "reconstruct",
        tmp_path / "sim",
        "--backend",
        "truth",
        "--performance",
        tmp_path / "perf.json",
        "-q",
    )
    assert result.exit_code == 0, result.stderr
    import json

    report = json.loads((tmp_path / "perf.json").read_text())
    assert report["selections"][0]["efficiency"] == 1.0
    assert report["selections"][0]["n_targets"] > 0


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    model = PileupModel(pileup=1, signal_particles=3)
    simulate(SimulationConfig(events=1, seed=9, model=model), tmp_path / "a")
    simulate(SimulationConfig(events=1, seed=9, model=model), tmp_path / "b")
    simulate(SimulationConfig(events=1, seed=10, model=model), tmp_path / "c")
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert (
        _files(tmp_path / "a")["event000000000-spacepoint.csv"]
        != _files(tmp_path / "c")["event000000000-spacepoint.csv"]
    )


def _same_table(ours: bytes, committed: bytes) -> bool:
    """Equal CSV tables: the same header, identifiers and integers exactly, floats to 1e-5.

    Fatras's energy loss (the hits' ``deltae``) differs in its eighth digit between CPUs (libm
    and FMA); every value that tracking reads — positions, identifiers, space points — is exact.
    """
    import io

    a = np.genfromtxt(io.BytesIO(ours), delimiter=",", names=True, dtype=None)
    b = np.genfromtxt(io.BytesIO(committed), delimiter=",", names=True, dtype=None)
    if a.dtype.names != b.dtype.names or a.shape != b.shape:
        return False
    for name in a.dtype.names:
        if a.dtype[name].kind == "f":
            if not np.allclose(a[name], b[name], rtol=1e-5, atol=1e-12, equal_nan=True):
                return False
        elif not np.array_equal(a[name], b[name]):
            return False
    return True


def test_example_event_is_reproduced_by_simulate(tmp_path, run_cli):
    result = run_cli("simulate", "-o", tmp_path, "--events", "1", "--pileup", "10", "--seed", "42")
    assert result.exit_code == 0, result.stderr
    ours, committed = _files(tmp_path), _files(example_dir())
    assert sorted(ours) == sorted(committed)
    exact = ("event000000000-spacepoint.csv", "event000000000-measurements.csv")
    for name in exact:  # what reconstruction reads, byte for byte
        assert ours[name] == committed[name], name
    for name in sorted(set(ours) - set(exact)):
        assert _same_table(ours[name], committed[name]), name


def test_quiet_prints_nothing_and_writes_the_same_files(tmp_path, run_cli):
    args = ("simulate", "--events", "1", "--pileup", "2", "--signal", "5", "--seed", "3")
    loud = run_cli(*args, "-o", tmp_path / "loud")
    quiet = run_cli(*args, "-o", tmp_path / "quiet", "-q")
    assert (loud.exit_code, quiet.exit_code) == (0, 0), loud.stderr + quiet.stderr
    assert f"wrote 6 files (1 event) to {tmp_path / 'loud'}" in loud.stderr
    assert (quiet.stdout, quiet.stderr) == ("", "")
    assert _files(tmp_path / "quiet") == _files(tmp_path / "loud")


def test_noise_fraction(tmp_path):
    config = SimulationConfig(
        events=1, seed=4, noise_fraction=0.2, model=PileupModel(pileup=2, signal_particles=5)
    )
    simulate(config, tmp_path)
    (event,) = list(open_events([tmp_path]))
    noise = event.truth.particle_id == 0
    assert noise.mean() == pytest.approx(0.2, abs=0.01)
    # noise points sit on the radii of real ones
    real_r = set(np.round(event.spacepoints.r[~noise], 2))
    assert np.mean([r in real_r for r in np.round(event.spacepoints.r[noise], 2)]) > 0.9


def test_stopped_particles_lose_the_far_end_of_their_space_points(tmp_path):
    model = PileupModel(pileup=2, signal_particles=10)
    simulate(SimulationConfig(events=1, seed=5, model=model), tmp_path / "all")
    simulate(SimulationConfig(events=1, seed=5, model=model, stop_fraction=0.5), tmp_path / "stop")
    (full,) = list(open_events([tmp_path / "all"]))
    (stopped,) = list(open_events([tmp_path / "stop"]))
    kept = np.isin(full.spacepoints.measurement_id, stopped.spacepoints.measurement_id)
    assert kept.sum() == len(stopped) < len(full)
    particles = full.truth.particles
    vertex = particles.index_of(full.truth.particle_id)
    sp = full.spacepoints
    distance = np.hypot(np.hypot(sp.x - particles.vx[vertex], sp.y - particles.vy[vertex]),
                        sp.z - particles.vz[vertex])  # fmt: skip
    shortened = 0
    for p in np.unique(full.truth.particle_id):
        rows = np.flatnonzero(full.truth.particle_id == p)
        order = kept[rows[np.argsort(distance[rows])]]
        assert order.tolist() == sorted(order.tolist(), reverse=True)  # a prefix by distance
        shortened += not order.all()
    assert 0 < shortened < np.unique(full.truth.particle_id).size


def test_an_event_of_one_region_keeps_its_noise_apart_from_the_removed_hits(tmp_path):
    model = PileupModel(pileup=5, signal_particles=20)
    config = SimulationConfig(
        events=3, seed=6, model=model, region_fraction=1.0, noise_fraction=0.2
    )
    simulate(config, tmp_path)
    regions = []
    for event in open_events([tmp_path]):
        volumes = set(np.unique(event.spacepoints.volume_id).tolist())
        assert volumes <= {8, 13, 17} or volumes <= {7, 12, 16} or volumes <= {9, 14, 18}
        regions.append(min(volumes))
        # the noise ids come after every measurement of the event, kept or removed
        assert (event.truth.particle_id == 0).mean() == pytest.approx(0.2, abs=0.01)
    assert len(set(regions)) > 1


def test_displaced_particles_are_secondaries_whose_hits_start_where_they_do(tmp_path):
    model = PileupModel(pileup=2, signal_particles=20, displaced_fraction=0.5)
    simulate(SimulationConfig(events=1, seed=7, model=model), tmp_path)
    (event,) = list(open_events([tmp_path]))
    particles = event.truth.particles
    start_r = np.hypot(particles.vx, particles.vy)
    # ACTS wrote each displaced particle with a secondary vertex: read back as not primary
    secondary = ~particles.primary
    assert 0 < secondary.sum() < secondary.size
    assert (start_r[secondary] > 0.9).all() and (start_r[~secondary] < 0.1).all()
    # the hits of a displaced particle above 1 GeV (a 1.7 m circle: it cannot turn back) lie
    # beyond where it starts
    row = particles.index_of(event.truth.particle_id)
    on = row >= 0
    moved = np.zeros(on.size, bool)
    moved[on] = secondary[row[on]] & (particles.pt[row[on]] > 1.0)
    assert moved.sum() > 20
    assert (event.spacepoints.r[moved] > start_r[row[moved]]).all()


def test_refuses_bad_settings_and_full_directories(tmp_path):
    for events in (0, 10**9 + 1, 10**20):  # 10²⁰: "wrote 0 files", exit 0 (a float's linspace)
        with pytest.raises(ConfigError) as refused:
            simulate(SimulationConfig(events=events), tmp_path)
        assert str(refused.value) == f"--events must be from 1 to 1,000,000,000, got {events}"
    for seed in (-1, 2**64):  # ACTS refused them only when the chain ran: internal errors
        with pytest.raises(ConfigError, match=rf"^--seed must be from 0 to 2\^63 − 1, got {seed}$"):
            simulate(SimulationConfig(seed=seed), tmp_path)
    with pytest.raises(ConfigError, match="--noise must be in"):
        simulate(SimulationConfig(noise_fraction=1.5), tmp_path)
    with pytest.raises(ConfigError, match=r"--displaced must be in \[0, 1\], got 1\.5"):
        simulate(SimulationConfig(model=PileupModel(displaced_fraction=1.5)), tmp_path)
    with pytest.raises(ConfigError, match="--jets must be non-negative, got -1"):
        simulate(SimulationConfig(model=PileupModel(jets=-1)), tmp_path)
    with pytest.raises(ConfigError, match=r"--jet-particles must be at least 1, got 0\.5"):
        simulate(SimulationConfig(model=PileupModel(jets=2, jet_particles_mean=0.5)), tmp_path)
    with pytest.raises(ConfigError, match="nothing to simulate"):
        simulate(SimulationConfig(model=PileupModel(pileup=0)), tmp_path)
    for pileup in (float("nan"), float("inf"), -1.0):
        with pytest.raises(
            ConfigError, match=f"--pileup must be a non-negative number, got {pileup}"
        ):
            simulate(SimulationConfig(model=PileupModel(pileup=pileup)), tmp_path / "new")
    with pytest.raises(ConfigError, match="--signal must be non-negative, got -3"):
        simulate(SimulationConfig(model=PileupModel(signal_particles=-3)), tmp_path / "new")
    with pytest.raises(ConfigError, match=r"--jet-particles must be at least 1, got nan"):
        simulate(
            SimulationConfig(model=PileupModel(jets=1, jet_particles_mean=float("nan"))), tmp_path
        )
    with pytest.raises(ConfigError, match=r"^--jet-particles must be at least 1, got -1$"):
        SimulationConfig(model=PileupModel(jet_particles_mean=-1)).check()  # with or without jets
    with pytest.raises(
        ConfigError, match=r"^--jet-particles needs --jets: there is no jet to fill$"
    ):
        SimulationConfig(model=PileupModel(jet_particles_mean=40)).check()
    SimulationConfig(model=PileupModel(jets=1, jet_particles_mean=40)).check()
    assert not (tmp_path / "new").exists()
    (tmp_path / "event000000000-hits.csv").write_text("x\n")
    with pytest.raises(OutputError, match=r"already holds event files \(choose an empty "):
        simulate(SimulationConfig(model=PileupModel(pileup=1)), tmp_path)
    with pytest.raises(OutputError, match=r"hits.csv: is a file, not a directory \(-o takes"):
        simulate(
            SimulationConfig(model=PileupModel(pileup=1)), tmp_path / "event000000000-hits.csv"
        )
    with pytest.raises(OutputError) as refused:  # was "cannot create directory (No such file …)"
        simulate(SimulationConfig(model=PileupModel(pileup=1)), "/proc/sim")
    assert str(refused.value) == (
        "/proc/sim: is in /proc, the system's (a device or a process's file): give a directory path"
    )


def test_overwrite_replaces_the_event_files_once_the_new_ones_are_made(tmp_path):
    (tmp_path / "event000000007-hits.csv").write_text("old\n")
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "event000000007-prototracks.csv").write_text("mine")  # not the simulation's
    with pytest.raises(ConfigError, match="--noise must be in"):  # fails: the old files stay
        simulate(SimulationConfig(noise_fraction=1.5), tmp_path, overwrite=True)
    assert (tmp_path / "event000000007-hits.csv").read_text() == "old\n"
    written = simulate(SimulationConfig(model=PileupModel(pileup=1)), tmp_path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [p.name for p in written] + ["event000000007-prototracks.csv", "notes.txt"]
    )
    assert all(p.name.startswith("event000000000-") for p in written)


def test_files_the_simulation_never_writes_are_no_reason_to_refuse(tmp_path, run_cli):
    # a folder holding only proto-tracks was refused as "holds event files", though --force
    # would have kept them
    (tmp_path / "event000000000-prototracks.csv").write_text("mine")
    written = simulate(SimulationConfig(model=PileupModel(pileup=1)), tmp_path)
    assert (tmp_path / "event000000000-prototracks.csv").read_text() == "mine"
    assert len(written) == 6
    # --force with fewer events: what went of the earlier run is said (it went silently)
    (tmp_path / "event000000001-hits.csv").write_text("an earlier run's\n")
    result = run_cli("simulate", "-o", tmp_path, "--pileup", "1", "--force")
    assert (result.exit_code, result.stderr) == (
        0,
        f"wrote 6 files (1 event) to {tmp_path}; removed 1 file of events an earlier run wrote "
        "there\n",
    )
    assert not (tmp_path / "event000000001-hits.csv").exists()


def test_a_move_that_fails_midway_puts_the_old_event_files_back(tmp_path, monkeypatch):
    from pathlib import Path

    (tmp_path / "event000000000-hits.csv").write_text("old\n")
    (tmp_path / "event000000001-hits.csv").write_text("old too\n")
    real = Path.replace
    new_moves = []

    def replace(self, target):
        if Path(target).parent == tmp_path and self.parent.name != "replaced":
            new_moves.append(self.name)
            if len(new_moves) == 3:
                raise OSError(28, "No space left on device")
        return real(self, target)

    monkeypatch.setattr(Path, "replace", replace)
    with pytest.raises(OutputError, match=r"cannot move the events in \(No space left on device\)"):
        simulate(SimulationConfig(model=PileupModel(pileup=1)), tmp_path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "event000000000-hits.csv",
        "event000000001-hits.csv",
    ]
    assert (tmp_path / "event000000000-hits.csv").read_text() == "old\n"


def test_jobs_give_the_same_bytes_and_report_every_event_once(tmp_path):
    config = SimulationConfig(
        events=3,
        seed=11,
        model=PileupModel(pileup=2, signal_particles=3),
        noise_fraction=0.1,
        stop_fraction=0.2,
        region_fraction=0.5,
    )
    simulate(config, tmp_path / "one")
    started: list[int] = []
    written = simulate(config, tmp_path / "two", on_event=started.append, jobs=2)
    assert sorted(started) == [0, 1, 2]
    assert sorted(p.name for p in written) == sorted(_files(tmp_path / "one"))
    assert _files(tmp_path / "two") == _files(tmp_path / "one")
    assert [p.name for p in (tmp_path / "two").iterdir() if not p.name.startswith("event")] == []
    with pytest.raises(ConfigError, match="--jobs must be at least 1, got 0"):
        simulate(config, tmp_path / "zero", jobs=0)


def _fake_python(tmp_path, body: str):
    """An executable that stands in for the workers' Python."""
    script = tmp_path / "fake-python"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return str(script)


def test_a_failed_worker_is_one_error_with_its_exit_code_and_nothing_written(tmp_path, monkeypatch):
    import sys

    from acts_gnn.errors import ActsGnnError

    config = SimulationConfig(events=2, model=PileupModel(pileup=1))
    failing = (
        "echo acts-gnn-simulated-event 0; echo acts-gnn-simulation-failed 2 table: bad; exit 1"
    )
    monkeypatch.setattr(sys, "executable", _fake_python(tmp_path, failing))
    with pytest.raises(ActsGnnError, match=r"^table: bad$") as raised:
        simulate(config, tmp_path / "out", jobs=2)
    assert raised.value.exit_code == 2
    assert not (tmp_path / "out").exists()  # the directory it made went too
    (tmp_path / "out").mkdir()
    monkeypatch.setattr(sys, "executable", _fake_python(tmp_path, "exit 3"))
    with pytest.raises(ActsGnnError, match=r"a simulation worker died \(exit code 3\)"):
        simulate(config, tmp_path / "out", jobs=2)
    assert list((tmp_path / "out").iterdir()) == []  # one it found is kept, empty


def test_a_worker_s_acts_lines_go_to_stderr(tmp_path, monkeypatch, capsys):
    import sys

    from acts_gnn.errors import ActsGnnError

    worker = "echo Sequencer ERROR something; echo acts-gnn-simulation-failed 2 stop; exit 1"
    monkeypatch.setattr(sys, "executable", _fake_python(tmp_path, worker))
    with pytest.raises(ActsGnnError, match=r"^stop$"):
        simulate(SimulationConfig(events=2, model=PileupModel(pileup=1)), tmp_path / "o", jobs=2)
    captured = capsys.readouterr()
    assert "Sequencer ERROR something" in captured.err and captured.out == ""


def test_the_workers_leave_ctrl_c_to_their_parent(tmp_path, monkeypatch):
    # Ctrl-C reaches the terminal's process group: a worker in it printed its KeyboardInterrupt
    # traceback beside the parent's one line; in a group of its own it is the parent's to stop
    import os
    import sys

    from acts_gnn.errors import ActsGnnError

    group = "echo acts-gnn-simulation-failed 2 group $(ps -o pgid= $$); exit 1"
    monkeypatch.setattr(sys, "executable", _fake_python(tmp_path, group))
    with pytest.raises(ActsGnnError, match=r"^group \d+$") as raised:
        simulate(SimulationConfig(events=2, model=PileupModel(pileup=1)), tmp_path / "o", jobs=2)
    assert int(str(raised.value).split()[1]) != os.getpgid(0)


@pytest.mark.parametrize("failure", [RuntimeError("ACTS failed"), KeyboardInterrupt()])
def test_a_failed_or_interrupted_run_leaves_no_directory_it_made(tmp_path, monkeypatch, failure):
    from acts_gnn.acts import simulate as module

    def fails(config, scratch, on_event):
        (scratch / "event000000000-hits.csv").write_text("half\n")
        raise failure

    monkeypatch.setattr(module, "simulation_sequencer", fails)
    (tmp_path / "kept").mkdir()
    with pytest.raises(type(failure)):
        simulate(SimulationConfig(model=PileupModel(pileup=1)), tmp_path / "kept" / "a" / "b")
    assert list(tmp_path.iterdir()) == [tmp_path / "kept"]
    assert list((tmp_path / "kept").iterdir()) == []


def test_a_mistyped_trackml_folder_is_refused_before_simulating(tmp_path, run_cli):
    trackml = tmp_path / "trackml"
    for expected in (
        f"{trackml / 'particles'}: no TrackML particle tables found",
        f"{trackml / 'full_events'}: no such file or directory",
    ):
        result = run_cli(
            "simulate", "-o", tmp_path / "sim", "--pileup", "1", "--compare-trackml", trackml
        )
        assert (result.exit_code, result.stderr) == (2, f"acts-gnn: error: {expected}\n")
        assert not (tmp_path / "sim").exists()
        (trackml / "particles").mkdir(parents=True, exist_ok=True)
        (trackml / "particles" / "event000001000-particles.csv").write_text("")
    # a malformed file: the events were written, then the run failed with exit 2 (and a rerun
    # was refused: "already holds event files")
    (trackml / "full_events").mkdir()
    (trackml / "full_events" / "event000001000-hits.csv").write_text(
        "hit_id,x,y,z,volume_id,layer_id,module_id\n1,30,0,1,8,2,1\n"
    )
    (trackml / "particles" / "event000001000-particles.csv").write_text("particle_id,vx\n1,0\n")
    result = run_cli(
        "simulate", "-o", tmp_path / "sim", "--pileup", "1", "--compare-trackml", trackml
    )
    assert result.exit_code == 2 and "particles.csv: column 'vy': missing" in result.stderr
    assert not (tmp_path / "sim").exists()


def test_pileup_settings_with_particle_tables_are_refused(tmp_path, run_cli):
    # --particles-from replaces the pile-up model: --pileup and --signal were ignored
    result = run_cli(
        "simulate", "-o", tmp_path / "sim", "--particles-from", tmp_path, "--pileup", "50",
        "--signal", "3",
    )  # fmt: skip
    assert (result.exit_code, result.stderr) == (
        2,
        "acts-gnn: error: --pileup, --signal: settings of the pile-up model, which "
        "--particles-from replaces\n",
    )
    assert not (tmp_path / "sim").exists()


def test_the_simulation_is_compared_with_trackml(tmp_path, run_cli, shared_data):
    pytest.importorskip("acts", reason="pyacts is not installed (pip install 'acts-gnn[acts]')")
    result = run_cli(
        "simulate", "-o", tmp_path / "sim", "--pileup", "1", "--compare-trackml",
        shared_data / "trackml",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "(21 ev.)" in result.stdout and "(2 ev.)" in result.stdout  # tables, full events
    assert sorted(p.name for p in (tmp_path / "sim" / "comparison").iterdir()) == [
        "eta_simulated_vs_trackml.png",
        "pt_simulated_vs_trackml.png",
    ]


def test_a_killed_run_s_scratch_goes_at_the_next_run(tmp_path):
    # a run killed by SIGKILL or the OOM killer left its 36 MB scratch folder there for ever
    import fcntl
    import socket

    host = socket.gethostname()
    left = {
        "dead": tmp_path / f".simulate-{host}-{_finished_pid()}-abc123",
        "alive": tmp_path / f".simulate-{host}-123-def456",  # a live run (in any PID namespace)
        "elsewhere": tmp_path / ".simulate-other-host-1-ghi789",  # unlocked, another host's
        "unlocked": tmp_path / f".simulate-{host}-1-jkl012",  # no lock: not such a folder
    }
    for name, folder in left.items():
        (folder / "events").mkdir(parents=True)
        if name != "unlocked":
            (folder / ".lock").touch()
    with (left["alive"] / ".lock").open("rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        simulate(SimulationConfig(model=PileupModel(pileup=1)), tmp_path)
    assert sorted(p.name for p in tmp_path.glob(".simulate-*")) == sorted(
        left[k].name for k in ("alive", "elsewhere", "unlocked")
    )


def test_a_run_holds_its_scratch_folder_s_lock(tmp_path):
    import fcntl

    held = []

    def try_lock(_number):
        (scratch,) = tmp_path.glob(".simulate-*")
        with (scratch / ".lock").open("rb") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                held.append(True)

    simulate(SimulationConfig(model=PileupModel(pileup=1)), tmp_path, on_event=try_lock)
    assert held == [True] and list(tmp_path.glob(".simulate-*")) == []


def _finished_pid() -> int:
    """The number of a process that has ended (none runs under it now)."""
    import subprocess

    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.mark.acts
def test_the_workers_end_with_their_parent(tmp_path):
    # in a group of their own, workers of a killed parent (SIGKILL, out of memory) went on
    import os
    import signal
    import subprocess
    import sys
    import time

    out = str(tmp_path / "o")
    script = (
        "from acts_gnn.acts.simulate import SimulationConfig, simulate\n"
        "from acts_gnn.acts.pileup import PileupModel\n"
        f"simulate(SimulationConfig(events=2, model=PileupModel(pileup=200)), {out!r}, jobs=2)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script])

    def children() -> list[int]:
        found = []
        for stat in os.listdir("/proc"):
            if not stat.isdigit():
                continue
            try:
                text = Path(f"/proc/{stat}/stat").read_text()
            except OSError:
                continue
            fields = text.rsplit(")", 1)[1].split()
            if int(fields[1]) == parent.pid:
                found.append(int(stat))
        return found

    deadline = time.monotonic() + 60
    while len(children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = children()
    assert len(workers) == 2
    time.sleep(1.0)  # past their start, into the simulation
    parent.send_signal(signal.SIGKILL)
    parent.wait()

    def running(pid: int) -> bool:  # a zombie (dead, not yet reaped) is not
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    # at once: without, each went on until its next event's line found no reader (seconds)
    deadline = time.monotonic() + 0.5
    while any(map(running, workers)) and time.monotonic() < deadline:
        time.sleep(0.02)
    alive = [pid for pid in workers if running(pid)]
    for pid in alive:
        os.kill(pid, signal.SIGKILL)
    assert alive == []

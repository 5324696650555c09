"""acts-gnn inside an ACTS Sequencer: GnnTrackFinding → seeding → Kalman fit → ACTS matching."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytestmark = pytest.mark.acts
acts = pytest.importorskip("acts", reason="pyacts is not installed (acts-gnn[acts])")

from acts_gnn.acts.algorithm import candidate_members  # noqa: E402
from acts_gnn.acts.chain import ChainConfig, run_chain  # noqa: E402

CONFIG = ChainConfig(events=1, pileup=5, signal=20, seed=7, model="gnn_tracking")


@pytest.fixture(scope="module")
def local():
    return run_chain(CONFIG)


def test_candidates_are_grouped_sorted_by_radius_and_cut():
    labels = np.array([1, 0, 1, -1, 0, 1, 2])
    radius = np.array([50.0, 30.0, 10.0, 5.0, 20.0, 30.0, 1.0])
    members = candidate_members(labels, radius, 2)
    assert [m.tolist() for m in members] == [[4, 1], [2, 5, 0]]


def test_the_local_chain_fits_tracks_and_both_evaluations_see_them(local):
    assert local.n_spacepoints > 1000
    assert 0 < local.n_fitted <= local.n_seeded <= local.n_prototracks
    assert local.acts_kalman["nTotalTracks"] == local.n_fitted  # out of ACTS's Kalman fitter
    assert local.acts_finder["nTotalTracks"] == local.n_prototracks
    assert local.acts_gnn["n_tracks"] == local.n_prototracks  # the same candidates, ≥ 3 points
    assert local.acts_kalman["efficiencyParticles"] > 0.6
    assert local.acts_gnn["efficiency"] > 0.5 and local.acts_gnn["n_targets"] > 10


@pytest.mark.triton
def test_the_served_chain_gives_the_local_result(local, tmp_path):
    pytest.importorskip("pytriton", reason="nvidia-pytriton is not installed (acts-gnn[server])")
    from tests.triton.serving import ServeProcess

    served = ServeProcess(tmp_path, "--model", "gnn_tracking").wait_ready()
    try:
        remote = run_chain(dataclasses.replace(CONFIG, url=(served.grpc_url,)))
    finally:
        assert served.terminate() == 0
    assert (remote.n_prototracks, remote.n_seeded, remote.n_fitted) == (
        local.n_prototracks,
        local.n_seeded,
        local.n_fitted,
    )
    assert remote.acts_kalman == local.acts_kalman
    assert remote.acts_gnn == local.acts_gnn


ORDINARY_SCRIPT = """
import sys
from acts_gnn.acts.chain import ChainConfig, run_chain
# ACTS's defaults: every core, floating-point-exception tracking on; a plain-string URL as ACTS's
# own Triton client configuration takes it; a fresh interpreter (nothing imported before)
result = run_chain(ChainConfig(events=2, pileup=5, signal=20, seed=7, threads=-1, url=sys.argv[1]))
print("PROTOTRACKS", result.n_prototracks)
"""


@pytest.mark.triton
def test_the_served_algorithm_in_a_default_sequencer_raises_no_fpe(tmp_path):
    """What an ACTS user writes: no 'unmasked FPEs', no 'Sequencer terminated abnormally'."""
    import subprocess
    import sys

    pytest.importorskip("pytriton", reason="nvidia-pytriton is not installed (acts-gnn[server])")
    from tests.triton.serving import ServeProcess

    served = ServeProcess(tmp_path, "--model", "gnn_tracking").wait_ready()
    try:
        run = subprocess.run(
            [sys.executable, "-c", ORDINARY_SCRIPT, served.grpc_url],
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        assert served.terminate() == 0
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "FPE" not in run.stdout + run.stderr
    assert int(run.stdout.split("PROTOTRACKS")[1]) > 0


LOCAL_SCRIPT = """
from acts_gnn.acts.chain import ChainConfig, run_chain
# the local pipeline in ACTS's default sequencer (every core, floating-point-exception tracking
# on) in a fresh interpreter; μ = 60 so that K1 takes its compiled path too
result = run_chain(ChainConfig(events=1, pileup=60, signal=20, seed=7, threads=-1))
print("PROTOTRACKS", result.n_prototracks)
"""


def test_the_local_algorithm_in_a_default_sequencer_raises_no_fpe():
    """Numba is imported when the pipeline is made, not in the sequencer's trapping threads:
    its import imports PyYAML, which overflows a float on purpose (2 unmasked FPEs before)."""
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-c", LOCAL_SCRIPT], capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "FPE" not in run.stdout + run.stderr
    assert int(run.stdout.split("PROTOTRACKS")[1]) > 0


def test_acts_gnn_scores_the_candidates_acts_got_at_any_min_size():
    # it scored every candidate of ≥ 3 points whatever min_size dropped: 0 proto-tracks, yet
    # acts-gnn's efficiency 98%
    large = run_chain(dataclasses.replace(CONFIG, min_size=8))
    assert large.acts_gnn["min_track_spacepoints"] == 8
    assert large.acts_gnn["n_tracks"] == large.n_prototracks > 0


def test_the_algorithm_keeps_no_labels_unless_asked(tmp_path):
    # every event's labels stayed in memory for the whole job (~2 MB per μ = 200 event)
    from acts_gnn.acts.algorithm import GnnTrackFinding
    from acts_gnn.acts.pileup import PileupModel
    from acts_gnn.acts.simulate import SimulationConfig, simulation_sequencer

    def labels(features):
        return np.zeros(len(features), np.int64)

    kept = {}
    for keep in (False, True):
        scratch = tmp_path / str(keep)
        scratch.mkdir()
        config = SimulationConfig(events=2, model=PileupModel(pileup=1, signal_particles=3))
        simulation = simulation_sequencer(config, scratch)
        finder = GnnTrackFinding(labels=labels, keep_labels=keep)
        simulation.sequencer.addAlgorithm(finder)
        simulation.sequencer.run()
        assert finder.n_prototracks == 2  # one candidate of every point, per event
        kept[keep] = sorted(finder.labels_by_event)
        del simulation
    assert kept == {False: [], True: [0, 1]}


def test_the_algorithm_refuses_a_size_that_is_no_whole_number():
    from acts_gnn.acts.algorithm import GnnTrackFinding
    from acts_gnn.errors import ConfigError

    for size in ("3", 2.5, True):  # "3" was a TypeError from a comparison
        with pytest.raises(ConfigError) as refused:
            GnnTrackFinding(labels=np.zeros_like, min_size=size)
        assert str(refused.value) == f"min_size must be a whole number, got {size!r}"

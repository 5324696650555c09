"""Particle tables as the simulation's generator (``simulate --particles-from``)."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from acts_gnn.acts.pileup import MASS_GEV, PileupModel
from acts_gnn.acts.simulate import SimulationConfig, simulate
from acts_gnn.acts.tables import read_generated, table_paths
from acts_gnn.errors import ConfigError, InputFormatError, OutputRefusedError

HEADER = "particle_id,vx,vy,vz,px,py,pz,q,nhits,particle_type"
# (vx, vy, vz, px, py, pz, q, type): vertex A at z = 5 (three particles), vertex B at z = −30
# (one), a secondary 20 mm out near B, a neutral one, and a secondary with no closer vertex
ROWS = [
    (0.01, 0.02, 5.0, 1.0, 0.0, 0.5, 1, 211),
    (0.0, 0.0, -30.0, 0.0, 2.0, 0.0, -1, 2212),  # an antiproton
    (0.01, 0.02, 5.0, 0.0, -3.0, 1.0, 1, -13),  # μ⁺
    (20.0, 0.0, -28.0, 4.0, 0.0, 0.0, -1, 11),  # an electron: simulated as a π⁻
    (0.01, 0.02, 5.0, 1.0, 1.0, 0.0, 0, 22),  # a photon: left out
    (0.01, 0.02, 5.0, -1.0, 0.0, 0.0, -1, 321),
    (0.0, 300.0, 40.0, 1.0, 1.0, 1.0, 1, 211),  # secondary nearer A in z
]


def _write(path, rows=ROWS, compress=False):
    text = (
        HEADER
        + "\n"
        + "".join(
            f"{i + 1},{vx},{vy},{vz},{px},{py},{pz},{q},5,{t}\n"
            for i, (vx, vy, vz, px, py, pz, q, t) in enumerate(rows)
        )
    )
    if compress:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


def test_a_table_becomes_vertices_secondaries_and_species(tmp_path):
    generated = read_generated(_write(tmp_path / "event000000001-particles.csv"))
    assert len(generated) == 6  # the photon is left out
    # primaries share a vertex when they share their production point (np.unique: sorted)
    np.testing.assert_allclose(generated.vertex_mm, [[0.0, 0.0, -30.0], [0.01, 0.02, 5.0]])
    np.testing.assert_array_equal(generated.vertex_index, [1, 0, 1, 0, 1, 1])
    np.testing.assert_array_equal(generated.particle_number, [1, 1, 2, 2, 3, 4])
    np.testing.assert_array_equal(generated.displaced, [False, False, False, True, False, True])
    np.testing.assert_allclose(generated.offset_mm[3], [20.0, 0.0, 2.0], atol=1e-5)
    np.testing.assert_allclose(generated.start_mm()[5], [0.0, 300.0, 40.0], atol=1e-5)
    np.testing.assert_array_equal(generated.pdg, [211, -2212, -13, -211, -321, 211])
    np.testing.assert_allclose(generated.mass_gev, [MASS_GEV[abs(p)] for p in generated.pdg])
    np.testing.assert_array_equal(generated.charge, [1, -1, 1, -1, -1, 1])
    np.testing.assert_allclose(
        generated.momentum(),
        [[1, 0, 0.5], [0, 2, 0], [0, -3, 1], [4, 0, 0], [-1, 0, 0], [1, 1, 1]],
        atol=1e-5,
    )


def test_secondaries_only_start_from_one_vertex_at_the_origin(tmp_path):
    path = _write(tmp_path / "event000000001-particles.csv", [ROWS[3], ROWS[6]])
    generated = read_generated(path)
    np.testing.assert_array_equal(generated.vertex_mm, [[0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(generated.particle_number, [1, 2])
    np.testing.assert_allclose(generated.offset_mm, [[20, 0, -28], [0, 300, 40]], atol=1e-5)


def test_tables_are_found_in_name_order_gzipped_or_not(tmp_path):
    _write(tmp_path / "event000000002-particles.csv.gz", compress=True)
    _write(tmp_path / "event000000001-particles.csv")
    (tmp_path / "event000000001-hits.csv").write_text("hit_id\n")
    paths = table_paths(tmp_path)
    assert [p.name for p in paths] == [
        "event000000001-particles.csv",
        "event000000002-particles.csv.gz",
    ]
    assert len(read_generated(paths[1])) == 6
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFormatError, match="no particle table"):
        table_paths(tmp_path / "empty")
    with pytest.raises(InputFormatError, match=r"missing: no such directory \(expected TrackML"):
        table_paths(tmp_path / "missing")


def test_the_config_refuses_too_few_tables_and_pileup_knobs(tmp_path):
    tables = (_write(tmp_path / "event000000001-particles.csv"),)
    SimulationConfig(events=1, particle_tables=tables, model=PileupModel(pileup=0)).check()
    with pytest.raises(ConfigError, match=r"1 particle tables for 2 --events"):
        SimulationConfig(events=2, particle_tables=tables).check()
    for model in (PileupModel(jets=2), PileupModel(displaced_fraction=0.1)):
        with pytest.raises(ConfigError, match="--particles-from replaces"):
            SimulationConfig(particle_tables=tables, model=model).check()
    # the event's particles are its table's, whatever the seed
    a = SimulationConfig(seed=1, particle_tables=tables).particles(0)
    b = SimulationConfig(seed=2, particle_tables=tables).particles(0)
    np.testing.assert_array_equal(a.pt_gev, b.pt_gev)


@pytest.mark.acts
def test_a_table_is_simulated_through_the_detector(tmp_path):
    pytest.importorskip("acts", reason="pyacts is not installed (pip install 'acts-gnn[acts]')")
    from acts_gnn.acts.simulate import simulate
    from acts_gnn.io.source import open_events

    # five central particles of 2–10 GeV from one vertex, and one starting 30 mm out
    rows = [
        (0.0, 0.0, 10.0, pt * np.cos(a), pt * np.sin(a), 0.2 * pt, 1, 211)
        for pt, a in zip((2.0, 3.0, 5.0, 7.0, 10.0), (0.3, 1.5, 2.7, -1.2, -2.6), strict=True)
    ]
    rows.append((30.0, 0.0, 12.0, 5.0, 0.5, 1.0, -1, 211))
    tables = (_write(tmp_path / "event000000001-particles.csv", rows),)
    simulate(SimulationConfig(events=1, seed=4, particle_tables=tables), tmp_path / "sim")
    (event,) = list(open_events([tmp_path / "sim"]))
    particles = event.truth.particles
    assert len(particles.particle_id) == 6
    np.testing.assert_allclose(np.sort(particles.pt), [2, 3, 5, 5.02494, 7, 10], rtol=1e-4)
    secondary = ~particles.primary
    assert secondary.sum() == 1 and particles.pt[secondary][0] == pytest.approx(5.02494, 1e-4)
    row = particles.index_of(event.truth.particle_id)
    counts = np.bincount(row[row >= 0], minlength=6)
    assert (counts >= 8).all()  # |η| < 0.2 from the beam line: every barrel layer
    assert (event.spacepoints.r[row == np.flatnonzero(secondary)[0]] > 30.0).all()


def test_a_malformed_table_stops_the_run_before_any_event(tmp_path):
    pytest.importorskip("acts", reason="pyacts is not installed (pip install 'acts-gnn[acts]')")
    from acts_gnn.acts.simulate import simulate

    good = _write(tmp_path / "event000000001-particles.csv")
    bad = tmp_path / "event000000002-particles.csv"
    bad.write_text(HEADER + "\n1,2,3\n")
    config = SimulationConfig(events=2, particle_tables=(good, bad))
    with pytest.raises(InputFormatError, match=r"event000000002-particles.csv: line 2: expected"):
        simulate(config, tmp_path / "sim", jobs=2)
    assert not (tmp_path / "sim").exists()


def test_a_charged_particle_without_transverse_momentum_is_refused_by_its_line(tmp_path):
    rows = [*ROWS[:2], (0.0, 0.0, 1.0, 0.0, 0.0, 5.0, 1, 211)]  # along the beam line
    with pytest.raises(InputFormatError) as refused:
        read_generated(_write(tmp_path / "event000000001-particles.csv", rows))
    assert str(refused.value).endswith(
        "event000000001-particles.csv: line 4: a charged particle with px = py = 0 (along the "
        "beam line, η infinite), expected one with transverse momentum"
    )
    neutral = [*ROWS[:2], (0.0, 0.0, 1.0, 0.0, 0.0, 5.0, 0, 22)]  # left out, as every neutral
    assert len(read_generated(_write(tmp_path / "n-particles.csv", neutral)).pt_gev) == 2


@pytest.mark.acts
def test_particles_across_the_beam_are_simulated(tmp_path):
    pytest.importorskip("acts", reason="pyacts is not installed (pip install 'acts-gnn[acts]')")
    from acts_gnn.acts.simulate import simulate

    # pz = 0 made 0 · ∞ in η's formula: an exception ACTS's sequencer traps, and the run ended
    # as "a bug in acts-gnn"
    rows = [(0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1, 211), (0.0, 0.0, 0.0, 0.0, -2.0, 0.0, -1, 211)]
    tables = (_write(tmp_path / "event000000001-particles.csv", rows),)
    simulate(SimulationConfig(events=1, particle_tables=tables), tmp_path / "sim")
    assert (tmp_path / "sim" / "event000000000-spacepoint.csv").is_file()


@pytest.mark.acts
def test_the_tables_folder_is_no_output(tmp_path):
    # --force replaced the tables themselves (eventNNN-particles.csv) with the simulated events
    pytest.importorskip("acts", reason="pyacts is not installed (pip install 'acts-gnn[acts]')")
    table = _write(tmp_path / "event000000000-particles.csv")
    for overwrite in (False, True):
        with pytest.raises(OutputRefusedError) as refused:
            simulate(SimulationConfig(particle_tables=(table,)), tmp_path, overwrite=overwrite)
        assert str(refused.value) == (
            f"{tmp_path}: holds the --particles-from tables, which its events would replace; "
            "give another directory"
        )
    assert table.read_text().startswith(HEADER)

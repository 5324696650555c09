"""The pile-up model's distributions (pure numpy, no ACTS needed)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from acts_gnn.acts.pileup import MASS_GEV, PileupModel


def test_pileup_200_resembles_minimum_bias():
    events = [PileupModel().sample(np.random.default_rng(i)) for i in range(5)]
    counts = np.array([len(e) for e in events])
    assert np.all((counts > 6500) & (counts < 12500))  # 200 × 48 ± 3σ (σ ≈ 800)
    assert 8800 < counts.mean() < 10400
    pt = np.concatenate([e.pt_gev for e in events])
    assert 0.50 < pt.mean() < 0.60
    assert 0.09 < np.mean(pt > 1.0) < 0.14
    assert np.any(pt > 10.0)
    eta = np.concatenate([e.eta for e in events])
    assert np.abs(eta).max() < 4.0
    # flat in η: each unit bin holds 1/8 of the particles
    np.testing.assert_allclose(
        np.histogram(eta, bins=8, range=(-4, 4))[0] / eta.size, 1 / 8, atol=0.01
    )
    vz = np.concatenate([e.vertex_mm[:, 2] for e in events])
    assert 45 < vz.std() < 55
    pdg = np.abs(np.concatenate([e.pdg for e in events]))
    assert np.mean(pdg == 211) == pytest.approx(0.80, abs=0.02)
    assert np.mean(pdg == 2212) == pytest.approx(0.08, abs=0.01)


def test_charges_masses_and_barcodes_are_consistent():
    sample = PileupModel(pileup=5, signal_particles=10).sample(np.random.default_rng(0))
    # PDG sign convention: pi+ (211) positive, mu- (13) negative
    positive = np.isin(sample.pdg, [211, 321, 2212, -13])
    np.testing.assert_array_equal(sample.charge, np.where(positive, 1.0, -1.0))
    np.testing.assert_allclose(sample.mass_gev, [MASS_GEV[abs(int(p))] for p in sample.pdg])
    # particles numbered 1, 2, … within each vertex; vertex indices sorted
    assert np.all(np.diff(sample.vertex_index) >= 0)
    for v in np.unique(sample.vertex_index):
        numbers = sample.particle_number[sample.vertex_index == v]
        np.testing.assert_array_equal(numbers, np.arange(1, numbers.size + 1))
    # signal sits on the first vertex: at least 10 particles there, with pT >= 1 GeV
    assert np.sum((sample.vertex_index == 0) & (sample.pt_gev >= 1.0)) >= 10


def test_same_generator_state_same_particles():
    a = PileupModel().sample(np.random.default_rng(7))
    b = PileupModel().sample(np.random.default_rng(7))
    np.testing.assert_array_equal(a.pt_gev, b.pt_gev)
    np.testing.assert_array_equal(a.pdg, b.pdg)


def test_jets_are_hard_collimated_and_leave_the_other_particles_alone():
    plain = PileupModel(pileup=20, signal_particles=5).sample(np.random.default_rng(3))
    jetty = PileupModel(pileup=20, signal_particles=5, jets=3, jet_particles_mean=25).sample(
        np.random.default_rng(3)
    )
    # every other vertex is the same particle for particle
    for field in ("pt_gev", "eta", "phi", "pdg", "charge", "particle_number"):
        np.testing.assert_array_equal(
            getattr(plain, field)[plain.vertex_index > 0],
            getattr(jetty, field)[jetty.vertex_index > 0],
        )
    np.testing.assert_array_equal(plain.vertex_mm, jetty.vertex_mm)
    # on the first vertex the plain particles come first, then the jets' constituents
    first = plain.vertex_index == 0
    n0 = int(first.sum())
    on_first = jetty.vertex_index == 0
    np.testing.assert_array_equal(jetty.pt_gev[on_first][:n0], plain.pt_gev[first])
    pt, eta, phi = (getattr(jetty, f)[on_first][n0:] for f in ("pt_gev", "eta", "phi"))
    assert pt.size >= 3 * 2 and (pt >= 0.1).all()
    # three jets of 50–300 GeV share their pT among the constituents (less those below 0.1 GeV)
    assert 3 * 50 * 0.99 < pt.sum() < 3 * 300
    # collimated: every constituent has another within ΔR < 0.3, and all lie within |η| < 3
    d_eta = eta[:, None] - eta[None, :]
    d_phi = np.remainder(phi[:, None] - phi[None, :] + np.pi, 2 * np.pi) - np.pi
    d_r = np.hypot(d_eta, d_phi) + np.eye(pt.size) * 9
    assert (d_r.min(axis=1) < 0.3).all()
    assert np.abs(eta).max() < 3.0
    # charges follow the PDG sign convention for the constituents too
    positive = np.isin(jetty.pdg, [211, 321, 2212, -13])
    np.testing.assert_array_equal(jetty.charge, np.where(positive, 1.0, -1.0))


def test_hard_vertices_spread_the_hard_objects_and_change_nothing_else():
    one = PileupModel(pileup=50, signal_particles=10, jets=3).sample(np.random.default_rng(5))
    spread = PileupModel(pileup=50, signal_particles=10, jets=3, hard_vertices=4).sample(
        np.random.default_rng(5)
    )
    np.testing.assert_array_equal(one.vertex_mm, spread.vertex_mm)
    # the same particles, ordered by vertex: compared as multisets
    np.testing.assert_array_equal(np.sort(one.pt_gev), np.sort(spread.pt_gev))
    # signal particles are pT 1–100 GeV μ/π; jets' constituents share 50–300 GeV. In ``one``
    # the first vertex holds all of them; in ``spread``, vertices 0–3 hold them (i mod 4)
    signal_one = (one.vertex_index == 0) & (np.abs(one.pdg) == 13)
    signal_spread = np.abs(spread.pdg) == 13
    assert signal_one.sum() == signal_spread.sum() == 5  # every second signal particle is a μ
    # muons are signal particles 0, 2, 4, 6, 8 → vertices 0, 2, 0, 2, 0
    np.testing.assert_array_equal(np.sort(spread.vertex_index[signal_spread]), [0, 0, 0, 2, 2])
    # pile-up vertices beyond the fourth are untouched, particle for particle
    for field in ("pt_gev", "eta", "phi", "pdg", "particle_number"):
        np.testing.assert_array_equal(
            getattr(one, field)[one.vertex_index >= 4],
            getattr(spread, field)[spread.vertex_index >= 4],
        )
    # more hard vertices than vertices: capped (a μ = 0 event has one vertex)
    alone = PileupModel(pileup=0, signal_particles=6, hard_vertices=25).sample(
        np.random.default_rng(1)
    )
    assert (alone.vertex_index == 0).all() and alone.vertex_mm.shape == (1, 3)


def test_displaced_particles_start_on_a_line_of_flight_and_change_nothing_else():
    plain = PileupModel(pileup=50, jets=2).sample(np.random.default_rng(4))
    moved = PileupModel(pileup=50, jets=2, displaced_fraction=0.3).sample(np.random.default_rng(4))
    # the same particles, vertices and jets: the displacement draws from its own stream
    for field in ("pt_gev", "eta", "phi", "pdg", "charge", "vertex_index", "particle_number"):
        np.testing.assert_array_equal(getattr(plain, field), getattr(moved, field))
    np.testing.assert_array_equal(plain.vertex_mm, moved.vertex_mm)
    assert not plain.offset_mm.any() and not plain.displaced.any()
    np.testing.assert_array_equal(plain.start_mm(), plain.vertex_mm[plain.vertex_index])
    assert moved.displaced.mean() == pytest.approx(0.3, abs=0.04)
    np.testing.assert_array_equal(
        moved.start_mm(), moved.vertex_mm[moved.vertex_index] + moved.offset_mm
    )
    offset = moved.offset_mm[moved.displaced]
    radius = np.hypot(offset[:, 0], offset[:, 1])
    # transverse radius from TrackML's histogram: 1–260 mm, median ≈ 43 mm
    assert radius.min() >= 1.0 and radius.max() <= 260.0
    assert 35.0 < np.median(radius) < 55.0
    assert np.mean(radius < 10.0) == pytest.approx((172 + 189) / 1695, abs=0.05)
    # on the line of flight: z follows the particle's own η ...
    eta = moved.eta[moved.displaced]
    np.testing.assert_allclose(offset[:, 2], radius * np.sinh(eta), rtol=1e-9, atol=1e-9)
    # ... and the momentum leaves the flight azimuth by at most 1 rad, either way
    flight = np.arctan2(offset[:, 1], offset[:, 0])
    turn = np.angle(np.exp(1j * (moved.phi[moved.displaced] - flight)))
    assert np.abs(turn).max() <= 1.0 + 1e-9
    assert 0.04 < np.median(np.abs(turn)) < 0.08
    assert 0.3 < np.mean(turn > 0) < 0.7
    every = PileupModel(pileup=5, displaced_fraction=1.0).sample(np.random.default_rng(2))
    assert every.displaced.all()


def test_jet_decays_start_the_hardest_constituents_from_one_point_on_the_jet_axis():
    model = PileupModel(pileup=5, jets=3, jet_particles_mean=15)
    plain = model.sample(np.random.default_rng(4))
    decayed = replace(model, jet_decay_fraction=1.0).sample(np.random.default_rng(4))
    # the decays draw from their own stream: the same particles, only where some start differs
    for name in ("pt_gev", "eta", "phi", "pdg", "vertex_index", "particle_number", "vertex_mm"):
        np.testing.assert_array_equal(getattr(plain, name), getattr(decayed, name))
    assert not plain.displaced.any()
    points = np.unique(decayed.offset_mm[decayed.displaced], axis=0)
    assert len(points) == 3  # one decay point per jet
    for point in points:
        products = np.flatnonzero((decayed.offset_mm == point).all(axis=1))
        assert len(products) >= 2
        # on the jet's axis: the products fly along the line from the vertex to the point
        point_eta = np.arcsinh(point[2] / np.hypot(point[0], point[1]))
        point_phi = np.arctan2(point[1], point[0])
        assert np.abs(decayed.eta[products] - point_eta).max() < 0.3
        assert np.abs(np.angle(np.exp(1j * (decayed.phi[products] - point_phi)))).max() < 0.3
        # the jet's hardest: pT of tens of GeV, so βγ·cτ is millimetres
        assert decayed.pt_gev[products].max() > 5.0
        assert 0.0 < np.linalg.norm(point) < 300.0
    none = replace(model, jet_decay_fraction=0.0).sample(np.random.default_rng(4))
    np.testing.assert_array_equal(none.offset_mm, plain.offset_mm)


def test_jet_decays_without_jets_are_refused():
    from acts_gnn.acts.simulate import SimulationConfig
    from acts_gnn.errors import ConfigError

    with pytest.raises(ConfigError, match="--jet-decays needs --jets"):
        SimulationConfig(model=PileupModel(jet_decay_fraction=0.5)).check()
    with pytest.raises(ConfigError, match=r"--jet-decays must be in \[0, 1\], got 1\.5"):
        SimulationConfig(model=PileupModel(jets=2, jet_decay_fraction=1.5)).check()

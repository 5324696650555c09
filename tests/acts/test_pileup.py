"""The pile-up model's distributions (pure numpy, no ACTS needed)."""

from __future__ import annotations

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

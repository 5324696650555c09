"""``simulate --stop`` and ``--regions``: which space points go (no pyacts needed)."""

from __future__ import annotations

import numpy as np
import pytest

from acts_gnn.acts.simulate import REGIONS, SimulationConfig, region_rows, stopped_rows
from acts_gnn.errors import ConfigError


def _event():
    # three particles (ids 5, 9, 7) and noise (0), points in shuffled order
    particle = np.array([5, 9, 0, 5, 7, 9, 5, 0, 9, 7, 5], np.uint64)
    distance = np.array([3.0, 1.0, 0.5, 1.0, 2.0, 3.0, 2.0, 9.0, 2.0, 1.0, 4.0])
    return particle, distance


def test_every_particle_stops_and_keeps_a_prefix_along_its_path():
    particle, distance = _event()
    removed = stopped_rows(distance, particle, 1.0, np.random.default_rng(0))
    assert not removed[particle == 0].any()
    lost = 0
    for p in (5, 7, 9):
        rows = np.flatnonzero(particle == p)
        by_distance = rows[np.argsort(distance[rows])]
        gone = removed[by_distance]
        kept = int((~gone).sum())
        # the kept points are the nearest ones; at least one point goes (j ≤ n − 1)
        assert gone.tolist() == [False] * kept + [True] * (rows.size - kept)
        assert kept < rows.size
        lost += rows.size - kept
    assert removed.sum() == lost


def test_the_same_generator_removes_the_same_points():
    particle, distance = _event()
    first = stopped_rows(distance, particle, 0.5, np.random.default_rng(7))
    again = stopped_rows(distance, particle, 0.5, np.random.default_rng(7))
    assert first.tolist() == again.tolist()


def test_no_fraction_or_only_noise_removes_nothing():
    particle, distance = _event()
    assert not stopped_rows(distance, particle, 0.0, np.random.default_rng(0)).any()
    noise = np.zeros(4, np.uint64)
    assert not stopped_rows(np.arange(4.0), noise, 1.0, np.random.default_rng(0)).any()


def test_about_the_fraction_of_particles_stop():
    rng = np.random.default_rng(1)
    particle = np.repeat(np.arange(1, 2001, dtype=np.uint64), 10)
    distance = np.tile(np.arange(10.0), 2000)
    removed = stopped_rows(distance, particle, 0.2, rng)
    stopped = np.unique(particle[removed]).size
    assert 0.17 * 2000 < stopped < 0.23 * 2000


def test_the_fractions_are_checked():
    with pytest.raises(ConfigError, match=r"--stop must be in \[0, 1\], got 1.5"):
        SimulationConfig(stop_fraction=1.5).check()
    with pytest.raises(ConfigError, match=r"--regions must be in \[0, 1\], got -0.1"):
        SimulationConfig(region_fraction=-0.1).check()


def test_each_region_is_the_barrel_or_one_side_of_the_endcaps():
    volume = np.array([7, 8, 9, 12, 13, 14, 16, 17, 18, 8, 9])
    z = np.array([-900.0, -10.0, 900.0, -1500.0, 20.0, 1500.0, -2000.0, 0.0, 2000.0, 300.0, 700.0])
    kept = {region: np.flatnonzero(region_rows(volume, z, region)).tolist() for region in REGIONS}
    assert kept == {
        "barrel": [1, 4, 7, 9],
        "endcaps z < 0": [0, 3, 6],
        "endcaps z > 0": [2, 5, 8, 10],
    }

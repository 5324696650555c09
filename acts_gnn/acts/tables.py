"""Another generator's particles for the simulation: TrackML particle tables, one per event.

Layer: acts (pure numpy; ACTS is not needed to read the tables).

The pile-up model (:mod:`acts_gnn.acts.pileup`) is this project's own parametrisation, and the
edge models were trained on its events. A TrackML particle table (``particle_id, vx, vy, vz, px,
py, pz, q, nhits``) lists the particles of a Pythia8 ttbar event with ⟨μ⟩ = 200 pile-up and the
secondaries Geant4 made of them (decays in flight, conversions, hadronic interactions): a
generator the models never saw, with real jets, real η and pT spectra and real displaced
particles. :func:`generated_from_table` turns one table into the particles the simulation
starts from, so that the same detector simulation, digitisation and space points as every other
event follow (``acts-gnn simulate --particles-from``).

What the table does not say is chosen thus:

* **vertices**: the particles produced within :data:`~acts_gnn.io.trackml.PRIMARY_VERTEX_R_MM`
  of the beam line share a vertex when they share their production point exactly (a table's
  primaries of one collision carry the same coordinates); every other particle (a secondary)
  is attached to the vertex nearest to it in z, offset to where it starts, and ACTS gets it
  with a secondary vertex in its barcode (read back as not primary), as the pile-up model's
  displaced particles;
* **species**: the table's ``particle_type`` where it has one of the species the simulation
  knows (π, K, p, μ), else a pion of the table's charge (TrackML's tables carry no species);
* **neutral particles** (q = 0) are left out: they leave no space points.

The parents that Geant4 stopped in a hadronic interaction go on through Fatras (it makes no
hadronic interactions), beside the secondaries the table lists for them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from acts_gnn.acts.pileup import MASS_GEV, GeneratedParticles
from acts_gnn.errors import InputFormatError
from acts_gnn.event import Particles
from acts_gnn.io.trackml import PRIMARY_VERTEX_R_MM, read_trackml_particles

__all__ = ["generated_from_table", "read_generated", "table_paths"]


def table_paths(folder: str | Path) -> list[Path]:
    """The particle tables of ``folder`` (``event*-particles.csv``, optionally gzipped), in
    file-name order: one per event.

    Raises:
        InputFormatError: ``folder`` is not a directory or holds no particle table.
    """
    folder = Path(folder)
    if not folder.exists():
        raise InputFormatError(folder, "", "no such directory (expected TrackML particle tables)")
    if not folder.is_dir():
        raise InputFormatError(folder, "", "not a directory (expected TrackML particle tables)")
    paths = sorted(
        path
        for pattern in ("event*-particles.csv", "event*-particles.csv.gz")
        for path in folder.glob(pattern)
    )
    if not paths:
        raise InputFormatError(
            folder, "", "no particle table (eventNNN-particles.csv or .csv.gz) in this directory"
        )
    return paths


def generated_from_table(particles: Particles) -> GeneratedParticles:
    """The charged particles of one table as the simulation's generated particles (see the
    module docstring for the vertices and species)."""
    charged = particles.charge != 0
    start = np.column_stack([particles.vx, particles.vy, particles.vz])[charged].astype(np.float64)
    primary = np.hypot(start[:, 0], start[:, 1]) < PRIMARY_VERTEX_R_MM
    vertices, index = np.unique(start[primary], axis=0, return_inverse=True)
    if not len(vertices):  # secondaries only: one vertex at the origin
        vertices = np.zeros((1, 3))
    vertex_index = np.zeros(len(start), np.int64)
    vertex_index[primary] = index.ravel()
    vertex_index[~primary] = _nearest_in_z(vertices[:, 2], start[~primary, 2])
    offset = start - vertices[vertex_index]
    offset[primary] = 0.0  # exactly at their vertex
    charge = particles.charge[charged].astype(np.float64)
    species = np.abs(particles.pdg_id[charged]).astype(np.int64)
    species = np.where(np.isin(species, list(MASS_GEV)), species, 211)
    # PDG signs: π⁺, K⁺, p are positive, μ⁺ is −13
    pdg = species * np.sign(charge).astype(np.int64) * np.where(species == 13, -1, 1)
    return GeneratedParticles(
        vertex_index=vertex_index,
        particle_number=_numbers_within(vertex_index, len(vertices)),
        pdg=pdg,
        charge=charge,
        mass_gev=np.array([MASS_GEV[int(s)] for s in species], np.float64),
        pt_gev=particles.pt[charged].astype(np.float64),
        eta=particles.eta[charged].astype(np.float64),
        phi=particles.phi[charged].astype(np.float64),
        vertex_mm=vertices,
        offset_mm=offset,
    )


def read_generated(path: str | Path) -> GeneratedParticles:
    """:func:`generated_from_table` of the table at ``path``.

    Raises:
        InputFormatError: the table cannot be read, or a charged particle in it has no
            transverse momentum (px = py = 0: it would run along the beam line, its η infinite,
            which no simulation can start).
    """
    particles = read_trackml_particles(path)
    along_beam = np.flatnonzero((particles.charge != 0) & (particles.pt == 0))
    if len(along_beam):
        raise InputFormatError(
            path,
            f"line {along_beam[0] + 2}",
            "a charged particle with px = py = 0 (along the beam line, η infinite), expected "
            "one with transverse momentum",
        )
    return generated_from_table(particles)


def _nearest_in_z(vertex_z: np.ndarray, z: np.ndarray) -> np.ndarray:
    """For each ``z``, the index of the nearest of ``vertex_z`` (the lower one on a tie)."""
    order = np.argsort(vertex_z, kind="stable")
    ordered = vertex_z[order]
    above = np.searchsorted(ordered, z).clip(0, len(ordered) - 1)
    below = (above - 1).clip(0)
    lower = np.abs(z - ordered[below]) <= np.abs(ordered[above] - z)
    return order[np.where(lower, below, above)]


def _numbers_within(vertex_index: np.ndarray, n_vertices: int) -> np.ndarray:
    """Each particle's number within its vertex, from 1, in table order."""
    order = np.argsort(vertex_index, kind="stable")
    counts = np.bincount(vertex_index, minlength=n_vertices)
    numbers = np.empty(len(vertex_index), np.int64)
    numbers[order] = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    return numbers

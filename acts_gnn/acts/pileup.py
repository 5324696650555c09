"""A minimum-bias-like pile-up model: the particles of one event, before detector simulation.

Layer: acts (pure numpy; ACTS is not needed to draw particles).

pyacts has no Pythia, so the soft collisions are drawn from a parametrisation. Each number below
was chosen against the 21 real TrackML particle tables in ``../shared/data/trackml/particles``
(ttbar + ⟨μ⟩ = 200 at 14 TeV: 11.2k particles per event, mean pT 0.54 GeV, median 0.36 GeV, 11%
above 1 GeV; their primaries, production radius < 1 mm: 8.2k per event, 14.7% above 1 GeV, 0.08%
above 10 GeV) and published minimum-bias measurements:

* **vertices**: Poisson(μ) per event; luminous region σz = 50 mm, σx = σy = 0.0125 mm (the
  TrackML / HL-LHC beam spot; ACTS's examples use the same σxy).
* **charged multiplicity per vertex** in |η| < 4: negative binomial with mean 48 and k = 2 (the
  NBD shape measured for pp minimum bias, e.g. ALICE/ATLAS charged-multiplicity distributions at
  13 TeV). TrackML tables hold 11.2k particles per event, 29% of them soft secondaries that Fatras
  (no hadronic interactions) does not make; 48 per vertex gives 9–10k particles and the TrackML
  number of space points per event (100k–130k), which is what the GNN sees.
* **pT**: Tsallis–Hagedorn shape dN/dpT ∝ pT (1 + pT/p0)^−n with n = 5.38, p0 = 0.561 GeV, for pT
  above 0.1 GeV — a maximum-likelihood fit to all particles of five TrackML tables (mean 0.54,
  median 0.36 GeV, 11% above 1 GeV), standing in for primaries and secondaries together. The
  power-law tail reaches beyond 10 GeV. Particles start at pT = 0.1 GeV, as in the TrackML tables.
* **η**: uniform in |η| < 4; **φ**: uniform. (TrackML's η distribution peaks at η = 0 — 19% of
  its particles per unit of η there against 9% at |η| ≈ 3.5 — mostly from the secondaries.)
* **species**: π± 80%, K± 12%, p/p̄ 8% (the K/π ≈ 0.12 and p/π ≈ 0.06–0.1 ratios measured in
  minimum bias), each charge with probability 1/2.
* **signal** (optional, on the first vertex): ``signal_particles`` harder particles, half muons and
  half pions, pT log-uniform in 1–100 GeV, |η| < 2.5 — a stand-in for the hard scatter so that
  high-pT tracks are well populated.
* **jets** (optional, on the first vertex): ``jets`` collimated sprays of charged hadrons, as in
  ttbar's dense jet cores. Each jet has a pT log-uniform in ``jet_pt_range_gev`` (50–300 GeV) and
  an axis uniform in |η| < 2.5 and φ; Poisson(``jet_particles_mean``) constituents (at least 2)
  share its pT by a flat Dirichlet split (those below ``pt_min_gev`` are dropped) and leave the
  axis by Gaussian Δη, Δφ of width ``jet_width`` · min(1, √(5 GeV / pT)) — the harder, the
  closer to the axis (0.1 for constituents below 5 GeV, 0.05 at 20 GeV). Species as the
  pile-up's. The jets draw from their own stream (spawned from the event's generator), so the
  pile-up and signal particles of a seed are the same with or without them.
* **heavy-flavour decays in jets** (optional): in ``jet_decay_fraction`` of the jets the hardest
  constituents — 2 + Poisson(2), as many charged particles as a b hadron's decay chain gives on
  average, at most the jet's — start together from a decay point on the jet's axis, at a flight
  distance βγ·cτ·Exp(1) with cτ = :data:`B_CTAU_MM` (the B⁰/B± lifetimes) and βγ = p / m_B of
  their summed momentum (a 50 GeV b hadron flies 4 mm on average). Those are the jet cores of
  ttbar: several collinear tracks of 10–50 GeV from one vertex a few millimetres out, which the
  real TrackML particle tables hold and the jets above do not (every constituent there starts
  at its vertex). The decays draw from their own stream, spawned after the displaced particles',
  so a seed's particles are otherwise unchanged; the decay products are numbered as displaced
  (a secondary vertex in ACTS's barcode).
* **hard vertices**: the signal particles and the jets sit on the first vertex by default (one
  hard scatter, as in data). With ``hard_vertices`` = H > 1, signal particle i and jet j go to
  vertex i mod H and j mod H instead (H capped at the number of vertices). This is a *training*
  knob: with one hard vertex per event, every high-pT particle of a training event shares one z,
  and 16 events teach the edge models 16 z positions for straight tracks (measured 2026-12-01:
  the shipped filter dropped 10% of the true edges of particles above 5 GeV from vertices at
  |z| ≥ 30 mm against 2% at |z| < 30 mm, over 10 held-out events). Spreading them decouples pT
  from the vertex z. No random number is drawn for it, so a seed's particles are otherwise
  unchanged.
* **displaced particles** (optional): ``displaced_fraction`` of the particles, whatever their
  pT, start away from their vertex, as the products of decays in flight (K⁰s, Λ), photon
  conversions and interactions in the material do. None of the particles drawn above does, but
  in the 21 TrackML tables 6.8% of the particles a target selection keeps (pT > 1 GeV, |η| < 4,
  ≥ 3 hits, production radius < 260 mm) start beyond 1 mm (5.1–8.9% per event; of all particles
  with ≥ 3 hits, 18.6%), and on the real ``subset_barrel`` the shipped model found 56% of those
  against 92% of the others (2026-12-03). Each displaced particle starts at a transverse radius
  drawn from the TrackML tables' histogram (:data:`DISPLACED_RADIUS_EDGES_MM`, log-uniform within
  a bin; median 44 mm), on the line of flight of a parent from its vertex: the particle's own
  η, and an azimuth that its momentum leaves by an angle drawn likewise
  (:data:`DISPLACED_TURN_EDGES`, the tables' |φ(p) − φ(production point)|: median 0.05 rad,
  either sign). Its momentum is the one drawn above. The displacement draws from its own stream,
  spawned after the jets', so a seed's particles are otherwise unchanged. ACTS numbers such a
  particle's vertex as secondary (barcode ``vertexSecondary`` 1), so readers mark it not
  primary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "B_CTAU_MM",
    "B_MASS_GEV",
    "DISPLACED_RADIUS_EDGES_MM",
    "DISPLACED_RADIUS_SHARES",
    "DISPLACED_TURN_EDGES",
    "DISPLACED_TURN_SHARES",
    "MASS_GEV",
    "GeneratedParticles",
    "PileupModel",
]

#: PDG id → mass in GeV
MASS_GEV = {211: 0.13957039, 321: 0.493677, 2212: 0.93827209, 13: 0.1056583755}
#: cτ of the b hadrons whose decays ``jet_decay_fraction`` makes (B⁰ 0.455 mm, B± 0.491 mm: PDG)
B_CTAU_MM = 0.47
#: their mass (GeV): βγ = p / m
B_MASS_GEV = 5.28

#: displaced particles' transverse production radius (mm): bin edges and each bin's share, from
#: the 1,695 particles of the 21 TrackML tables with pT > 1 GeV, |η| < 4, ≥ 3 hits and a
#: production radius of 1–260 mm (172, 189, 296, 622 and 416 of them)
DISPLACED_RADIUS_EDGES_MM = (1.0, 3.0, 10.0, 30.0, 100.0, 260.0)
DISPLACED_RADIUS_SHARES = (172, 189, 296, 622, 416)
#: the same particles' |φ(momentum) − φ(production point)| (rad): bin edges and shares (the 16
#: beyond 1 rad counted in the last bin); uniform within a bin
DISPLACED_TURN_EDGES = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0)
DISPLACED_TURN_SHARES = (178, 319, 784, 351, 63)


@dataclass(frozen=True)
class PileupModel:
    """Parameters of the pile-up model (see the module docstring for their origin)."""

    pileup: float = 200.0
    sigma_z_mm: float = 50.0
    sigma_xy_mm: float = 0.0125
    multiplicity_mean: float = 48.0
    multiplicity_k: float = 2.0
    tsallis_n: float = 5.38
    tsallis_p0_gev: float = 0.561
    pt_min_gev: float = 0.1
    max_abs_eta: float = 4.0
    species: tuple[tuple[int, float], ...] = ((211, 0.80), (321, 0.12), (2212, 0.08))
    signal_particles: int = 0
    signal_pt_range_gev: tuple[float, float] = (1.0, 100.0)
    signal_max_abs_eta: float = 2.5
    jets: int = 0
    jet_particles_mean: float = 20.0
    jet_pt_range_gev: tuple[float, float] = (50.0, 300.0)
    jet_max_abs_eta: float = 2.5
    jet_width: float = 0.1
    hard_vertices: int = 1
    displaced_fraction: float = 0.0
    jet_decay_fraction: float = 0.0

    def sample(self, rng: np.random.Generator) -> GeneratedParticles:
        """Draw the particles of one event."""
        (jet_rng,) = rng.spawn(1) if self.jets else (None,)
        (displaced_rng,) = rng.spawn(1) if self.displaced_fraction > 0 else (None,)
        decays = self.jets and self.jet_decay_fraction > 0
        (decay_rng,) = rng.spawn(1) if decays else (None,)
        hard = self.signal_particles or self.jets
        n_vertices = max(int(rng.poisson(self.pileup)), 1 if hard else 0)
        vertex = np.column_stack(
            [
                rng.normal(0.0, self.sigma_xy_mm, n_vertices),
                rng.normal(0.0, self.sigma_xy_mm, n_vertices),
                rng.normal(0.0, self.sigma_z_mm, n_vertices),
            ]
        )
        # negative binomial as a gamma-Poisson mixture
        k = self.multiplicity_k
        lam = rng.gamma(k, self.multiplicity_mean / k, n_vertices)
        counts = rng.poisson(lam)
        n = int(counts.sum())
        vertex_index = np.repeat(np.arange(n_vertices), counts)
        pt = self._sample_pt(rng, n)
        eta = rng.uniform(-self.max_abs_eta, self.max_abs_eta, n)
        pdgs = np.array([p for p, _ in self.species])
        shares = np.array([s for _, s in self.species], dtype=np.float64)
        pdg = rng.choice(pdgs, size=n, p=shares / shares.sum())

        if self.signal_particles:
            m = self.signal_particles
            low, high = np.log(self.signal_pt_range_gev[0]), np.log(self.signal_pt_range_gev[1])
            pt = np.concatenate([pt, np.exp(rng.uniform(low, high, m))])
            eta = np.concatenate(
                [eta, rng.uniform(-self.signal_max_abs_eta, self.signal_max_abs_eta, m)]
            )
            pdg = np.concatenate([pdg, np.where(np.arange(m) % 2 == 0, 13, 211)])
            vertex_index = np.concatenate(
                [vertex_index, self._hard_vertex(np.arange(m), n_vertices)]
            )
            n += m
        phi = rng.uniform(-np.pi, np.pi, n)
        sign = np.where(rng.random(n) < 0.5, 1, -1)
        decayed = np.zeros((n, 3))  # start relative to the vertex, of a jet's decay products
        if jet_rng is not None:
            jet_pt, jet_eta, jet_phi, jet_pdg, jet_index, axes = self._sample_jets(jet_rng)
            m = jet_pt.size
            jet_decayed = (
                np.zeros((m, 3))
                if decay_rng is None
                else self._jet_decays(decay_rng, jet_pt, jet_eta, jet_index, jet_pdg, axes)
            )
            decayed = np.concatenate([decayed, jet_decayed])
            pt, eta, phi = (
                np.concatenate(p) for p in ((pt, jet_pt), (eta, jet_eta), (phi, jet_phi))
            )
            pdg = np.concatenate([pdg, jet_pdg])
            sign = np.concatenate([sign, np.where(jet_rng.random(m) < 0.5, 1, -1)])
            vertex_index = np.concatenate([vertex_index, self._hard_vertex(jet_index, n_vertices)])
            n += m
        # order by vertex so particle numbers count up within each vertex
        order = np.argsort(vertex_index, kind="stable")
        vertex_index, pt, eta, phi, pdg, sign, decayed = (
            a[order] for a in (vertex_index, pt, eta, phi, pdg, sign, decayed)
        )
        first = np.searchsorted(vertex_index, np.arange(n_vertices))
        number_in_vertex = np.arange(n) - first[vertex_index]
        # PDG charge convention: pi+, K+, p, mu- are the positive PDG ids; mu- has charge -1
        charge = np.where(pdg == 13, -sign, sign).astype(np.float64)
        offset = decayed + (
            np.zeros((n, 3))
            if displaced_rng is None
            else self._displacements(displaced_rng, eta, phi)
        )
        return GeneratedParticles(
            vertex_index=vertex_index,
            particle_number=number_in_vertex + 1,
            pdg=(pdg * sign).astype(np.int64),
            charge=charge,
            mass_gev=np.array([MASS_GEV[int(p)] for p in pdg]) if n else np.zeros(0),
            pt_gev=pt,
            eta=eta,
            phi=phi,
            vertex_mm=vertex,
            offset_mm=offset,
        )

    def _displacements(
        self, rng: np.random.Generator, eta: np.ndarray, phi: np.ndarray
    ) -> np.ndarray:
        """[N, 3] start of each particle relative to its vertex (mm): ``displaced_fraction`` of
        them on a parent's line of flight (see the module docstring), the others at 0."""
        n = eta.size
        chosen = np.flatnonzero(rng.random(n) < self.displaced_fraction)
        radius = np.exp(_binned(rng, np.log(DISPLACED_RADIUS_EDGES_MM), DISPLACED_RADIUS_SHARES,
                                chosen.size))  # fmt: skip
        turn = _binned(rng, np.array(DISPLACED_TURN_EDGES), DISPLACED_TURN_SHARES, chosen.size)
        flight = phi[chosen] - np.where(rng.random(chosen.size) < 0.5, turn, -turn)
        offset = np.zeros((n, 3))
        offset[chosen] = np.column_stack(
            [radius * np.cos(flight), radius * np.sin(flight), radius * np.sinh(eta[chosen])]
        )
        return offset

    def _hard_vertex(self, index: np.ndarray, n_vertices: int) -> np.ndarray:
        """The vertex of hard object ``index`` (signal particle or jet): index mod H."""
        return (index % max(min(self.hard_vertices, n_vertices), 1)).astype(np.int64)

    def _jet_decays(
        self,
        rng: np.random.Generator,
        pt: np.ndarray,
        eta: np.ndarray,
        jet: np.ndarray,
        pdg: np.ndarray,
        axes: np.ndarray,
    ) -> np.ndarray:
        """[M, 3] start of each jet constituent relative to its vertex (mm): the hardest ones
        of ``jet_decay_fraction`` of the jets from one decay point on the jet's axis (see the
        module docstring), the others at 0. ``axes``: [jets, 2] the axes' (η, φ)."""
        offset = np.zeros((pt.size, 3))
        mass = np.array([MASS_GEV[int(p)] for p in pdg]) if pt.size else np.zeros(0)
        momentum = np.sqrt((pt * np.cosh(eta)) ** 2 + mass**2)
        for j, (axis_eta, axis_phi) in enumerate(axes):
            if rng.random() >= self.jet_decay_fraction:
                continue
            members = np.flatnonzero(jet == j)
            products = members[np.argsort(-pt[members], kind="stable")][: 2 + rng.poisson(2.0)]
            beta_gamma = momentum[products].sum() / B_MASS_GEV
            flight = beta_gamma * B_CTAU_MM * rng.exponential()
            along = np.array([np.cos(axis_phi), np.sin(axis_phi), np.sinh(axis_eta)])
            offset[products] = flight * along / np.cosh(axis_eta)
        return offset

    def _sample_jets(
        self, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(pT, η, φ, PDG id without sign, jet index) of the constituents of ``jets`` jets, and
        the jets' axes [jets, 2] as (η, φ)."""
        low, high = np.log(self.jet_pt_range_gev[0]), np.log(self.jet_pt_range_gev[1])
        pdgs = np.array([p for p, _ in self.species])
        shares = np.array([s for _, s in self.species], dtype=np.float64)
        parts: list[tuple[np.ndarray, ...]] = []
        axes: list[tuple[float, float]] = []
        for j in range(self.jets):
            jet_pt = float(np.exp(rng.uniform(low, high)))
            axis_eta = rng.uniform(-self.jet_max_abs_eta, self.jet_max_abs_eta)
            axis_phi = rng.uniform(-np.pi, np.pi)
            m = max(int(rng.poisson(self.jet_particles_mean)), 2)
            pt = jet_pt * rng.dirichlet(np.ones(m))
            pt = pt[pt >= self.pt_min_gev]
            width = self.jet_width * np.minimum(1.0, np.sqrt(5.0 / pt))
            eta = axis_eta + rng.normal(0.0, width)
            phi = np.remainder(axis_phi + rng.normal(0.0, width) + np.pi, 2 * np.pi) - np.pi
            pdg = rng.choice(pdgs, size=pt.size, p=shares / shares.sum())
            parts.append((pt, eta, phi, pdg, np.full(pt.size, j, np.int64)))
            axes.append((axis_eta, axis_phi))
        constituents = tuple(np.concatenate([p[i] for p in parts]) for i in range(5))
        return (*constituents, np.array(axes, np.float64).reshape(-1, 2))  # type: ignore[return-value]

    def _sample_pt(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Inverse-CDF sampling of the Tsallis shape on a fine log grid."""
        grid = np.geomspace(self.pt_min_gev, 1000.0, 20001)
        pdf = grid * (1.0 + grid / self.tsallis_p0_gev) ** (-self.tsallis_n)
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(grid))])
        cdf /= cdf[-1]
        return np.interp(rng.random(n), cdf, grid)


def _binned(rng: np.random.Generator, edges, shares, n: int) -> np.ndarray:
    """``n`` values drawn from a histogram: a bin by its share, then uniform within it."""
    weights = np.asarray(shares, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.float64)
    bin_of = rng.choice(weights.size, size=n, p=weights / weights.sum())
    return edges[bin_of] + rng.random(n) * (edges[bin_of + 1] - edges[bin_of])


@dataclass(frozen=True)
class GeneratedParticles:
    """Particles of one event at generation (struct of arrays, one entry per particle).

    ``vertex_index`` indexes ``vertex_mm`` ([V, 3]); ``particle_number`` counts from 1 within a
    vertex; ``pdg`` carries the sign of the particle (e.g. -211 for π−); ``offset_mm`` [N, 3]:
    where each particle starts relative to its vertex (0 but for displaced particles).
    """

    vertex_index: np.ndarray
    particle_number: np.ndarray
    pdg: np.ndarray
    charge: np.ndarray
    mass_gev: np.ndarray
    pt_gev: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    vertex_mm: np.ndarray
    offset_mm: np.ndarray

    def __len__(self) -> int:
        return int(self.pdg.shape[0])

    @property
    def displaced(self) -> np.ndarray:
        """bool [N]: the particle starts away from its vertex."""
        return np.any(self.offset_mm != 0.0, axis=1)

    def start_mm(self) -> np.ndarray:
        """[N, 3] where each particle starts (mm)."""
        return self.vertex_mm[self.vertex_index] + self.offset_mm

    def momentum(self) -> np.ndarray:
        """[N, 3] momentum in GeV."""
        return np.column_stack(
            [
                self.pt_gev * np.cos(self.phi),
                self.pt_gev * np.sin(self.phi),
                self.pt_gev * np.sinh(self.eta),
            ]
        )

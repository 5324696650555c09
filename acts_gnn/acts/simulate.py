"""``acts-gnn simulate``: pile-up events through real ACTS — Fatras on the TrackML-like detector.

Layer: acts.

Chain (one ACTS ``Sequencer``, single-threaded so a seed gives byte-identical files):

1. :class:`~acts_gnn.acts.pileup.PileupModel` draws the particles (or they come from another
   generator's particle tables: :mod:`acts_gnn.acts.tables`); a Python ``IReader`` hands them
   to ACTS as a ``SimParticleContainer``.
2. Fatras propagates them through ``GenericDetector`` (the TrackML geometry, module for module) in
   a 2 T solenoid field, with multiple scattering and ionisation and radiation energy loss; hits
   on sensitive surfaces. Photon conversions are switched on, but no photon enters (the particles
   are charged, and Fatras's radiation loss makes no photon particle): Fatras makes no
   secondaries, so ``particles_simulated`` lists the same particles as ``particles`` (displaced
   tracks come from the generator: ``--displaced``, ``--jet-decays``, particle tables).
3. Smearing digitisation with the resolutions of ACTS's generic-detector smearing configuration
   (pitch/√12: 50×50 µm pixels, 80 µm × 1.2 mm short strips, 120 µm × 10.8 mm long strips),
   2-D measurements in all nine volumes.
4. One space point per measurement in every volume (as in TrackML, where strip hits are
   module-level 3-D points).
5. ACTS's CSV writers: particles, particles_simulated, hits, measurements, measurement-simhit-map,
   spacepoint.

Three options change the space points afterwards (the other files stay as Fatras wrote them):

* ``stop_fraction``: that fraction of the particles stop early, as if they had interacted in the
  material (Fatras makes no hadronic interactions; in real data ~10–20% of the pions do): each
  keeps its space points up to one drawn uniformly along its trajectory (ordered by distance
  from its production vertex), possibly none, and the rest are removed. A training-data knob:
  a model that has only seen tracks run to the detector's edge refuses the ones that end early
  (and those of a detector region read alone, such as TrackML's barrel subset).
* ``region_fraction``: that fraction of the events keep one detector region only — the barrel
  volumes (8, 13, 17), or the endcaps of one side — as when a region is read out or selected
  alone (TrackML's ``subset_barrel`` is one): tracks then start or end at the region's edge.
  Another training-data knob.
* ``noise_fraction``: extra space points placed on the layers of real ones at a random azimuth,
  with measurement ids past the event's last one (so they have no simulated hit and read back
  as noise).

The Sequencer (:func:`simulation_sequencer`) and the finishing of its files (:func:`finish_events`)
are public so that other chains run on exactly these events (:mod:`acts_gnn.acts.ckf` adds ACTS's
own reconstruction to the same Sequencer).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np

from acts_gnn._extras import require
from acts_gnn.acts.pileup import GeneratedParticles, PileupModel
from acts_gnn.acts.tables import read_generated
from acts_gnn.errors import ActsGnnError, ConfigError, OutputError, OutputRefusedError
from acts_gnn.io.atomic import refuse_system_path
from acts_gnn.io.ids import geometry_volume_layer_module

__all__ = [
    "BARREL_VOLUMES",
    "REGIONS",
    "SimulationConfig",
    "SimulationSequencer",
    "event_files",
    "finish_events",
    "region_rows",
    "simulate",
    "simulation_sequencer",
    "stopped_rows",
]

PIXEL_VOLUMES = (7, 8, 9)
SHORT_STRIP_VOLUMES = (12, 13, 14)
LONG_STRIP_VOLUMES = (16, 17, 18)
#: Gaussian smearing (σ loc0, σ loc1) in mm per volume: pitch / √12 of the generic detector
SMEARING_MM = {
    **{v: (0.05 / math.sqrt(12), 0.05 / math.sqrt(12)) for v in PIXEL_VOLUMES},
    **{v: (0.08 / math.sqrt(12), 1.2 / math.sqrt(12)) for v in SHORT_STRIP_VOLUMES},
    **{v: (0.12 / math.sqrt(12), 10.8 / math.sqrt(12)) for v in LONG_STRIP_VOLUMES},
}
_PDG_NAMES = {
    211: "ePionPlus",
    -211: "ePionMinus",
    321: "eKaonPlus",
    -321: "eKaonMinus",
    2212: "eProton",
    -2212: "eAntiProton",
    13: "eMuon",
    -13: "eAntiMuon",
}
_OUTPUT_SUFFIXES = (
    "particles",
    "particles_simulated",
    "hits",
    "measurements",
    "measurement-simhit-map",
    "spacepoint",
)


#: the most events one run simulates: event files are named with nine digits
MAX_EVENTS = 10**9


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate (units in the names)."""

    events: int = 1
    seed: int = 1
    model: PileupModel = field(default_factory=PileupModel)
    bfield_t: float = 2.0
    noise_fraction: float = 0.0
    stop_fraction: float = 0.0
    region_fraction: float = 0.0
    fatras_pmin_gev: float = 0.05
    #: particle tables (:mod:`acts_gnn.acts.tables`), one per event in order: they replace
    #: ``model`` (the pile-up model is not drawn)
    particle_tables: tuple[Path, ...] = ()

    def check(self) -> None:
        """Raise :class:`ConfigError` for values that cannot be simulated."""
        if not 1 <= self.events <= MAX_EVENTS:  # beyond, the file names' nine digits end
            raise ConfigError(f"--events must be from 1 to {MAX_EVENTS:,}, got {self.events}")
        if not 0 <= self.seed < 2**63:  # ACTS's random numbers take no other
            raise ConfigError(f"--seed must be from 0 to 2^63 − 1, got {self.seed}")
        if self.particle_tables:
            self._check_tables()
        if not 0 <= self.model.pileup < math.inf:  # NaN too
            raise ConfigError(f"--pileup must be a non-negative number, got {self.model.pileup}")
        if self.model.signal_particles < 0:
            raise ConfigError(f"--signal must be non-negative, got {self.model.signal_particles}")
        if not 0.0 <= self.noise_fraction < 1.0:
            raise ConfigError(f"--noise must be in [0, 1), got {self.noise_fraction}")
        for flag, fraction in (
            ("--stop", self.stop_fraction),
            ("--regions", self.region_fraction),
            ("--displaced", self.model.displaced_fraction),
            ("--jet-decays", self.model.jet_decay_fraction),
        ):
            if not 0.0 <= fraction <= 1.0:
                raise ConfigError(f"{flag} must be in [0, 1], got {fraction}")
        if self.model.jets < 0:
            raise ConfigError(f"--jets must be non-negative, got {self.model.jets}")
        if not 1 <= self.model.jet_particles_mean < math.inf:
            raise ConfigError(
                f"--jet-particles must be at least 1, got {self.model.jet_particles_mean:g}"
            )
        if self.model.jet_decay_fraction > 0 and not self.model.jets:
            raise ConfigError("--jet-decays needs --jets: there is no jet to decay")
        jet_particles_given = self.model.jet_particles_mean != type(self.model)().jet_particles_mean
        if jet_particles_given and not self.model.jets:
            raise ConfigError("--jet-particles needs --jets: there is no jet to fill")
        if self.model.hard_vertices < 1:
            raise ConfigError(f"--hard-vertices must be at least 1, got {self.model.hard_vertices}")
        if (
            not self.particle_tables
            and self.model.pileup == 0
            and self.model.signal_particles == 0
            and self.model.jets == 0
        ):
            raise ConfigError("nothing to simulate: --pileup 0, no --signal particles, no --jets")

    def _check_tables(self) -> None:
        if len(self.particle_tables) < self.events:
            folder = self.particle_tables[0].parent
            raise ConfigError(
                f"--particles-from {folder}: {len(self.particle_tables)} particle tables for "
                f"{self.events} --events"
            )
        model = self.model
        if model.jets or model.displaced_fraction or model.hard_vertices != 1:
            raise ConfigError(
                "--jets, --displaced and --hard-vertices change the pile-up model, which "
                "--particles-from replaces"
            )

    def particles(self, number: int) -> GeneratedParticles:
        """The generated particles of event ``number``: its particle table, or the pile-up
        model's draw from the seed and the event number."""
        if self.particle_tables:
            return read_generated(self.particle_tables[number])
        return self.model.sample(np.random.default_rng([self.seed, number]))


def _smearing_config() -> dict:
    entries = [
        {
            "volume": volume,
            "value": {
                "smearing": [
                    {"index": i, "mean": 0.0, "stddev": sigma, "type": "Gauss"}
                    for i, sigma in enumerate(sigmas)
                ]
            },
        }
        for volume, sigmas in sorted(SMEARING_MM.items())
    ]
    return {
        "acts-geometry-hierarchy-map": {
            "format-version": 0,
            "value-identifier": "digitization-configuration",
        },
        "entries": entries,
    }


def _particle_reader(config: SimulationConfig, on_event: Callable[[int], None] | None):
    """A Python ``IReader`` that fills the whiteboard with the pile-up model's particles."""
    acts = require("acts", "acts")
    examples = require("acts.examples", "acts")
    u = acts.UnitConstants

    class PileupReader(examples.IReader):
        def __init__(self) -> None:
            examples.IReader.__init__(self, "PileupReader", acts.logging.WARNING)
            self._handle = examples.WriteDataHandle(
                self, examples.SimParticleContainer, "OutputParticles"
            )
            self._handle.initialize("particles_generated")

        def availableEvents(self) -> tuple[int, int]:
            return (0, config.events)

        def read(self, context):
            number = int(context.eventNumber)
            generated = config.particles(number)
            momentum = generated.momentum()
            p = np.linalg.norm(momentum, axis=1)
            start = generated.start_mm()
            displaced = generated.displaced
            container = examples.SimParticleContainer()
            for i in range(len(generated)):
                barcode = examples.SimBarcode()
                barcode.vertexPrimary = int(generated.vertex_index[i]) + 1
                barcode.vertexSecondary = int(displaced[i])  # its own vertex: secondary
                barcode.particle = int(generated.particle_number[i])
                barcode.generation = 0
                barcode.subParticle = 0
                particle = examples.SimParticle(
                    barcode,
                    getattr(acts.PdgParticle, _PDG_NAMES[int(generated.pdg[i])]),
                    float(generated.charge[i]) * u.e,
                    float(generated.mass_gev[i]) * u.GeV,
                )
                vx, vy, vz = start[i]
                particle.fourPosition = acts.Vector4(
                    float(vx) * u.mm, float(vy) * u.mm, float(vz) * u.mm, 0.0
                )
                particle.direction = acts.Vector3(*(float(c) / p[i] for c in momentum[i]))
                particle.absoluteMomentum = float(p[i]) * u.GeV
                container.insert(particle)
            self._handle(context, container)
            if on_event is not None:
                on_event(number)
            return examples.ProcessCode.SUCCESS

    return PileupReader()


def _sequencer(
    config: SimulationConfig,
    output: Path,
    digi_path: Path,
    on_event,
    threads: int = 1,
    events: range | None = None,
):
    """The simulation's Sequencer, with ACTS's defaults but for ``threads`` (-1: all cores) and
    the event numbers it runs (``events``, default all of ``config.events``);
    floating-point-exception tracking stays on, as in any ACTS job."""
    acts = require("acts", "acts")
    examples = require("acts.examples", "acts")
    require("acts.examples.json", "acts")
    u = acts.UnitConstants
    level = acts.logging.WARNING
    outdir = str(output)

    detector = examples.GenericDetector(logLevel=level)
    geometry = detector.trackingGeometry()
    bfield = acts.ConstantBField(acts.Vector3(0.0, 0.0, config.bfield_t * u.T))
    rnd = examples.RandomNumbers(seed=config.seed)
    events = range(config.events) if events is None else events
    sequencer = examples.Sequencer(
        events=len(events), skip=events.start, numThreads=threads, logLevel=level, outputDir=""
    )
    reader = _particle_reader(config, on_event)
    sequencer.addReader(reader)
    sequencer.addWriter(
        examples.CsvParticleWriter(
            level=level,
            inputParticles="particles_generated",
            outputDir=outdir,
            outputStem="particles",
        )
    )
    sequencer.addAlgorithm(
        examples.FatrasSimulation(
            # FATAL: a soft looper that hits the step limit is reported as an ERROR per particle
            # and dropped; that is normal at pile-up 200 and not worth a screenful
            level=acts.logging.FATAL,
            inputParticles="particles_generated",
            outputParticles="particles_simulated",
            outputSimHits="simhits",
            randomNumbers=rnd,
            trackingGeometry=geometry,
            magneticField=bfield,
            generateHitsOnSensitive=True,
            emScattering=True,
            emEnergyLossIonisation=True,
            emEnergyLossRadiation=True,
            emPhotonConversion=True,
            pMin=config.fatras_pmin_gev * u.GeV,
        )
    )
    sequencer.addWriter(
        examples.CsvParticleWriter(
            level=level,
            inputParticles="particles_simulated",
            outputDir=outdir,
            outputStem="particles_simulated",
        )
    )
    sequencer.addWriter(
        examples.CsvSimHitWriter(
            level=level, inputSimHits="simhits", outputDir=outdir, outputStem="hits"
        )
    )
    digi = examples.DigitizationAlgorithm.Config(
        digitizationConfigs=acts.examples.json.readDigiConfigFromJson(str(digi_path)),
        surfaceByIdentifier=geometry.geoIdSurfaceMap(),
        randomNumbers=rnd,
        inputSimHits="simhits",
        outputMeasurements="measurements",
        outputMeasurementSubset="measurement_subset",
        outputMeasurementParticlesMap="measurement_particles_map",
        outputMeasurementSimHitsMap="measurement_simhits_map",
        outputParticleMeasurementsMap="particle_measurements_map",
        outputSimHitMeasurementsMap="simhit_measurements_map",
    )
    sequencer.addAlgorithm(examples.DigitizationAlgorithm(digi, level))
    sequencer.addWriter(
        examples.CsvMeasurementWriter(
            level=level,
            inputMeasurements="measurements",
            inputMeasurementSimHitsMap="measurement_simhits_map",
            inputClusters="clusters",  # without it the global positions are NaN
            outputDir=outdir,
        )
    )
    volumes = PIXEL_VOLUMES + SHORT_STRIP_VOLUMES + LONG_STRIP_VOLUMES
    sequencer.addAlgorithm(
        examples.SpacePointMaker(
            level=level,
            inputMeasurements="measurement_subset",
            outputSpacePoints="spacepoints",
            trackingGeometry=geometry,
            geometrySelection=[acts.GeometryIdentifier(volume=v) for v in volumes],
        )
    )
    sequencer.addWriter(
        examples.CsvSpacePointWriter(level=level, inputSpacePoints="spacepoints", outputDir=outdir)
    )
    # the detector owns the elements the geometry points to: keep everything alive
    return sequencer, (detector, geometry, bfield, rnd, reader)


def _add_noise(path: Path, fraction: float, rng: np.random.Generator) -> int:
    """Append noise space points to one ``-spacepoint.csv`` so they make ``fraction`` of it."""
    lines = path.read_text().splitlines()
    header, rows = lines[0], lines[1:]
    n_real = len(rows)
    n_noise = round(fraction * n_real / (1.0 - fraction))
    if n_noise == 0 or n_real == 0:
        return 0
    columns = header.split(",")
    table = np.array([r.split(",") for r in rows])
    ids = table[:, columns.index("measurement_id_1")].astype(np.uint64)
    geometry = table[:, columns.index("geometry_id_1")].astype(np.uint64)
    x = table[:, columns.index("x")].astype(np.float64)
    y = table[:, columns.index("y")].astype(np.float64)
    z = table[:, columns.index("z")].astype(np.float64)
    template = rng.integers(0, n_real, n_noise)
    phi = rng.uniform(-np.pi, np.pi, n_noise)
    r = np.hypot(x, y)[template]
    # volume and layer of the template; the module (sensitive) bits cleared
    layer_id = geometry[template] & np.uint64(0xFFFF_FFF0_0000_0000)
    # past every measurement of the event, not only those with a space point left (--stop and
    # --regions remove some): a noise id must not name a simulated hit
    measurements = path.with_name(path.name.replace("-spacepoint.csv", "-measurements.csv"))
    first_id = int(ids.max()) + 1
    if measurements.is_file():
        with measurements.open() as table:
            column = table.readline().strip().split(",").index("measurement_id")
            for line in table:
                first_id = max(first_id, int(line.split(",", column + 1)[column]) + 1)
    noise = []
    for i in range(n_noise):
        values = dict.fromkeys(columns, "0")
        values.update(
            measurement_id_1=str(first_id + i),
            measurement_id_2=str(2**64 - 1),
            geometry_id_1=str(int(layer_id[i])),
            x=f"{r[i] * math.cos(phi[i]):.9g}",
            y=f"{r[i] * math.sin(phi[i]):.9g}",
            z=f"{z[template[i]]:.9g}",
            t="nan",
        )
        noise.append(",".join(values[c] for c in columns))
    path.write_text("\n".join([header, *rows, *noise]) + "\n")
    return n_noise


def stopped_rows(
    distance: np.ndarray, particle: np.ndarray, fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """The space points removed when ``fraction`` of the particles stop early: bool [N].

    ``distance``: each point's distance from its particle's production vertex; ``particle``:
    its particle id (0: noise, never removed). Each particle stops with probability
    ``fraction`` (drawn in the order of the sorted ids) and then keeps its first ``j`` points
    by distance, ``j`` uniform in 0 … n − 1.
    """
    removed = np.zeros(particle.shape[0], bool)
    real = np.flatnonzero(particle != 0)
    if fraction <= 0 or real.size == 0:
        return removed
    ids, counts = np.unique(particle[real], return_counts=True)
    stops = rng.random(ids.size) < fraction
    kept = np.floor(rng.random(ids.size) * counts).astype(np.int64)  # 0 … n − 1
    order = real[np.lexsort((distance[real], particle[real]))]  # by particle, then distance
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    for p in np.flatnonzero(stops):
        removed[order[starts[p] + kept[p] : starts[p] + counts[p]]] = True
    return removed


def _stop_particles(prefix: Path, fraction: float, rng: np.random.Generator) -> int:
    """Remove from ``prefix-spacepoint.csv`` the space points of the particles that stop early
    (:func:`stopped_rows`); returns how many."""
    from acts_gnn.io.source import open_events

    (event,) = list(open_events([prefix]))
    particles = event.truth.particles
    at = np.maximum(particles.index_of(event.truth.particle_id), 0)  # noise: any row
    sp = event.spacepoints
    distance = np.sqrt(
        (sp.x - particles.vx[at]) ** 2 + (sp.y - particles.vy[at]) ** 2
        + (sp.z - particles.vz[at]) ** 2
    )  # fmt: skip
    removed = stopped_rows(distance, event.truth.particle_id, fraction, rng)
    if not removed.any():
        return 0
    gone = set(sp.measurement_id[removed].tolist())
    path = prefix.parent / f"{prefix.name}-spacepoint.csv"
    lines = path.read_text().splitlines()
    column = lines[0].split(",").index("measurement_id_1")
    rows = [row for row in lines[1:] if int(row.split(",")[column]) not in gone]
    path.write_text("\n".join([lines[0], *rows]) + "\n")
    return int(removed.sum())


#: the regions an event of ``region_fraction`` keeps (one drawn uniformly)
REGIONS = ("barrel", "endcaps z < 0", "endcaps z > 0")
#: the barrel volumes (8, 13, 17), the middle ones of each kind of sensor
BARREL_VOLUMES = (PIXEL_VOLUMES[1], SHORT_STRIP_VOLUMES[1], LONG_STRIP_VOLUMES[1])


def region_rows(volume: np.ndarray, z: np.ndarray, region: str) -> np.ndarray:
    """The space points of ``region`` (one of :data:`REGIONS`): bool [N]."""
    barrel = np.isin(volume, BARREL_VOLUMES)
    if region == "barrel":
        return barrel
    return ~barrel & ((z < 0) if region == "endcaps z < 0" else (z > 0))


def _keep_region(path: Path, rng: np.random.Generator) -> str:
    """Keep in the ``-spacepoint.csv`` at ``path`` the rows of one region drawn from
    :data:`REGIONS`; returns it."""
    region = REGIONS[int(rng.integers(len(REGIONS)))]
    lines = path.read_text().splitlines()
    columns = lines[0].split(",")
    geometry, z = columns.index("geometry_id_1"), columns.index("z")
    rows = [row.split(",") for row in lines[1:]]
    volume, _layer, _module = geometry_volume_layer_module(
        np.array([int(r[geometry]) for r in rows], np.uint64)
    )
    keep = region_rows(volume, np.array([float(r[z]) for r in rows]), region)
    kept = [line for line, k in zip(lines[1:], keep, strict=True) if k]
    path.write_text("\n".join([lines[0], *kept]) + "\n")
    return region


@dataclass(frozen=True)
class SimulationSequencer:
    """The Sequencer :func:`simulate` runs, not run yet, with what must outlive its run.

    Algorithms added to ``sequencer`` before it runs see the whiteboard of the simulation:
    ``particles_simulated``, ``simhits``, ``measurements``, ``measurement_subset``,
    ``measurement_particles_map``, ``particle_measurements_map``, ``spacepoints`` (all volumes),
    …; the CSV writers put the events into ``events_dir``, to be finished by
    :func:`finish_events` after the run.
    """

    sequencer: object  # acts.examples.Sequencer
    events_dir: Path
    geometry: object  # acts.TrackingGeometry of the GenericDetector
    field: object  # acts.MagneticFieldProvider, the constant solenoid field
    #: (detector, geometry, field, random numbers, particle reader): the Sequencer points into
    #: them (the detector owns the elements the geometry points to)
    keepalive: tuple = ()


def simulation_sequencer(
    config: SimulationConfig,
    scratch: Path,
    on_event: Callable[[int], None] | None = None,
    threads: int = 1,
    events: range | None = None,
) -> SimulationSequencer:
    """The Sequencer of :func:`simulate` for ``config``, writing into ``scratch / "events"``.

    ``threads``: the Sequencer's threads (1, the default, gives byte-identical files per seed;
    -1: all cores). ``events``: the event numbers to run (a contiguous range; default all of
    ``config.events``): each event's files are the same whichever range it is run in. ``scratch``
    must exist; the digitisation configuration is written there.
    """
    digi_path = scratch / "digi-smearing.json"
    digi_path.write_text(json.dumps(_smearing_config(), indent=1))
    events_dir = scratch / "events"
    events_dir.mkdir()
    sequencer, keepalive = _sequencer(config, events_dir, digi_path, on_event, threads, events)
    _detector, geometry, bfield, _rnd, _reader = keepalive
    return SimulationSequencer(sequencer, events_dir, geometry, bfield, keepalive)


def finish_events(events_dir: Path, config: SimulationConfig, events: range | None = None) -> None:
    """What :func:`simulate` does to the CSV files after the run: drop the cells files (smearing
    makes none: they hold only a header), stop ``config.stop_fraction`` of the particles early,
    keep one region of ``config.region_fraction`` of the events and add
    ``config.noise_fraction`` noise space points (``events``: the event numbers in
    ``events_dir``, default all of ``config.events``)."""
    events = range(config.events) if events is None else events
    for cells in events_dir.glob("event*-cells.csv"):
        cells.unlink()
    if config.stop_fraction > 0:
        for number in events:
            rng = np.random.default_rng([config.seed, number, 2])
            _stop_particles(events_dir / f"event{number:09d}", config.stop_fraction, rng)
    if config.region_fraction > 0:
        for number in events:
            rng = np.random.default_rng([config.seed, number, 3])
            if rng.random() < config.region_fraction:
                _keep_region(events_dir / f"event{number:09d}-spacepoint.csv", rng)
    if config.noise_fraction > 0:
        for number in events:
            rng = np.random.default_rng([config.seed, number, 1])
            _add_noise(events_dir / f"event{number:09d}-spacepoint.csv", config.noise_fraction, rng)


#: the lines a worker of :func:`simulate` writes to its parent (any other line is ACTS's own)
_DONE, _FAILED = "acts-gnn-simulated-event ", "acts-gnn-simulation-failed "


class _DoneEvents:
    """Reports each event when it is done (its files written): the reader says when an event
    starts, and in a one-thread Sequencer the event before it is then done; the last one is
    done once the run and its finishing are (:meth:`finish`)."""

    def __init__(self, on_done: Callable[[int], None] | None) -> None:
        self._on_done = on_done
        self._running: int | None = None

    def started(self, number: int) -> None:
        self.finish()
        self._running = number

    def finish(self) -> None:
        if self._running is not None and self._on_done is not None:
            self._on_done(self._running)
        self._running = None


def _end_with_parent() -> None:
    """A worker, in a process group of its own, ends when its parent does (SIGKILL, out of
    memory: nothing stops it then) instead of simulating on for nobody (Linux's
    ``PR_SET_PDEATHSIG``; elsewhere nothing is done)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _run_part(scratch: Path) -> int:
    """A worker process of :func:`simulate` (``python -m acts_gnn.acts.simulate SCRATCH``): the
    event numbers of ``SCRATCH/part.pickle`` simulated and finished into ``SCRATCH/events``, a
    line on stdout per event done and one for an error."""
    import pickle

    _end_with_parent()
    config, events = pickle.loads((scratch / "part.pickle").read_bytes())
    done = _DoneEvents(lambda number: print(f"{_DONE}{number}", flush=True))
    try:
        run = simulation_sequencer(config, scratch, done.started, events=events)
        run.sequencer.run()
        del run
        finish_events(scratch / "events", config, events)
        done.finish()
    except Exception as exc:  # the parent raises it again as one line, with its exit code
        text = str(exc) if isinstance(exc, ActsGnnError) else f"{type(exc).__name__}: {exc}"
        code = getattr(exc, "exit_code", 1)
        print(f"{_FAILED}{code} {text}".replace("\n", " "), flush=True)
        return 1
    return 0


def _run_in_parts(
    config: SimulationConfig, scratch: Path, on_event: Callable[[int], None] | None, jobs: int
) -> Path:
    """The events of ``config`` simulated and finished by ``jobs`` processes, each a contiguous
    range of event numbers in a Sequencer of its own; their files gathered into
    ``scratch / "events"``.

    Raises:
        ActsGnnError: a worker failed (its error) or died (its exit code).
    """
    import pickle
    import selectors
    import subprocess
    import sys

    bounds = np.linspace(0, config.events, jobs + 1).round().astype(int)
    parts = [range(a, b) for a, b in itertools.pairwise(bounds) if b > a]
    workers = []
    selector = selectors.DefaultSelector()
    try:
        for k, events in enumerate(parts):
            part = scratch / f"part{k}"
            part.mkdir()
            (part / "part.pickle").write_bytes(pickle.dumps((config, events)))
            worker = subprocess.Popen(
                [sys.executable, "-m", "acts_gnn.acts.simulate", str(part)],
                stdout=subprocess.PIPE,
                text=True,
                # a group of its own: the terminal's Ctrl-C reaches the parent alone, which
                # stops the workers (below); a worker's KeyboardInterrupt printed its traceback
                process_group=0,
            )
            workers.append(worker)
            selector.register(worker.stdout, selectors.EVENT_READ)
        open_pipes = len(workers)
        while open_pipes:
            for key, _ in selector.select():
                line = key.fileobj.readline()
                if not line:
                    selector.unregister(key.fileobj)
                    open_pipes -= 1
                elif line.startswith(_FAILED):
                    code, _, text = line[len(_FAILED) :].strip().partition(" ")
                    error = ActsGnnError(text or "a simulation worker failed")
                    error.exit_code = int(code)  # as the worker's error would have exited
                    raise error
                elif line.startswith(_DONE):
                    if on_event is not None:
                        on_event(int(line[len(_DONE) :]))
                else:  # ACTS's own log lines: messages, with this process's on stderr
                    sys.stderr.write(line)
        for worker in workers:
            if worker.wait() != 0:
                raise ActsGnnError(f"a simulation worker died (exit code {worker.returncode})")
    finally:
        selector.close()
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
            worker.wait()
            worker.stdout.close()
    events_dir = scratch / "events"
    events_dir.mkdir()
    for k in range(len(parts)):
        for path in (scratch / f"part{k}" / "events").iterdir():
            path.replace(events_dir / path.name)
    return events_dir


def event_files(directory: Path) -> list[Path]:
    """The files of simulated events in ``directory`` (eventNNN-<one of the
    :data:`_OUTPUT_SUFFIXES`>.csv[.gz]; not, say, proto-track files written beside them)."""
    return sorted(
        path
        for path in directory.glob("event*-*.csv*")
        if path.name.split("-", 1)[1].removesuffix(".gz").removesuffix(".csv") in _OUTPUT_SUFFIXES
    )


def simulate(
    config: SimulationConfig,
    output: str | Path,
    on_event: Callable[[int], None] | None = None,
    jobs: int = 1,
    overwrite: bool = False,
) -> list[Path]:
    """Simulate ``config.events`` events into ``output`` (ACTS CSV layout); returns the files.

    ``jobs``: processes that simulate at once, each a contiguous range of the event numbers
    (one Sequencer thread each); the files are the same, byte for byte, for any ``jobs``.
    ``overwrite``: the event files ``output`` holds already are replaced once the new events
    are simulated; a run that fails or is interrupted leaves them as they were, and removes the
    directories it made.

    Raises:
        ConfigError: impossible settings.
        OutputRefusedError: ``output`` holds event files already (without ``overwrite``), or
            cannot be created.
        MissingExtraError: pyacts is not installed.
        InputFormatError: a particle table of ``config.particle_tables`` is malformed.
        ActsGnnError: a simulation worker failed.
    """
    config.check()
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {jobs}")
    require("acts", "acts")
    for table in config.particle_tables[: config.events]:
        read_generated(table)  # a malformed table stops here, with its one line, not in ACTS
    output = Path(output)
    refuse_system_path(output, "directory")
    if output.exists() and not output.is_dir():
        raise OutputRefusedError(f"{output}: is a file, not a directory (-o takes a directory)")
    tables = {table.resolve() for table in config.particle_tables}
    if output.is_dir() and any(path.resolve() in tables for path in event_files(output)):
        raise OutputRefusedError(
            f"{output}: holds the --particles-from tables, which its events would replace; give "
            "another directory"
        )
    if output.exists() and event_files(output) and not overwrite:
        raise OutputRefusedError(
            f"{output}: already holds event files (choose an empty directory, or --force to "
            "replace them)"
        )
    made = [d for d in (output, *output.parents) if not d.exists()]  # deepest first
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputRefusedError(f"{output}: cannot create directory ({exc.strerror})") from exc
    try:
        return _simulate_into(config, output, on_event, jobs)
    except BaseException:  # an error or Ctrl-C: the directories this run made go too
        for directory in made:
            try:
                directory.rmdir()  # only while empty: never what anyone else put there
            except OSError:
                break
        raise


#: the start of the scratch folders' names: ``.simulate-HOST-PID-XXXXXXXX``
_SCRATCH = ".simulate-"
#: the file in a scratch folder its run holds locked while it lives
_LOCK = ".lock"


def _remove_dead_runs_scratch(output: Path) -> None:
    """Remove the scratch folders that runs on this host left in ``output`` when they were
    killed (SIGKILL, out of memory: no clean-up ran): those whose lock no run holds. A run's lock
    ends with its process, whatever PID namespace it ran in (two containers with the host's
    name); a folder of another host (a shared file system) is never touched."""
    import fcntl

    host = socket.gethostname()
    for folder in output.glob(f"{_SCRATCH}*"):
        owner = folder.name.removeprefix(_SCRATCH).rpartition("-")[0].rpartition("-")[0]
        if owner != host:
            continue
        try:
            with (folder / _LOCK).open("rb") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises while its run lives
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:  # held (a live run), or no lock there (not such a folder)
            continue


def _hold_lock(scratch: Path) -> IO[bytes]:
    """Lock ``scratch`` for this run's life (:func:`_remove_dead_runs_scratch`); the open file,
    to keep. The lock is taken before the file gets its name: no other run sees it unheld."""
    import fcntl

    handle = tempfile.NamedTemporaryFile(dir=scratch, delete=False)
    fcntl.flock(handle, fcntl.LOCK_EX)
    Path(handle.name).rename(scratch / _LOCK)
    return handle


def _simulate_into(
    config: SimulationConfig, output: Path, on_event: Callable[[int], None] | None, jobs: int
) -> list[Path]:
    """:func:`simulate` once ``output`` exists."""
    _remove_dead_runs_scratch(output)
    # simulate into a scratch folder inside output, then move: nothing half-written is left
    prefix = f"{_SCRATCH}{socket.gethostname()}-{os.getpid()}-"
    with (
        tempfile.TemporaryDirectory(prefix=prefix, dir=output) as scratch,
        _hold_lock(Path(scratch)),
    ):
        if min(jobs, config.events) > 1:
            events_dir = _run_in_parts(config, Path(scratch), on_event, min(jobs, config.events))
        else:
            done = _DoneEvents(on_event)
            run = simulation_sequencer(config, Path(scratch), done.started)
            run.sequencer.run()
            events_dir = run.events_dir
            del run
            finish_events(events_dir, config)
            done.finish()
        # the event files there step aside into the scratch folder (removed with it) before
        # the new ones move in; should a move fail, or Ctrl-C come, the new go and the old return
        aside = Path(scratch) / "replaced"
        aside.mkdir()
        replaced = event_files(output)
        written: list[Path] = []
        try:
            for old in replaced:
                old.replace(aside / old.name)
            for path in sorted(events_dir.iterdir()):
                target = output / path.name
                path.replace(target)
                written.append(target)
        except BaseException as exc:
            for target in written:
                target.unlink(missing_ok=True)
            for old in replaced:
                if (aside / old.name).exists():
                    (aside / old.name).replace(old)
            if isinstance(exc, OSError):
                raise OutputError(f"{output}: cannot move the events in ({exc.strerror})") from exc
            raise
    return written


if __name__ == "__main__":  # a worker of simulate(jobs > 1)
    import sys

    sys.exit(_run_part(Path(sys.argv[1])))

"""ACTS's own track finding on the events of ``acts-gnn simulate``: seeds, CKF, greedy ambiguity.

Layer: acts.

The classical anchor for acts-gnn's numbers. One ACTS ``Sequencer``: the simulation of
:mod:`acts_gnn.acts.simulate` (the same :class:`SimulationConfig` gives the same particles, hits,
measurements and space points, so the same CSV files as ``acts-gnn simulate``), followed by the
reconstruction of ACTS's full-chain example for the generic detector
(``Examples/Scripts/Python/full_chain_test.py -G``, its ttbar settings), opened to |η| < 4:

1. space points of the pixel volumes 7, 8, 9, every layer (the example's
   ``generic-seeding-config.json`` keeps the four innermost discs of each end-cap);
2. grid triplet seeding (``GridTripletSeedingAlgorithm``) with ACTS's defaults but
   ``cotThetaMax`` = sinh(4) (default sinh(3)) and the simulated field;
3. ``TrackParamsEstimationAlgorithm`` with the example's initial uncertainties;
4. the CKF over all measurements (``addCKFTracks``): χ² 15, outlier χ² 25, two branches per
   surface, seed deduplication, stay on seed; tracks kept with pT > 0.5 GeV, |η| < 4 (the
   example: 3), |d0| < 4 mm, ≥ 7 measurements, ≤ 2 holes, ≤ 2 outliers;
5. greedy ambiguity resolution (``addAmbiguityResolution``): ≤ 3 shared hits, ≥ 7 measurements.

Tracks → labels: each resolved track's measurements (its measurement states, outliers not
counted) by ``IndexSourceLink`` index; a measurement on several tracks goes to the track with the
most measurements (ties: the first in the container). A space point takes the label of its
measurement (``measurement_id`` of the CSV; every space point of ``acts-gnn simulate`` is one
measurement), -1 when no track holds it; noise points (``noise_fraction``) are never on a track.
Labels are the track's index in ACTS's container, so they need not be contiguous.

The event files are written and read back in a scratch folder exactly as :func:`simulate` writes
them, and the space points the Sequencer made are checked against them (count, order, position)
before any label is given: a mismatch raises :class:`~acts_gnn.errors.ActsGnnError`.

Timing: ``CkfEvent.seconds`` is the CPU time of the thread that ran steps 1–5 of that event (ACTS
runs all algorithms of one event on one thread), measured by two clock algorithms around them;
it includes the two ``TrackTruthMatcher`` runs that ``addCKFTracks`` and
``addAmbiguityResolution`` always add (small), and none of the simulation, the CSV writing, or the
Python that reads the tracks. Floating-point-exception monitoring stays on, as in any ACTS job.
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acts_gnn._extras import require
from acts_gnn.acts.simulate import (
    PIXEL_VOLUMES,
    SimulationConfig,
    finish_events,
    simulation_sequencer,
)
from acts_gnn.errors import ActsGnnError, ConfigError
from acts_gnn.event import SpacePoints, find_sorted

__all__ = ["CkfEvent", "CkfSettings", "assign_measurements", "run_ckf"]


@dataclass(frozen=True)
class CkfSettings:
    """The cuts of the reconstruction (defaults: ACTS's generic-detector example, |η| < 4)."""

    #: seeding acceptance, ``cotThetaMax = sinh(seed_max_abs_eta)``
    seed_max_abs_eta: float = 4.0
    seed_min_pt_gev: float = 0.4
    chi2_measurement: float = 15.0
    chi2_outlier: float = 25.0
    #: CKF branches followed per surface
    branches_per_surface: int = 2
    track_min_pt_gev: float = 0.5
    track_max_abs_eta: float = 4.0
    track_max_d0_mm: float = 4.0
    min_measurements: int = 7
    max_holes: int = 2
    max_outliers: int = 2
    #: greedy ambiguity resolution
    max_shared_hits: int = 3

    def check(self) -> None:
        """Raise :class:`ConfigError` for settings ACTS cannot run."""
        if self.min_measurements < 3:
            raise ConfigError(f"min_measurements must be at least 3, got {self.min_measurements}")
        if self.branches_per_surface < 1:
            raise ConfigError(
                f"branches_per_surface must be at least 1, got {self.branches_per_surface}"
            )
        if self.seed_max_abs_eta <= 0 or self.track_max_abs_eta <= 0:
            raise ConfigError("the |η| limits must be positive")


@dataclass(frozen=True)
class CkfEvent:
    """ACTS's tracks of one event as acts-gnn candidate labels.

    Attributes:
        event_id: the event number (``event{event_id:09d}-*.csv``).
        labels: int64 [N], per space point of the event's ``-spacepoint.csv`` in file order (as
            :func:`acts_gnn.io.source.open_events` reads it): the index of its track in ACTS's
            resolved container, -1 for none.
        spacepoints: the N space points the labels belong to, as read back from the CSV.
        n_tracks: tracks after ambiguity resolution.
        seconds: CPU seconds of the reconstruction algorithms for this event (module docstring).
    """

    event_id: int
    labels: np.ndarray
    spacepoints: SpacePoints
    n_tracks: int
    seconds: float


def assign_measurements(tracks: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Give each measurement to one track: the one with the most measurements (ties: the first).

    ``tracks`` holds the measurement indices of each track. Returns ``(measurement, track)``: the
    sorted distinct measurement indices (int64 [M]) and the index of the track each goes to.
    """
    sizes = np.array([len(t) for t in tracks], dtype=np.int64)
    measurement = np.fromiter((m for t in tracks for m in t), dtype=np.int64, count=sizes.sum())
    track = np.repeat(np.arange(len(tracks), dtype=np.int64), sizes)
    order = np.lexsort((track, -sizes[track]))  # largest tracks first, then container order
    distinct, first = np.unique(measurement[order], return_index=True)
    return distinct, track[order][first]


@dataclass(frozen=True)
class _EventRecord:
    """What the Sequencer saw of one event: track measurements, space point positions."""

    tracks: list[list[int]]
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray


def _clock(acts, name: str, on_tick):
    """An algorithm that reports (event number, this thread's CPU time) when it runs."""
    examples = acts.examples

    class Clock(examples.IAlgorithm):
        def __init__(self) -> None:
            examples.IAlgorithm.__init__(self, name, acts.logging.WARNING)

        def execute(self, context):
            on_tick(int(context.eventNumber), time.thread_time())
            return examples.ProcessCode.SUCCESS

    return Clock()


def _track_reader(acts, tracks_key: str, spacepoints_key: str, records: dict[int, _EventRecord]):
    """An algorithm that keeps each event's track measurements and space point positions."""
    examples = acts.examples

    class TrackMeasurements(examples.IAlgorithm):
        def __init__(self) -> None:
            examples.IAlgorithm.__init__(self, "TrackMeasurements", acts.logging.WARNING)
            self._tracks = examples.ReadDataHandle(self, examples.ConstTrackContainer, "Tracks")
            self._tracks.initialize(tracks_key)
            self._spacepoints = examples.ReadDataHandle(self, acts.SpacePointContainer, "SPs")
            self._spacepoints.initialize(spacepoints_key)

        def execute(self, context):
            from_link = examples.IndexSourceLink.fromSourceLink
            tracks = [
                [
                    from_link(state.uncalibratedSourceLink).index()
                    for state in track.trackStatesReversed  # no stem index: from the tip
                    if state.typeFlags.isMeasurement
                ]
                for track in self._tracks(context.eventStore)
            ]
            spacepoints = self._spacepoints(context.eventStore)
            records[int(context.eventNumber)] = _EventRecord(
                tracks,
                np.asarray(spacepoints.x, dtype=np.float64),
                np.asarray(spacepoints.y, dtype=np.float64),
                np.asarray(spacepoints.z, dtype=np.float64),
            )
            return examples.ProcessCode.SUCCESS

    return TrackMeasurements()


def _add_reconstruction(sim, settings: CkfSettings, config: SimulationConfig) -> str:
    """Steps 1–5 of the module docstring on the simulation's whiteboard; the tracks' key."""
    acts = require("acts", "acts")
    examples = require("acts.examples", "acts")
    reco = require("acts.examples.reconstruction", "acts")
    u = acts.UnitConstants
    level = acts.logging.WARNING
    s = sim.sequencer
    s.addWhiteboardAlias("particles", "particles_simulated")  # the truth matchers read it
    s.addAlgorithm(
        examples.SpacePointMaker(
            level=level,
            inputMeasurements="measurement_subset",
            outputSpacePoints="pixel_spacepoints",
            trackingGeometry=sim.geometry,
            geometrySelection=[acts.GeometryIdentifier(volume=v) for v in PIXEL_VOLUMES],
        )
    )
    seeds = reco.addGridTripletSeeding(
        s,
        "pixel_spacepoints",
        reco.SeedingAlgorithmConfigArg(),
        reco.SeedFinderConfigArg(
            cotThetaMax=math.sinh(settings.seed_max_abs_eta),
            minPt=settings.seed_min_pt_gev * u.GeV,
        ),
        reco.SeedFinderOptionsArg(bFieldInZ=config.bfield_t * u.T),
        reco.SeedFilterConfigArg(),
        reco.SpacePointGridConfigArg(),
        level,
        outputSeeds="seeds",
    )
    s.addAlgorithm(
        examples.TrackParamsEstimationAlgorithm(
            level=level,
            inputSeeds=seeds,
            outputTrackParameters="estimatedparameters",
            outputSeeds="estimatedseeds",
            trackingGeometry=sim.geometry,
            magneticField=sim.field,
            initialSigmas=[1 * u.mm, 1 * u.mm, 1 * u.degree, 1 * u.degree, 0, 1 * u.ns],
            initialSigmaQoverPt=0.1 * u.e / u.GeV,
            initialSigmaPtRel=0.1,
            initialVarInflation=[1.0] * 6,
            particleHypothesis=acts.ParticleHypothesis.pion,
        )
    )
    reco.addCKFTracks(
        s,
        sim.geometry,
        sim.field,
        trackSelectorConfig=reco.TrackSelectorConfig(
            pt=(settings.track_min_pt_gev * u.GeV, None),
            absEta=(None, settings.track_max_abs_eta),
            loc0=(-settings.track_max_d0_mm * u.mm, settings.track_max_d0_mm * u.mm),
            nMeasurementsMin=settings.min_measurements,
            maxHoles=settings.max_holes,
            maxOutliers=settings.max_outliers,
        ),
        ckfConfig=reco.CkfConfig(
            chi2CutOffMeasurement=settings.chi2_measurement,
            chi2CutOffOutlier=settings.chi2_outlier,
            numMeasurementsCutOff=settings.branches_per_surface,
            seedDeduplication=True,
            stayOnSeed=True,
        ),
        writeTrackSummary=False,
        writePerformance=False,
        logLevel=level,
    )
    reco.addAmbiguityResolution(
        s,
        reco.AmbiguityResolutionConfig(
            maximumSharedHits=settings.max_shared_hits,
            maximumIterations=1_000_000,
            nMeasurementsMin=settings.min_measurements,
        ),
        writeTrackSummary=False,
        writePerformance=False,
        logLevel=level,
    )
    return "ambi_tracks"


def _check_alignment(event_id: int, record: _EventRecord, spacepoints: SpacePoints) -> None:
    """The Sequencer's space points are the CSV's first rows, in order; the rest are noise."""
    n = record.x.size
    problem = None
    if len(spacepoints) < n:
        problem = f"{len(spacepoints)} space points in the CSV, {n} in the Sequencer"
    else:
        written = np.column_stack([spacepoints.x[:n], spacepoints.y[:n], spacepoints.z[:n]])
        made = np.column_stack([record.x, record.y, record.z])
        if not np.allclose(written, made, rtol=0.0, atol=1e-3):  # 1 µm: float32 text round trip
            problem = "the space point positions differ from the CSV's"
        elif n and len(spacepoints) > n:
            if spacepoints.measurement_id[n:].min() <= spacepoints.measurement_id[:n].max():
                problem = "rows after the Sequencer's space points are not noise"
    if problem is not None:
        raise ActsGnnError(f"CKF event {event_id}: {problem}; labels would not line up")


def _labels(record: _EventRecord, spacepoints: SpacePoints) -> np.ndarray:
    measurement, track = assign_measurements(record.tracks)
    pos, found = find_sorted(measurement, spacepoints.measurement_id.astype(np.int64))
    return np.where(found, track[pos], -1).astype(np.int64)


def run_ckf(
    config: SimulationConfig, threads: int = 1, settings: CkfSettings = CkfSettings()
) -> list[CkfEvent]:
    """Simulate ``config`` as ``acts-gnn simulate`` does and find tracks with ACTS's CKF.

    ``threads``: the Sequencer's threads (-1: all cores); events come back in event order.

    Raises:
        ConfigError: impossible settings, or stopped particles or one region kept
            (``stop_fraction``, ``region_fraction``: the CKF would still see the measurements
            the files no longer hold).
        MissingExtraError: pyacts is not installed.
        ActsGnnError: the Sequencer's space points do not match the files it wrote.
    """
    config.check()
    settings.check()
    if config.stop_fraction > 0 or config.region_fraction > 0:
        raise ConfigError(
            "the CKF runs on Fatras's own measurements: --stop and --regions are not supported"
        )
    acts = require("acts", "acts")
    from acts_gnn.io.source import open_events

    records: dict[int, _EventRecord] = {}
    started: dict[int, float] = {}
    seconds: dict[int, float] = {}

    def start(number: int, now: float) -> None:
        started[number] = now

    def stop(number: int, now: float) -> None:
        seconds[number] = now - started.pop(number)

    with tempfile.TemporaryDirectory(prefix="acts-gnn-ckf-") as scratch:
        sim = simulation_sequencer(config, Path(scratch), threads=threads)
        s = sim.sequencer
        clocks = [_clock(acts, "ClockStart", start)]
        s.addAlgorithm(clocks[0])
        tracks = _add_reconstruction(sim, settings, config)
        clocks.append(_clock(acts, "ClockStop", stop))
        s.addAlgorithm(clocks[1])
        reader = _track_reader(acts, tracks, "spacepoints", records)
        s.addAlgorithm(reader)
        s.run()
        events_dir = sim.events_dir
        del sim, s, clocks, reader
        finish_events(events_dir, config)
        result = []
        for event in open_events([events_dir]):
            record = records[event.event_id]
            _check_alignment(event.event_id, record, event.spacepoints)
            result.append(
                CkfEvent(
                    event_id=event.event_id,
                    labels=_labels(record, event.spacepoints),
                    spacepoints=event.spacepoints,
                    n_tracks=len(record.tracks),
                    seconds=seconds[event.event_id],
                )
            )
    return result

"""The ACTS full chain with acts-gnn in the middle (``examples/acts_full_chain.py``, tests).

Layer: acts.

One ACTS ``Sequencer`` (pyacts, no ROOT needed): particles from
:class:`~acts_gnn.acts.pileup.PileupModel`, Fatras on the ``GenericDetector`` in a 2 T field,
smearing digitisation and space points (as ``acts-gnn simulate``) → :class:`GnnTrackFinding`
(local or served) → ``ProtoTracksToParameters`` (seed and parameter estimate per proto-track) →
the Kalman fit (``addKalmanTracks``) → ACTS's ``TrackTruthMatcher`` and
``PythonPatternRecognitionPerformanceWriter`` (the ROOT-free twin of ACTS's performance writer),
for the proto-tracks themselves (``ProtoTracksToTracks``) and for the fitted tracks. The same
proto-tracks are then scored by acts-gnn's own evaluation, so the two definitions can be compared:

* ACTS: particles selected by ``ParticleSelector`` (charged, pT > ``pt_min_gev``, ≥ 7
  measurements, primaries and secondaries), a track matches the particle with ≥ 50 % of its
  measurements (``double_matching`` also asks for ≥ 50 % of the particle's measurements);
  efficiency = matched selected particles / selected particles, fake ratio = unmatched tracks /
  tracks.
* acts-gnn (DESIGN.md): primary particles with pT > 1 GeV, |η| < 4, ≥ 3 space points; double
  majority on space points.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from acts_gnn._extras import require

__all__ = ["ChainConfig", "ChainResult", "run_chain"]


@dataclass(frozen=True)
class ChainConfig:
    """What the chain simulates and how it finds tracks."""

    events: int = 1
    pileup: float = 5.0
    signal: int = 20
    seed: int = 1
    model: str = "gnn_tracking"
    url: str | Sequence[str] = ()
    bundle: Path | None = None
    device: str | None = None
    min_size: int = 3
    pt_min_gev: float = 1.0
    double_matching: bool = False
    #: the Sequencer's threads (-1: ACTS's default, all cores)
    threads: int = 1


@dataclass(frozen=True)
class ChainResult:
    """Counts and both sets of performance numbers."""

    n_spacepoints: int
    n_prototracks: int
    n_seeded: int
    n_fitted: int
    n_selected_particles: int
    finder_seconds: float
    wall_s: float
    acts_finder: dict = field(default_factory=dict)
    acts_kalman: dict = field(default_factory=dict)
    acts_gnn: dict = field(default_factory=dict)


def _matching(s, acts, tracks: str, prefix: str, double: bool) -> None:
    s.addAlgorithm(
        acts.examples.TrackTruthMatcher(
            level=acts.logging.WARNING,
            inputTracks=tracks,
            inputParticles="particles",
            inputMeasurementParticlesMap="measurement_particles_map",
            outputTrackParticleMatching=f"{prefix}_track_particle_matching",
            outputParticleTrackMatching=f"{prefix}_particle_track_matching",
            matchingRatio=0.5,
            doubleMatching=double,
        )
    )


def _writer(acts, tracks: str, prefix: str):
    cfg = acts.examples.PythonPatternRecognitionPerformanceWriter.Config()
    cfg.inputTracks = tracks
    cfg.inputParticles = "particles_selected"
    cfg.inputTrackParticleMatching = f"{prefix}_track_particle_matching"
    cfg.inputParticleTrackMatching = f"{prefix}_particle_track_matching"
    cfg.inputParticleMeasurementsMap = "particle_measurements_map"
    cfg.label = prefix
    return acts.examples.PythonPatternRecognitionPerformanceWriter(cfg, acts.logging.WARNING)


def _counter(acts, collections: dict[str, type]):
    examples = acts.examples

    class CollectionCounter(examples.IAlgorithm):
        def __init__(self) -> None:
            examples.IAlgorithm.__init__(self, "CollectionCounter", acts.logging.WARNING)
            self.totals = dict.fromkeys(collections, 0)
            self.handles = {}
            for key, kind in collections.items():
                handle = examples.ReadDataHandle(self, kind, f"Input_{key}")
                handle.initialize(key)
                self.handles[key] = handle

        def execute(self, context):
            for key, handle in self.handles.items():
                self.totals[key] += len(handle(context.eventStore))
            return examples.ProcessCode.SUCCESS

    return CollectionCounter()


def _acts_gnn_performance(csv_dir: Path, finder, min_size: int) -> dict:
    """acts-gnn's evaluation of the finder's labels on the events the chain simulated, its
    candidates those ACTS got (``min_size`` space points or more)."""
    from acts_gnn.event import find_sorted
    from acts_gnn.io.source import open_events
    from acts_gnn.metrics.matching import MatchingConfig
    from acts_gnn.metrics.performance import PerformanceAccumulator

    accumulator = PerformanceAccumulator(MatchingConfig(), (min_size,))
    for event in open_events([csv_dir]):
        first, labels = finder.labels_by_event[event.event_id]
        order = np.argsort(first)
        pos, found = find_sorted(first[order], event.spacepoints.measurement_id.astype(np.int64))
        mapped = np.full(len(event), -1, dtype=np.int64)
        mapped[found] = labels[order][pos[found]]
        accumulator.add(event, mapped)
    report = accumulator.report().as_dict()
    return {"trackml_score": report["trackml_score"], **report["selections"][0]}


def run_chain(config: ChainConfig) -> ChainResult:
    """Simulate, find, fit and score ``config.events`` events; the numbers of both sides.

    Raises:
        MissingExtraError: pyacts is not installed. ConfigError: impossible settings.
        RemoteInferenceError: a served model did not answer.
    """
    acts = require("acts", "acts")
    require("acts.examples", "acts")
    reconstruction = require("acts.examples.reconstruction", "acts")
    from acts_gnn.acts.algorithm import GnnTrackFinding
    from acts_gnn.acts.pileup import PileupModel
    from acts_gnn.acts.simulate import SimulationConfig, simulation_sequencer

    u = acts.UnitConstants
    sim = SimulationConfig(
        events=config.events,
        seed=config.seed,
        model=PileupModel(pileup=config.pileup, signal_particles=config.signal),
    )
    sim.check()
    level = acts.logging.WARNING
    with tempfile.TemporaryDirectory(prefix="acts-gnn-chain-") as scratch:
        simulation = simulation_sequencer(sim, Path(scratch), threads=config.threads)
        s, csv_dir = simulation.sequencer, simulation.events_dir
        geometry, field_map = simulation.geometry, simulation.field
        s.addAlgorithm(
            acts.examples.ParticleSelector(
                level=level,
                inputParticles="particles_simulated",
                inputParticleMeasurementsMap="particle_measurements_map",
                inputMeasurements="measurements",
                outputParticles="particles_selected",
                ptMin=config.pt_min_gev * u.GeV,
                measurementsMin=7,
                removeNeutral=True,
            )
        )
        s.addWhiteboardAlias("particles", "particles_simulated")
        finder = GnnTrackFinding(
            input_spacepoints="spacepoints",
            output_prototracks="gnn_prototracks",
            model=config.model,
            url=config.url or None,
            bundle=config.bundle,
            device=config.device,
            min_size=config.min_size,
            keep_labels=True,  # scored by acts-gnn's evaluation after the run
            level=acts.logging.WARNING,
        )
        s.addAlgorithm(finder)
        to_tracks = acts.examples.ProtoTracksToTracks(
            level=level,
            inputProtoTracks="gnn_prototracks",
            inputMeasurements="measurement_subset",
            outputTracks="gnn_finder_tracks",
        )
        s.addAlgorithm(to_tracks)
        _matching(s, acts, "gnn_finder_tracks", "finder", config.double_matching)
        s.addAlgorithm(
            acts.examples.ProtoTracksToParameters(
                level=level,
                inputProtoTracks="gnn_prototracks",
                inputSpacePoints="spacepoints",
                outputSeeds="gnn_seeds",
                outputProtoTracks="gnn_seeded_prototracks",
                outputParameters="gnn_parameters",
                geometry=geometry,
                magneticField=field_map,
            )
        )
        s.addWhiteboardAlias("estimatedparameters", "gnn_parameters")
        reconstruction.addKalmanTracks(
            s, geometry, field_map, inputProtoTracks="gnn_seeded_prototracks"
        )
        _matching(s, acts, "kf_tracks", "kalman", config.double_matching)
        counter = _counter(
            acts,
            {
                "gnn_prototracks": acts.examples.ProtoTrackContainer,
                "gnn_seeded_prototracks": acts.examples.ProtoTrackContainer,
                "kf_tracks": acts.examples.ConstTrackContainer,
                "particles_selected": acts.examples.SimParticleContainer,
            },
        )
        s.addAlgorithm(counter)
        writers = {"finder": _writer(acts, "gnn_finder_tracks", "finder")}
        writers["kalman"] = _writer(acts, "kf_tracks", "kalman")
        for writer in writers.values():
            s.addWriter(writer)
        start = time.perf_counter()
        s.run()
        wall = time.perf_counter() - start
        ours = _acts_gnn_performance(csv_dir, finder, config.min_size)
        del simulation, s, to_tracks
    totals = counter.totals
    return ChainResult(
        n_spacepoints=finder.n_spacepoints,
        n_prototracks=totals["gnn_prototracks"],
        n_seeded=totals["gnn_seeded_prototracks"],
        n_fitted=totals["kf_tracks"],
        n_selected_particles=totals["particles_selected"],
        finder_seconds=finder.seconds,
        wall_s=wall,
        acts_finder=dict(writers["finder"].stats()),
        acts_kalman=dict(writers["kalman"].stats()),
        acts_gnn=ours,
    )

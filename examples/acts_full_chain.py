#!/usr/bin/env python3
"""An ACTS full chain with a Python track finder in the middle (prototype).

One ACTS ``Sequencer`` (pyacts from PyPI, no ROOT needed):

1. particles from :class:`~acts_gnn.acts.pileup.PileupModel` (pile-up vertices and/or a "signal"
   particle gun), Fatras on the ``GenericDetector`` in a 2 T solenoid field, smearing
   digitisation, one space point per measurement — all from ``acts_gnn.acts.simulate``;
2. **the Python track finder** (:class:`PythonTrackFinder`, an ``acts.examples.IAlgorithm``): it
   reads the ``acts.SpacePointContainer``, asks ``labels_of(x, y, z)`` for a candidate label per
   space point and writes an ``acts.examples.ProtoTrackContainer`` of measurement indices;
3. ACTS: ``ProtoTracksToParameters`` (seed and parameter estimate per proto-track), the Kalman
   fit (``acts.examples.reconstruction.addKalmanTracks`` → ``TrackFittingAlgorithm`` and
   ``TrackTruthMatcher``), and ``PythonPatternRecognitionPerformanceWriter`` (the ROOT-free twin of
   ``RootPatternRecognitionPerformanceWriter``) for efficiency, fake and duplicate rates. The
   proto-tracks themselves are scored the same way (``ProtoTracksToTracks`` and
   ``TrackTruthMatcher``), so the finder and the fitted tracks can be compared.

Finders (``--finder``): ``truth`` groups space points by their particle (reads ACTS's
measurement → particle map); ``unrolling`` is the project's classical helix-unrolling baseline and
``gnn`` the project's GNN pipeline (default model bundle, or ``--bundle``), both plugged in
through the feature contract ``find(features[N, 3] = (r/1000, φ/π, z/1000)) -> labels[N]`` with
:func:`labels_from_features`.

Run::

    python examples/acts_full_chain.py --pileup 5 --signal 20 --finder truth
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import acts
import acts.examples
import numpy as np
from acts.examples.reconstruction import addKalmanTracks

from acts_gnn.acts.pileup import PileupModel
from acts_gnn.acts.simulate import SimulationConfig, _build_sequencer, _digi_config

log = logging.getLogger("acts_full_chain")
u = acts.UnitConstants

#: ``labels_of(x, y, z) -> labels``: one int64 label per space point, -1 = not on a candidate
LabelFunction = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
#: ``find(features[N, 3] float32) -> labels[N] int64`` (the Triton / acts-gnn contract)
FeatureFinder = Callable[[np.ndarray], np.ndarray]


def labels_from_features(find: FeatureFinder) -> LabelFunction:
    """Adapt a contract finder ``find(features)`` to ``labels_of(x, y, z)``.

    Features are ``(r/1000, φ/π, z/1000)`` with r and z in mm, float32, as in DESIGN.md.
    """

    def labels_of(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        features = np.column_stack(
            [np.hypot(x, y) / 1000.0, np.arctan2(y, x) / np.pi, z / 1000.0]
        ).astype(np.float32)
        return np.asarray(find(features), dtype=np.int64)

    return labels_of


def measurement_indices(spacepoints) -> list[tuple[int, ...]]:
    """Measurement indices (``IndexSourceLink.index()``) of each space point's source links."""
    from_link = acts.examples.IndexSourceLink.fromSourceLink
    return [tuple(from_link(link).index() for link in sp.sourceLinks) for sp in spacepoints]


def group_labels(labels: np.ndarray, order_key: np.ndarray, min_size: int) -> list[np.ndarray]:
    """Space-point positions per candidate (≥ ``min_size`` of them), sorted by ``order_key``."""
    assigned = np.flatnonzero(labels >= 0)
    if assigned.size == 0:
        return []
    # sort by label, then by order_key (r) inside a label
    order = assigned[np.lexsort((order_key[assigned], labels[assigned]))]
    _, starts, counts = np.unique(labels[order], return_index=True, return_counts=True)
    return [order[s : s + c] for s, c in zip(starts, counts, strict=True) if c >= min_size]


class PythonTrackFinder(acts.examples.IAlgorithm):
    """Space points → ``labels_of(x, y, z)`` → proto-tracks (lists of measurement indices).

    Reads an ``acts.SpacePointContainer`` (what ``SpacePointMaker`` writes in pyacts 48), writes an
    ``acts.examples.ProtoTrackContainer``. Candidates with fewer than ``min_size`` space points are
    dropped; the measurements of a proto-track are ordered by the radius of their space point.
    Subclasses may override :meth:`labels` to use more of the event store (see
    :class:`TruthGroupingFinder`).
    """

    def __init__(
        self,
        labels_of: LabelFunction | None,
        *,
        input_spacepoints: str = "spacepoints",
        output_prototracks: str = "python_prototracks",
        min_size: int = 3,
        level: acts.logging.Level = acts.logging.INFO,
        name: str = "PythonTrackFinder",
    ) -> None:
        acts.examples.IAlgorithm.__init__(self, name, level)
        self.labels_of = labels_of
        self.min_size = min_size
        self.input_spacepoints = input_spacepoints
        self.output_prototracks = output_prototracks
        self._spacepoints = acts.examples.ReadDataHandle(
            self, acts.SpacePointContainer, "InputSpacePoints"
        )
        self._spacepoints.initialize(input_spacepoints)
        self._prototracks = acts.examples.WriteDataHandle(
            self, acts.examples.ProtoTrackContainer, "OutputProtoTracks"
        )
        self._prototracks.initialize(output_prototracks)
        self.n_spacepoints = 0
        self.n_prototracks = 0
        self.seconds = 0.0

    def labels(self, context, x, y, z, measurement_ids: Sequence[tuple[int, ...]]) -> np.ndarray:
        """One label per space point; the default asks ``labels_of(x, y, z)``."""
        return self.labels_of(x, y, z)

    def execute(self, context):
        start = time.perf_counter()
        spacepoints = self._spacepoints(context.eventStore)
        # float32 columns of the container; mm
        x = np.asarray(spacepoints.x, dtype=np.float64)
        y = np.asarray(spacepoints.y, dtype=np.float64)
        z = np.asarray(spacepoints.z, dtype=np.float64)
        ids = measurement_indices(spacepoints)
        labels = np.asarray(self.labels(context, x, y, z, ids), dtype=np.int64)
        if labels.shape != x.shape:
            raise ValueError(
                f"{self.name()}: {labels.shape[0]} labels for {x.shape[0]} space points"
            )
        prototracks = acts.examples.ProtoTrackContainer()
        for members in group_labels(labels, np.hypot(x, y), self.min_size):
            prototracks.append(
                acts.examples.ProtoTrack([index for m in members for index in ids[m]])
            )
        self.n_spacepoints += len(x)
        self.n_prototracks += len(prototracks)
        self._prototracks(context, prototracks)
        self.seconds += time.perf_counter() - start
        return acts.examples.ProcessCode.SUCCESS


def _barcode_key(barcode) -> tuple[int, ...]:
    return (
        barcode.vertexPrimary,
        barcode.vertexSecondary,
        barcode.particle,
        barcode.generation,
        barcode.subParticle,
    )


class TruthGroupingFinder(PythonTrackFinder):
    """Labels from truth: space points grouped by the particle of their first measurement.

    Reads the ``MeasurementParticlesMap`` (measurement index → particle barcodes) written by
    ``DigitizationAlgorithm``.
    """

    def __init__(
        self, *, input_measurement_particles_map: str = "measurement_particles_map", **kwargs
    ) -> None:
        super().__init__(None, name="TruthGroupingFinder", **kwargs)
        self._truth = acts.examples.ReadDataHandle(
            self, acts.examples.MeasurementParticlesMap, "InputMeasurementParticlesMap"
        )
        self._truth.initialize(input_measurement_particles_map)

    def labels(self, context, x, y, z, measurement_ids):
        truth = self._truth(context.eventStore)
        numbers: dict[tuple[int, ...], int] = {}
        labels = np.full(len(measurement_ids), -1, dtype=np.int64)
        for i, ids in enumerate(measurement_ids):
            barcodes = truth.valuesFor(ids[0]) if ids else []
            if barcodes:
                labels[i] = numbers.setdefault(_barcode_key(barcodes[0]), len(numbers))
        return labels


class CollectionCounter(acts.examples.IAlgorithm):
    """Adds up ``len()`` of whiteboard collections over the events (for the printed summary)."""

    def __init__(self, collections: dict[str, type], level=acts.logging.WARNING) -> None:
        acts.examples.IAlgorithm.__init__(self, "CollectionCounter", level)
        self.totals = dict.fromkeys(collections, 0)
        self._handles = {}
        for key, kind in collections.items():
            handle = acts.examples.ReadDataHandle(self, kind, f"Input_{key}")
            handle.initialize(key)
            self._handles[key] = handle

    def execute(self, context):
        for key, handle in self._handles.items():
            self.totals[key] += len(handle(context.eventStore))
        return acts.examples.ProcessCode.SUCCESS


def _performance_writer(tracks: str, prefix: str, label: str):
    cfg = acts.examples.PythonPatternRecognitionPerformanceWriter.Config()
    cfg.inputTracks = tracks
    cfg.inputParticles = "particles_selected"
    cfg.inputTrackParticleMatching = f"{prefix}_track_particle_matching"
    cfg.inputParticleTrackMatching = f"{prefix}_particle_track_matching"
    cfg.inputParticleMeasurementsMap = "particle_measurements_map"
    cfg.label = label
    return acts.examples.PythonPatternRecognitionPerformanceWriter(cfg, acts.logging.INFO)


def make_labels_of(finder: str, bundle: str | None) -> LabelFunction | None:
    """The ``labels_of`` for ``--finder`` (``None`` for truth, which reads the event store)."""
    if finder == "truth":
        return None
    if finder == "unrolling":
        from acts_gnn.classical.unrolling import unrolling_labels

        return labels_from_features(unrolling_labels)
    if finder == "gnn":
        from acts_gnn.gnn.pipeline import Pipeline

        pipeline = Pipeline(bundle)
        return labels_from_features(lambda features: pipeline.run(features).labels)
    raise ValueError(f"unknown finder {finder!r}")


def build_chain(
    sim: SimulationConfig,
    output: Path,
    labels_of: LabelFunction | None,
    *,
    min_size: int = 3,
    pt_min_gev: float = 1.0,
    measurements_min: int = 7,
):
    """The full chain; returns ``(sequencer, parts)`` (``parts`` keeps ACTS objects alive)."""
    digi_path = output / "digi-smearing.json"
    digi_path.write_text(json.dumps(_digi_config(), indent=1))
    events_dir = output / "csv"
    events_dir.mkdir(exist_ok=True)
    # simulation, digitisation and space points as in `acts-gnn simulate` (with its CSV writers)
    s, keepalive = _build_sequencer(sim, events_dir, digi_path, None)
    detector, geometry, field, rnd, reader = keepalive
    level = acts.logging.WARNING

    # the particles the efficiency counts: charged, pT and measurements cuts
    s.addAlgorithm(
        acts.examples.ParticleSelector(
            level=level,
            inputParticles="particles_simulated",
            inputParticleMeasurementsMap="particle_measurements_map",
            inputMeasurements="measurements",
            outputParticles="particles_selected",
            ptMin=pt_min_gev * u.GeV,
            measurementsMin=measurements_min,
            removeNeutral=True,
        )
    )
    # ACTS's helpers read the simulated particles as "particles"
    s.addWhiteboardAlias("particles", "particles_simulated")

    if labels_of is None:
        finder = TruthGroupingFinder(min_size=min_size, level=acts.logging.INFO)
    else:
        finder = PythonTrackFinder(labels_of, min_size=min_size, level=acts.logging.INFO)
    s.addAlgorithm(finder)

    # score the finder's proto-tracks directly (no fit)
    to_tracks = acts.examples.ProtoTracksToTracks(
        level=level,
        inputProtoTracks=finder.output_prototracks,
        inputMeasurements="measurements",
        outputTracks="python_finder_tracks",
    )
    s.addAlgorithm(to_tracks)
    s.addAlgorithm(
        acts.examples.TrackTruthMatcher(
            level=level,
            inputTracks="python_finder_tracks",
            inputParticles="particles",
            inputMeasurementParticlesMap="measurement_particles_map",
            outputTrackParticleMatching="finder_track_particle_matching",
            outputParticleTrackMatching="finder_particle_track_matching",
            doubleMatching=True,
        )
    )

    # seed + initial parameters per proto-track; the proto-tracks it could seed come out again
    s.addAlgorithm(
        acts.examples.ProtoTracksToParameters(
            level=level,
            inputProtoTracks=finder.output_prototracks,
            inputSpacePoints=finder.input_spacepoints,
            outputSeeds="python_seeds",
            outputProtoTracks="python_seeded_prototracks",
            outputParameters="python_parameters",
            geometry=geometry,
            magneticField=field,
        )
    )
    # Kalman fit + TrackTruthMatcher (kf_tracks, kf_track_particle_matching, ...)
    s.addWhiteboardAlias("estimatedparameters", "python_parameters")
    addKalmanTracks(s, geometry, field, inputProtoTracks="python_seeded_prototracks")

    counter = CollectionCounter(
        {
            finder.output_prototracks: acts.examples.ProtoTrackContainer,
            "python_seeded_prototracks": acts.examples.ProtoTrackContainer,
            "kf_tracks": acts.examples.ConstTrackContainer,
            "particles_selected": acts.examples.SimParticleContainer,
        }
    )
    s.addAlgorithm(counter)

    writers = {
        "finder": _performance_writer("python_finder_tracks", "finder", "finder"),
        "kalman": _performance_writer("kf_tracks", "kf", "kalman"),
    }
    for writer in writers.values():
        s.addWriter(writer)
    parts = {
        "finder": finder,
        "counter": counter,
        "writers": writers,
        "keepalive": (detector, geometry, field, rnd, reader, to_tracks),
    }
    return s, parts


def _rate(stats: dict, numerator: str, denominator: str) -> float:
    den = stats.get(denominator, 0)
    return stats.get(numerator, 0) / den if den else float("nan")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1)
    parser.add_argument("--pileup", type=float, default=5.0, help="mean pile-up vertices")
    parser.add_argument(
        "--signal", type=int, default=20, help="particle-gun particles (pT 1-100 GeV, |eta|<2.5)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--finder", choices=("truth", "unrolling", "gnn"), default="truth")
    parser.add_argument("--bundle", default=None, help="model bundle for --finder gnn")
    parser.add_argument(
        "--min-size", type=int, default=3, help="smallest proto-track (space points)"
    )
    parser.add_argument("--pt-min-gev", type=float, default=1.0, help="efficiency: particle pT cut")
    parser.add_argument("--output", type=Path, default=None, help="keep CSVs here (default: temp)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    sim = SimulationConfig(
        events=args.events,
        seed=args.seed,
        model=PileupModel(pileup=args.pileup, signal_particles=args.signal),
    )
    sim.check()
    labels_of = make_labels_of(args.finder, args.bundle)
    with tempfile.TemporaryDirectory(prefix="acts-full-chain-") as scratch:
        output = args.output or Path(scratch)
        output.mkdir(parents=True, exist_ok=True)
        s, parts = build_chain(
            sim, output, labels_of, min_size=args.min_size, pt_min_gev=args.pt_min_gev
        )
        start = time.perf_counter()
        s.run()
        wall = time.perf_counter() - start

    finder, totals = parts["finder"], parts["counter"].totals
    print(
        f"\n=== ACTS full chain, finder '{args.finder}', {args.events} event(s), {wall:.1f} s ==="
    )
    print(f"space points                 {finder.n_spacepoints}")
    print(
        f"proto-tracks (finder)        {totals[finder.output_prototracks]}"
        f"   [{finder.seconds:.2f} s in the Python finder]"
    )
    print(f"proto-tracks seeded          {totals['python_seeded_prototracks']}")
    print(f"Kalman-fitted tracks         {totals['kf_tracks']}")
    print(
        f"selected particles           {totals['particles_selected']}"
        f"   (pT > {args.pt_min_gev} GeV, >= 7 measurements, charged)"
    )
    for name, writer in parts["writers"].items():
        stats = writer.stats()
        log.debug("%s stats: %s", name, stats)
        print(f"[{name}] ACTS PatternRecognitionPerformance stats: {stats}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

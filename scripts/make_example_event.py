#!/usr/bin/env python3
"""Simulate one small example event with ACTS (pyacts) and write it as ACTS CSV.

Chain: particle gun (pi/mu/K of both charges at a few primary vertices)
-> Fatras on the GenericDetector in a constant 2 T solenoid field (material
interactions on) -> Gaussian smearing digitisation (the generic-detector
smearing configuration of the ACTS examples) -> space points -> CSV writers.

Files written to ``--output`` (event id 0 for the first event)::

    event000000000-particles.csv               generated particles
    event000000000-particles_simulated.csv     particles Fatras simulated (initial
                                               state; = generated, no secondaries)
    event000000000-hits.csv                    simulated hits
    event000000000-measurements.csv            smeared measurements
    event000000000-measurement-simhit-map.csv  measurement -> hit index
    event000000000-spacepoint.csv              space points

Usage::

    python scripts/make_example_event.py --output acts_gnn/data/example --seed 42

Same seed -> byte-identical CSV files (single-threaded sequencer).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path

# GenericDetector volume ids (gen1 geometry): pixel endcap-/barrel/endcap+,
# short-strip -/barrel/+, long-strip -/barrel/+.
PIXEL_VOLUMES = (7, 8, 9)
SHORT_STRIP_VOLUMES = (12, 13, 14)
LONG_STRIP_VOLUMES = (16, 17, 18)

# Gaussian smearing per volume: (sigma_loc0, sigma_loc1) in mm.  These are the
# values of ACTS' Examples/Configs/generic-digi-smearing-config.json (pitch/sqrt(12)
# of 50x50 um pixels, 80 um x 1.2 mm short strips, 120 um x 10.8 mm long strips),
# which pyacts does not ship.
_SMEARING = {
    **{v: (0.014433756729740645, 0.014433756729740645) for v in PIXEL_VOLUMES},
    **{v: (0.023094010767585032, 0.34641016151377546) for v in SHORT_STRIP_VOLUMES},
    **{v: (0.034641016151377546, 3.1176914536239795) for v in LONG_STRIP_VOLUMES},
}

# Particle species of the gun and their share of the particles at each vertex.
_SPECIES = (("ePionPlus", 0.6), ("eMuon", 0.2), ("eKaonPlus", 0.2))


def smearing_config_json() -> dict:
    """Digitisation config in the ACTS geometry-hierarchy-map JSON format."""
    entries = []
    for volume, sigmas in sorted(_SMEARING.items()):
        entries.append(
            {
                "volume": volume,
                "value": {
                    "smearing": [
                        {"index": i, "mean": 0.0, "stddev": s, "type": "Gauss"}
                        for i, s in enumerate(sigmas)
                    ]
                },
            }
        )
    return {
        "acts-geometry-hierarchy-map": {
            "format-version": 0,
            "value-identifier": "digitization-configuration",
        },
        "entries": entries,
    }


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--output", type=Path, required=True, help="output directory")
    p.add_argument("--seed", type=int, default=42, help="master random seed")
    p.add_argument(
        "--events",
        type=int,
        default=1,
        help="number of events (they share the same vertex positions)",
    )
    p.add_argument("--vertices", type=int, default=5, help="primary vertices")
    p.add_argument("--particles-per-vertex", type=int, default=60, help="charged particles")
    p.add_argument("--pt-min", type=float, default=0.3, help="GeV")
    p.add_argument("--pt-max", type=float, default=10.0, help="GeV")
    p.add_argument("--eta-max", type=float, default=3.0)
    p.add_argument("--sigma-z", type=float, default=50.0, help="vertex spread, mm")
    p.add_argument("--bfield", type=float, default=2.0, help="solenoid field, T")
    p.add_argument(
        "--pixel-only",
        action="store_true",
        help="space points from pixel volumes (7, 8, 9) only; by default the "
        "strip measurements (2D smeared) also become space points",
    )
    p.add_argument(
        "--fatras-pmin",
        type=float,
        default=0.1,
        help="Fatras minimum momentum (GeV); particles below it are not simulated",
    )
    p.add_argument("--loglevel", default="WARNING")
    return p.parse_args(argv)


def _vertices(n: int, seed: int, sigma_z: float) -> list[tuple[float, float, float]]:
    """Fixed primary-vertex positions (mm) drawn from a seeded RNG."""
    import random

    rng = random.Random(seed)
    return [
        (rng.gauss(0.0, 0.0125), rng.gauss(0.0, 0.0125), rng.gauss(0.0, sigma_z)) for _ in range(n)
    ]


def build_sequencer(args: argparse.Namespace, digi_config_path: str):
    """Build the sequencer.

    Returns (sequencer, names of the whiteboard collections, objects to keep
    alive while the sequencer runs).
    """
    import acts
    import acts.examples
    from acts.examples import hepmc3

    u = acts.UnitConstants
    level = getattr(acts.logging, args.loglevel.upper())
    outdir = str(args.output)

    detector = acts.examples.GenericDetector()
    tracking_geometry = detector.trackingGeometry()
    field = acts.ConstantBField(acts.Vector3(0.0, 0.0, args.bfield * u.T))
    rnd = acts.examples.RandomNumbers(seed=args.seed)

    s = acts.examples.Sequencer(
        events=args.events,
        numThreads=1,  # deterministic output order
        logLevel=level,
        outputDir="",  # no timing.csv
        trackFpes=False,
    )

    # --- particle gun: every vertex gets pions, muons and kaons of both charges.
    # The vertices are fixed positions (seeded), each species is its own
    # generator at that position; the HepMC3 converter merges the coincident
    # vertices back into one primary vertex per position.
    generators = []
    n_per_vtx = args.particles_per_vertex
    for x, y, z in _vertices(args.vertices, args.seed, args.sigma_z):
        left = n_per_vtx
        for i, (pdg, frac) in enumerate(_SPECIES):
            n = left if i == len(_SPECIES) - 1 else round(frac * n_per_vtx)
            left -= n
            if n <= 0:
                continue
            generators.append(
                acts.examples.EventGenerator.Generator(
                    multiplicity=acts.examples.FixedMultiplicityGenerator(n=1),
                    vertex=acts.examples.FixedVertexGenerator(
                        fixed=acts.Vector4(x * u.mm, y * u.mm, z * u.mm, 0.0)
                    ),
                    particles=acts.examples.ParametricParticleGenerator(
                        p=(args.pt_min * u.GeV, args.pt_max * u.GeV),
                        pTransverse=True,
                        eta=(-args.eta_max, args.eta_max),
                        etaUniform=True,  # default False: uniform in theta
                        phi=(0.0, 2 * math.pi),
                        numParticles=n,
                        pdg=getattr(acts.PdgParticle, pdg),
                        randomizeCharge=True,
                    ),
                )
            )
    evgen = acts.examples.EventGenerator(
        level=level,
        generators=generators,
        randomNumbers=rnd,
        outputEvent="particle_gun_event",
    )
    s.addReader(evgen)
    conv = hepmc3.HepMC3InputConverter(
        level=level,
        inputEvent="particle_gun_event",
        outputParticles="particles_generated",
        outputVertices="vertices_generated",
        mergePrimaries=True,
        primaryVertexSpatialThreshold=1e-6 * u.mm,
    )
    s.addAlgorithm(conv)
    s.addWriter(
        acts.examples.CsvParticleWriter(
            level=level,
            inputParticles="particles_generated",
            outputDir=outdir,
            outputStem="particles",
        )
    )

    # --- Fatras with material interactions
    fatras = acts.examples.FatrasSimulation(
        level=level,
        inputParticles="particles_generated",
        outputParticles="particles_simulated",
        outputSimHits="simhits",
        randomNumbers=rnd,
        trackingGeometry=tracking_geometry,
        magneticField=field,
        generateHitsOnSensitive=True,
        emScattering=True,
        emEnergyLossIonisation=True,
        emEnergyLossRadiation=True,
        emPhotonConversion=True,
        # default pMin is 0.5 GeV: it silently drops the softest gun particles
        pMin=args.fatras_pmin * u.GeV,
    )
    s.addAlgorithm(fatras)
    s.addWriter(
        acts.examples.CsvParticleWriter(
            level=level,
            inputParticles="particles_simulated",
            outputDir=outdir,
            outputStem="particles_simulated",
        )
    )
    s.addWriter(
        acts.examples.CsvSimHitWriter(
            level=level, inputSimHits="simhits", outputDir=outdir, outputStem="hits"
        )
    )

    # --- smearing digitisation
    import acts.examples.json  # provides readDigiConfigFromJson

    digi_cfg = acts.examples.DigitizationAlgorithm.Config(
        digitizationConfigs=acts.examples.json.readDigiConfigFromJson(digi_config_path),
        surfaceByIdentifier=tracking_geometry.geoIdSurfaceMap(),
        randomNumbers=rnd,
        inputSimHits="simhits",
        outputMeasurements="measurements",
        outputMeasurementSubset="measurement_subset",
        outputMeasurementParticlesMap="measurement_particles_map",
        outputMeasurementSimHitsMap="measurement_simhits_map",
        outputParticleMeasurementsMap="particle_measurements_map",
        outputSimHitMeasurementsMap="simhit_measurements_map",
    )
    s.addAlgorithm(acts.examples.DigitizationAlgorithm(digi_cfg, level))
    s.addWriter(
        acts.examples.CsvMeasurementWriter(
            level=level,
            inputMeasurements="measurements",
            inputMeasurementSimHitsMap="measurement_simhits_map",
            inputClusters="clusters",
            outputDir=outdir,
        )
    )

    # --- space points (single-measurement points; strips are 2D-smeared here)
    volumes = PIXEL_VOLUMES
    if not args.pixel_only:
        volumes = PIXEL_VOLUMES + SHORT_STRIP_VOLUMES + LONG_STRIP_VOLUMES
    s.addAlgorithm(
        acts.examples.SpacePointMaker(
            level=level,
            inputMeasurements="measurement_subset",
            outputSpacePoints="spacepoints",
            trackingGeometry=tracking_geometry,
            geometrySelection=[acts.GeometryIdentifier(volume=v) for v in volumes],
        )
    )
    s.addWriter(
        acts.examples.CsvSpacePointWriter(
            level=level, inputSpacePoints="spacepoints", outputDir=outdir
        )
    )

    names = dict(
        particles="particles_generated",
        particles_simulated="particles_simulated",
        simhits="simhits",
        measurements="measurements",
        measurement_simhits_map="measurement_simhits_map",
        measurement_particles_map="measurement_particles_map",
        particle_measurements_map="particle_measurements_map",
        spacepoints="spacepoints",
    )
    # the detector owns the detector elements the geometry points to: the
    # caller must keep it alive until the sequencer has run
    keepalive = (detector, tracking_geometry, field, rnd)
    return s, names, keepalive


def main(argv=None) -> int:
    args = parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="acts_gnn_digi_") as tmp:
        digi_path = os.path.join(tmp, "generic-digi-smearing-config.json")
        with open(digi_path, "w") as fh:
            json.dump(smearing_config_json(), fh, indent=1)
        s, _, keepalive = build_sequencer(args, digi_path)
        s.run()
        del s, keepalive
    # CsvMeasurementWriter writes a cells file when it is given the clusters
    # (needed for the measurements' global_x/y/z); smearing makes no cells, so
    # the file holds only its header: drop it.
    for cells in args.output.glob("event*-cells.csv"):
        with open(cells) as fh:
            if sum(1 for _ in fh) <= 1:
                cells.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The training recipe: train the three models, tune the GNN cut on tracks, score held-out events.

Layer: reco (it joins ``gnn`` training with ``metrics``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from acts_gnn.event import Event
from acts_gnn.gnn.bundle import ModelBundle
from acts_gnn.gnn.pipeline import Pipeline
from acts_gnn.gnn.train import EpochReport, TrainingConfig, train_pipeline
from acts_gnn.metrics.matching import MatchingConfig
from acts_gnn.metrics.performance import PerformanceAccumulator

__all__ = ["GNN_CUTS", "STITCH_CUTS", "choose_cuts", "score_bundle", "train_recipe"]

#: GNN cuts tried on the validation events (with stitching, the best were 0.95 and above)
GNN_CUTS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99)
#: stitching cuts tried with each of them (None: no stitching)
STITCH_CUTS = (None, 0.02, 0.05, 0.1, 0.2, 0.3)


def score_bundle(
    bundle: ModelBundle,
    events: Sequence[Event],
    track_builder: str = "components",
    matching: MatchingConfig = MatchingConfig(),
    on_event: Callable[[], None] | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Run the pipeline on ``events`` and return the performance summary (JSON-ready)."""
    pipeline = Pipeline(bundle, device=device, track_builder=track_builder)
    accumulator = PerformanceAccumulator(matching)
    low_pt = PerformanceAccumulator(replace(matching, min_pt_gev=0.5), (3,))
    seconds = []
    for event in events:
        result = pipeline.reconstruct(event)
        accumulator.add(event, result.labels)
        low_pt.add(event, result.labels)
        seconds.append(result.timing.total_s)
        if on_event is not None:
            on_event()
    summary = accumulator.report().as_dict()
    summary["pt_above_0.5_gev"] = low_pt.report().selections[0].as_dict()
    summary["seconds_per_event"] = float(np.mean(seconds)) if seconds else float("nan")
    return summary


def choose_cuts(
    bundle: ModelBundle, events: Sequence[Event], device: str = "cpu"
) -> tuple[float, float | None, list[dict[str, Any]]]:
    """The GNN cut and stitching cut maximising efficiency − fake rate on ``events``.

    Every pair of :data:`GNN_CUTS` × :data:`STITCH_CUTS` is tried with the bundle's track
    builder (candidates ≥ 3 space points); ties go to the earlier pair. Returns the two cuts and
    the scan (one JSON-ready row per pair).
    """
    pipeline = Pipeline(bundle, device=device)
    outputs = [(event, pipeline.run_scores(event.features())) for event in events]
    table: list[dict[str, Any]] = []
    best: tuple[float, float | None] = (0.5, None)
    best_value = -np.inf
    for cut in GNN_CUTS:
        for stitch in STITCH_CUTS:
            accumulator = PerformanceAccumulator(min_track_sizes=(3,))
            for event, scored in outputs:
                settings = replace(scored.config, stitch_cut=stitch)
                accumulator.add(event, replace(scored, config=settings).labels_at(cut))
            s = accumulator.report().selections[0]
            table.append(
                {
                    "gnn_cut": cut,
                    "stitch_cut": stitch,
                    "efficiency": s.efficiency,
                    "fake_rate": s.fake_rate,
                    "duplicate_rate": s.duplicate_rate,
                }
            )
            if s.efficiency - s.fake_rate > best_value:
                best, best_value = (cut, stitch), s.efficiency - s.fake_rate
    return best[0], best[1], table


def train_recipe(
    train_events: Sequence[Event],
    val_events: Sequence[Event],
    test_events: Sequence[Event] = (),
    config: TrainingConfig = TrainingConfig(),
    report: Callable[[EpochReport], None] = lambda _r: None,
    status: Callable[[str], None] = lambda _s: None,
    reuse: ModelBundle | None = None,
    device: str = "cpu",
) -> ModelBundle:
    """Train, tune the GNN cut on ``val_events``, and score ``test_events`` with both builders.

    ``reuse``: keep that bundle's embedding and filter and train the GNN only. ``device``: where
    training, the cut scan and the scoring run.
    """
    bundle = train_pipeline(train_events, val_events, config, report, status, reuse, device)
    status("choosing the GNN and stitching cuts on tracks")
    cut, stitch, table = choose_cuts(bundle, val_events, device)
    bundle.pipeline = replace(bundle.pipeline, gnn_cut=cut, stitch_cut=stitch)
    bundle.metrics["cut_scan"] = table
    if test_events:
        for builder in ("components", "walkthrough"):
            status(f"scoring {len(test_events)} test events ({builder})")
            bundle.metrics[f"test_{builder}"] = score_bundle(
                bundle, test_events, builder, device=device
            )
    return bundle

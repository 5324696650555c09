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

__all__ = ["GNN_CUTS", "score_bundle", "train_recipe"]

#: GNN cuts tried on the validation events
GNN_CUTS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def score_bundle(
    bundle: ModelBundle,
    events: Sequence[Event],
    track_builder: str = "components",
    matching: MatchingConfig = MatchingConfig(),
    on_event: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Run the pipeline on ``events`` and return the performance summary (JSON-ready)."""
    pipeline = Pipeline(bundle, device="cpu", track_builder=track_builder)
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


def _choose_gnn_cut(bundle: ModelBundle, events: Sequence[Event]) -> tuple[float, dict]:
    """The cut maximising efficiency − fake rate (≥ 3 space points) on ``events``."""
    pipeline = Pipeline(bundle, device="cpu")
    outputs = [(event, pipeline.run_scores(event.features())) for event in events]
    table: dict[str, dict[str, float]] = {}
    best_cut, best_value = 0.5, -np.inf
    for cut in GNN_CUTS:
        accumulator = PerformanceAccumulator(min_track_sizes=(3,))
        for event, scored in outputs:
            accumulator.add(event, scored.labels_at(cut))
        s = accumulator.report().selections[0]
        table[f"{cut:.1f}"] = {
            "efficiency": s.efficiency,
            "fake_rate": s.fake_rate,
            "duplicate_rate": s.duplicate_rate,
        }
        value = s.efficiency - s.fake_rate
        if value > best_value:
            best_cut, best_value = cut, value
    return best_cut, table


def train_recipe(
    train_events: Sequence[Event],
    val_events: Sequence[Event],
    test_events: Sequence[Event] = (),
    config: TrainingConfig = TrainingConfig(),
    report: Callable[[EpochReport], None] = lambda _r: None,
    status: Callable[[str], None] = lambda _s: None,
) -> ModelBundle:
    """Train, tune the GNN cut on ``val_events``, and score ``test_events`` with both builders."""
    bundle = train_pipeline(train_events, val_events, config, report, status)
    status("choosing the GNN cut on tracks")
    cut, table = _choose_gnn_cut(bundle, val_events)
    bundle.pipeline = replace(bundle.pipeline, gnn_cut=cut)
    bundle.metrics["gnn_cut_scan"] = table
    if test_events:
        for builder in ("components", "walkthrough"):
            status(f"scoring {len(test_events)} test events ({builder})")
            bundle.metrics[f"test_{builder}"] = score_bundle(bundle, test_events, builder)
    return bundle

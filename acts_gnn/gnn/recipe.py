"""The training recipe: train the models, tune the cuts on tracks, score held-out events.

Layer: gnn (training, scored with ``metrics`` from the floor below).

After the three edge models and the GNN and stitching cuts, the recipe trains the
candidate-quality network (:mod:`acts_gnn.gnn.quality`) on the candidates the pipeline builds on
the training events, each labelled fake or not by the evaluation's matching, and picks its cut on
the validation events (:func:`add_quality`); last it keeps the filter cut
(:func:`choose_filter_cut`), then the track builder (connected components or walkthrough) and the
rescue cuts (:func:`choose_track_building`) that do best on the validation tracks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from acts_gnn.event import Event
from acts_gnn.gnn.bundle import ModelBundle
from acts_gnn.gnn.configs import TrainingConfig
from acts_gnn.gnn.pipeline import Pipeline, ScoredGraph
from acts_gnn.gnn.quality import QualityConfig, candidate_inputs, train_quality
from acts_gnn.gnn.records import (
    BuilderScanRow,
    CutScanRow,
    EpochReport,
    FilterScanRow,
    QualityRecord,
    QualityScanRow,
)
from acts_gnn.gnn.stages import TRACK_BUILDERS
from acts_gnn.gnn.train import train_pipeline
from acts_gnn.metrics.matching import MatchingConfig, match_event
from acts_gnn.metrics.performance import PerformanceAccumulator, SelectionSummary

__all__ = [
    "FILTER_CUT_SCALES",
    "FILTER_CUT_TOLERANCE",
    "GNN_CUTS",
    "MIN_QUALITY_FAKES",
    "QUALITY_CUTS",
    "QUALITY_FAKE_GOAL",
    "RESCUE_CUTS",
    "RESCUE_TRAINING_CUT",
    "STITCH_CUTS",
    "add_quality",
    "choose_cuts",
    "choose_filter_cut",
    "choose_track_building",
    "score_bundle",
    "train_recipe",
]

#: GNN cuts tried on the validation events (with stitching, the best were 0.95 and above)
GNN_CUTS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99)
#: stitching cuts tried with each of them (None: no stitching)
STITCH_CUTS = (None, 0.02, 0.05, 0.1, 0.2, 0.3)
#: the filter cuts tried on the validation tracks, as multiples of the one chosen on edges (a
#: bundle that was scanned before keeps that one as the first row of its scan)
FILTER_CUT_SCALES = (1.0, 0.5, 0.25, 0.125)
#: the highest filter cut whose efficiency − fake rate is within this of the best is kept: a
#: lower cut gives the GNN more edges (more CPU time) for a gain within the validation noise
FILTER_CUT_TOLERANCE = 0.001
#: rescue cuts tried with each track builder on the validation events (None: no rescue pass)
RESCUE_CUTS = (None, 0.9, 0.7, 0.5)
#: with each rescue cut, the cuts tried for walking its branching groups (None: kept whole)
RESCUE_WALK_CUTS = (None, 0.5, 0.3)
#: the rescue cut of the candidates the quality network learns from
RESCUE_TRAINING_CUT = 0.7
#: cuts on the quality network's fake probability tried on the validation events (None: off)
QUALITY_CUTS = (None, 0.99, 0.98, 0.97, 0.95, 0.93, 0.9, 0.8, 0.7, 0.5)
#: the quality cut chosen is the loosest whose validation fake rate is at most this
QUALITY_FAKE_GOAL = 0.01
#: fewer fakes than this among the training candidates: no quality network is trained
MIN_QUALITY_FAKES = 20


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


def _on_tracks(
    outputs: Sequence[tuple[Event, ScoredGraph]], cut: float | None = None, **settings: Any
) -> SelectionSummary:
    """Efficiency, fake and duplicate rates (candidates ≥ 3 points) of the scored events, their
    pipeline ``settings`` replaced, at GNN cut ``cut`` (None: the configured one)."""
    accumulator = PerformanceAccumulator(min_track_sizes=(3,))
    for event, scored in outputs:
        chosen = replace(scored, config=replace(scored.config, **settings))
        accumulator.add(event, chosen.labels_at(cut))
    return accumulator.report().selections[0]


def _best(rows: Sequence[Any]) -> Any:
    """The first row with the highest efficiency − fake rate; a row where that is NaN (no
    targets, or no candidates) never wins, and with only such rows the first is kept."""
    values = np.array([row.efficiency - row.fake_rate for row in rows], dtype=float)
    return rows[0] if np.isnan(values).all() else rows[int(np.nanargmax(values))]


def choose_cuts(
    bundle: ModelBundle, events: Sequence[Event], device: str = "cpu"
) -> tuple[float, float | None, tuple[CutScanRow, ...]]:
    """The GNN cut and stitching cut maximising efficiency − fake rate on ``events``.

    Every pair of :data:`GNN_CUTS` × :data:`STITCH_CUTS` is tried with the bundle's track
    builder (candidates ≥ 3 space points); ties go to the earlier pair. Returns the two cuts and
    the scan (one JSON-ready row per pair).
    """
    pipeline = Pipeline(bundle, device=device)
    outputs = [(event, pipeline.run_scores(event.features())) for event in events]
    table: list[CutScanRow] = []
    for cut in GNN_CUTS:
        for stitch in STITCH_CUTS:
            s = _on_tracks(outputs, cut, stitch_cut=stitch)
            table.append(CutScanRow(cut, stitch, s.efficiency, s.fake_rate, s.duplicate_rate))
    best = _best(table)
    return best.gnn_cut, best.stitch_cut, tuple(table)


def choose_filter_cut(
    bundle: ModelBundle, events: Sequence[Event], device: str = "cpu"
) -> ModelBundle:
    """``bundle`` with the highest filter cut (the one chosen on edges × :data:`FILTER_CUT_SCALES`;
    a bundle scanned before is scanned over the same cuts again) whose
    efficiency − fake rate on ``events``, through the whole pipeline with its other cuts and
    quality selection as they are, is within :data:`FILTER_CUT_TOLERANCE` of the best (the cut
    chosen on edges when no cut makes a candidate), and every cut's figures in
    ``metrics.filter_scan``.

    The cut chosen on edges (a share of the true validation edges kept) weighs every edge
    alike; the edges it drops lean to high pT, where a track has few points to spare.
    """
    scanned = bundle.metrics.filter_scan
    on_edges = scanned[0].filter_cut if scanned else bundle.pipeline.filter_cut
    rows = []
    for scale in FILTER_CUT_SCALES:
        cut = on_edges * scale
        settings = replace(bundle.pipeline, filter_cut=cut)
        pipeline = Pipeline(replace(bundle, pipeline=settings), device=device)
        outputs = [(event, pipeline.run_scores(event.features())) for event in events]
        s = _on_tracks(outputs)
        per_event = sum(scored.edges.shape[1] for _, scored in outputs) / max(len(events), 1)
        rows.append(FilterScanRow(cut, per_event, s.efficiency, s.fake_rate, s.duplicate_rate))
    # a row where efficiency − fake rate is NaN (no targets, or no candidates) never wins; with
    # only such rows the cut chosen on edges (the first) is kept
    top = _best(rows)
    enough = top.efficiency - top.fake_rate - FILTER_CUT_TOLERANCE
    best = next((row for row in rows if row.efficiency - row.fake_rate >= enough), rows[0])
    return replace(
        bundle,
        pipeline=replace(bundle.pipeline, filter_cut=best.filter_cut),
        metrics=replace(bundle.metrics, filter_scan=tuple(rows)),
    )


def choose_track_building(
    bundle: ModelBundle, events: Sequence[Event], device: str = "cpu"
) -> ModelBundle:
    """``bundle`` with the track builder, rescue cut (:data:`RESCUE_CUTS`) and rescue walk cut
    (:data:`RESCUE_WALK_CUTS`) that give the highest efficiency − fake rate on ``events``, its
    other cuts and quality selection as they are (ties keep the earlier setting in the scan, the
    bundle's own builder first), and every setting's figures in ``metrics.builder_scan``."""
    pipeline = Pipeline(bundle, device=device)
    outputs = [(event, pipeline.run_scores(event.features())) for event in events]
    own = bundle.pipeline.track_builder
    builders = [own, *(b for b in TRACK_BUILDERS if b != own)]
    rows = []
    for builder in builders:
        for rescue in RESCUE_CUTS:
            for walk in RESCUE_WALK_CUTS if rescue is not None else (None,):
                s = _on_tracks(
                    outputs, track_builder=builder, rescue_cut=rescue, rescue_walk_cut=walk
                )
                rows.append(
                    BuilderScanRow(
                        builder, rescue, s.efficiency, s.fake_rate, s.duplicate_rate, walk
                    )
                )
    best = _best(rows)
    return replace(
        bundle,
        pipeline=replace(
            bundle.pipeline,
            track_builder=best.track_builder,
            rescue_cut=best.rescue_cut,
            rescue_walk_cut=best.rescue_walk_cut,
        ),
        metrics=replace(bundle.metrics, builder_scan=tuple(rows)),
    )


def add_quality(
    bundle: ModelBundle,
    train_events: Sequence[Event],
    val_events: Sequence[Event],
    config: QualityConfig = QualityConfig(),
    seed: int = 0,
    device: str = "cpu",
    on_event: Callable[[], None] | None = None,
) -> ModelBundle:
    """``bundle`` with a candidate-quality network trained on ``train_events`` and its cut.

    The pipeline (without a quality network) builds candidates on every training event; each is
    labelled a fake or not by :func:`~acts_gnn.metrics.matching.match_event`, and the network is
    fitted to them. On ``val_events`` every cut of :data:`QUALITY_CUTS` is scored, and the
    loosest whose fake rate is at most :data:`QUALITY_FAKE_GOAL` is kept (none reaching it: the
    best efficiency − fake rate). With fewer than :data:`MIN_QUALITY_FAKES` fakes to learn from,
    the bundle comes back without one, and ``training.quality.skipped`` says why.
    """
    pipeline = Pipeline(replace(bundle, quality=None), device=device)
    cfg = pipeline.config
    rows, fakes = [], []
    for event in train_events:
        scored = pipeline.run_scores(event.features())
        labels = scored.labels_at()
        _, inputs = candidate_inputs(
            labels,
            scored.features,
            scored.edges,
            scored.scores,
            cfg.gnn_cut,
            cfg.min_track_spacepoints,
            config.open_ends,
        )
        assert event.truth is not None
        matching = MatchingConfig(min_track_spacepoints=cfg.min_track_spacepoints)
        match = match_event(event.event_id, event.spacepoints, event.truth, labels, matching)
        rows.append(inputs)
        fakes.append(~match.track_matched)
        if on_event is not None:
            on_event()
    inputs, fake = np.concatenate(rows), np.concatenate(fakes)
    record = QualityRecord(
        config=config.as_dict(),
        seed=seed,
        train_candidates=int(fake.size),
        train_fakes=int(fake.sum()),
    )
    if fake.sum() < MIN_QUALITY_FAKES:
        record = replace(
            record,
            skipped=f"{int(fake.sum())} fakes among the {fake.size} training candidates, fewer "
            f"than the {MIN_QUALITY_FAKES} it needs",
        )
        return replace(  # none, and no scan of one (a reused bundle's would be stale)
            bundle,
            quality=None,
            pipeline=replace(bundle.pipeline, quality_cut=None),
            training=replace(bundle.training, quality=record),
            metrics=replace(bundle.metrics, quality_scan=None),
        )
    model = train_quality(inputs, fake, config, seed)

    outputs = [
        (event, replace(pipeline.run_scores(event.features()), quality=model))
        for event in val_events
    ]
    table: list[QualityScanRow] = []
    for cut in QUALITY_CUTS:
        s = _on_tracks(outputs, quality_cut=cut)
        table.append(QualityScanRow(cut, s.efficiency, s.fake_rate, s.duplicate_rate))
    reaching = [row for row in table if row.fake_rate <= QUALITY_FAKE_GOAL]
    best = reaching[0] if reaching else max(table, key=lambda row: row.efficiency - row.fake_rate)
    return replace(
        bundle,
        quality=model if best.quality_cut is not None else None,
        pipeline=replace(bundle.pipeline, quality_cut=best.quality_cut),
        training=replace(bundle.training, quality=record),
        metrics=replace(bundle.metrics, quality_scan=tuple(table)),
    )


def train_recipe(
    train_events: Sequence[Event],
    val_events: Sequence[Event],
    test_events: Sequence[Event] = (),
    config: TrainingConfig = TrainingConfig(),
    report: Callable[[EpochReport], None] = lambda _r: None,
    status: Callable[[str], None] = lambda _s: None,
    reuse: ModelBundle | None = None,
    device: str = "cpu",
    quality_only: bool = False,
    reuse_stages: tuple[str, ...] = ("embedding", "filter"),
    tune_events: Sequence[Event] = (),
) -> ModelBundle:
    """Train, tune the GNN cut on ``val_events``, and score ``test_events`` with both builders.

    ``tune_events``: where the filter cut, the track builder and the rescue cuts are chosen on
    tracks (empty: ``val_events``) — more events than the few validation ones make those
    choices less noisy.

    ``reuse``: keep that bundle's ``reuse_stages`` (the embedding and filter by default, or the
    embedding only) and train the rest; with
    ``quality_only``, keep all of it (models and cuts; the filter pre-selection is
    ``config.filter_max_inverse_pt``) and train the quality selection only.
    ``device``: where training, the cut scan and the scoring run.
    """
    if quality_only:
        if reuse is None:
            raise ValueError("quality_only needs a bundle to reuse")
        bundle = replace(
            reuse,
            quality=None,
            pipeline=replace(
                reuse.pipeline,
                quality_cut=None,
                filter_max_inverse_pt=config.filter_max_inverse_pt,
            ),
            training=replace(reuse.training, quality=None, quality_only_from=str(reuse.path)),
            metrics=replace(reuse.metrics, tests={}),
        )
    else:
        bundle = train_pipeline(
            train_events, val_events, config, report, status, reuse, device, reuse_stages
        )
        status("choosing the GNN and stitching cuts on tracks")
        cut, stitch, table = choose_cuts(bundle, val_events, device)
        bundle = replace(
            bundle,
            pipeline=replace(bundle.pipeline, gnn_cut=cut, stitch_cut=stitch),
            metrics=replace(bundle.metrics, cut_scan=table),
        )
    status("training the candidate-quality selection")
    # on candidates made with the rescue pass too, so that it learns the fakes that pass makes
    training_rescue = replace(bundle.pipeline, rescue_cut=RESCUE_TRAINING_CUT)
    bundle = replace(bundle, pipeline=training_rescue)
    quality = QualityConfig(open_ends=config.quality_open_ends)
    bundle = add_quality(bundle, train_events, val_events, quality, config.seed, device)
    tune = tune_events or val_events
    on = f"the tracks of {len(tune)} {'tuning' if tune_events else 'validation'} event"
    on += "s" if len(tune) != 1 else ""
    status(f"choosing the filter cut on {on}")
    bundle = choose_filter_cut(bundle, tune, device)
    status(f"choosing the track builder and the rescue cuts on {on}")
    bundle = choose_track_building(bundle, tune, device)
    if test_events:
        for builder in ("components", "walkthrough"):
            plural = "s" * (len(test_events) != 1)
            status(f"scoring {len(test_events)} test event{plural} ({builder})")
            scores = score_bundle(bundle, test_events, builder, device=device)
            bundle = replace(bundle, metrics=bundle.metrics.with_test(builder, scores))
    return bundle

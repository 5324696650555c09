"""The training recipe's choice of GNN and stitching cuts on validation events."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from acts_gnn.gnn import recipe
from acts_gnn.gnn.bundle import PipelineConfig
from tests.conftest import make_event
from tests.gnn.scored import scored_graph, scored_pipeline, tiny_bundle

# three particles of four points each, in order of r; scored edges inside and between them
EVENT = make_event([1] * 4 + [2] * 4 + [3] * 4, {1: 2.0, 2: 2.0, 3: 2.0})
EDGES = np.array(
    [
        [0, 1, 2, 4, 5, 6, 8, 9, 10, 3, 7],
        [1, 2, 3, 5, 6, 7, 9, 10, 11, 4, 8],
    ]
)
#: particle 1 sure, particle 2 fairly sure, particle 3 split by a middling edge; two wrong edges
#: join particle 1's end to particle 2's start (0.85) and particle 2's end to 3's start (0.03)
SCORES = np.array([0.999, 0.999, 0.999, 0.96, 0.96, 0.96, 0.999, 0.6, 0.999, 0.85, 0.03])


@pytest.fixture
def scan(monkeypatch):
    monkeypatch.setattr(recipe, "Pipeline", scored_pipeline(EDGES, SCORES))
    bundle = SimpleNamespace(pipeline=PipelineConfig())
    return recipe.choose_cuts(bundle, [EVENT])  # type: ignore[arg-type]


def test_choose_cuts_scans_every_pair(scan):
    _, _, table = scan
    assert [(row.gnn_cut, row.stitch_cut) for row in table] == [
        (c, s) for c in recipe.GNN_CUTS for s in recipe.STITCH_CUTS
    ]
    rows = {(row.gnn_cut, row.stitch_cut): row for row in table}
    # 0.99: only particle 1 survives; stitching hangs particle 2's first point on it (a piece of
    # four may take a loose point) but cannot join two loose points or the two halves of 3
    assert rows[(0.99, None)].efficiency == pytest.approx(1 / 3)
    assert rows[(0.99, None)].fake_rate == 0.0
    assert rows[(0.99, 0.02)].efficiency == pytest.approx(1 / 3)
    assert rows[(0.99, 0.02)].fake_rate == 0.0
    # 0.95: particles 1 and 2 whole; stitching then follows the wrong edges into one merger
    assert rows[(0.95, None)].efficiency == pytest.approx(2 / 3)
    assert rows[(0.95, 0.02)].efficiency == 0.0
    assert rows[(0.95, 0.02)].fake_rate == 1.0
    # 0.5: particle 3 whole, 1 and 2 merged by the 0.85 edge
    assert rows[(0.5, None)].efficiency == pytest.approx(1 / 3)
    assert rows[(0.5, None)].fake_rate == pytest.approx(1 / 2)


def test_choose_cuts_takes_the_best_efficiency_minus_fake_rate(scan):
    cut, stitch, table = scan
    # 0.9 and 0.95 tie (particles 1 and 2 found, no fakes): the earlier cut wins
    assert (cut, stitch) == (0.9, None)
    best = max(row.efficiency - row.fake_rate for row in table)
    assert best == pytest.approx(2 / 3)


# two particles (0–4 and 5–8, in order of r) joined by one wrong edge 1 → 6 as sure as theirs:
# one branching component, which the walk splits (from 1 its nearest outward point is 2)
BRANCHED = make_event([1] * 5 + [2] * 4, {1: 2.0, 2: 2.0})
BRANCHED_EDGES = np.array([[0, 1, 2, 3, 5, 6, 7, 1], [1, 2, 3, 4, 6, 7, 8, 6]])


def _bundle(builder: str):
    return tiny_bundle(PipelineConfig(gnn_cut=0.9, track_builder=builder))


@pytest.mark.parametrize("bundle_builder", ["components", "walkthrough"])
def test_choose_track_building_keeps_the_better_builder(bundle_builder, monkeypatch):
    scores = np.full(BRANCHED_EDGES.shape[1], 0.999)
    monkeypatch.setattr(recipe, "Pipeline", scored_pipeline(BRANCHED_EDGES, scores))
    made = _bundle(bundle_builder)
    chosen = recipe.choose_track_building(made, [BRANCHED])
    assert (chosen.pipeline.track_builder, chosen.pipeline.rescue_cut) == ("walkthrough", None)
    scan = chosen.metrics.builder_scan
    rows = {(row.track_builder, row.rescue_cut, row.rescue_walk_cut): row for row in scan}
    # each builder: no rescue, and each rescue cut with each rescue walk cut
    per_builder = 1 + (len(recipe.RESCUE_CUTS) - 1) * len(recipe.RESCUE_WALK_CUTS)
    assert len(scan) == len(rows) == 2 * per_builder
    # the bundle's own builder is scanned first
    assert scan[0].track_builder == bundle_builder
    for (builder, _, _), row in rows.items():  # every point is in a candidate: nothing to rescue
        # components: one candidate of 9 points, particle 1's majority (5 of 9, all 5 of its own)
        expected = (0.5, 0.0) if builder == "components" else (1.0, 0.0)
        assert (row.efficiency, row.fake_rate) == expected
    assert chosen.pipeline.rescue_walk_cut is None
    assert chosen.pipeline.gnn_cut == 0.9 and made.pipeline.track_builder == bundle_builder


def test_choose_track_building_rescues_a_track_below_the_gnn_cut(monkeypatch):
    # particle 2's edges score 0.8: under the GNN cut (0.9), above the rescue cuts 0.7 and 0.5
    edges = BRANCHED_EDGES[:, :-1]
    scores = np.array([0.999] * 4 + [0.8] * 3)
    monkeypatch.setattr(recipe, "Pipeline", scored_pipeline(edges, scores))
    chosen = recipe.choose_track_building(_bundle("components"), [BRANCHED])
    rows = {
        (row.track_builder, row.rescue_cut): row.efficiency
        for row in chosen.metrics.builder_scan
        if row.rescue_walk_cut is None
    }
    for builder in ("components", "walkthrough"):
        assert [rows[(builder, r)] for r in recipe.RESCUE_CUTS] == [0.5, 0.5, 1.0, 1.0]
    # 0.7 and 0.5 tie with both builders: the first in the scan (the bundle's builder, 0.7,
    # its group kept whole)
    chosen_pipeline = chosen.pipeline
    assert (chosen_pipeline.track_builder, chosen_pipeline.rescue_cut) == ("components", 0.7)
    assert chosen_pipeline.rescue_walk_cut is None


def test_choose_track_building_walks_a_rescued_group_of_two_tracks(monkeypatch):
    # both particles below the GNN cut (0.9), and the wrong edge 1 → 6 as sure as theirs: the
    # rescue pass makes one group of 9 points, which only a walk splits
    scores = np.full(BRANCHED_EDGES.shape[1], 0.8)
    monkeypatch.setattr(recipe, "Pipeline", scored_pipeline(BRANCHED_EDGES, scores))
    chosen = recipe.choose_track_building(_bundle("components"), [BRANCHED])
    rows = {
        (row.track_builder, row.rescue_cut, row.rescue_walk_cut): row.efficiency
        for row in chosen.metrics.builder_scan
    }
    assert rows[("components", 0.7, None)] == rows[("walkthrough", 0.7, None)] == 0.5
    for builder in ("components", "walkthrough"):
        for walk in (0.5, 0.3):
            assert rows[(builder, 0.7, walk)] == rows[(builder, 0.5, walk)] == 1.0
    # the first of the ties: the bundle's builder, rescue cut 0.7, walked at 0.5
    chosen_pipeline = chosen.pipeline
    assert (chosen_pipeline.track_builder, chosen_pipeline.rescue_cut) == ("components", 0.7)
    assert chosen_pipeline.rescue_walk_cut == 0.5


def test_choose_filter_cut_takes_the_best_tracks_not_the_most_edges(monkeypatch):
    # particle 1 (points 0–3) needs its edge 1 → 2, which the filter scores 0.006; a false edge
    # 3 → 4 into particle 2 (4–7), scored 0.003, merges the two; the GNN is sure of every edge
    event = make_event([1] * 4 + [2] * 4, {1: 2.0, 2: 2.0})
    edges = np.array([[0, 1, 2, 4, 5, 6, 3], [1, 2, 3, 5, 6, 7, 4]])
    filter_scores = np.array([0.9, 0.006, 0.9, 0.9, 0.9, 0.9, 0.003])

    class FilteredPipeline:
        def __init__(self, bundle, device: str = "cpu") -> None:
            self.config = bundle.pipeline

        def run_scores(self, features):
            kept = filter_scores > self.config.filter_cut
            graph = scored_graph(features, edges[:, kept], np.full(kept.sum(), 0.999), self.config)
            return replace(graph, features=None)

    monkeypatch.setattr(recipe, "Pipeline", FilteredPipeline)
    made = tiny_bundle(PipelineConfig(filter_cut=0.02, gnn_cut=0.9))
    chosen = recipe.choose_filter_cut(made, [event])
    rows = chosen.metrics.filter_scan
    assert [row.filter_cut for row in rows] == [0.02 * s for s in recipe.FILTER_CUT_SCALES]
    assert [row.filtered_edges_per_event for row in rows] == [5, 5, 6, 7]
    # 0.02, 0.01: particle 1 in two pieces of two; 0.005: both found; 0.0025: one merger
    assert [(row.efficiency, row.fake_rate) for row in rows] == [
        (0.5, 0.0),
        (0.5, 0.0),
        (1.0, 0.0),
        (0.0, 1.0),
    ]
    assert chosen.pipeline.filter_cut == 0.005 and made.pipeline.filter_cut == 0.02
    assert chosen.pipeline.gnn_cut == 0.9
    # a higher cut within the tolerance of the best is kept (fewer edges for the GNN)
    monkeypatch.setattr(recipe, "FILTER_CUT_TOLERANCE", 0.6)
    assert recipe.choose_filter_cut(made, [event]).pipeline.filter_cut == 0.02
    # scanned again (the quality selection retrained), the same cuts: no ratchet downwards
    again = recipe.choose_filter_cut(chosen, [event])
    assert again.metrics.filter_scan == rows and again.pipeline.filter_cut == 0.02


def test_choose_filter_cut_keeps_the_cut_on_edges_when_no_cut_makes_a_candidate(monkeypatch):
    # a model that finds nothing (a first smoke test's one epoch): every row's fake rate is NaN
    event = make_event([1] * 4, {1: 2.0})

    class NothingPipeline:
        def __init__(self, bundle, device: str = "cpu") -> None:
            self.config = bundle.pipeline

        def run_scores(self, features):
            empty = np.zeros((2, 0), dtype=np.int64)
            return replace(scored_graph(features, empty, np.zeros(0), self.config), features=None)

    monkeypatch.setattr(recipe, "Pipeline", NothingPipeline)
    made = tiny_bundle(PipelineConfig(filter_cut=0.02, gnn_cut=0.9))
    chosen = recipe.choose_filter_cut(made, [event])
    assert all(np.isnan(row.fake_rate) for row in chosen.metrics.filter_scan)
    assert chosen.pipeline.filter_cut == 0.02

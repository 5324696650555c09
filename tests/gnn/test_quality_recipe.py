"""The recipe's quality stage: labels from the matching, the cut scan and its rule, the skip."""

from __future__ import annotations

import math

import numpy as np
import pytest

from acts_gnn.gnn import recipe
from acts_gnn.gnn.bundle import PipelineConfig
from acts_gnn.gnn.quality import QualityConfig
from acts_gnn.gnn.records import TrainingRecord
from tests.conftest import make_event
from tests.gnn.scored import scored_pipeline, tiny_bundle

# three targets of four points (0–11) and a soft particle of six (12–17) that the edges cut in
# two pieces of three: each piece holds half of its particle, so both are fakes
EVENT = make_event([1] * 4 + [2] * 4 + [3] * 4 + [4] * 6, {1: 2.0, 2: 2.0, 3: 2.0, 4: 0.5})
CHAINS = [(0, 4), (4, 4), (8, 4), (12, 3), (15, 3)]
EDGES = np.array([(s + i, s + i + 1) for s, n in CHAINS for i in range(n - 1)]).T
SCORES = np.full(EDGES.shape[1], 0.999)


class _ThreePointsAreFakes:
    """Stands in for the trained network: P(fake) 0.96 for three-point candidates."""

    config = QualityConfig()

    def fake_probability(self, inputs: np.ndarray) -> np.ndarray:
        return np.where(np.isclose(inputs[:, 0], math.log(3)), 0.96, 0.001)


@pytest.fixture
def bundle(monkeypatch):
    seen = {}

    def fit(inputs, fake, config, seed):
        seen["fake"] = fake.tolist()
        return _ThreePointsAreFakes()

    monkeypatch.setattr(recipe, "Pipeline", scored_pipeline(EDGES, SCORES, keep_features=True))
    monkeypatch.setattr(recipe, "train_quality", fit)
    made = tiny_bundle(PipelineConfig(gnn_cut=0.9), training=TrainingRecord(config={"seed": 0}))
    return made, seen


def test_the_loosest_cut_reaching_the_goal_is_chosen(bundle, monkeypatch):
    made, seen = bundle
    monkeypatch.setattr(recipe, "MIN_QUALITY_FAKES", 1)
    out = recipe.add_quality(made, [EVENT], [EVENT])
    # the training labels: the three targets matched, the two soft pieces fakes
    assert seen["fake"] == [False, False, False, True, True]
    table = out.metrics.quality_scan
    assert [row.quality_cut for row in table] == list(recipe.QUALITY_CUTS)
    rows = {row.quality_cut: row for row in table}
    assert rows[None].fake_rate == pytest.approx(2 / 5)
    assert rows[0.97].fake_rate == pytest.approx(2 / 5)  # 0.96 is not above 0.97
    assert rows[0.95].fake_rate == 0.0 and rows[0.95].efficiency == 1.0
    assert out.pipeline.quality_cut == 0.95
    assert isinstance(out.quality, _ThreePointsAreFakes)
    assert out.training.quality.train_fakes == 2
    assert out.training.config == {"seed": 0}  # the rest of the record is kept
    # the bundle passed in is left as it was
    assert made.quality is None and made.pipeline.quality_cut is None


def test_too_few_fakes_to_learn_from_leaves_the_bundle_without(bundle):
    made, seen = bundle
    out = recipe.add_quality(made, [EVENT], [EVENT])
    assert seen == {}
    assert out.quality is None and out.pipeline.quality_cut is None
    assert out.training.quality.skipped == (
        "2 fakes among the 5 training candidates, fewer than the 20 it needs"
    )
    assert out.metrics.quality_scan is None


@pytest.mark.parametrize("tuned", [True, False])
def test_the_track_level_cuts_are_chosen_on_the_tuning_events(tuned, monkeypatch):
    made = tiny_bundle(PipelineConfig(gnn_cut=0.9), training=TrainingRecord(config={"seed": 0}))
    val, tune = [EVENT], [EVENT, EVENT]
    seen = {}

    def chooser(name):
        def choose(bundle, events, device="cpu"):
            seen[name] = events
            return bundle

        return choose

    monkeypatch.setattr(recipe, "add_quality", lambda bundle, *args, **kwargs: bundle)
    monkeypatch.setattr(recipe, "choose_filter_cut", chooser("filter"))
    monkeypatch.setattr(recipe, "choose_track_building", chooser("builder"))
    recipe.train_recipe(
        [EVENT], val, reuse=made, quality_only=True, tune_events=tune if tuned else ()
    )
    expected = tune if tuned else val
    assert seen["filter"] is expected and seen["builder"] is expected

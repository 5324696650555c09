"""The candidate-quality selection: its inputs worked out by hand, dropping, training, bundles."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from acts_gnn.errors import BundleError
from acts_gnn.gnn.bundle import ModelBundle
from acts_gnn.gnn.geometry import inverse_pt
from acts_gnn.gnn.models import FilterConfig, FilterMLP
from acts_gnn.gnn.pipeline import ScoredGraph
from acts_gnn.gnn.quality import (
    CANDIDATE_INPUTS,
    QualityConfig,
    QualityMLP,
    candidate_inputs,
    drop_candidates,
    train_quality,
)
from tests.gnn.scored import scored_graph

# candidate 0: five points on the circle of radius 2 m through the beam line (centre (0, 2) m),
# z = 10 mm + 0.5 r; candidate 1: three points; candidate 2: two points (too small); two loose
ANGLES = np.array([0.02, 0.05, 0.09, 0.14, 0.2])
X = 2.0 * np.sin(ANGLES)
Y = 2.0 - 2.0 * np.cos(ANGLES)
R = np.hypot(X, Y)


def _contract(r_m, phi, z_m) -> np.ndarray:
    return np.stack([np.asarray(r_m), np.asarray(phi) / np.pi, np.asarray(z_m)], 1)


FEATURES = np.concatenate(
    [
        _contract(R, np.arctan2(Y, X), 0.01 + 0.5 * R),
        _contract([0.1, 0.2, 0.3], [1.0, 1.0, 1.0], [0.5, 1.0, 1.5]),
        _contract([0.1, 0.2], [-1.0, -1.0], [0.0, 0.0]),
        _contract([0.5, 0.6], [0.0, 0.0], [0.3, 0.4]),
    ]
).astype(np.float32)
LABELS = np.array([0] * 5 + [5] * 3 + [8] * 2 + [-1, -1])
# inside candidate 0: four edges, two above the 0.99 cut; leaving it: 0.7 to a loose point and
# 0.3 to candidate 1
EDGES = np.array([[0, 1, 2, 3, 4, 4], [1, 2, 3, 4, 10, 5]])
SCORES = np.array([0.999, 0.995, 0.98, 0.5, 0.7, 0.3])


def test_candidate_inputs_by_hand():
    ids, rows = candidate_inputs(LABELS, FEATURES, EDGES, SCORES, cut=0.99, min_size=3)
    assert ids.tolist() == [0, 5]
    assert rows.shape == (2, len(CANDIDATE_INPUTS))
    first, second = rows
    assert first[0] == pytest.approx(math.log(5))
    assert first[1] == pytest.approx(R.min(), rel=1e-6)
    assert first[2] == pytest.approx(R.max(), rel=1e-6)
    mean_r, mean_z = R.mean(), (0.01 + 0.5 * R).mean()
    assert first[3] == pytest.approx(abs(math.asinh(mean_z / mean_r)) / 4, rel=1e-5)
    # 0.3 · 2 T · 2 m = 1.2 GeV
    assert first[4] == pytest.approx(1 / 1.2, rel=1e-4)
    # on the circle and on the line (to float32 rounding): rms well below a micrometre
    assert first[5] < -2 and first[6] < -2
    assert first[7] == pytest.approx(math.tanh(0.01 / 0.3), abs=1e-5)
    assert first[8] == pytest.approx((0.999 + 0.995 + 0.98 + 0.5) / 4)
    assert first[9] == pytest.approx(0.5)
    assert first[10] == pytest.approx(0.7)
    assert first[11] == pytest.approx(math.log(2))
    # candidate 1: a straight line (no curvature), no edges inside, one leaving at 0.3
    assert second[0] == pytest.approx(math.log(3))
    assert second[4] == pytest.approx(0.0, abs=1e-3)
    assert second[8] == 0 and second[9] == 0
    assert second[10] == pytest.approx(0.3)
    assert second[11] == 0


def test_candidate_inputs_with_open_ends():
    plain = candidate_inputs(LABELS, FEATURES, EDGES, SCORES, cut=0.99, min_size=3)[1]
    ids, rows = candidate_inputs(LABELS, FEATURES, EDGES, SCORES, 0.99, 3, open_ends=True)
    assert ids.tolist() == [0, 5] and rows.shape == (2, len(CANDIDATE_INPUTS) + 1)
    np.testing.assert_array_equal(rows[:, :-1], plain)
    assert rows[:, -1].tolist() == [0.0, 0.0]  # every region holds points
    # candidate 1 mirrored to z < 0: nothing at z > 0 beyond the barrel, where candidate 0 and
    # the loose points lie; candidate 1 ends in the endcap at z = -1.5 m, which is read
    mirrored = FEATURES.copy()
    mirrored[5:8, 2] *= -1
    ids, rows = candidate_inputs(LABELS, mirrored, EDGES, SCORES, 0.99, 3, open_ends=True)
    assert rows[:, -1].tolist() == [1.0, 0.0]
    # and with its last point at z = -1.0 m (in the barrel) no endcap is read at all
    mirrored[7, 2] = -1.0
    ids, rows = candidate_inputs(LABELS, mirrored, EDGES, SCORES, 0.99, 3, open_ends=True)
    assert rows[:, -1].tolist() == [1.0, 1.0]
    quality = QualityMLP(QualityConfig(hidden=4, open_ends=True))
    assert quality.fake_probability(rows).shape == (2,)


def test_candidate_inputs_of_no_candidates():
    ids, rows = candidate_inputs(np.full(4, -1), FEATURES[:4], EDGES[:, :0], SCORES[:0], 0.5, 3)
    assert ids.size == 0 and rows.shape == (0, len(CANDIDATE_INPUTS))


def test_drop_candidates_unassigns_and_renumbers():
    labels = np.array([4, 4, 4, 9, 9, 9, -1, 7, 7])
    out = drop_candidates(labels, np.array([4, 9]), np.array([True, False]))
    assert out.tolist() == [-1, -1, -1, 0, 0, 0, -1, 1, 1]


def test_training_separates_a_separable_sample():
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(400, len(CANDIDATE_INPUTS))).astype(np.float32)
    fake = rows[:, 10] > 0.8
    model = train_quality(rows, fake, QualityConfig(hidden=16), seed=1, epochs=300)
    probability = model.fake_probability(rows)
    assert ((probability > 0.5) == fake).mean() > 0.97
    # the standardisation travels with the weights
    assert torch.allclose(model.mean, torch.from_numpy(rows.mean(axis=0)))


def _scored(quality, quality_cut) -> ScoredGraph:
    from acts_gnn.gnn.bundle import PipelineConfig

    config = PipelineConfig(gnn_cut=0.9, min_track_spacepoints=3, quality_cut=quality_cut)
    return scored_graph(FEATURES, EDGES, SCORES, config, quality)


class _Says(QualityMLP):
    """A quality network that calls every four-point candidate a fake and nothing else."""

    def fake_probability(self, inputs: np.ndarray) -> np.ndarray:
        return np.where(np.isclose(inputs[:, 0], math.log(4)), 0.99, 0.01)


def test_labels_at_drops_what_the_network_calls_fakes():
    # above the 0.9 cut: 0–1–2–3, one four-point candidate; every other point is loose
    kept = _scored(_Says(), None).labels_at()
    assert kept.tolist() == [0, 0, 0, 0] + [-1] * 8
    assert _scored(_Says(), 0.5).labels_at().tolist() == [-1] * 12
    # a network that is sure of nothing keeps it
    assert _scored(_Says(), 0.995).labels_at().tolist() == kept.tolist()
    # no network in the bundle: the cut alone does nothing
    assert _scored(None, 0.5).labels_at().tolist() == kept.tolist()


class _OpenEnds(QualityMLP):
    """A quality network with the open-ends input that calls a fake every candidate whose
    points all end open."""

    def __init__(self) -> None:
        super().__init__(QualityConfig(open_ends=True))

    def fake_probability(self, inputs: np.ndarray) -> np.ndarray:
        return inputs[:, len(CANDIDATE_INPUTS)]


def test_labels_at_gives_the_network_its_open_ends_input():
    from acts_gnn.gnn.bundle import PipelineConfig

    config = PipelineConfig(gnn_cut=0.9, min_track_spacepoints=3, quality_cut=0.5)
    kept = scored_graph(FEATURES, EDGES, SCORES, config, _OpenEnds()).labels_at()
    assert kept.tolist() == [0, 0, 0, 0] + [-1] * 8
    mirrored = FEATURES.copy()
    mirrored[5:8, 2] *= -1  # nothing beyond the barrel at z > 0, where the candidate lies
    dropped = scored_graph(mirrored, EDGES, SCORES, config, _OpenEnds()).labels_at()
    assert dropped.tolist() == [-1] * 12


def test_bundle_with_and_without_quality(tmp_path):
    shipped = ModelBundle.load()
    model = train_quality(
        np.random.default_rng(1).normal(size=(50, len(CANDIDATE_INPUTS))).astype(np.float32),
        np.arange(50) % 2 == 0,
        QualityConfig(hidden=8),
        epochs=5,
    )
    with_quality = replace(
        shipped, quality=model, pipeline=replace(shipped.pipeline, quality_cut=0.9)
    )
    with_quality.save(tmp_path / "q")
    meta = json.loads((tmp_path / "q" / "bundle.json").read_text())
    assert meta["models"]["quality"] == {"hidden": 8, "layers": 2, "open_ends": False}
    assert meta["weights"]["quality"] == "quality.pt"
    loaded = ModelBundle.load(tmp_path / "q")
    assert loaded.pipeline.quality_cut == 0.9
    rows = np.random.default_rng(2).normal(size=(7, len(CANDIDATE_INPUTS))).astype(np.float32)
    np.testing.assert_array_equal(
        loaded.quality.fake_probability(rows), model.fake_probability(rows)
    )

    without = replace(shipped, quality=None, pipeline=replace(shipped.pipeline, quality_cut=None))
    without.save(tmp_path / "plain")
    meta = json.loads((tmp_path / "plain" / "bundle.json").read_text())
    assert "quality" not in meta["models"] and "quality" not in meta["weights"]
    assert not (tmp_path / "plain" / "quality.pt").exists()
    assert ModelBundle.load(tmp_path / "plain").quality is None

    meta["pipeline"]["quality_cut"] = 0.5
    (tmp_path / "plain" / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="a quality_cut but no quality network"):
        ModelBundle.load(tmp_path / "plain")


def test_filter_pre_selection_scores_the_rest_unchanged():
    torch.manual_seed(0)
    n = 80
    g = torch.Generator().manual_seed(4)
    features = torch.stack(
        [
            torch.rand(n, generator=g) + 0.03,
            torch.rand(n, generator=g) * 2 - 1,
            torch.rand(n, generator=g) - 0.5,
        ],
        dim=1,
    )
    edges = torch.randint(0, n, (2, 300), generator=g)
    latent = torch.randn(n, 8, generator=g)
    model = FilterMLP(FilterConfig(hidden=16)).eval()
    with torch.no_grad():
        everything = torch.sigmoid(model.logits_in_chunks(features, edges, latent, 64))
        unselected = model.scores_in_chunks(features, edges, latent, 64)
        selected = model.scores_in_chunks(features, edges, latent, 64, max_inverse_pt=5.0)
    wanted = inverse_pt(features, edges).abs() <= 5.0
    assert 0 < int(wanted.sum()) < edges.shape[1]
    torch.testing.assert_close(unselected, everything, rtol=0, atol=0)
    assert (selected[~wanted] == 0).all()
    torch.testing.assert_close(selected[wanted], everything[wanted], rtol=0, atol=1e-6)

"""Training internals: soft edges left out of the loss, sector sub-graphs, reusing a bundle."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from acts_gnn.errors import ConfigError
from acts_gnn.gnn import train as training
from acts_gnn.gnn.bundle import ModelBundle, PipelineConfig
from acts_gnn.gnn.configs import TrainingConfig
from acts_gnn.gnn.models import (
    EmbeddingConfig,
    EmbeddingMLP,
    FilterConfig,
    FilterMLP,
    GNNConfig,
    InteractionGNN,
)
from acts_gnn.gnn.pipeline import Pipeline
from acts_gnn.gnn.records import BundleMetrics, EpochReport, TrainingRecord
from acts_gnn.gnn.truth_graph import same_particle
from tests.conftest import make_event


def test_bce_leaves_weight_zero_edges_out():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(40, generator=g)
    truth = torch.rand(40, generator=g) < 0.3
    weight = (torch.rand(40, generator=g) < 0.7).float()
    kept = weight > 0
    full = training._bce(logits, truth, weight)
    subset = training._bce(logits[kept], truth[kept], torch.ones(int(kept.sum())))
    assert torch.allclose(full, subset)
    # what the left-out edges say does not matter
    flipped = training._bce(
        torch.where(kept, logits, -logits), torch.where(kept, truth, ~truth), weight
    )
    assert torch.allclose(full, flipped)


def _prepared(event) -> training._Prepared:
    """What ``_graph`` needs of an event (no embedding training: no pairs)."""
    return training._Prepared(
        features=torch.from_numpy(event.features()),
        particle=torch.zeros(len(event), dtype=torch.long),
        true=torch.zeros((2, 0), dtype=torch.long),
        negatives=torch.zeros((2, 0), dtype=torch.long),
        event=event,
    )


def test_soft_edges_get_weight_zero_exactly():
    # particle 1 is a target (2 GeV), particle 2 is soft (0.5 GeV), 0 is noise
    event = make_event([1, 1, 2, 2, 0, 1], {1: 2.0, 2: 0.5})
    edges = np.array([[0, 2, 1, 0, 4, 3], [1, 3, 5, 2, 5, 4]])
    assert same_particle(event, edges).tolist() == [True, True, True, False, False, False]
    data = _prepared(event)
    embedding = EmbeddingMLP(EmbeddingConfig(hidden=4, latent_dim=2))
    target, soft = [True, False, True, False, False, False], [True, True, True, False, False, False]
    for mode, weights, labels in (
        ("ignore", [1, 0, 1, 1, 1, 1], target),
        ("false", [1, 1, 1, 1, 1, 1], target),
        ("true", [1, 1, 1, 1, 1, 1], soft),
    ):
        cfg = TrainingConfig(target_pt_gev=1.0, soft_edges=mode)
        graph = training._graph(embedding, data, radius=1e9, cfg=cfg)
        pairs = {
            (int(a), int(b)): float(w)
            for a, b, w in zip(graph.edges[0], graph.edges[1], graph.weight, strict=True)
        }
        truth = {
            (int(a), int(b)): bool(t)
            for a, b, t in zip(graph.edges[0], graph.edges[1], graph.truth, strict=True)
        }
        # the radius graph holds every pair once; look the test's pairs up in either direction
        assert [pairs.get((a, b), pairs.get((b, a))) for a, b in edges.T] == weights, mode
        assert [truth.get((a, b), truth.get((b, a))) for a, b in edges.T] == labels, mode


def test_true_edges_weigh_their_clipped_pt_to_the_power_and_false_edges_one():
    # particles of 0.95, 4 and 30 GeV (all targets at 0.9) and a soft one (0.5 GeV)
    event = make_event([1, 1, 2, 2, 3, 3, 4, 4], {1: 0.95, 2: 4.0, 3: 30.0, 4: 0.5})
    data = _prepared(event)
    embedding = EmbeddingMLP(EmbeddingConfig(hidden=4, latent_dim=2))
    cfg = TrainingConfig(target_pt_gev=0.9, true_edge_pt_power=0.5)
    graph = training._graph(embedding, data, radius=1e9, cfg=cfg)
    weight = {
        tuple(sorted((int(a), int(b)))): float(w)
        for a, b, w in zip(graph.edges[0], graph.edges[1], graph.weight, strict=True)
    }
    # pT clipped to 1–10 GeV: 0.95 → 1, 4 → 2, 30 → √10; soft edges out, false edges 1
    assert weight[(0, 1)] == 1.0
    assert weight[(2, 3)] == pytest.approx(2.0)
    assert weight[(4, 5)] == pytest.approx(10**0.5)
    assert weight[(6, 7)] == 0.0
    assert weight[(0, 2)] == weight[(1, 7)] == 1.0
    with pytest.raises(ConfigError, match=r"--true-edge-pt-power must be in \[0, 2\], got -1"):
        TrainingConfig(true_edge_pt_power=-1)


def test_bce_balances_true_and_false_by_their_weights():
    logits = torch.tensor([0.3, -1.2, 2.0, 0.1, -0.4, 1.1])
    truth = torch.tensor([True, True, False, False, False, False])
    weight = torch.tensor([2.0, 0.5, 1.0, 1.0, 1.0, 0.0])
    # false weight 3, true weight 2.5: pos_weight √(3 / 2.5); the mean over the 5 counted edges
    pos = (3 / 2.5) ** 0.5
    sp = torch.nn.functional.softplus
    expected = (2.0 * pos * sp(-logits[0]) + 0.5 * pos * sp(-logits[1]) + sp(logits[2:5]).sum()) / 5
    assert training._bce(logits, truth, weight).item() == pytest.approx(expected.item(), rel=1e-6)


def test_unknown_soft_edge_mode_is_a_config_error():
    expected = "--soft-edges 'maybe': expected one of ignore, true, false"
    with pytest.raises(ConfigError, match=expected):
        TrainingConfig(soft_edges="maybe")


def _random_graph(n: int, n_edges: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points of random (r, φ, z) features and ``n_edges`` random edges (seed 0)."""
    torch.manual_seed(0)
    features = torch.stack(
        [torch.rand(n) + 0.03, torch.rand(n) * 2 - 1, torch.rand(n) * 2 - 1], dim=1
    )
    return features, torch.randint(0, n, (2, n_edges))


def test_sector_subgraph_gives_the_logits_of_the_whole_graph():
    n = 300
    features, edges = _random_graph(n, 900)
    graph = training._Graph(
        edges=edges,
        truth=torch.rand(900) < 0.2,
        weight=torch.ones(900),
        latent=torch.zeros(n, 2),
        features=features,
        event=None,  # type: ignore[arg-type]
        particle=torch.arange(n) % 7 - 1,
    )
    model = InteractionGNN(GNNConfig(hidden=8, iterations=3)).eval()
    sectors = training._sectors(graph, 4)
    assert sum(s.edges.shape[1] for s in sectors) == 900
    phi = features[edges[0], 1]
    for index, sector in enumerate(sectors):
        keep = ((phi + 1.0) / 2.0 * 4).long().clamp(0, 3) == index
        # only the points the sector's edges touch, renumbered 0…m-1
        assert sector.features.shape[0] == torch.unique(edges[:, keep]).numel()
        assert int(sector.edges.max()) == sector.features.shape[0] - 1
        with torch.no_grad():
            alone = model(sector.features, sector.edges)
            # the same edges inside the whole point set: message passing never leaves them
            inside = model(features, edges[:, keep])
        assert torch.allclose(alone, inside, atol=1e-5)
        assert torch.equal(sector.truth, graph.truth[keep])


def test_a_region_cut_keeps_the_edges_inside_one_region_renumbered():
    features, edges = _random_graph(400, 1200)
    # each edge's weight is its number: a kept edge says which one it is
    sector = training._Sector(
        features, edges, torch.rand(1200) < 0.3, torch.arange(1200.0), torch.arange(400)
    )
    gen = torch.Generator().manual_seed(3)
    kinds = set()
    for _ in range(30):
        cut = training._cut_to_region(sector, gen)
        assert 0 < cut.edges.shape[1] < 1200
        assert int(cut.edges.max()) == cut.features.shape[0] - 1  # the points its edges touch
        found = cut.weight.long()
        assert bool((found[1:] > found[:-1]).all())  # in the sector's order
        assert torch.equal(cut.features[cut.edges], features[edges[:, found]])
        assert torch.equal(cut.truth, sector.truth[found])
        # one region holds every kept point: a |z| band around 0, one side's |z| beyond a
        # bound, or r below a bound — and every sector edge inside it is kept
        r, z = cut.features[:, 0], cut.features[:, 2]
        for kind, inside in (
            ("central", features[:, 2].abs() <= z.abs().max()),
            ("forward +", features[:, 2] >= z.min()),
            ("forward -", features[:, 2] <= z.max()),
            ("inner", features[:, 0] <= r.max()),
        ):
            if kind == "forward +" and bool((z <= 0).any()):
                continue
            if kind == "forward -" and bool((z >= 0).any()):
                continue
            if int((inside[edges[0]] & inside[edges[1]]).sum()) == cut.edges.shape[1]:
                kinds.add(kind.split()[0])
                break
        else:
            raise AssertionError("the kept edges are not those of one region")
    assert kinds == {"central", "forward", "inner"}
    # a region without edges leaves the sector as it is
    lone = training._Sector(
        features, torch.tensor([[0], [1]]), torch.tensor([True]), torch.ones(1), torch.arange(400)
    )
    features[0, 2], features[1, 2] = -0.9, 0.9  # one end on each side
    features[0, 0], features[1, 0] = 0.1, 0.99
    assert training._cut_to_region(lone, torch.Generator().manual_seed(0)) is lone


def _chains(lengths: list[int]) -> training._Sector:
    """Particles of ``lengths`` points each (r = 0.1, 0.2, … in a shuffled order), each point
    joined to its next in r; one noise point joined to every particle's first point. Each edge's
    weight is its number."""
    gen = torch.Generator().manual_seed(1)
    particle = torch.cat(
        [torch.full((n,), p) for p, n in enumerate(lengths)] + [torch.tensor([-1])]
    )
    rank = torch.cat([torch.arange(n) for n in lengths] + [torch.tensor([0])])
    shuffle = torch.randperm(particle.numel(), generator=gen)
    particle, rank = particle[shuffle], rank[shuffle]
    features = torch.stack(
        [0.1 * (rank + 1.0), torch.zeros(rank.shape), torch.zeros(rank.shape)], 1
    )
    position = {(int(p), int(k)): i for i, (p, k) in enumerate(zip(particle, rank, strict=True))}
    pairs = [
        (position[p, k], position[p, k + 1]) for p, n in enumerate(lengths) for k in range(n - 1)
    ]
    noise = position[-1, 0]
    pairs += [(noise, position[p, 0]) for p in range(len(lengths))]
    edges = torch.tensor(pairs).T
    return training._Sector(
        features,
        edges,
        torch.ones(len(pairs), dtype=torch.bool),
        torch.arange(len(pairs) * 1.0),
        particle,
    )


def test_stopped_tracks_keep_one_run_of_their_points_in_r():
    lengths = [2, 3, 5, 8, 12] * 8
    sector = _chains(lengths)
    gen = torch.Generator().manual_seed(5)
    assert training._stop_tracks(sector, 0.0, gen) is sector
    starts, kept_lengths = set(), set()
    for _ in range(20):
        cut = training._stop_tracks(sector, 1.0, gen)
        found = cut.weight.long()
        # the kept edges are the sector's edges between kept points, truth and order kept
        assert torch.equal(cut.features[cut.edges], sector.features[sector.edges[:, found]])
        assert torch.equal(cut.truth, sector.truth[found])
        assert bool((found[1:] > found[:-1]).all())
        for p, n in enumerate(lengths):
            ranks = torch.sort((cut.features[cut.particle == p, 0] / 0.1).round().long() - 1).values
            if n < 3:  # too short to cut: kept whole
                assert ranks.tolist() == list(range(n))
                continue
            # one run of at least 2 and at most n - 1 points, every edge inside it kept
            assert 2 <= ranks.numel() <= n - 1
            assert ranks.tolist() == list(range(int(ranks[0]), int(ranks[0]) + ranks.numel()))
            starts.add(int(ranks[0]) > 0)
            kept_lengths.add(ranks.numel() - n)
        # the noise point stays, on the edges to the particles' first points still kept
        assert int((cut.particle == -1).sum()) == 1
    # tracks that stop (start at their first point) and tracks that start later both occur;
    # every length from 2 to n - 1 of the 12-point particles occurs
    assert starts == {False, True}
    assert set(range(-10, 0)) <= kept_lengths


def test_stop_tracks_outside_zero_to_one_is_a_config_error():
    with pytest.raises(ConfigError, match="--stop-tracks must be in"):
        TrainingConfig(stop_tracks=-0.1)


@pytest.mark.parametrize(
    ("name", "option"),
    [("embedding_lr", "--embedding-lr"), ("filter_lr", "filter_lr"), ("gnn_lr", "--gnn-lr")],
)
@pytest.mark.parametrize("value", [-1e-3, float("nan")])
def test_a_negative_learning_rate_is_a_config_error(name, option, value):
    with pytest.raises(ConfigError, match=f"{option} must be 0 or more, got {value:g}"):
        TrainingConfig(**{name: value})
    assert getattr(TrainingConfig(**{name: 0.0}), name) == 0.0  # frozen weights


def test_truncate_outside_zero_to_one_is_a_config_error():
    with pytest.raises(ConfigError, match="--truncate must be in"):
        TrainingConfig(truncate=1.5)


def _events(seed: int) -> list:
    """Two small events of eight particles (0.5 + id GeV) for the reuse tests."""
    rng = np.random.default_rng(seed)
    particles = [int(p) for p in rng.integers(1, 9, size=80)]
    return [make_event(particles, {p: 0.5 + p for p in range(1, 9)}, event_id=i) for i in range(2)]


def _earlier(training: TrainingRecord, stages: tuple[str, ...]) -> ModelBundle:
    """A bundle of tiny models to reuse, with one logged epoch per stage of ``stages``."""
    history = tuple(EpochReport(s, 0, 1.0, 1.0, 0.5, 0.5, 1.0) for s in stages)
    return ModelBundle(
        embedding=EmbeddingMLP(EmbeddingConfig(hidden=8, latent_dim=3)),
        filter=FilterMLP(FilterConfig(hidden=8)),
        gnn=InteractionGNN(GNNConfig(hidden=8, iterations=1)),
        pipeline=PipelineConfig(radius=5.0, filter_cut=0.2),
        training=training,
        metrics=BundleMetrics(history=history),
    )


def test_reuse_keeps_embedding_and_filter_and_trains_the_gnn():
    events = _events(3)
    earlier = _earlier(TrainingRecord(config={"seed": 7}, how="earlier run"), ("filter",))
    before = {
        stage: {k: v.clone() for k, v in getattr(earlier, stage).state_dict().items()}
        for stage in ("embedding", "filter")
    }
    cfg = TrainingConfig(
        gnn=GNNConfig(hidden=8, iterations=2), gnn_epochs=1, gnn_sectors=2, max_neighbours=8
    )
    seen = []
    bundle = training.train_pipeline(events[:1], events[1:], cfg, report=seen.append, reuse=earlier)
    assert [r.stage for r in seen] == ["gnn"]
    for stage, weights in before.items():
        # the bundle holds copies of the earlier models, bit-equal; the earlier bundle is untouched
        assert getattr(bundle, stage) is not getattr(earlier, stage)
        for source in (bundle, earlier):
            state = getattr(source, stage).state_dict()
            assert all(torch.equal(v, state[k]) for k, v in weights.items())
    assert (bundle.pipeline.radius, bundle.pipeline.filter_cut) == (5.0, 0.2)
    assert bundle.gnn.config == GNNConfig(hidden=8, iterations=2)
    record = bundle.training.reused_stages
    assert record.stages == ("embedding", "filter")
    assert (record.radius, record.filter_cut) == (5.0, 0.2)
    assert record.training == TrainingRecord(config={"seed": 7}, how="earlier run")
    # where the stages came from: a bundle built in memory has no directory; their fingerprints
    # are the earlier bundle's, and this bundle's own (the same weights)
    assert record.source is None
    assert record.fingerprints == earlier.fingerprints(["embedding", "filter"])
    assert record.fingerprints == bundle.fingerprints(["embedding", "filter"])
    assert earlier.fingerprints(["gnn"]) != bundle.fingerprints(["gnn"])
    assert [h.stage for h in bundle.metrics.history] == ["filter", "gnn"]


def test_reuse_of_the_embedding_alone_trains_the_filter_and_the_gnn():
    events = _events(4)
    earlier = _earlier(TrainingRecord(config={"seed": 7}), ("embedding", "filter"))
    before = {k: v.clone() for k, v in earlier.embedding.state_dict().items()}
    filter_before = {k: v.clone() for k, v in earlier.filter.state_dict().items()}
    cfg = TrainingConfig(
        filter=FilterConfig(hidden=8),
        gnn=GNNConfig(hidden=8, iterations=2),
        filter_epochs=1,
        gnn_epochs=1,
        gnn_sectors=2,
        max_neighbours=8,
    )
    seen = []
    bundle = training.train_pipeline(
        events[:1], events[1:], cfg, report=seen.append, reuse=earlier, reuse_stages=("embedding",)
    )
    assert [r.stage for r in seen] == ["filter", "gnn"]
    state = bundle.embedding.state_dict()
    assert all(torch.equal(v, state[k]) for k, v in before.items())
    # the filter is a new one; the earlier bundle's is untouched
    assert bundle.filter is not earlier.filter
    assert all(torch.equal(v, earlier.filter.state_dict()[k]) for k, v in filter_before.items())
    assert bundle.pipeline.radius == 5.0
    record = bundle.training.reused_stages
    assert record.stages == ("embedding",) and record.filter_cut is None
    assert record.fingerprints == earlier.fingerprints(["embedding"])
    assert "filter_cut" not in record.to_json()
    assert [h.stage for h in bundle.metrics.history] == ["embedding", "filter", "gnn"]
    with pytest.raises(ConfigError, match="reused stages 'filter': expected 'embedding' or"):
        training.train_pipeline(
            events[:1], events[1:], cfg, reuse=earlier, reuse_stages=("filter",)
        )


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_training_on_cuda_labels_the_same_graphs_and_returns_cpu_models():
    rng = np.random.default_rng(5)
    particles = [int(p) for p in rng.integers(0, 9, size=120)]
    event = make_event(particles, {p: 0.4 + 0.3 * p for p in range(1, 9)})
    cfg = TrainingConfig(target_pt_gev=1.0, max_neighbours=200)
    embedding = EmbeddingMLP(EmbeddingConfig(hidden=8, latent_dim=3))
    on_cpu = training._graph(embedding, training._prepare(event, cfg), 1e9, cfg)
    on_gpu = training._graph(
        embedding.cuda(), training._prepare(event, cfg, device="cuda"), 1e9, cfg
    )
    # every pair inside the radius: the CUDA K1 must give the CPU edge list, labels and weights
    assert on_gpu.edges.is_cuda
    assert torch.equal(on_gpu.edges.cpu(), on_cpu.edges)
    assert torch.equal(on_gpu.truth.cpu(), on_cpu.truth)
    assert torch.equal(on_gpu.weight.cpu(), on_cpu.weight)

    events = [make_event(particles, {p: 0.4 + 0.3 * p for p in range(1, 9)}, event_id=i)
              for i in range(2)]  # fmt: skip
    small = TrainingConfig(
        target_pt_gev=1.0,
        embedding=EmbeddingConfig(hidden=8, latent_dim=3),
        filter=FilterConfig(hidden=8),
        gnn=GNNConfig(hidden=8, iterations=2),
        embedding_epochs=1,
        embedding_steps_per_event=2,
        filter_epochs=1,
        gnn_epochs=1,
        gnn_sectors=2,
        max_neighbours=8,
    )
    seen = []
    bundle = training.train_pipeline(events[:1], events[1:], small, seen.append, device="cuda")
    assert [r.stage for r in seen] == ["embedding", "filter", "gnn"]
    for model in (bundle.embedding, bundle.filter, bundle.gnn):
        assert {p.device.type for p in model.parameters()} == {"cpu"}
    # a pipeline on the GPU runs copies of an in-memory CPU bundle and leaves the bundle be
    result = Pipeline(bundle, device="cuda").reconstruct(events[1])
    assert result.labels.shape == (120,)
    assert {p.device.type for p in bundle.gnn.parameters()} == {"cpu"}


def test_pairs_inside_counts_true_pairs_found_in_either_direction():
    edges = torch.tensor([[0, 3, 2, 5], [1, 2, 4, 0]])
    # (0,1) as is, (2,3) reversed, (1,2) and (4,5) missing
    pairs = torch.tensor([[0, 2, 1, 4], [1, 3, 2, 5]])
    assert training._pairs_inside([edges], [pairs], [6]) == 0.5
    empty = torch.zeros((2, 0), dtype=torch.long)
    assert training._pairs_inside([edges, edges], [pairs, empty], [6, 6]) == 0.5


class _FixedLatents(torch.nn.Module):
    """An 'embedding' that puts point i at ``points[i]`` whatever its features."""

    def __init__(self, points: list[list[float]]) -> None:
        super().__init__()
        self.points = torch.tensor(points)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.points[: len(features)]


def test_latent_negatives_are_the_nearest_other_particles_inside_the_margin():
    # latent positions on a line; particles 0, 0, 1, noise, 2
    event = make_event([1, 1, 2, 0, 3], {1: 2.0, 2: 2.0, 3: 2.0})
    data = training._Prepared(
        features=torch.from_numpy(event.features()),
        particle=torch.tensor([0, 0, 1, -1, 2]),
        true=torch.zeros((2, 0), dtype=torch.long),
        negatives=torch.zeros((2, 0), dtype=torch.long),
        event=event,
    )
    model = _FixedLatents([[0.0], [0.1], [0.25], [5.0], [5.05]])

    def pairs(k: int, radius: float) -> set[tuple[int, int]]:
        found = training._latent_negatives(model, data, k, radius)
        return set(map(tuple, found.t().tolist()))

    # 0–1 share a particle; 3–4 are beyond the margin of 0–2; noise pairs with anyone
    assert pairs(2, 0.5) == {(0, 2), (1, 2), (2, 1), (2, 0), (3, 4), (4, 3)}
    # k = 1: each point's nearest only, dropped when it is of its own particle
    assert pairs(1, 0.5) == {(2, 1), (3, 4), (4, 3)}
    assert pairs(2, 0.2) == {(1, 2), (2, 1), (3, 4), (4, 3)}  # 0–2 is 0.25 apart
    assert pairs(4, 0.01) == set()


def _two_embedding_epochs(**options) -> TrainingConfig:
    """Tiny models, two embedding epochs of two steps, one epoch of the filter and the GNN."""
    return TrainingConfig(
        embedding=EmbeddingConfig(hidden=8, latent_dim=3),
        filter=FilterConfig(hidden=8),
        gnn=GNNConfig(hidden=8, iterations=1),
        embedding_epochs=2,
        embedding_steps_per_event=2,
        filter_epochs=1,
        gnn_epochs=1,
        gnn_sectors=2,
        max_neighbours=8,
        patience=5,
        **options,
    )


def test_latent_negatives_join_the_hard_pairs_of_every_epoch(monkeypatch):
    events = _events(3)
    mined: list[tuple[int, float, int]] = []
    real = training._latent_negatives

    def spy(model, data, k, radius):
        out = real(model, data, k, radius)
        mined.append((k, radius, out.shape[1]))
        return out

    monkeypatch.setattr(training, "_latent_negatives", spy)
    cfg = _two_embedding_epochs(latent_negatives=3)
    training.train_pipeline(events[:1], events[1:], cfg)
    # per epoch: once per training event, then once per validation event (its loss counts them
    # too), with the configured k and the margin as radius
    assert [(k, r) for k, r, _ in mined] == [(3, 1.0)] * 4
    assert all(n > 0 for _, _, n in mined)
    with pytest.raises(ConfigError, match="--latent-negatives must be 0 or more, got -1"):
        TrainingConfig(latent_negatives=-1)


def test_fine_tuning_trains_a_copy_of_the_reused_embedding_and_chooses_its_radius_again():
    events = _events(5)
    earlier = _earlier(TrainingRecord(config={"seed": 7}), ("embedding", "filter"))
    before = {k: v.clone() for k, v in earlier.embedding.state_dict().items()}
    cfg = _two_embedding_epochs(fine_tune_embedding=True)
    seen = []
    bundle = training.train_pipeline(
        events[:1], events[1:], cfg, report=seen.append, reuse=earlier, reuse_stages=("embedding",)
    )
    assert [r.stage for r in seen] == ["embedding", "embedding", "filter", "gnn"]
    tuned = bundle.embedding.state_dict()
    assert tuned.keys() == before.keys()
    assert any(not torch.equal(v, tuned[k]) for k, v in before.items())  # trained further
    assert all(torch.equal(v, earlier.embedding.state_dict()[k]) for k, v in before.items())
    assert bundle.pipeline.radius != 5.0  # chosen again on the tuned embedding
    assert bundle.training.config["fine_tune_embedding"] is True
    # the earlier embedding's log, then the fine-tuning's epochs
    assert [h.stage for h in bundle.metrics.history] == ["embedding"] * 3 + ["filter", "gnn"]
    for stages in (("embedding", "filter"),):
        with pytest.raises(ConfigError, match="fine-tuning the embedding needs a reused bundle"):
            training.train_pipeline(events[:1], events[1:], cfg, reuse=earlier, reuse_stages=stages)
    with pytest.raises(ConfigError, match="fine-tuning the embedding needs a reused bundle"):
        training.train_pipeline(events[:1], events[1:], cfg)


def test_warm_start_trains_copies_of_the_reused_filter_and_gnn():
    events = _events(6)
    earlier = _earlier(TrainingRecord(config={"seed": 7}), ("embedding", "filter"))
    before = {
        stage: {k: v.clone() for k, v in getattr(earlier, stage).state_dict().items()}
        for stage in ("filter", "gnn")
    }

    def run(gnn: GNNConfig | None = None, **options) -> ModelBundle:
        cfg = _two_embedding_epochs(**options)
        if gnn is not None:
            cfg = dataclasses.replace(cfg, gnn=gnn)
        return training.train_pipeline(
            events[:1], events[1:], cfg, reuse=earlier, reuse_stages=("embedding",)
        )

    def same(model: torch.nn.Module, weights: dict[str, torch.Tensor]) -> bool:
        state = model.state_dict()
        return state.keys() == weights.keys() and all(
            torch.equal(v, state[k]) for k, v in weights.items()
        )

    # with a learning rate of 0 the trained stages are exactly where they started
    still = run(warm_start=True, filter_lr=0.0, gnn_lr=0.0)
    fresh = run(warm_start=False, filter_lr=0.0, gnn_lr=0.0)
    for stage, weights in before.items():
        assert same(getattr(still, stage), weights)
        assert not same(getattr(fresh, stage), weights)
    assert still.training.config["warm_start"] is True
    # the GNN's iterations share their weights: a warm start may change how many there are
    deeper = run(warm_start=True, filter_lr=0.0, gnn_lr=0.0, gnn=GNNConfig(hidden=8, iterations=3))
    assert same(deeper.gnn, before["gnn"])
    assert deeper.gnn.config == GNNConfig(hidden=8, iterations=3)
    assert earlier.gnn.config == GNNConfig(hidden=8, iterations=1)
    # trained for real, they move away from the start; the earlier bundle stays as it was
    moved = run(warm_start=True)
    for stage, weights in before.items():
        assert not same(getattr(moved, stage), weights)
        assert same(getattr(earlier, stage), weights)


def test_warm_start_needs_a_reused_bundle_of_the_same_sizes():
    events = _events(7)
    earlier = _earlier(TrainingRecord(config={"seed": 7}), ("embedding", "filter"))
    with pytest.raises(ConfigError, match=r"a warm start needs a bundle to start from \(--reuse"):
        training.train_pipeline(events[:1], events[1:], _two_embedding_epochs(warm_start=True))
    wider = dataclasses.replace(
        _two_embedding_epochs(warm_start=True), gnn=GNNConfig(hidden=16, iterations=1)
    )
    earlier = dataclasses.replace(earlier, path=Path("earlier"))
    with pytest.raises(
        ConfigError,
        match=r"warm start from earlier: its GNN is "
        r"\{'hidden': 8, 'iterations': 1, 'mlp_layers': 2\}, "
        r"this run asks for \{'hidden': 16, 'iterations': 1, 'mlp_layers': 2\}",
    ):
        training.train_pipeline(
            events[:1], events[1:], wider, reuse=earlier, reuse_stages=("embedding",)
        )


class _FixedScores(FilterMLP):
    """A filter whose logits are given: edge i of a graph scores ``sigmoid(logits[i])``."""

    def __init__(self, scores: list[float]) -> None:
        super().__init__(FilterConfig(hidden=4))
        self.fixed = torch.logit(torch.tensor(scores))

    def logits_in_chunks(self, features, edges, latent, chunk_edges):
        return self.fixed[: edges.shape[1]]


def _scored_graph(truth: list[bool]) -> training._Graph:
    n = len(truth)
    return training._Graph(
        edges=torch.zeros((2, n), dtype=torch.long),
        truth=torch.tensor(truth),
        weight=torch.ones(n),
        latent=torch.zeros((1, 3)),
        features=torch.zeros((1, 3)),
        event=None,
        particle=torch.zeros(1, dtype=torch.long),
    )


def test_filter_cut_keeps_the_asked_fraction_of_true_edges_within_its_bounds():
    scores = [0.2, 0.9, 0.4, 0.05, 0.6, 0.8]
    graph = _scored_graph([True, False, True, False, True, True])  # true: 0.2 0.4 0.6 0.8
    model = _FixedScores(scores)
    # numpy's linear quantile of the true scores at 1 − efficiency
    assert training._filter_cut(model, [graph], 0.75) == pytest.approx(0.35)
    assert training._filter_cut(model, [graph], 1.0) == pytest.approx(0.2)
    assert training._filter_cut(model, [graph], 0.25) == 0.5  # at most 0.5
    low = _FixedScores([0.001, 0.002])
    assert training._filter_cut(low, [_scored_graph([True, True])], 0.5) == 0.01  # at least 0.01


def test_a_reused_filter_keeps_its_cut_unless_it_is_chosen_again():
    events = _events(8)
    earlier = _earlier(TrainingRecord(config={"seed": 7}), ("embedding", "filter"))
    cfg = _two_embedding_epochs()
    kept = training.train_pipeline(events[:1], events[1:], cfg, reuse=earlier)
    assert kept.pipeline.filter_cut == 0.2
    again = dataclasses.replace(cfg, recut_filter=True, filter_efficiency=1.0)
    recut = training.train_pipeline(events[:1], events[1:], again, reuse=earlier)
    assert recut.pipeline.filter_cut != 0.2
    assert 0.01 <= recut.pipeline.filter_cut <= 0.5
    assert recut.training.config["recut_filter"] is True
    assert recut.training.reused_stages.filter_cut == 0.2  # the reused bundle's, as it was
    with pytest.raises(ConfigError, match="choosing a filter's cut again needs a reused filter"):
        training.train_pipeline(
            events[:1], events[1:], again, reuse=earlier, reuse_stages=("embedding",)
        )
    with pytest.raises(ConfigError, match=r"--filter-efficiency must be in \(0, 1\], got 1.5"):
        TrainingConfig(filter_efficiency=1.5)

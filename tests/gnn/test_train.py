"""Training internals: soft edges left out of the loss, sector sub-graphs, reusing a bundle."""

from __future__ import annotations

import numpy as np
import torch

from acts_gnn.gnn import train as training
from acts_gnn.gnn.bundle import ModelBundle, PipelineConfig
from acts_gnn.gnn.models import (
    EmbeddingConfig,
    EmbeddingMLP,
    FilterConfig,
    FilterMLP,
    GNNConfig,
    InteractionGNN,
)
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


def test_soft_edges_get_weight_zero_exactly():
    # particle 1 is a target (2 GeV), particle 2 is soft (0.5 GeV), 0 is noise
    event = make_event([1, 1, 2, 2, 0, 1], {1: 2.0, 2: 0.5})
    edges = np.array([[0, 2, 1, 0, 4, 3], [1, 3, 5, 2, 5, 4]])
    assert same_particle(event, edges).tolist() == [True, True, True, False, False, False]
    data = training._Prepared(
        features=torch.from_numpy(event.features()),
        particle=torch.zeros(6, dtype=torch.long),
        true=torch.zeros((2, 0), dtype=torch.long),
        negatives=torch.zeros((2, 0), dtype=torch.long),
        event=event,
    )
    embedding = EmbeddingMLP(EmbeddingConfig(hidden=4, latent_dim=2))
    for ignore, expected in ((True, [1, 0, 1, 1, 1, 1]), (False, [1, 1, 1, 1, 1, 1])):
        cfg = training.TrainingConfig(target_pt_gev=1.0, ignore_soft_edges=ignore)
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
        got = [pairs.get((a, b), pairs.get((b, a))) for a, b in edges.T]
        assert got == expected
        assert [truth.get((a, b), truth.get((b, a))) for a, b in edges.T] == [
            True, False, True, False, False, False,
        ]  # fmt: skip


def test_sector_subgraph_gives_the_logits_of_the_whole_graph():
    torch.manual_seed(0)
    n = 300
    features = torch.stack(
        [torch.rand(n) + 0.03, torch.rand(n) * 2 - 1, torch.rand(n) * 2 - 1], dim=1
    )
    edges = torch.randint(0, n, (2, 900))
    graph = training._Graph(
        edges=edges,
        truth=torch.rand(900) < 0.2,
        weight=torch.ones(900),
        latent=torch.zeros(n, 2),
        features=features,
        event=None,  # type: ignore[arg-type]
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


def test_reuse_keeps_embedding_and_filter_and_trains_the_gnn():
    rng = np.random.default_rng(3)
    particles = [int(p) for p in rng.integers(1, 9, size=80)]
    events = [
        make_event(particles, {p: 0.5 + p for p in range(1, 9)}, event_id=i) for i in range(2)
    ]
    earlier = ModelBundle(
        embedding=EmbeddingMLP(EmbeddingConfig(hidden=8, latent_dim=3)),
        filter=FilterMLP(FilterConfig(hidden=8)),
        gnn=InteractionGNN(GNNConfig(hidden=8, iterations=1)),
        pipeline=PipelineConfig(radius=5.0, filter_cut=0.2),
        training={"seed": 7, "data": "earlier run"},
        metrics={"history": [{"stage": "filter", "epoch": 0, "train_loss": 1.0, "val_loss": 1.0,
                              "val_efficiency": 0.5, "val_purity": 0.5, "seconds": 1.0}]},
    )  # fmt: skip
    before = {k: v.clone() for k, v in earlier.filter.state_dict().items()}
    cfg = training.TrainingConfig(
        gnn=GNNConfig(hidden=8, iterations=2), gnn_epochs=1, gnn_sectors=2, max_neighbours=8
    )
    seen = []
    bundle = training.train_pipeline(events[:1], events[1:], cfg, report=seen.append, reuse=earlier)
    assert [r.stage for r in seen] == ["gnn"]
    assert bundle.embedding is earlier.embedding and bundle.filter is earlier.filter
    assert all(torch.equal(v, bundle.filter.state_dict()[k]) for k, v in before.items())
    assert (bundle.pipeline.radius, bundle.pipeline.filter_cut) == (5.0, 0.2)
    assert bundle.gnn.config == GNNConfig(hidden=8, iterations=2)
    record = bundle.training["reused_stages"]
    assert record["stages"] == ["embedding", "filter"]
    assert record["training"] == {"seed": 7, "data": "earlier run"}
    assert [h["stage"] for h in bundle.metrics["history"]] == ["filter", "gnn"]

"""The training recipe's choice of cuts on validation events."""

from __future__ import annotations

import numpy as np
import torch

from acts_gnn.gnn.bundle import ModelBundle, PipelineConfig
from acts_gnn.gnn.models import (
    EmbeddingConfig,
    EmbeddingMLP,
    FilterConfig,
    FilterMLP,
    GNNConfig,
    InteractionGNN,
)
from acts_gnn.reco.recipe import GNN_CUTS, STITCH_CUTS, choose_cuts
from tests.conftest import make_event


def test_choose_cuts_scans_every_pair_and_takes_the_best():
    torch.manual_seed(0)
    bundle = ModelBundle(
        embedding=EmbeddingMLP(EmbeddingConfig(hidden=8, latent_dim=2)),
        filter=FilterMLP(FilterConfig(hidden=8)),
        gnn=InteractionGNN(GNNConfig(hidden=8, iterations=1)),
        pipeline=PipelineConfig(radius=10.0, max_neighbours=6, filter_cut=0.0),
    )
    rng = np.random.default_rng(0)
    event = make_event([int(p) for p in rng.integers(1, 6, 60)], {p: 2.0 for p in range(1, 6)})
    cut, stitch, table = choose_cuts(bundle, [event])
    assert [(row["gnn_cut"], row["stitch_cut"]) for row in table] == [
        (c, s) for c in GNN_CUTS for s in STITCH_CUTS
    ]
    values = [row["efficiency"] - row["fake_rate"] for row in table]
    best = table[int(np.nanargmax(values))]
    assert (cut, stitch) == (best["gnn_cut"], best["stitch_cut"])

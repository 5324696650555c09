"""A stand-in for the pipeline in recipe tests: fixed edges and GNN scores, every event."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from acts_gnn.gnn.pipeline import ScoredGraph


def scored_graph(
    features: np.ndarray, edges: np.ndarray, scores: np.ndarray, config, quality=None
) -> ScoredGraph:
    """The pipeline's scored graph of ``features`` with these ``edges`` and GNN ``scores``."""
    return ScoredGraph(
        n=features.shape[0],
        r=features[:, 0],
        edges=edges,
        scores=scores,
        stages_s={},
        n_edges_graph=edges.shape[1],
        config=config,
        features=features,
        quality=quality,
    )


def tiny_bundle(pipeline, **records):
    """A model bundle of width-4 models (never run: the recipe tests replace the pipeline) with
    these pipeline settings and ``records`` (``training``, ``metrics``)."""
    from acts_gnn.gnn.bundle import ModelBundle
    from acts_gnn.gnn.models import (
        EmbeddingConfig,
        EmbeddingMLP,
        FilterConfig,
        FilterMLP,
        GNNConfig,
        InteractionGNN,
    )

    return ModelBundle(
        embedding=EmbeddingMLP(EmbeddingConfig(hidden=4)),
        filter=FilterMLP(FilterConfig(hidden=4)),
        gnn=InteractionGNN(GNNConfig(hidden=4, iterations=1)),
        pipeline=pipeline,
        **records,
    )


def scored_pipeline(edges: np.ndarray, scores: np.ndarray, keep_features: bool = False) -> type:
    """A class with :class:`~acts_gnn.gnn.pipeline.Pipeline`'s constructor and ``run_scores``
    whose scored graph is always ``edges`` [2, E] with ``scores`` [E] (``keep_features``: the
    graph carries the event's features, as the quality selection needs)."""

    class ScoredPipeline:
        def __init__(self, bundle, device: str = "cpu") -> None:
            self.config = bundle.pipeline

        def run_scores(self, features: np.ndarray) -> ScoredGraph:
            graph = scored_graph(features, edges, scores, self.config)
            return graph if keep_features else replace(graph, features=None)

    return ScoredPipeline

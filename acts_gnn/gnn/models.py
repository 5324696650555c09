"""The three models of the pipeline (plain PyTorch).

Layer: gnn.

* :class:`EmbeddingMLP` — metric learning (Exa.TrkX: X. Ju et al., "Performance of a geometric
  deep learning pipeline for HL-LHC particle tracking", Eur. Phys. J. C 81 (2021) 876,
  arXiv:2103.06995): space points of one particle land close together in a D-dimensional space.
* :class:`FilterMLP` — edge filter of the same paper: a cheap score for each candidate edge.
* :class:`InteractionGNN` — the interaction network of GNN4ITk (ATLAS, "Graph Neural Network
  Track Reconstruction for the ATLAS ITk", arXiv:2203.08800; after Battaglia et al.,
  arXiv:1612.00222): encoders, residual edge and node updates, an edge-score decoder.

All three take the contract features ``[N, 3]`` (r/1000, φ/π, z/1000) and derive their inputs with
:mod:`acts_gnn.gnn.geometry`.
"""

from __future__ import annotations

import torch
from torch import nn

from acts_gnn.gnn.configs import EmbeddingConfig, FilterConfig, GNNConfig
from acts_gnn.gnn.geometry import (
    EDGE_INPUTS,
    NODE_INPUTS,
    edge_inputs,
    inverse_pt,
    node_inputs,
    point_eta,
)

# the sizes' settings live in configs (torch-free); here beside the networks they make
__all__ = [
    "EmbeddingConfig",
    "EmbeddingMLP",
    "FilterConfig",
    "FilterMLP",
    "GNNConfig",
    "InteractionGNN",
    "mlp",
]


def mlp(sizes: list[int], *, output_activation: bool = False) -> nn.Sequential:
    """Linear layers with LayerNorm and SiLU between them (and after the last if asked)."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        last = i == len(sizes) - 2
        if not last or output_activation:
            layers.append(nn.LayerNorm(sizes[i + 1]))
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class EmbeddingMLP(nn.Module):
    """Features → latent position.

    Shapes: ``features`` float32 [N, 3] → float32 [N, latent_dim].
    """

    def __init__(self, config: EmbeddingConfig = EmbeddingConfig()) -> None:
        super().__init__()
        self.config = config
        self.net = mlp([NODE_INPUTS] + [config.hidden] * config.layers + [config.latent_dim])

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Embed the points."""
        return self.net(node_inputs(features))


class FilterMLP(nn.Module):
    """Edge logits from end-point features.

    Shapes: ``features`` [N, 3], ``edges`` int64 [2, E], ``latent_distance`` [E] or None →
    logits float32 [E].
    """

    def __init__(self, config: FilterConfig = FilterConfig()) -> None:
        super().__init__()
        self.config = config
        width = 2 * NODE_INPUTS + EDGE_INPUTS + int(config.use_latent_distance)
        self.net = mlp([width] + [config.hidden] * config.layers + [1])

    def forward(
        self,
        features: torch.Tensor,
        edges: torch.Tensor,
        latent_distance: torch.Tensor | None = None,
        nodes: torch.Tensor | None = None,
        eta: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Score the edges (logits).

        ``nodes`` (:func:`node_inputs`) and ``eta`` (:func:`point_eta`) of every point, when the
        caller has them already: the same logits, without computing them again per call.
        """
        if nodes is None:
            nodes = node_inputs(features)
        parts = [nodes[edges[0]], nodes[edges[1]], edge_inputs(features, edges, eta)]
        if self.config.use_latent_distance:
            if latent_distance is None:
                raise ValueError("this filter was built to use the latent distance")
            parts.append(latent_distance.unsqueeze(1))
        return self.net(torch.cat(parts, dim=1)).squeeze(1)

    def logits_in_chunks(
        self,
        features: torch.Tensor,
        edges: torch.Tensor,
        latent: torch.Tensor,
        chunk_edges: int,
    ) -> torch.Tensor:
        """Logits of all ``edges``, ``chunk_edges`` at a time so memory stays bounded.

        The latent distance of each edge is taken from ``latent`` [N, D] chunk by chunk; the
        points' own inputs are computed once.
        """
        nodes, eta = node_inputs(features), point_eta(features)
        parts = []
        for start in range(0, edges.shape[1], chunk_edges):
            chunk = edges[:, start : start + chunk_edges]
            distance = (latent[chunk[0]] - latent[chunk[1]]).norm(dim=1)
            parts.append(self(features, chunk, distance, nodes, eta))
        return torch.cat(parts) if parts else features.new_zeros(0)

    def scores_in_chunks(
        self,
        features: torch.Tensor,
        edges: torch.Tensor,
        latent: torch.Tensor,
        chunk_edges: int,
        max_inverse_pt: float | None = None,
    ) -> torch.Tensor:
        """Scores (sigmoid of the logits) of all ``edges``, in chunks as :meth:`logits_in_chunks`.

        ``max_inverse_pt``: a cheap geometric pre-selection before the network — an edge whose
        circle through the beam line is tighter than this (:func:`inverse_pt`: 0.36 · |q/pT| in
        1/GeV) is not scored and gets 0, below any cut. (A score, not a logit of −∞: the sigmoid
        of an infinity raises a floating-point exception, which ACTS's sequencer counts.)
        """
        nodes, eta = node_inputs(features), point_eta(features)
        parts = []
        for start in range(0, edges.shape[1], chunk_edges):
            chunk = edges[:, start : start + chunk_edges]
            if max_inverse_pt is None:
                kept, wanted = chunk, None
            else:
                wanted = inverse_pt(features, chunk).abs() <= max_inverse_pt
                kept = chunk[:, wanted]
            distance = (latent[kept[0]] - latent[kept[1]]).norm(dim=1)
            scores = torch.sigmoid(self(features, kept, distance, nodes, eta))
            if wanted is not None:
                every = torch.zeros(chunk.shape[1], dtype=scores.dtype, device=scores.device)
                every[wanted] = scores
                scores = every
            parts.append(scores)
        return torch.cat(parts) if parts else features.new_zeros(0)


def _sum_into(index: torch.Tensor, values: torch.Tensor, n: int) -> torch.Tensor:
    """[n, h]: row v is the sum of the rows of ``values`` [E, h] whose ``index`` [E] is v.

    ``scatter_add_`` with the index broadcast over the features: the operation (and so the
    summation order and the result, bit for bit) of torch_geometric's "add" aggregation, which
    the shipped GNN was trained with — without importing torch_geometric (seconds per process)
    or its generated module files (one left in the temporary directory by every process).
    """
    return values.new_zeros(n, values.shape[1]).scatter_add_(
        0, index.unsqueeze(1).expand_as(values), values
    )


class InteractionGNN(nn.Module):
    """Edge classification by message passing.

    Each iteration updates every edge from its two nodes and itself, then every node from itself
    and the sums of its incoming and outgoing edges, both with residual connections.

    Shapes: ``features`` [N, 3], ``edges`` int64 [2, E] → logits float32 [E].
    """

    def __init__(self, config: GNNConfig = GNNConfig()) -> None:
        super().__init__()
        self.config = config
        h, depth = config.hidden, config.mlp_layers
        self.node_encoder = mlp([NODE_INPUTS] + [h] * depth, output_activation=True)
        self.edge_encoder = mlp([2 * h + EDGE_INPUTS] + [h] * depth, output_activation=True)
        self.edge_update = mlp([3 * h] + [h] * depth, output_activation=True)
        self.node_update = mlp([3 * h] + [h] * depth, output_activation=True)
        self.decoder = mlp([3 * h] + [h] * (depth - 1) + [1])

    def forward(
        self, features: torch.Tensor, edges: torch.Tensor, chunk_edges: int | None = None
    ) -> torch.Tensor:
        """Edge logits after ``iterations`` rounds of message passing.

        ``chunk_edges`` runs the per-edge networks that many edges at a time (inference: the
        activations stay in cache; the logits are the same as in one piece). None: one piece,
        as training needs for autograd.
        """
        n = features.shape[0]
        src, dst = edges[0], edges[1]
        chunk = chunk_edges or max(edges.shape[1], 1)
        h = self.config.hidden

        def per_edge(net: nn.Sequential, x: torch.Tensor, rest) -> torch.Tensor:
            # net's first layer sees [x_src, x_dst, rest]: its x parts are applied once per node
            # and gathered, W·[a, b, c] = W_a·a + W_b·b + W_c·c (half the multiplications of
            # the edge networks, and no [E, 3h] concatenation)
            first, tail = net[0], net[1:]
            from_src = x @ first.weight[:, :h].T
            from_dst = x @ first.weight[:, h : 2 * h].T
            w_rest = first.weight[:, 2 * h :].T
            starts = range(0, edges.shape[1], chunk) or [0]  # no edges: one empty piece
            pieces = []
            for start in starts:
                s = slice(start, start + chunk)
                y = torch.addmm(first.bias, rest(s), w_rest) + from_src[src[s]] + from_dst[dst[s]]
                pieces.append(tail(y))
            return torch.cat(pieces) if len(pieces) != 1 else pieces[0]

        x = self.node_encoder(node_inputs(features))
        eta = point_eta(features)
        e = per_edge(self.edge_encoder, x, lambda s: edge_inputs(features, edges[:, s], eta))
        for _ in range(self.config.iterations):
            e = e + per_edge(self.edge_update, x, lambda s, e=e: e[s])
            incoming = _sum_into(dst, e, n)
            outgoing = _sum_into(src, e, n)
            x = x + self.node_update(torch.cat([x, incoming, outgoing], dim=1))
        return per_edge(self.decoder, x, lambda s: e[s]).squeeze(1)

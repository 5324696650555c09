"""Training of the three models, stage by stage, and the choice of radius and cuts.

Layer: gnn.

1. **Embedding** — contrastive hinge loss: pairs of consecutive space points of a particle with
   pT ≥ ``target_pt_gev`` are pulled together (d²), pairs of different particles pushed beyond the
   margin (max(0, m − d)²); each step draws *hard negatives* besides random pairs: points of
   other particles that are neighbours in (η, φ) and, with ``latent_negatives`` > 0, the nearest
   points of other particles in the current embedding (up to that many per point inside the
   margin, mined again at the start of every epoch: the very pairs a radius graph would join).
   The radius is then set so that ``radius_efficiency`` of the true pairs of the validation
   events fall inside it.
2. **Filter** — binary cross-entropy on the K1 graphs of the training events; an edge is true
   when both ends come from one particle with pT ≥ ``target_pt_gev``. Its cut keeps
   ``filter_efficiency`` of the true validation edges.
3. **GNN** — binary cross-entropy on the filtered graphs, one event (or φ sector of it) per step;
   a sector step runs on the sub-graph of the points its edges touch (and with ``truncate`` > 0
   that share of the steps on the part of it inside a random region of the detector; with
   ``stop_tracks`` > 0 that share of its particles cut short, as tracks that stop or start
   inside the detector). Its cut
   is left at 0.5 here; :mod:`acts_gnn.gnn.recipe` tunes it on track-level metrics.

An edge joining two points of one particle *below* ``target_pt_gev`` (a soft edge) is, by
``soft_edges``:

- ``"ignore"`` (the default): neither true nor false. It is left out of the filter and GNN losses
  and of the validation efficiency and purity (the weighting of the Exa.TrkX/acorn recipes).
- ``"true"``: true, like a target's edge, so that soft particles are built as tracks too. Tried
  once (2026-11, on the default embedding and filter): soft particles then made long candidates
  joining several particles, and half the candidates were fakes.
- ``"false"``: false. This asks the models to draw a pT threshold from the curvature of two
  points, which costs target edges in the dense barrel.

A true edge weighs (pT / 1 GeV)^``true_edge_pt_power`` in the filter and GNN losses (pT clipped
to 1–10 GeV; 0, the library's default, weighs all alike). The positive-class weight of
:func:`_bce` is computed on these weights, so the balance between true and false edges is kept
and only its share between soft and hard particles moves: high-pT particles are 3.5% of the true
edges, and before weighting the filter and the GNN lost 3% and 17% of the targets above 10 GeV.

Training runs on ``device`` (``"cpu"`` or a CUDA device); random draws come from one CPU
generator either way, so the sequence of batches does not depend on the device.

``reuse`` takes the embedding and the filter (with their radius and cut) from an existing bundle
and trains the GNN only; with ``reuse_stages=("embedding",)`` it takes the embedding and its
radius only and trains the filter and the GNN — and with ``fine_tune_embedding`` it trains that
embedding further first (and chooses its radius again). ``warm_start`` starts the filter and the
GNN trained again from the reused bundle's weights: after a fine-tuned embedding they need
adapting to its graphs, not learning anew.

Each stage reports validation edge efficiency and purity per epoch and stops early when the
validation loss has not improved for ``patience`` epochs (the best weights are kept). Seeds fix
torch and numpy, so a run is repeatable on one machine.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from acts_gnn.cuda.dispatch import radius_graph
from acts_gnn.errors import ConfigError, InputFormatError
from acts_gnn.event import NOISE_PARTICLE_ID, Event
from acts_gnn.gnn.bundle import ModelBundle, PipelineConfig
from acts_gnn.gnn.configs import REUSABLE_STAGES, TrainingConfig, check_reuse
from acts_gnn.gnn.models import EmbeddingMLP, FilterMLP, InteractionGNN
from acts_gnn.gnn.records import BundleMetrics, EpochReport, ReuseRecord, TrainingRecord
from acts_gnn.gnn.truth_graph import edge_truth, same_particle, spacepoint_pt, true_edges

__all__ = ["train_pipeline"]


@dataclass
class _Prepared:
    features: torch.Tensor
    particle: torch.Tensor  # dense int64 particle index, -1 noise
    true: torch.Tensor  # [2, T]
    negatives: torch.Tensor  # [2, M] pairs of different particles close in (η, φ)
    event: Event


def _geometric_negatives(
    features: np.ndarray, anchors: np.ndarray, particle: np.ndarray, k: int
) -> np.ndarray:
    """Pairs (anchor, other) of different particles that are neighbours in (η, φ).

    These are the pairs a radius graph is tempted to connect: the embedding has to learn to push
    them apart.
    """
    from scipy.spatial import cKDTree

    r, phi, z = features[:, 0], features[:, 1] * np.pi, features[:, 2]
    eta = np.arcsinh(z / np.maximum(r, 1e-4))
    points = np.column_stack([eta, np.cos(phi), np.sin(phi), r])
    if anchors.size == 0:
        return np.zeros((2, 0), np.int64)
    _, index = cKDTree(points).query(points[anchors], k=min(k + 1, len(points)))
    source = np.repeat(anchors, index.shape[1]).reshape(index.shape)
    return _other_particle_pairs(source.ravel(), index.ravel(), particle)


def _other_particle_pairs(
    source: np.ndarray, other: np.ndarray, particle: np.ndarray
) -> np.ndarray:
    """[2, M] int64: the pairs (source, other) of two different particles (noise, -1, belongs
    to none, so a noise point differs from every point, itself and other noise included)."""
    different = (particle[source] != particle[other]) | (particle[source] < 0)
    return np.stack([source[different], other[different]]).astype(np.int64)


def _prepare(
    event: Event, cfg: TrainingConfig, negatives: bool = True, device: str = "cpu"
) -> _Prepared:
    """Features, truth pairs and (for embedding training, ``negatives``) hard negatives."""
    assert event.truth is not None
    _, dense = np.unique(event.truth.particle_id, return_inverse=True)
    dense = dense.astype(np.int64)
    dense[event.truth.particle_id == 0] = -1
    features = event.features()
    true = true_edges(event, cfg.target_pt_gev)
    if true.shape[1] == 0:  # nothing to sample positive pairs from (it was an internal error)
        raise InputFormatError(
            event.source or f"event {event.event_id}",
            "",
            f"no particle above --target-pt {cfg.target_pt_gev:g} GeV with two points: nothing "
            "to train on in this event",
        )
    mined = (
        _geometric_negatives(features, np.unique(true), dense, 24)
        if negatives
        else np.zeros((2, 0), np.int64)
    )
    return _Prepared(
        features=torch.from_numpy(features).to(device),
        particle=torch.from_numpy(dense).to(device),
        true=torch.from_numpy(true).to(device),
        negatives=torch.from_numpy(mined).to(device),
        event=event,
    )


class _BestWeights:
    """Keeps the weights of the epoch with the lowest validation loss and says when to stop."""

    def __init__(self, model: nn.Module, patience: int) -> None:
        self.model, self.patience = model, patience
        self.best, self.best_loss, self.stale = copy.deepcopy(model.state_dict()), np.inf, 0

    def stop_after(self, val_loss: float) -> bool:
        """Record an epoch; True once ``patience`` epochs passed without improvement."""
        if val_loss < self.best_loss:
            self.best, self.best_loss, self.stale = (
                copy.deepcopy(self.model.state_dict()),
                val_loss,
                0,
            )
            return False
        self.stale += 1
        return self.stale >= self.patience

    def restore(self) -> None:
        """Load the best weights and switch to evaluation mode."""
        self.model.load_state_dict(self.best)
        self.model.eval()


def _step(
    optimiser: torch.optim.Optimizer,
    loss: torch.Tensor,
    schedule: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> float:
    """One optimiser step on ``loss`` (and one of the learning-rate schedule); the loss."""
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    if schedule is not None:
        schedule.step()
    return loss.item()


def _fit(
    model: nn.Module,
    epochs: int,
    patience: int,
    train_epoch: Callable[[], list[float]],
    validate: Callable[[int, list[float], float], float],
) -> None:
    """The epoch loop of every stage: train an epoch (its step losses), validate without
    gradients (``validate(epoch, losses, start)`` reports and returns the validation loss), stop
    after ``patience`` epochs without improvement, and end on the best weights in eval mode."""
    keeper = _BestWeights(model, patience)
    for epoch in range(epochs):
        start = time.perf_counter()
        model.train()
        losses = train_epoch()
        model.eval()
        with torch.no_grad():
            val_loss = validate(epoch, losses, start)
        if keeper.stop_after(val_loss):
            break
    keeper.restore()


def _rates(scores: np.ndarray, truth: np.ndarray, cut: float) -> tuple[float, float]:
    passed = scores > cut
    n_true, n_pass = int(truth.sum()), int(passed.sum())
    eff = float((passed & truth).sum() / n_true) if n_true else float("nan")
    purity = float((passed & truth).sum() / n_pass) if n_pass else float("nan")
    return eff, purity


def _latent_negatives(model: EmbeddingMLP, data: _Prepared, k: int, radius: float) -> torch.Tensor:
    """[2, M] pairs (point, other) where ``other`` is one of the ``k`` nearest points of
    ``point`` in the current embedding, closer than ``radius``, and not of its particle (noise
    belongs to none)."""
    from scipy.spatial import cKDTree

    with torch.no_grad():
        z = model(data.features).cpu().numpy()
    n = len(z)
    if n < 2 or k < 1:
        return torch.zeros((2, 0), dtype=torch.long, device=data.features.device)
    _, index = cKDTree(z).query(
        z, k=min(k + 1, n), distance_upper_bound=radius, workers=torch.get_num_threads()
    )
    source = np.broadcast_to(np.arange(n)[:, None], index.shape)
    found = (index < n) & (index != source)  # the tree marks "none inside the radius" with n
    source, other = source[found], index[found]
    pairs = _other_particle_pairs(source, other, data.particle.cpu().numpy())
    return torch.from_numpy(pairs).to(data.features.device)


def _embedding_loss(
    model: EmbeddingMLP, data: _Prepared, cfg: TrainingConfig, gen: torch.Generator
) -> torch.Tensor:
    n, t, m = data.features.shape[0], data.true.shape[1], data.negatives.shape[1]
    device = data.features.device
    positive_pairs = data.true[
        :, torch.randint(0, t, (min(cfg.embedding_batch, t),), generator=gen).to(device)
    ]
    hard_pairs = data.negatives[
        :,
        torch.randint(0, m, (min(cfg.hard_negatives * cfg.embedding_batch, m),), generator=gen).to(
            device
        ),
    ]
    random_pairs = torch.randint(0, n, (2, cfg.embedding_batch), generator=gen).to(device)
    pairs = torch.cat([positive_pairs, hard_pairs, random_pairs], dim=1)
    nodes, inverse = torch.unique(pairs.reshape(-1), return_inverse=True)
    z = model(data.features[nodes])
    inverse = inverse.reshape(2, -1)
    distance2 = ((z[inverse[0]] - z[inverse[1]]) ** 2).sum(dim=1)
    n_pos, n_hard = positive_pairs.shape[1], hard_pairs.shape[1]
    positive = distance2[:n_pos]
    negative = distance2[n_pos:]
    particle_a, particle_b = data.particle[pairs[0, n_pos:]], data.particle[pairs[1, n_pos:]]
    is_negative = (particle_a != particle_b) | (particle_a < 0)
    hinge = torch.relu(cfg.margin - torch.sqrt(negative + 1e-12)) ** 2
    hard, rand = hinge[:n_hard][is_negative[:n_hard]], hinge[n_hard:][is_negative[n_hard:]]
    return positive.mean() + hard.mean() + rand.mean()


def _train_embedding(
    train, val, cfg, report, gen, device, start: EmbeddingMLP | None = None
) -> tuple[EmbeddingMLP, float]:
    """A new embedding, or ``start`` trained further (a copy: ``start`` is left as it is)."""
    model = (EmbeddingMLP(cfg.embedding) if start is None else copy.deepcopy(start)).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=cfg.embedding_lr)
    steps = cfg.embedding_epochs * len(train) * cfg.embedding_steps_per_event
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, cfg.embedding_lr, total_steps=steps)

    def mined(data: _Prepared) -> _Prepared:
        if not cfg.latent_negatives:
            return data
        training = model.training
        model.eval()
        pool = _latent_negatives(model, data, cfg.latent_negatives, cfg.margin)
        model.train(training)
        return replace(data, negatives=torch.cat([data.negatives, pool], dim=1))

    def train_epoch() -> list[float]:
        losses = []
        for index in torch.randperm(len(train), generator=gen).tolist():
            data = mined(train[index])
            losses += [
                _step(optimiser, _embedding_loss(model, data, cfg, gen), schedule)
                for _ in range(cfg.embedding_steps_per_event)
            ]
        return losses

    def validate(epoch: int, losses: list[float], start: float) -> float:
        # with latent negatives the validation loss counts them too (mined in this epoch's
        # embedding): the best epoch is the one whose radius graph holds the fewest close pairs
        val_loss = float(
            np.mean(
                [
                    float(
                        _embedding_loss(
                            model, mined(v), cfg, torch.Generator().manual_seed(cfg.seed + i)
                        )
                    )
                    for i, v in enumerate(val)
                ]
            )
        )
        inside = []
        for v in val:
            z = model(v.features)
            d = (z[v.true[0]] - z[v.true[1]]).norm(dim=1)
            inside.append((d < cfg.margin).float().mean().item())
        report(
            EpochReport(
                "embedding",
                epoch,
                float(np.mean(losses)),
                val_loss,
                float(np.mean(inside)),
                float("nan"),
                time.perf_counter() - start,
            )
        )
        return val_loss

    _fit(model, cfg.embedding_epochs, cfg.patience, train_epoch, validate)
    with torch.no_grad():
        latents = [model(v.features) for v in val]
        distances = np.concatenate(
            [
                (z[v.true[0]] - z[v.true[1]]).norm(dim=1).cpu().numpy()
                for z, v in zip(latents, val, strict=True)
            ]
        )
    radius = float(np.quantile(distances, cfg.radius_efficiency))
    return model, radius


#: edges scored at once when a whole graph goes through the filter
_SCORE_CHUNK = 65_536


@dataclass
class _Graph:
    edges: torch.Tensor
    truth: torch.Tensor
    weight: torch.Tensor  # float [E]: 0 for an edge left out of the loss, else 1 or its pT weight
    latent: torch.Tensor
    features: torch.Tensor
    event: Event
    #: int64 [N]: each point's particle as an index (-1: noise)
    particle: torch.Tensor

    def subset(self, keep: torch.Tensor) -> _Graph:
        """The same graph with only the edges where ``keep`` is true."""
        return _Graph(
            self.edges[:, keep],
            self.truth[keep],
            self.weight[keep],
            self.latent,
            self.features,
            self.event,
            self.particle,
        )


def _graph(model: EmbeddingMLP, data: _Prepared, radius: float, cfg: TrainingConfig) -> _Graph:
    """The K1 graph of an event in the embedding, its edges labelled and weighted for the loss."""
    with torch.no_grad():
        z = model(data.features)
    e = radius_graph(z, data.features[:, 0].contiguous(), radius, cfg.max_neighbours)
    edges = e.cpu().numpy()
    truth = edge_truth(data.event, edges, cfg.target_pt_gev)
    weight = np.ones(truth.shape, np.float32)
    soft = same_particle(data.event, edges) & ~truth
    if cfg.soft_edges == "ignore":
        weight[soft] = 0.0
    elif cfg.soft_edges == "true":
        truth = truth | soft
    if cfg.true_edge_pt_power:
        pt = np.clip(spacepoint_pt(data.event)[edges[0]], 1.0, 10.0)
        weight[truth] *= pt[truth] ** cfg.true_edge_pt_power
    device = data.features.device
    return _Graph(
        edges=e,
        truth=torch.from_numpy(truth).to(device),
        weight=torch.from_numpy(weight).to(device),
        latent=z,
        features=data.features,
        event=data.event,
        particle=_particle_index(data.event, device),
    )


def _particle_index(event: Event, device: torch.device) -> torch.Tensor:
    """int64 [N]: each point's particle as an index 0…P−1 (-1: noise)."""
    ids = np.asarray(event.truth.particle_id)
    _, index = np.unique(ids, return_inverse=True)
    index = np.where(ids == NOISE_PARTICLE_ID, -1, index.reshape(-1))
    return torch.from_numpy(index.astype(np.int64)).to(device)


def _pairs_inside(
    edges: Sequence[torch.Tensor], pairs: Sequence[torch.Tensor], sizes: Sequence[int]
) -> float:
    """Fraction of the true consecutive pairs that are edges of the graphs (either direction)."""
    found = total = 0
    for e, p, n in zip(edges, pairs, sizes, strict=True):
        e, p = e.cpu().numpy(), p.cpu().numpy()
        edge_keys = np.minimum(e[0], e[1]) * n + np.maximum(e[0], e[1])
        pair_keys = np.minimum(p[0], p[1]) * n + np.maximum(p[0], p[1])
        found += int(np.isin(pair_keys, edge_keys).sum())
        total += pair_keys.size
    return found / total if total else float("nan")


def _edge_epoch(
    stage: str,
    epoch: int,
    losses: list[float],
    logits: Sequence[torch.Tensor],
    graphs: Sequence[_Graph],
    start: float,
    report: Callable[[EpochReport], None],
) -> float:
    """Validation loss, edge efficiency and purity at 0.5 of an edge classifier; reported.

    Edges left out of the loss (weight 0) are left out of efficiency and purity too.
    """
    val_loss = float(
        np.mean([_bce(x, g.truth, g.weight).item() for x, g in zip(logits, graphs, strict=True)])
    )
    counted = torch.cat([g.weight for g in graphs]).cpu().numpy() > 0
    scores = torch.sigmoid(torch.cat(logits)).cpu().numpy()[counted]
    eff, purity = _rates(scores, torch.cat([g.truth for g in graphs]).cpu().numpy()[counted], 0.5)
    report(
        EpochReport(
            stage, epoch, float(np.mean(losses)), val_loss, eff, purity, time.perf_counter() - start
        )
    )
    return val_loss


def _augment(features: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A random rotation in φ and, half of the time, a mirror in z (the detector's symmetries)."""
    out = features.clone()
    shift = float(torch.rand(1, generator=gen)) * 2.0
    out[:, 1] = torch.remainder(out[:, 1] + shift + 1.0, 2.0) - 1.0
    if float(torch.rand(1, generator=gen)) < 0.5:
        out[:, 2] = -out[:, 2]
    return out


def _bce(logits: torch.Tensor, truth: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy with true edges weighted by √(false / true) (at most 10).

    ``weight`` [E] leaves edges out (0) or weighs them (the pT weight of true edges); false and
    true are counted in these weights, and the mean is over the edges that count.
    """
    counted = (weight > 0).sum().clamp_min(1)
    negatives = ((1 - truth.float()) * weight).sum()
    positives = (truth * weight).sum().clamp_min(1)
    pos_weight = (negatives / positives).sqrt().clamp(1.0, 10.0)
    losses = nn.functional.binary_cross_entropy_with_logits(
        logits, truth.float(), weight=weight, pos_weight=pos_weight, reduction="none"
    )
    return losses.sum() / counted


def _train_filter(
    train, val, cfg, report, gen, device, start: FilterMLP | None = None
) -> tuple[FilterMLP, float]:
    """A new filter, or ``start`` trained further (a copy), and its cut."""
    model = (FilterMLP(cfg.filter) if start is None else copy.deepcopy(start)).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=cfg.filter_lr)

    def train_epoch() -> list[float]:
        losses = []
        for index in torch.randperm(len(train), generator=gen).tolist():
            graph = train[index]
            order = torch.randperm(graph.edges.shape[1], generator=gen).to(device)
            for s in range(0, order.numel(), cfg.filter_batch):
                batch = order[s : s + cfg.filter_batch]
                features = _augment(graph.features, gen)
                edges = graph.edges[:, batch]
                distance = (graph.latent[edges[0]] - graph.latent[edges[1]]).norm(dim=1)
                logits = model(features, edges, distance)
                losses.append(
                    _step(optimiser, _bce(logits, graph.truth[batch], graph.weight[batch]))
                )
        return losses

    def validate(epoch: int, losses: list[float], start: float) -> float:
        logits = [_filter_logits(model, g) for g in val]
        return _edge_epoch("filter", epoch, losses, logits, val, start, report)

    _fit(model, cfg.filter_epochs, cfg.patience, train_epoch, validate)
    return model, _filter_cut(model, val, cfg.filter_efficiency)


def _filter_logits(model: FilterMLP, graph: _Graph) -> torch.Tensor:
    """The filter's logits of every edge of ``graph`` (in chunks, with its latent distances)."""
    return model.logits_in_chunks(graph.features, graph.edges, graph.latent, _SCORE_CHUNK)


def _filter_cut(model: FilterMLP, val: Sequence[_Graph], efficiency: float) -> float:
    """The score above which ``efficiency`` of the true validation edges lie (in [0.01, 0.5])."""
    with torch.no_grad():
        all_scores = torch.sigmoid(torch.cat([_filter_logits(model, g) for g in val])).cpu().numpy()
    all_truth = torch.cat([g.truth for g in val]).cpu().numpy()
    cut = float(np.quantile(all_scores[all_truth], 1.0 - efficiency))
    return max(min(cut, 0.5), 0.01)


def _filtered(model: FilterMLP, graph: _Graph, cut: float, max_inverse_pt: float | None) -> _Graph:
    """The edges the pipeline keeps after its filter stage (pre-selection, network, cut)."""
    with torch.no_grad():
        scores = model.scores_in_chunks(
            graph.features, graph.edges, graph.latent, _SCORE_CHUNK, max_inverse_pt
        )
    return graph.subset(scores > cut)


@dataclass(frozen=True)
class _Sector:
    """A training step's sub-graph: the points its edges touch, edges renumbered to them."""

    features: torch.Tensor
    edges: torch.Tensor
    truth: torch.Tensor
    weight: torch.Tensor
    #: int64 [points]: each point's particle as an index (-1: noise)
    particle: torch.Tensor


def _sector(graph: _Graph | _Sector, keep: torch.Tensor) -> _Sector:
    """The sub-graph of the edges where ``keep`` is true (message passing never leaves it)."""
    edges = graph.edges[:, keep]
    nodes, renumbered = torch.unique(edges, return_inverse=True)
    return _Sector(
        graph.features[nodes],
        renumbered,
        graph.truth[keep],
        graph.weight[keep],
        graph.particle[nodes],
    )


def _sectors(graph: _Graph, sectors: int) -> list[_Sector]:
    """Split a graph's edges into φ sectors of their source point."""
    if sectors <= 1:
        keep = torch.ones(graph.edges.shape[1], dtype=torch.bool, device=graph.edges.device)
        return [_sector(graph, keep)]
    phi = graph.features[graph.edges[0], 1]
    index = ((phi + 1.0) / 2.0 * sectors).long().clamp(0, sectors - 1)
    return [_sector(graph, index == s) for s in range(sectors)]


#: the kinds of region :func:`_cut_to_region` draws from
_REGION_KINDS = ("central", "forward", "inner")


def _cut_to_region(sector: _Sector, gen: torch.Generator) -> _Sector:
    """The sub-graph of the edges whose two ends lie in a random region of the detector.

    One of :data:`_REGION_KINDS`, drawn alike: *central*, |z| below the |z| of a random
    quantile (30–80%) of the sector's points (a barrel read alone); *forward*, z beyond that
    (20–70%) on one side (one side's endcaps); *inner*, r below that (30–80%) of r (tracks
    stopped early). Quantiles of the points themselves, so any detector's size fits. A region
    that keeps no edge leaves the sector as it is.
    """
    r, z = sector.features[:, 0], sector.features[:, 2]
    kind = _REGION_KINDS[int(torch.randint(len(_REGION_KINDS), (1,), generator=gen))]
    u = float(torch.rand(1, generator=gen))
    if kind == "central":
        inside = z.abs() < torch.quantile(z.abs(), 0.3 + 0.5 * u)
    elif kind == "forward":
        side = 1.0 if float(torch.rand(1, generator=gen)) < 0.5 else -1.0
        inside = side * z > torch.quantile(z.abs(), 0.2 + 0.5 * u)
    else:
        inside = r < torch.quantile(r, 0.3 + 0.5 * u)
    keep = inside[sector.edges[0]] & inside[sector.edges[1]]
    return _sector(sector, keep) if bool(keep.any()) else sector


#: of the particles :func:`_stop_tracks` cuts short, the share whose run starts at their first
#: point (a track that stops); the others start later (a secondary, or a module missed)
_STOPPED_SHARE = 0.75


def _stop_tracks(sector: _Sector, fraction: float, gen: torch.Generator) -> _Sector:
    """The sub-graph without the points ``fraction`` of the sector's particles lose.

    Each particle drawn (noise never is) keeps one run of its points in order of r, of at least
    2 points and at most all but one; the run starts at its innermost point for
    :data:`_STOPPED_SHARE` of them, else at a random later point. A particle of under 3 points
    keeps them all. The edges of kept points keep their truth and weight.
    """
    particle = sector.particle
    n_particles = int(particle.max()) + 1 if particle.numel() else 0
    if n_particles == 0:
        return sector
    device = particle.device
    draws = torch.rand(4, n_particles, generator=gen).to(device)
    real = particle >= 0
    index = torch.where(real, particle, n_particles)  # noise: one bin past the particles
    counts = torch.bincount(index, minlength=n_particles + 1)[:n_particles]
    # each point's rank among its particle's points by r
    order = torch.argsort(sector.features[:, 0], stable=True)
    order = order[torch.argsort(index[order], stable=True)]
    first = torch.cumsum(counts, 0) - counts
    rank = torch.empty_like(index)
    grouped = index[order]
    rank[order] = torch.arange(order.numel(), device=device) - torch.where(
        grouped < n_particles, first[grouped.clamp(max=n_particles - 1)], 0
    )
    cut = (draws[0] < fraction) & (counts >= 3)
    length = 2 + (draws[1] * (counts - 2).clamp(min=0)).long()  # 2 … counts − 1
    late = draws[2] >= _STOPPED_SHARE
    start = torch.where(late, (draws[3] * (counts - length + 1)).long().clamp(min=0), 0)
    start = torch.minimum(start, counts - length)
    p = particle.clamp(min=0)
    dropped = real & cut[p] & ((rank < start[p]) | (rank >= start[p] + length[p]))
    if not bool(dropped.any()):
        return sector
    keep = ~dropped[sector.edges[0]] & ~dropped[sector.edges[1]]
    return _sector(sector, keep) if bool(keep.any()) else sector


def _train_gnn(
    train, val, cfg, report, gen, device, start: InteractionGNN | None = None
) -> InteractionGNN:
    """A new GNN, or ``start`` trained further (a copy: ``start`` is left as it is) with
    ``cfg.gnn``'s iterations: its iterations share their weights, so their number may change."""
    if start is None:
        model = InteractionGNN(cfg.gnn).to(device)
    else:
        model = copy.deepcopy(start).to(device)
        model.config = cfg.gnn
    optimiser = torch.optim.AdamW(model.parameters(), lr=cfg.gnn_lr)
    # each event's sectors once; a sector without edges is no step
    sectors = [[s for s in _sectors(g, cfg.gnn_sectors) if s.edges.shape[1]] for g in train]
    steps = max(cfg.gnn_epochs * sum(len(s) for s in sectors), 1)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, cfg.gnn_lr, total_steps=steps)

    def step(sector: _Sector) -> float:
        if cfg.truncate and float(torch.rand(1, generator=gen)) < cfg.truncate:
            sector = _cut_to_region(sector, gen)
        if cfg.stop_tracks:
            sector = _stop_tracks(sector, cfg.stop_tracks, gen)
        logits = model(_augment(sector.features, gen), sector.edges)
        return _step(optimiser, _bce(logits, sector.truth, sector.weight), schedule)

    def train_epoch() -> list[float]:
        return [
            step(sector)
            for index in torch.randperm(len(train), generator=gen).tolist()
            for sector in sectors[index]
        ]

    def validate(epoch: int, losses: list[float], start: float) -> float:
        logits = [model(g.features, g.edges) for g in val]
        return _edge_epoch("gnn", epoch, losses, logits, val, start, report)

    _fit(model, cfg.gnn_epochs, cfg.patience, train_epoch, validate)
    return model


def train_pipeline(
    train_events: Sequence[Event],
    val_events: Sequence[Event],
    config: TrainingConfig = TrainingConfig(),
    report: Callable[[EpochReport], None] = lambda _r: None,
    status: Callable[[str], None] = lambda _s: None,
    reuse: ModelBundle | None = None,
    device: str = "cpu",
    reuse_stages: tuple[str, ...] = ("embedding", "filter"),
) -> ModelBundle:
    """Train embedding, filter and GNN on ``train_events``; tune on ``val_events``.

    Both sequences need truth. With ``reuse``, the stages named in ``reuse_stages`` (one of
    :data:`REUSABLE_STAGES`) are taken from that bundle — the embedding with its radius, the
    filter with its cut — and only the others are trained (graphs are built with
    ``config.max_neighbours``). ``device`` is a torch device string (see
    :func:`acts_gnn.cuda.device.resolve_device`); the returned models are on the CPU. Returns a
    bundle whose ``training`` and ``metrics`` records say what was done; the caller adds the data
    description and saves it.
    """
    if not train_events or not val_events:
        raise ValueError("training needs at least one training and one validation event")
    if tuple(reuse_stages) not in REUSABLE_STAGES:
        raise ConfigError(
            f"reused stages {','.join(reuse_stages)!r}: expected "
            + " or ".join(repr(",".join(s)) for s in REUSABLE_STAGES)
        )
    reuse_filter = reuse is not None and "filter" in reuse_stages
    check_reuse(config, reuse is not None, reuse_stages)
    _check_warm_start(config, reuse)
    train_embedding = reuse is None or config.fine_tune_embedding
    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    history: list[EpochReport] = []

    def log(entry: EpochReport) -> None:
        history.append(entry)
        report(entry)

    status("preparing events")
    # hard negatives are for the embedding only: a reused embedding kept as it is needs none
    train = [_prepare(e, config, train_embedding, device) for e in train_events]
    val = [_prepare(e, config, train_embedding, device) for e in val_events]

    if train_embedding:
        status("training the embedding" if reuse is None else "fine-tuning the embedding")
        start = None if reuse is None else reuse.embedding
        embedding, radius = _train_embedding(train, val, config, log, gen, device, start)
    else:
        # copies: the reused bundle's own models stay where they are
        embedding, radius = copy.deepcopy(reuse.embedding).to(device), reuse.pipeline.radius
        embedding.eval()
    status(f"building graphs (radius {radius:.3f})")
    train_graphs = [_graph(embedding, d, radius, config) for d in train]
    val_graphs = [_graph(embedding, d, radius, config) for d in val]
    graph_eff = _pairs_inside(
        [g.edges for g in val_graphs], [d.true for d in val], [len(e) for e in val_events]
    )
    if not reuse_filter:
        status("training the filter")
        start = reuse.filter if config.warm_start and reuse is not None else None
        filter_model, filter_cut = _train_filter(
            train_graphs, val_graphs, config, log, gen, device, start
        )
    else:
        assert reuse is not None
        filter_model = copy.deepcopy(reuse.filter).to(device)
        filter_model.eval()
        if config.recut_filter:
            status(f"choosing the reused filter's cut again ({config.filter_efficiency:.1%})")
            filter_cut = _filter_cut(filter_model, val_graphs, config.filter_efficiency)
        else:
            filter_cut = reuse.pipeline.filter_cut
    precut = config.filter_max_inverse_pt
    train_filtered = [_filtered(filter_model, g, filter_cut, precut) for g in train_graphs]
    val_filtered = [_filtered(filter_model, g, filter_cut, precut) for g in val_graphs]
    status("training the GNN")
    start = reuse.gnn if config.warm_start and reuse is not None else None
    gnn = _train_gnn(train_filtered, val_filtered, config, log, gen, device, start)

    pipeline = PipelineConfig(
        radius=radius,
        max_neighbours=config.max_neighbours,
        filter_cut=filter_cut,
        filter_max_inverse_pt=precut,
    )
    if reuse is not None:
        # the reused stages' own training log stays in the record
        history[:0] = [h for h in reuse.metrics.history or () if h.stage in reuse_stages]
    metrics = BundleMetrics(
        validation_events=len(val_events),
        graph_edges_per_event=float(np.mean([g.edges.shape[1] for g in val_graphs])),
        graph_true_pairs_inside=graph_eff,
        filtered_edges_per_event=float(np.mean([g.edges.shape[1] for g in val_filtered])),
        filtered_graph_purity=float(
            torch.cat([g.truth for g in val_filtered]).float().mean().item()
        ),
        history=tuple(history),
    )
    return ModelBundle(
        embedding=embedding.cpu(),
        filter=filter_model.cpu(),
        gnn=gnn.cpu(),
        pipeline=pipeline,
        training=TrainingRecord(
            config=config.as_dict(),
            train_events=len(train_events),
            reused_stages=None if reuse is None else _reuse_record(reuse, reuse_stages),
        ),
        metrics=metrics,
    )


def _check_warm_start(config: TrainingConfig, reuse: ModelBundle | None) -> None:
    """A warm start needs a reused bundle whose filter and GNN have the sizes asked for (the
    GNN's number of iterations may differ: they share one set of weights)."""
    if not config.warm_start or reuse is None:  # (no reuse: refused by check_reuse)
        return
    for name, asked, found, same_sizes in (
        ("filter", config.filter, reuse.filter.config, config.filter),
        (
            "GNN",
            config.gnn,
            reuse.gnn.config,
            replace(config.gnn, iterations=reuse.gnn.config.iterations),
        ),
    ):
        if same_sizes != found:
            raise ConfigError(
                f"warm start from {reuse.path}: its {name} is {found.as_dict()}, "
                f"this run asks for {asked.as_dict()}"
            )


def _reuse_record(bundle: ModelBundle, stages: Sequence[str]) -> ReuseRecord:
    """What a run took from an earlier bundle: its stages and how they were trained."""
    return ReuseRecord(
        stages=tuple(stages),
        radius=bundle.pipeline.radius,
        filter_cut=bundle.pipeline.filter_cut if "filter" in stages else None,
        # how the earlier bundle was made, without what it took from one before it
        training=replace(bundle.training, reused_stages=None),
        source=None if bundle.path is None else str(Path(bundle.path).resolve()),
        fingerprints=bundle.fingerprints(stages),
    )

"""What decides the models' sizes and a training run: plain settings, checked when made.

Layer: gnn.

Torch-free, so that ``acts-gnn train`` refuses a recipe that cannot run (an option out of its
range, a combination that needs ``--reuse``) before torch loads; the networks of
:mod:`acts_gnn.gnn.models` and the training of :mod:`acts_gnn.gnn.train` take these.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from acts_gnn.errors import ConfigError

__all__ = [
    "REUSABLE_STAGES",
    "SOFT_EDGE_MODES",
    "EmbeddingConfig",
    "FilterConfig",
    "GNNConfig",
    "TrainingConfig",
    "check_reuse",
]


@dataclass(frozen=True)
class EmbeddingConfig:
    """Embedding MLP: ``layers`` hidden layers of ``hidden`` units → ``latent_dim``."""

    hidden: int = 128
    layers: int = 3
    latent_dim: int = 8

    def as_dict(self) -> dict[str, int]:
        """For the bundle."""
        return asdict(self)


@dataclass(frozen=True)
class FilterConfig:
    """Filter MLP over an edge's two end points, its geometry and (optionally) latent distance."""

    hidden: int = 64
    layers: int = 3
    use_latent_distance: bool = True

    def as_dict(self) -> dict[str, int | bool]:
        """For the bundle."""
        return asdict(self)


@dataclass(frozen=True)
class GNNConfig:
    """Interaction GNN: ``hidden`` units, ``iterations`` message-passing steps."""

    hidden: int = 64
    iterations: int = 8
    mlp_layers: int = 2

    def as_dict(self) -> dict[str, int]:
        """For the bundle."""
        return asdict(self)


#: what a run with ``reuse`` may take from the earlier bundle, the stages in pipeline order
REUSABLE_STAGES = (("embedding",), ("embedding", "filter"))

#: what a soft edge (one particle, pT below the target threshold) is in the filter and GNN losses
SOFT_EDGE_MODES = ("ignore", "true", "false")


@dataclass(frozen=True)
class TrainingConfig:
    """Everything that decides a training run."""

    seed: int = 0
    target_pt_gev: float = 0.9
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    filter: FilterConfig = field(default_factory=FilterConfig)
    gnn: GNNConfig = field(default_factory=GNNConfig)
    margin: float = 1.0
    embedding_epochs: int = 12
    embedding_steps_per_event: int = 40
    embedding_batch: int = 2048
    hard_negatives: int = 4
    #: per point, the nearest points of other particles in the current embedding (inside the
    #: margin) added to the hard negatives each epoch; 0 (the shipped model's recipe): none
    latent_negatives: int = 0
    embedding_lr: float = 3e-3
    #: with ``reuse_stages=("embedding",)``: train the reused embedding further for
    #: ``embedding_epochs`` (its radius chosen again) instead of keeping it as it is
    fine_tune_embedding: bool = False
    #: with ``reuse``: the filter and the GNN trained again start from that bundle's weights
    #: (same sizes required) instead of new ones — a new embedding's graphs need them adapted,
    #: not learnt anew
    warm_start: bool = False
    radius_efficiency: float = 0.985
    max_neighbours: int = 48
    filter_epochs: int = 8
    filter_batch: int = 65536
    filter_lr: float = 2e-3
    filter_efficiency: float = 0.97
    #: with the filter reused: its cut chosen again at ``filter_efficiency`` on the validation
    #: graphs instead of kept
    recut_filter: bool = False
    #: the pipeline's geometric pre-selection before the filter network (the curvature of an
    #: edge's circle through the beam line, geometry.inverse_pt: 0.36 · |q/pT| [1/GeV]; None:
    #: off). 5 ≈ a 0.07 GeV circle; the true pairs of
    #: particles above 0.9 GeV in the 16 training events of ``make train`` reach at most 2.9
    filter_max_inverse_pt: float | None = 5.0
    gnn_epochs: int = 12
    gnn_lr: float = 3e-3
    gnn_sectors: int = 16
    patience: int = 3
    soft_edges: str = "ignore"
    true_edge_pt_power: float = 0.0
    #: the fraction of the GNN's training steps whose sub-graph is cut to a random region of
    #: the detector (see :mod:`acts_gnn.gnn.train`), so that it sees tracks that end inside the
    #: detector, as in data read by region; 0 (the shipped model's recipe): none
    truncate: float = 0.0
    #: the fraction of the particles cut short in each of the GNN's training steps (see
    #: :mod:`acts_gnn.gnn.train`): each keeps only a run of its points, as a track that stops
    #: in a hadronic interaction, starts at a secondary vertex or crosses a dead module; 0: none
    stop_tracks: float = 0.0
    #: the candidate-quality network also sees the fraction of a candidate's points whose
    #: detector region beyond is not read (quality.OPEN_ENDS_INPUT): a track cut short by a
    #: region read alone is then not taken for a fragment
    quality_open_ends: bool = False

    def __post_init__(self) -> None:
        """Refuse a recipe that cannot run (NaN fails every check); the messages name the
        options of ``acts-gnn train``.

        Raises:
            ConfigError: an unknown soft-edge mode, or a value out of its range.
        """
        if self.soft_edges not in SOFT_EDGE_MODES:
            raise ConfigError(
                f"--soft-edges {self.soft_edges!r}: expected one of {', '.join(SOFT_EDGE_MODES)}"
            )
        at_least_one = "at least 1"
        checks = (
            ("--seed", self.seed, self.seed >= 0, "0 or more"),
            ("--target-pt", self.target_pt_gev, 0 <= self.target_pt_gev < math.inf, "a number ≥ 0"),
            ("--embedding-epochs", self.embedding_epochs, self.embedding_epochs >= 1, at_least_one),
            ("--filter-epochs", self.filter_epochs, self.filter_epochs >= 1, at_least_one),
            ("--gnn-epochs", self.gnn_epochs, self.gnn_epochs >= 1, at_least_one),
            ("--patience", self.patience, self.patience >= 1, at_least_one),
            ("--max-neighbours", self.max_neighbours, self.max_neighbours >= 1, at_least_one),
            ("--gnn-sectors", self.gnn_sectors, self.gnn_sectors >= 1, at_least_one),
            ("--gnn-hidden", self.gnn.hidden, self.gnn.hidden >= 1, at_least_one),
            ("--gnn-iterations", self.gnn.iterations, self.gnn.iterations >= 1, at_least_one),
            ("--filter-efficiency", self.filter_efficiency, 0.0 < self.filter_efficiency <= 1.0,
             "in (0, 1]"),
            ("--latent-negatives", self.latent_negatives, self.latent_negatives >= 0,
             "0 or more"),
            ("--truncate", self.truncate, 0.0 <= self.truncate <= 1.0, "in [0, 1]"),
            ("--stop-tracks", self.stop_tracks, 0.0 <= self.stop_tracks <= 1.0, "in [0, 1]"),
            ("--true-edge-pt-power", self.true_edge_pt_power,
             0.0 <= self.true_edge_pt_power <= 2.0, "in [0, 2]"),
            # a learning rate of 0 keeps a warm start's weights
            ("--embedding-lr", self.embedding_lr, self.embedding_lr >= 0.0, "0 or more"),
            ("filter_lr", self.filter_lr, self.filter_lr >= 0.0, "0 or more"),
            ("--gnn-lr", self.gnn_lr, self.gnn_lr >= 0.0, "0 or more"),
        )  # fmt: skip
        for option, value, fine, expected in checks:
            if not fine:
                raise ConfigError(f"{option} must be {expected}, got {value:g}")

    def as_dict(self) -> dict[str, Any]:
        """For the bundle's record."""
        return asdict(self)


def check_reuse(config: TrainingConfig, reusing: bool, reuse_stages: Sequence[str]) -> None:
    """Refuse the options that need a reused bundle (or certain of its stages) without it: what
    can be told before the bundle or any event is read.

    Raises:
        ConfigError: ``--fine-tune-embedding``, ``--warm-start`` or ``--recut-filter`` without
            the reuse each needs.
    """
    if config.fine_tune_embedding and not (reusing and tuple(reuse_stages) == ("embedding",)):
        raise ConfigError(
            "fine-tuning the embedding needs a reused bundle whose embedding alone is taken "
            "(--reuse BUNDLE --reuse-stages embedding): its filter would not fit the new one"
        )
    if config.warm_start and not reusing:
        raise ConfigError("a warm start needs a bundle to start from (--reuse BUNDLE)")
    if config.recut_filter and not (reusing and "filter" in reuse_stages):
        raise ConfigError(
            "choosing a filter's cut again needs a reused filter "
            "(--reuse BUNDLE --reuse-stages embedding,filter): a trained filter's cut is chosen "
            "at --filter-efficiency anyway"
        )

"""Model bundles: a directory with ``bundle.json`` and one weights file per model.

Layer: gnn.

``bundle.json`` holds the schema version, the feature scales of the Triton contract, every model
hyper-parameter, the pipeline's radius / neighbours / cuts, and what the models were trained on
(data, seeds) and reached (metrics). Weights are plain ``state_dict`` files loaded with
``torch.load(..., weights_only=True)`` — no pickled classes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from acts_gnn.errors import BundleError
from acts_gnn.io.atomic import atomic_path, write_text_atomic

__all__ = ["SCHEMA_VERSION", "ModelBundle", "PipelineConfig", "default_bundle_dir"]

SCHEMA_VERSION = 1
FEATURE_SCALES = {"r": 1000.0, "phi": "pi", "z": 1000.0}
_WEIGHTS = {"embedding": "embedding.pt", "filter": "filter.pt", "gnn": "gnn.pt"}


def default_bundle_dir() -> Path:
    """The model bundle shipped inside the package."""
    return Path(__file__).resolve().parent.parent / "data" / "default_model"


@dataclass(frozen=True)
class PipelineConfig:
    """Settings of the non-neural stages (radius in latent units; cuts on sigmoid scores)."""

    radius: float = 1.0
    max_neighbours: int = 64
    filter_cut: float = 0.2
    gnn_cut: float = 0.5
    walk_cut: float = 0.7
    min_track_spacepoints: int = 3
    #: edges the per-edge networks (filter, GNN) take at once: 65,536 keeps the activations in
    #: cache — on a μ = 200 event the filter ran 2.5× and the GNN 1.7× faster on this CPU than
    #: with 1,000,000 / in one piece, with bit-identical logits
    filter_chunk_edges: int = 65_536
    track_builder: str = "components"
    #: stitch the pieces of a track along edges above this GNN score (None: no stitching; see
    #: :mod:`acts_gnn.gnn.track_building`)
    stitch_cut: float | None = None

    def __post_init__(self) -> None:
        if self.track_builder not in ("components", "walkthrough"):
            raise BundleError(
                f"track_builder must be 'components' or 'walkthrough', got {self.track_builder!r}"
            )


@dataclass
class ModelBundle:
    """Models (``torch.nn.Module``), their configs and the pipeline settings."""

    embedding: Any
    filter: Any
    gnn: Any
    pipeline: PipelineConfig
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def description(self) -> dict[str, Any]:
        """The content of ``bundle.json``."""
        return {
            "schema_version": SCHEMA_VERSION,
            "feature_scales": FEATURE_SCALES,
            "models": {
                "embedding": self.embedding.config.as_dict(),
                "filter": self.filter.config.as_dict(),
                "gnn": self.gnn.config.as_dict(),
            },
            "weights": _WEIGHTS,
            "pipeline": asdict(self.pipeline),
            "training": self.training,
            "metrics": self.metrics,
        }

    def save(self, directory: str | Path) -> Path:
        """Write the bundle (each file atomically)."""
        import torch

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name, filename in _WEIGHTS.items():
            module = getattr(self, name)
            with atomic_path(directory / filename) as temporary:
                torch.save(module.state_dict(), temporary)
        write_text_atomic(
            directory / "bundle.json", json.dumps(self.description(), indent=2) + "\n"
        )
        self.path = directory
        return directory

    @classmethod
    def load(cls, directory: str | Path | None = None, device: str = "cpu") -> ModelBundle:
        """Read a bundle (the shipped default when ``directory`` is None).

        Raises:
            BundleError: missing files, unknown schema version, or weights that do not fit.
        """
        import torch

        from acts_gnn.gnn.models import (
            EmbeddingConfig,
            EmbeddingMLP,
            FilterConfig,
            FilterMLP,
            GNNConfig,
            InteractionGNN,
        )

        directory = Path(directory) if directory is not None else default_bundle_dir()
        meta_path = directory / "bundle.json"
        if not meta_path.is_file():
            raise BundleError(f"{directory}: not a model bundle (no bundle.json)")
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError as exc:
            raise BundleError(f"{meta_path}: invalid JSON ({exc})") from exc
        if meta.get("schema_version") != SCHEMA_VERSION:
            raise BundleError(
                f"{meta_path}: schema version {meta.get('schema_version')!r}, this acts-gnn "
                f"reads version {SCHEMA_VERSION}"
            )
        try:
            models = meta["models"]
            embedding = EmbeddingMLP(EmbeddingConfig(**models["embedding"]))
            filter_ = FilterMLP(FilterConfig(**models["filter"]))
            gnn = InteractionGNN(GNNConfig(**models["gnn"]))
            pipeline = PipelineConfig(**meta["pipeline"])
        except (KeyError, TypeError) as exc:
            raise BundleError(f"{meta_path}: incomplete or unknown settings ({exc})") from exc
        for name, module in (("embedding", embedding), ("filter", filter_), ("gnn", gnn)):
            path = directory / _WEIGHTS[name]
            if not path.is_file():
                raise BundleError(f"{path}: missing weights file")
            try:
                state = torch.load(path, map_location=device, weights_only=True)
                module.load_state_dict(state)
            except Exception as exc:  # torch raises RuntimeError/UnpicklingError/…
                raise BundleError(f"{path}: cannot load weights ({exc})") from exc
            module.to(device).eval()
        return cls(
            embedding=embedding,
            filter=filter_,
            gnn=gnn,
            pipeline=pipeline,
            training=meta.get("training", {}),
            metrics=meta.get("metrics", {}),
            path=directory,
        )

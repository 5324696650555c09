"""Model bundles: a directory with ``bundle.json`` and one weights file per model.

Layer: gnn.

``bundle.json`` holds the schema version, the feature scales of the Triton contract, every model
hyper-parameter, the pipeline's radius / neighbours / cuts, and what the models were trained on
(data, seeds: :class:`~acts_gnn.gnn.records.TrainingRecord`) and reached (metrics:
:class:`~acts_gnn.gnn.records.BundleMetrics`). Weights are plain ``state_dict`` files loaded with
``torch.load(..., weights_only=True)`` — no pickled classes.

The candidate-quality network (:mod:`acts_gnn.gnn.quality`) is optional: a bundle without it
(``models``/``weights`` without a ``quality`` entry, and no ``quality_cut``) keeps every candidate,
as bundles written before it existed do.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import pickle
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from acts_gnn.errors import BundleError
from acts_gnn.gnn.records import BundleMetrics, TrainingRecord
from acts_gnn.io.atomic import atomic_path, check_output_directory, write_text_atomic

__all__ = [
    "SCHEMA_VERSION",
    "ModelBundle",
    "PipelineConfig",
    "bundle_description",
    "check_bundle_output",
    "default_bundle_dir",
]

SCHEMA_VERSION = 1
FEATURE_SCALES = {"r": 1000.0, "phi": "pi", "z": 1000.0}
_WEIGHTS = {
    "embedding": "embedding.pt",
    "filter": "filter.pt",
    "gnn": "gnn.pt",
    "quality": "quality.pt",
}


def _finite_or_null(value: Any) -> Any:
    """``value`` (JSON-like) with every NaN or infinite float replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite_or_null(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_null(item) for item in value]
    return value


def check_bundle_output(output: str | Path, force: bool) -> None:
    """Refuse, before any work, a bundle's output directory: a file, a bundle without
    ``force``, a directory that holds files but no bundle (they are never mixed with a
    bundle's), or one that cannot be made or written in.

    Raises:
        OutputRefusedError: as above.
    """
    check_output_directory(
        output,
        overwrite=force,
        kind="a model bundle",
        is_kind=lambda directory: (directory / "bundle.json").is_file(),
    )


def bundle_description(directory: str | Path) -> Path:
    """The ``bundle.json`` of the bundle ``directory`` (read nothing yet).

    Raises:
        BundleError: no such directory, or no ``bundle.json`` in it.
    """
    directory = Path(directory)
    if not directory.exists():
        raise BundleError(f"{directory}: no such directory (expected a model bundle)")
    if not (directory / "bundle.json").is_file():
        raise BundleError(f"{directory}: not a model bundle (no bundle.json)")
    return directory / "bundle.json"


def default_bundle_dir() -> Path:
    """The model bundle shipped inside the package."""
    return Path(__file__).resolve().parent.parent / "data" / "default_model"


def _unpickler_reason(exc: Exception) -> str:
    """What torch's weights-only loader found (``Unsupported operand 103``, ``Unsupported
    global: GLOBAL …``), without its advice to load the file with ``weights_only=False``."""
    text = str(exc)
    _, marker, rest = text.partition("WeightsUnpickler error:")
    lines = [line.strip() for line in rest.splitlines() if line.strip()] if marker else []
    if not lines:
        return "torch's weights-only loader refused it"
    return lines[0].split(" was not an allowed global")[0].split(". Please")[0].rstrip(".")


@dataclass(frozen=True)
class PipelineConfig:
    """Settings of the non-neural stages (radius in latent units; cuts on sigmoid scores)."""

    radius: float = 1.0
    max_neighbours: int = 64
    filter_cut: float = 0.2
    #: edges whose circle through the beam line is tighter than this, in the models' scale
    #: (:func:`acts_gnn.gnn.geometry.inverse_pt`: 0.36 · |q/pT| [1/GeV]), are dropped before the
    #: filter network sees them (None: every edge is scored; see
    #: :meth:`acts_gnn.gnn.models.FilterMLP.scores_in_chunks`)
    filter_max_inverse_pt: float | None = None
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
    #: then group the points no candidate holds by the edges above this GNN score between them
    #: (components, stitched as above) into further candidates (None: none; see
    #: :func:`acts_gnn.gnn.track_building.rescue_leftovers`)
    rescue_cut: float | None = None
    #: a rescued group that branches is walked along its edges above this GNN score instead of
    #: kept whole (None: kept whole; see :func:`acts_gnn.gnn.track_building.rescue_leftovers`)
    rescue_walk_cut: float | None = None
    #: drop the candidates whose probability of being a fake, by the bundle's quality network,
    #: is above this (None: keep every candidate; see :mod:`acts_gnn.gnn.quality`)
    quality_cut: float | None = None

    def __post_init__(self) -> None:
        from acts_gnn.gnn.stages import TRACK_BUILDERS

        if self.track_builder not in TRACK_BUILDERS:
            names = " or ".join(repr(name) for name in TRACK_BUILDERS)
            raise BundleError(f"track_builder must be {names}, got {self.track_builder!r}")
        for name in ("filter_cut", "gnn_cut", "walk_cut"):
            _check_number(name, getattr(self, name), 0.0, 1.0)
        for name in ("stitch_cut", "quality_cut", "rescue_cut", "rescue_walk_cut"):
            if getattr(self, name) is not None:
                _check_number(name, getattr(self, name), 0.0, 1.0)
        _check_number("radius", self.radius, 0.0, math.inf, low_open=True)
        if self.filter_max_inverse_pt is not None:
            _check_number("filter_max_inverse_pt", self.filter_max_inverse_pt, 0.0, math.inf)
        for name in ("max_neighbours", "min_track_spacepoints", "filter_chunk_edges"):
            _check_count(name, getattr(self, name))


def _check_number(
    name: str, value: Any, low: float, high: float, *, low_open: bool = False
) -> None:
    """Raise :class:`BundleError` unless ``value`` is a number in [low, high] ((low, high] with
    ``low_open``); ``math.inf`` as ``high`` asks for a finite one."""
    number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    inside = number and math.isfinite(value) and (low < value if low_open else low <= value)
    if not (inside and value <= high):
        where = f"({low:g}, " if low_open else f"[{low:g}, "
        where += "∞)" if high == math.inf else f"{high:g}]"
        raise BundleError(f"{name} must be a number in {where}, got {value!r}")


def _check_count(name: str, value: Any) -> None:
    """Raise :class:`BundleError` unless ``value`` is an integer of at least 1."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise BundleError(f"{name} must be an integer of at least 1, got {value!r}")


@dataclass(frozen=True)
class ModelBundle:
    """Models (``torch.nn.Module``), their configs and the pipeline settings.

    Frozen: a changed bundle is a new one (``dataclasses.replace``), and so are its frozen
    ``training`` and ``metrics`` records (:mod:`acts_gnn.gnn.records`).
    """

    embedding: Any
    filter: Any
    gnn: Any
    pipeline: PipelineConfig
    training: TrainingRecord = field(default_factory=TrainingRecord)
    metrics: BundleMetrics = field(default_factory=BundleMetrics)
    path: Path | None = None
    #: the candidate-quality network, or None (every candidate kept)
    quality: Any = None

    def _modules(self) -> dict[str, Any]:
        """Each model of the bundle by name (the quality network only when there is one)."""
        names = [n for n in _WEIGHTS if n != "quality" or self.quality is not None]
        return {name: getattr(self, name) for name in names}

    def description(self) -> dict[str, Any]:
        """The content of ``bundle.json``."""
        modules = self._modules()
        return {
            "schema_version": SCHEMA_VERSION,
            "feature_scales": FEATURE_SCALES,
            "models": {name: module.config.as_dict() for name, module in modules.items()},
            "weights": {name: _WEIGHTS[name] for name in modules},
            "pipeline": asdict(self.pipeline),
            "training": self.training.to_json(),
            "metrics": self.metrics.to_json(),
        }

    def fingerprints(self, names: Sequence[str] | None = None) -> dict[str, str]:
        """A short SHA-256 of each model's weights (``names``, default all the bundle has): its
        parameters' names, dtypes, shapes and bytes in order, so equal weights give equal prints
        wherever they were saved, and a reused model can be traced to the bundle it came from."""
        import torch

        modules = self._modules()
        prints = {}
        for name in names if names is not None else modules:
            digest = hashlib.sha256()
            for key, tensor in modules[name].state_dict().items():
                values = tensor.detach().cpu().contiguous()
                digest.update(f"{key}:{values.dtype}:{tuple(values.shape)};".encode())
                digest.update(values.view(-1).view(torch.uint8).numpy().tobytes())
            prints[name] = digest.hexdigest()[:16]
        return prints

    def save(self, directory: str | Path) -> Path:
        """Write the bundle (each file atomically); a network file of a bundle it replaces that
        this one has not (a quality selection) is removed."""
        import torch

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        modules = self._modules()
        for name, module in modules.items():
            with atomic_path(directory / _WEIGHTS[name]) as temporary:
                torch.save(module.state_dict(), temporary)
        # strict JSON (any reader parses it): a figure that is not a number (an embedding's
        # purity, a rate without candidates) is written null; a record's field that always holds
        # a number reads it back as NaN
        text = json.dumps(_finite_or_null(self.description()), indent=2, allow_nan=False)
        write_text_atomic(directory / "bundle.json", text + "\n")
        for name, file in _WEIGHTS.items():  # a replaced bundle's network this one has not
            if name not in modules:
                (directory / file).unlink(missing_ok=True)
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
        from acts_gnn.gnn.quality import QualityConfig, QualityMLP

        directory = Path(directory) if directory is not None else default_bundle_dir()
        meta_path = bundle_description(directory)
        try:
            meta = json.loads(meta_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BundleError(f"{meta_path}: invalid JSON ({exc})") from exc
        if not isinstance(meta, dict):
            raise BundleError(f"{meta_path}: expected a JSON object, found {type(meta).__name__}")
        if meta.get("schema_version") != SCHEMA_VERSION:
            raise BundleError(
                f"{meta_path}: schema version {meta.get('schema_version')!r}, this acts-gnn "
                f"reads version {SCHEMA_VERSION}"
            )
        if meta.get("feature_scales", FEATURE_SCALES) != FEATURE_SCALES:
            raise BundleError(
                f"{meta_path}: feature_scales {json.dumps(meta['feature_scales'])}, but this "
                f"acts-gnn scales the features as {json.dumps(FEATURE_SCALES)}"
            )
        named = meta.get("weights", {})
        if not isinstance(named, dict) or any(_WEIGHTS.get(k) != v for k, v in named.items()):
            raise BundleError(
                f"{meta_path}: weights {json.dumps(named)}; this acts-gnn reads "
                f"{json.dumps(_WEIGHTS)}"
            )
        try:
            models = meta["models"]
            for name, settings in models.items():  # before torch makes tensors of these sizes
                for key, value in settings.items():
                    if key in ("hidden", "layers", "latent_dim", "iterations", "mlp_layers"):
                        _check_count(f"models.{name}.{key}", value)
            embedding = EmbeddingMLP(EmbeddingConfig(**models["embedding"]))
            filter_ = FilterMLP(FilterConfig(**models["filter"]))
            gnn = InteractionGNN(GNNConfig(**models["gnn"]))
            quality = (
                QualityMLP(QualityConfig(**models["quality"])) if "quality" in models else None
            )
            pipeline = PipelineConfig(**meta["pipeline"])
        except (KeyError, TypeError, AttributeError) as exc:
            raise BundleError(f"{meta_path}: incomplete or unknown settings ({exc})") from exc
        except BundleError as exc:
            raise BundleError(f"{meta_path}: {exc}") from exc
        try:
            training = TrainingRecord.from_json(meta.get("training", {}))
            metrics = BundleMetrics.from_json(meta.get("metrics", {}))
        except BundleError as exc:
            raise BundleError(f"{meta_path}: {exc}") from exc
        if pipeline.quality_cut is not None and quality is None:
            raise BundleError(f"{meta_path}: a quality_cut but no quality network")
        loaded = {"embedding": embedding, "filter": filter_, "gnn": gnn}
        if quality is not None:
            loaded["quality"] = quality
        for name, module in loaded.items():
            path = directory / _WEIGHTS[name]
            if not path.is_file():
                raise BundleError(f"{path}: missing weights file")
            try:
                state = torch.load(path, map_location=device, weights_only=True)
                module.load_state_dict(state)
            except pickle.UnpicklingError as exc:  # torch's advice is to load it unsafely
                raise BundleError(
                    f"{path}: cannot load weights: not a file of tensors alone, which is all "
                    f"acts-gnn loads ({_unpickler_reason(exc)})"
                ) from exc
            except Exception as exc:  # torch raises RuntimeError/KeyError/…
                lines = [line.strip().rstrip(":") for line in str(exc).splitlines()]
                lines = [line for line in lines if line]
                why = ": ".join([type(exc).__name__, *lines[:2]])  # torch's key and shapes
                raise BundleError(
                    f"{path}: cannot load weights: not a PyTorch state dict of this model ({why})"
                ) from exc
            if not all(torch.isfinite(t).all() for t in module.state_dict().values()):
                raise BundleError(f"{path}: holds weights that are NaN or infinite")
            module.to(device).eval()
        return cls(
            embedding=embedding,
            filter=filter_,
            gnn=gnn,
            pipeline=pipeline,
            training=training,
            metrics=metrics,
            path=directory,
            quality=quality,
        )

"""What a bundle says about how it was made and what it reached: typed, frozen records.

Layer: gnn (no imports from the package above :mod:`acts_gnn.errors`).

``bundle.json`` carries two records beside the models and the pipeline settings:

* ``training`` — :class:`TrainingRecord`: the run's :class:`~acts_gnn.gnn.configs.TrainingConfig`,
  the events it read (:class:`RunInputs`), what it took from an earlier bundle
  (:class:`ReuseRecord`) and the candidate-quality selection's own run (:class:`QualityRecord`);
* ``metrics`` — :class:`BundleMetrics`: the graph and filter figures on the validation events,
  the training log (:class:`EpochReport`), the cut scans (:class:`CutScanRow`,
  :class:`QualityScanRow`) and the held-out scores by track builder.

Each record is written by one function (``to_json``) and read by one (``from_json``); a record
is changed with ``dataclasses.replace``, never in place. The JSON is that of the dictionaries
acts-gnn wrote before these records existed: the same keys in the same order, with absent parts
left out; keys this version does not know are kept verbatim
(``extra``) so that a bundle read and saved again loses nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from acts_gnn.errors import BundleError

__all__ = [
    "BuilderScanRow",
    "BundleMetrics",
    "CutScanRow",
    "EpochReport",
    "FilterScanRow",
    "QualityRecord",
    "QualityScanRow",
    "ReuseRecord",
    "RunInputs",
    "TrainingRecord",
]


def _rows(cls: type, rows: Any, where: str) -> tuple:
    """JSON rows (a list of objects) → a tuple of ``cls``; null in a field that is always a
    number is NaN (what ``bundle.json`` writes for it)."""
    if not isinstance(rows, list):
        raise BundleError(f"{where}: expected a list, got {type(rows).__name__}")
    numbers = {f.name for f in fields(cls) if f.type in ("float", float)}
    try:
        return tuple(
            cls(**{k: math.nan if v is None and k in numbers else v for k, v in row.items()})
            for row in rows
        )
    except (TypeError, AttributeError) as exc:
        raise BundleError(f"{where}: a row with unknown or missing fields ({exc})") from exc


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BundleError(f"{where}: expected an object, got {type(value).__name__}")
    return value


@dataclass(frozen=True)
class EpochReport:
    """One line of the training log."""

    stage: str
    epoch: int
    train_loss: float
    val_loss: float
    val_efficiency: float
    val_purity: float
    seconds: float


@dataclass(frozen=True)
class CutScanRow:
    """One pair of cuts tried on the validation events (candidates ≥ 3 space points)."""

    gnn_cut: float
    stitch_cut: float | None
    efficiency: float
    fake_rate: float
    duplicate_rate: float


@dataclass(frozen=True)
class QualityScanRow:
    """One candidate-quality cut tried on the validation events (None: every candidate kept)."""

    quality_cut: float | None
    efficiency: float
    fake_rate: float
    duplicate_rate: float


@dataclass(frozen=True)
class FilterScanRow:
    """One filter cut tried on the validation events with the bundle's other cuts and quality
    selection (candidates ≥ 3 space points), and the edges per event it kept."""

    filter_cut: float
    filtered_edges_per_event: float
    efficiency: float
    fake_rate: float
    duplicate_rate: float


@dataclass(frozen=True)
class BuilderScanRow:
    """One track builder, rescue cut (None: no rescue pass) and rescue walk cut (None: rescued
    groups kept whole) tried on the validation events, with the bundle's other cuts and quality
    selection (candidates ≥ 3 space points)."""

    track_builder: str
    rescue_cut: float | None
    efficiency: float
    fake_rate: float
    duplicate_rate: float
    #: last, with a default: bundles scanned before it was tried read as "kept whole"
    rescue_walk_cut: float | None = None


@dataclass(frozen=True)
class RunInputs:
    """Where one run's events came from and where it ran."""

    train_inputs: tuple[str, ...]
    validation_inputs: tuple[str, ...]
    train_event_ids: tuple[int, ...]
    validation_event_ids: tuple[int, ...]
    test_inputs: tuple[str, ...]
    #: how the data were made (``train --data-description``)
    data: str | None
    device: str

    def to_json(self) -> dict[str, Any]:
        """The seven keys, lists for tuples."""
        out = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    @classmethod
    def take(cls, record: dict[str, Any]) -> RunInputs | None:
        """The run's inputs out of ``record`` (removed from it), or None when it has not all
        seven keys (those it has then stay in ``record``)."""
        keys = [f.name for f in fields(cls)]
        if not all(k in record for k in keys):
            return None
        values = {k: record.pop(k) for k in keys}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


@dataclass(frozen=True)
class QualityRecord:
    """How the candidate-quality selection was trained (:func:`acts_gnn.gnn.recipe.add_quality`)."""

    config: Mapping[str, Any]
    seed: int
    train_candidates: int
    train_fakes: int
    #: why no network was kept (too few fakes to learn from), or None
    skipped: str | None = None
    #: the events of the run that trained it (``train --quality-only`` records its own here)
    run: RunInputs | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """``config, seed, train_candidates, train_fakes[, skipped][, run's keys], extra``."""
        out: dict[str, Any] = {
            "config": dict(self.config),
            "seed": self.seed,
            "train_candidates": self.train_candidates,
            "train_fakes": self.train_fakes,
        }
        if self.skipped is not None:
            out["skipped"] = self.skipped
        if self.run is not None:
            out.update(self.run.to_json())
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, value: Any, where: str = "training.quality") -> QualityRecord:
        """Read what :meth:`to_json` wrote."""
        record = dict(_object(value, where))
        run = RunInputs.take(record)
        try:
            known = {
                k: record.pop(k) for k in ("config", "seed", "train_candidates", "train_fakes")
            }
        except KeyError as exc:
            raise BundleError(f"{where}: missing {exc}") from exc
        return cls(**known, skipped=record.pop("skipped", None), run=run, extra=record)


@dataclass(frozen=True)
class ReuseRecord:
    """What a run took from an earlier bundle: its stages and how they were trained."""

    stages: tuple[str, ...]
    radius: float
    #: the earlier bundle's filter cut, when the filter was one of the stages
    filter_cut: float | None
    training: TrainingRecord
    #: the earlier bundle's directory (absolute), and the fingerprints of the stages taken from
    #: it (:meth:`~acts_gnn.gnn.bundle.ModelBundle.fingerprints`, as they were there); None in
    #: records written before they were kept
    source: str | None = None
    fingerprints: Mapping[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        """``stages, radius[, filter_cut][, source][, fingerprints], training``."""
        out: dict[str, Any] = {"stages": list(self.stages), "radius": self.radius}
        if self.filter_cut is not None:
            out["filter_cut"] = self.filter_cut
        if self.source is not None:
            out["source"] = self.source
        if self.fingerprints is not None:
            out["fingerprints"] = dict(self.fingerprints)
        out["training"] = self.training.to_json()
        return out

    @classmethod
    def from_json(cls, value: Any, where: str = "training.reused_stages") -> ReuseRecord:
        """Read what :meth:`to_json` wrote."""
        record = _object(value, where)
        try:
            return cls(
                stages=tuple(record["stages"]),
                radius=record["radius"],
                filter_cut=record.get("filter_cut"),
                training=TrainingRecord.from_json(record["training"], f"{where}.training"),
                source=record.get("source"),
                fingerprints=record.get("fingerprints"),
            )
        except KeyError as exc:
            raise BundleError(f"{where}: missing {exc}") from exc


@dataclass(frozen=True)
class TrainingRecord:
    """How a bundle's models were made. Every part is optional: a bundle built by hand (or by a
    test) has an empty record, written as ``{}``."""

    #: the run's :class:`~acts_gnn.gnn.configs.TrainingConfig`, as a JSON object
    config: Mapping[str, Any] | None = None
    train_events: int | None = None
    reused_stages: ReuseRecord | None = None
    run: RunInputs | None = None
    #: a note on how the bundle was made beyond the command (written by hand, e.g. on which
    #: machine a GPU run happened)
    how: str | None = None
    #: ``train --quality-only``: the bundle whose models and cuts were kept
    quality_only_from: str | None = None
    quality: QualityRecord | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The keys in the order acts-gnn has always written them, absent parts left out, then
        ``extra``: the quality record where its run put it — before the run's inputs in a full
        run, last after ``train --quality-only``."""
        out: dict[str, Any] = {}
        if self.config is not None:
            out["config"] = dict(self.config)
        if self.train_events is not None:
            out["train_events"] = self.train_events
        if self.reused_stages is not None:
            out["reused_stages"] = self.reused_stages.to_json()
        quality = {} if self.quality is None else {"quality": self.quality.to_json()}
        if self.quality_only_from is None:
            out.update(quality)
        if self.run is not None:
            out.update(self.run.to_json())
        for name in ("how", "quality_only_from"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.quality_only_from is not None:
            out.update(quality)
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, value: Any, where: str = "training") -> TrainingRecord:
        """Read what :meth:`to_json` wrote (or any older record: unknown keys go to ``extra``)."""
        record = dict(_object(value, where))
        run = RunInputs.take(record)
        reused = record.pop("reused_stages", None)
        quality = record.pop("quality", None)
        return cls(
            config=record.pop("config", None),
            train_events=record.pop("train_events", None),
            reused_stages=None if reused is None else ReuseRecord.from_json(reused),
            run=run,
            how=record.pop("how", None),
            quality_only_from=record.pop("quality_only_from", None),
            quality=None if quality is None else QualityRecord.from_json(quality),
            extra=record,
        )


@dataclass(frozen=True)
class BundleMetrics:
    """What a bundle's models reached. Every part is optional (None: not measured)."""

    validation_events: int | None = None
    #: K1 edges per validation event, and the share of true consecutive pairs among them
    graph_edges_per_event: float | None = None
    graph_true_pairs_inside: float | None = None
    #: edges per validation event above the filter cut, and the share of them that are true
    filtered_edges_per_event: float | None = None
    filtered_graph_purity: float | None = None
    history: tuple[EpochReport, ...] | None = None
    cut_scan: tuple[CutScanRow, ...] | None = None
    quality_scan: tuple[QualityScanRow, ...] | None = None
    filter_scan: tuple[FilterScanRow, ...] | None = None
    builder_scan: tuple[BuilderScanRow, ...] | None = None
    #: held-out scores by track builder (written ``test_<builder>``): the performance summary of
    #: :func:`acts_gnn.gnn.recipe.score_bundle`
    tests: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    _ROWS = (
        ("history", EpochReport),
        ("cut_scan", CutScanRow),
        ("quality_scan", QualityScanRow),
        ("filter_scan", FilterScanRow),
        ("builder_scan", BuilderScanRow),
    )

    @classmethod
    def _figures(cls) -> tuple[str, ...]:
        """The single-number parts, in the order of the shipped bundle (the fields before
        ``history``)."""
        names = [f.name for f in fields(cls)]
        return tuple(names[: names.index("history")])

    def with_test(self, builder: str, scores: Mapping[str, Any]) -> BundleMetrics:
        """These metrics with the held-out scores of ``builder`` added (or replaced)."""
        return replace(self, tests={**self.tests, builder: scores})

    def to_json(self) -> dict[str, Any]:
        """The keys in the order of the shipped bundle, absent parts left out, then ``extra``."""
        out: dict[str, Any] = {
            name: getattr(self, name) for name in self._figures() if getattr(self, name) is not None
        }
        for name, _ in self._ROWS:
            rows = getattr(self, name)
            if rows is not None:
                out[name] = [asdict(row) for row in rows]
        out.update({f"test_{builder}": dict(s) for builder, s in self.tests.items()})
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, value: Any, where: str = "metrics") -> BundleMetrics:
        """Read what :meth:`to_json` wrote (unknown keys go to ``extra``)."""
        record = dict(_object(value, where))
        figures = {name: record.pop(name) for name in cls._figures() if name in record}
        rows = {
            name: _rows(row, record.pop(name), f"{where}.{name}")
            for name, row in cls._ROWS
            if name in record
        }
        tests = {
            key.removeprefix("test_"): record.pop(key)
            for key in [k for k in record if k.startswith("test_")]
        }
        return cls(**figures, **rows, tests=tests, extra=record)

"""One shape for a track finder, and the one list of them.

Layer: bottom (beside ``event`` and ``result``).

A **track finder** turns one :class:`~acts_gnn.event.Event` into a
:class:`~acts_gnn.result.TrackingResult` (a label per space point, -1 = none, plus timing):
:class:`TrackFinder`. One that needs nothing but the contract features ``[N, 3]`` can also be
*served*: :class:`ServableFinder` adds ``run(features)``, which returns something that unpacks
as ``(labels, stage_seconds, (graph_edges, kept_edges))``.

Every finder has one entry in the **registry**, under one name. That name is what
``acts-gnn reconstruct --backend``, ``acts-gnn serve --model`` (the served model is bound under
the name given), the ACTS algorithm's ``model`` and ``acts-gnn benchmark --model`` accept; an
entry's ``aliases`` are accepted too (the served names of earlier releases, ``gnn_tracking``…,
which clients depend on). Adding a backend is one class and one call::

    register_finder("toy", ToyFinder, summary="…")

Modules named in ``$ACTS_GNN_FINDERS`` (comma-separated, e.g. ``mylab.finders``) are imported
the first time the registry is read, in every process that reads it — ``acts-gnn serve`` and its
model instances too —, so a finder registered there is everywhere a built-in is.

A factory is called as ``factory(bundle=…, device=…, **settings, **options)`` when the entry
``uses_bundle`` (the GNN pipelines: a model bundle, a torch device and pipeline overrides such
as ``max_neighbours``), else as ``factory(**options)``. The built-in entries name their factory
as ``"module:attribute"`` and import it on first use, like a plug-in's entry point: the list
lives on the bottom floor while the finders live above it, and nothing heavy (torch) is imported
before a finder is made.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from acts_gnn.errors import ConfigError, InputFormatError
from acts_gnn.event import NOISE_PARTICLE_ID, Event
from acts_gnn.result import EventTiming, TrackingResult, canonical_labels

__all__ = [
    "PLUGINS_VARIABLE",
    "FinderEntry",
    "NullTrackFinder",
    "ServableFinder",
    "TrackFinder",
    "TruthTrackFinder",
    "any_gnn",
    "describe_finder",
    "finder_entry",
    "finder_name",
    "finder_names",
    "make_finder",
    "refuse_gnn_settings",
    "register_finder",
    "unregister_finder",
]


@runtime_checkable
class TrackFinder(Protocol):
    """Anything that finds track candidates in an event."""

    name: str

    def reconstruct(self, event: Event) -> TrackingResult:
        """Label every space point of ``event`` with a candidate id (-1 = none)."""
        ...


@runtime_checkable
class ServableFinder(TrackFinder, Protocol):
    """A track finder that needs only the contract features: it can be served."""

    def run(self, features: np.ndarray) -> Any:
        """``(labels int64 [N], stage seconds, (graph edges, kept edges))`` for ``features``."""
        ...


@dataclass(frozen=True)
class FinderEntry:
    """One registered track finder (see the module docstring)."""

    name: str
    #: a callable, or ``"module:attribute"`` imported on first use
    factory: Callable[..., TrackFinder] | str
    summary: str = ""
    aliases: tuple[str, ...] = ()
    #: called with ``bundle``, ``device`` and pipeline settings (a model bundle travels with it)
    uses_bundle: bool = False
    #: needs only the features (no truth): may be served
    servable: bool = True
    #: runs in ``reconstruct --backend`` and ``benchmark --local`` (False: served only)
    local: bool = True
    #: fixed keyword arguments of the factory
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def served_name(self) -> str:
        """The name a server binds it under by default: its first alias (the name of earlier
        releases, which clients know), else its name."""
        return self.aliases[0] if self.aliases else self.name

    def make(
        self, bundle: str | Path | None = None, device: str | None = None, **settings: Any
    ) -> TrackFinder:
        """A new finder of this entry (``settings`` are ignored without ``uses_bundle``)."""
        factory = self.factory
        if isinstance(factory, str):
            module, _, attribute = factory.partition(":")
            factory = getattr(importlib.import_module(module), attribute)
        if self.uses_bundle:
            return factory(bundle=bundle, device=device, **settings, **self.options)
        return factory(**self.options)


_REGISTRY: dict[str, FinderEntry] = {}
_ALIASES: dict[str, str] = {}
#: the environment variable naming plug-in modules that register finders
PLUGINS_VARIABLE = "ACTS_GNN_FINDERS"
_plugins_loaded = False


def _load_plugins() -> None:
    """Import the modules of ``$ACTS_GNN_FINDERS`` once (each registers its finders)."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for module in filter(
        None, (m.strip() for m in os.environ.get(PLUGINS_VARIABLE, "").split(","))
    ):
        try:
            importlib.import_module(module)
        except Exception as exc:  # any failure of someone else's module: one line
            raise ConfigError(f"{PLUGINS_VARIABLE}: cannot import {module!r} ({exc})") from exc


def register_finder(
    name: str,
    factory: Callable[..., TrackFinder] | str,
    *,
    summary: str = "",
    aliases: tuple[str, ...] = (),
    uses_bundle: bool = False,
    servable: bool | None = None,
    local: bool = True,
    options: Mapping[str, Any] | None = None,
) -> FinderEntry:
    """Add a track finder to the registry (a name or alias already taken is a ConfigError).

    ``servable`` None: a class with a ``run`` method is servable, one without is not (a factory
    named by a string must say).
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(f"a track finder's name must be a non-empty string, got {name!r}")
    if not isinstance(factory, str) and not callable(factory):
        raise ConfigError(
            f"track finder {name!r}: its factory must be callable (a class or function) or "
            f"'module:attribute', got {factory!r}"
        )
    if not isinstance(factory, str) and isinstance(factory, type):
        if not callable(getattr(factory, "reconstruct", None)):
            raise ConfigError(
                f"track finder {name!r}: {factory.__name__} has no reconstruct(event) method"
            )
    taken = [n for n in (name, *aliases) if n in _REGISTRY or n in _ALIASES]
    if taken:
        raise ConfigError(f"track finder name {taken[0]!r} is registered already")
    if servable is None:
        if isinstance(factory, str):
            raise ConfigError(f"track finder {name!r}: say whether it is servable")
        servable = callable(getattr(factory, "run", None))
    entry = FinderEntry(
        name, factory, summary, tuple(aliases), uses_bundle, servable, local, options or {}
    )
    _REGISTRY[name] = entry
    _ALIASES.update(dict.fromkeys(aliases, name))
    return entry


def unregister_finder(name: str) -> None:
    """Remove ``name`` and its aliases from the registry (a plug-in replacing one; tests)."""
    entry = _REGISTRY.pop(name)
    for alias in entry.aliases:
        del _ALIASES[alias]


def finder_names(*, served: bool = False) -> tuple[str, ...]:
    """The names of the local finders in registration order; with ``served``, the served names
    (:attr:`FinderEntry.served_name`) of those that may be served, sorted."""
    _load_plugins()
    if served:
        return tuple(sorted(e.served_name for e in _REGISTRY.values() if e.servable))
    return tuple(n for n, e in _REGISTRY.items() if e.local)


def finder_entry(name: str, *, served: bool = False) -> FinderEntry:
    """The entry of ``name`` or of its alias: one that runs locally, or with ``served`` one
    that may be served.

    Raises:
        ConfigError: no such finder (the message lists the choices).
    """
    _load_plugins()
    entry = _REGISTRY.get(_ALIASES.get(name, name))
    if served and (entry is None or not entry.servable):
        choices = ", ".join(finder_names(served=True))
        raise ConfigError(f"unknown model {name!r}; choose from {choices}")
    if not served and (entry is None or not entry.local):
        choices = ", ".join(finder_names())
        raise ConfigError(f"unknown backend {name!r}; choose one of {choices}")
    return entry


def any_gnn(models: Sequence[str]) -> bool:
    """Whether any of the served ``models`` is a GNN pipeline (takes a bundle, a device, a
    precision); an unknown one counts as one (it is refused where it is looked up)."""
    return any(_served_gnn(model) for model in models)


def refuse_gnn_settings(
    settings: Mapping[str, object], models: Sequence[str], named: str | None = None
) -> None:
    """Refuse the GNN settings given (option → value; None: not given) when none of the served
    ``models`` is a GNN pipeline, which alone takes a bundle, a device or a precision: they
    would be ignored. ``named``: how the models are named in the message (default: their
    names). An unknown model counts as one that takes them (it is refused where it is looked
    up, by its own name).

    Raises:
        ConfigError: such settings.
    """
    given = ", ".join(option for option, value in settings.items() if value is not None)
    if not given or any_gnn(models):
        return
    verb = "takes" if len(models) == 1 else "take"
    raise ConfigError(f"{given}: settings of a GNN model; {named or ', '.join(models)} {verb} none")


def _served_gnn(model: str) -> bool:
    try:
        return finder_entry(model, served=True).uses_bundle
    except ConfigError:
        return True


def finder_name(finder: object) -> str:
    """A finder's ``name``, or its class's name when it has none (for messages)."""
    return str(getattr(finder, "name", type(finder).__name__))


def describe_finder(finder: TrackFinder) -> dict[str, object]:
    """What a finder says made its tracks (its ``describe()``, as the GNN pipeline and the
    remote client have), else its name.

    Raises:
        ConfigError: a ``describe()`` that gives no mapping of names to JSON values (a
            plug-in's; its tracks would go unrecorded).
    """
    describe = getattr(finder, "describe", None)
    if not callable(describe):
        return {"finder": finder_name(finder)}
    described = describe()
    try:
        json.dumps(described, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"track finder {finder_name(finder)!r}: describe() gave what JSON cannot hold ({exc})"
        ) from exc
    if not isinstance(described, Mapping):
        raise ConfigError(
            f"track finder {finder_name(finder)!r}: describe() gave {type(described).__name__}, "
            "expected a mapping of names to values"
        )
    return dict(described)


def make_finder(
    name: str,
    bundle: str | Path | None = None,
    device: str | None = None,
    *,
    max_neighbours: int | None = None,
    precision: str | None = None,
) -> TrackFinder:
    """The track finder registered as ``name`` (or an alias of it).

    The GNN finders use ``bundle`` (default: the model shipped in the package), with
    ``max_neighbours`` (K1's cap per space point) replacing the bundle's when given, and run
    their filter and GNN in ``precision`` on a GPU (see :class:`~acts_gnn.gnn.pipeline.Pipeline`;
    default fp32, as trained).

    Raises:
        ConfigError: unknown name, ``max_neighbours`` below one, or a precision the pipeline
            cannot run (unknown, or reduced on a CPU).
        BundleError: the bundle cannot be loaded.
    """
    if max_neighbours is not None and max_neighbours < 1:
        raise ConfigError(f"--max-neighbours must be at least 1, got {max_neighbours}")
    settings: dict[str, Any] = {} if max_neighbours is None else {"max_neighbours": max_neighbours}
    if precision is not None:
        settings["precision"] = precision
    return finder_entry(name).make(bundle, device, **settings)


class TruthTrackFinder:
    """Groups space points by their true particle, as ACTS's ``TruthTrackFinder`` does.

    Noise points stay unassigned. Labels are canonical (numbered by first space point). It is the
    upper bound of any finder and exercises the whole I/O path without a model.
    """

    name = "truth"

    def __init__(self, min_spacepoints: int = 1) -> None:
        self.min_spacepoints = min_spacepoints

    def __repr__(self) -> str:
        return f"TruthTrackFinder(min_spacepoints={self.min_spacepoints})"

    def reconstruct(self, event: Event) -> TrackingResult:
        """Labels from the event's truth.

        Raises:
            InputFormatError: the event has no truth.
        """
        import time

        if event.truth is None:
            raise InputFormatError(
                event.source or f"event {event.event_id}",  # an event of the caller's arrays
                "",
                "the truth backend needs truth (particle ids) in the input: beside ACTS CSV "
                "space points -measurement-simhit-map.csv and -hits.csv, beside TrackML hits "
                "-truth.csv",
            )
        start = time.perf_counter()
        particle = event.truth.particle_id
        raw = np.full(particle.shape, -1, dtype=np.int64)
        real = particle != NOISE_PARTICLE_ID
        _, raw[real] = np.unique(particle[real], return_inverse=True)
        labels = canonical_labels(raw, self.min_spacepoints)
        elapsed = time.perf_counter() - start
        timing = EventTiming(
            event_id=event.event_id,
            backend=self.name,
            n_spacepoints=len(event),
            total_s=elapsed,
            stages_s={"track_building": elapsed},
        )
        return TrackingResult(labels=labels, timing=timing)


class NullTrackFinder:
    """Labels every space point -1 at once: what serving itself costs (``acts-gnn benchmark``)."""

    name = "null"

    def __repr__(self) -> str:
        return "NullTrackFinder()"

    def run(self, features: np.ndarray) -> tuple[np.ndarray, dict[str, float], tuple[int, int]]:
        """No candidates, no stages, no edges."""
        return np.full(features.shape[0], -1, dtype=np.int64), {}, (0, 0)

    def reconstruct(self, event: Event) -> TrackingResult:
        """No candidates in ``event``."""
        labels = np.full(len(event), -1, dtype=np.int64)
        return TrackingResult(labels, EventTiming(event.event_id, self.name, len(event), 0.0))


register_finder(
    "gnn",
    "acts_gnn.gnn.pipeline:Pipeline",
    summary="the GNN pipeline, with its bundle's track building",
    aliases=("gnn_tracking",),
    uses_bundle=True,
    servable=True,
)
register_finder(
    "gnn_components",
    "acts_gnn.gnn.pipeline:Pipeline",
    summary="the GNN pipeline, connected components",
    aliases=("gnn_tracking_components",),
    uses_bundle=True,
    servable=True,
    options={"track_builder": "components"},
)
register_finder(
    "gnn_walk",
    "acts_gnn.gnn.pipeline:Pipeline",
    summary="the GNN pipeline, walkthrough track building",
    aliases=("gnn_tracking_walk",),
    uses_bundle=True,
    servable=True,
    options={"track_builder": "walkthrough"},
)
register_finder(
    "truth",
    TruthTrackFinder,
    summary="groups space points by true particle (needs truth)",
    servable=False,
)
register_finder(
    "unrolling",
    "acts_gnn.classical.unrolling:UnrollingTrackFinder",
    summary="classical helix-unrolling baseline",
    aliases=("unrolling_tracking",),
    servable=True,
)
register_finder(
    "null",
    NullTrackFinder,
    summary="labels nothing: what serving itself costs",
    aliases=("null_tracking",),
    local=False,
)

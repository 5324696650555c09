"""One reader per input format, in one registry; an event found on disk but not read yet.

Layer: io.

A **reader** has a ``name`` (the ``--format`` value), may ``find`` the events of a path it
recognises (``find(path) -> list[EventRef] | None``, None: not this format; a plug-in format
needs it, the built-in ones are found by :func:`acts_gnn.io.source.open_events`, which knows
their file-name conventions), and ``read`` s one :class:`EventRef` into an
:class:`~acts_gnn.event.Event`, raising :class:`~acts_gnn.errors.InputFormatError` for bad
input. The built-in readers (``acts-csv``, ``trackml``, ``root``, ``npz``) register themselves
in their own modules; :func:`register_reader` adds one more.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from acts_gnn.errors import ConfigError, InputFormatError
from acts_gnn.event import Event
from acts_gnn.io.csvtable import check_positions

__all__ = [
    "EventRef",
    "HeldEvent",
    "Reader",
    "check_event",
    "find_with_plugins",
    "known_without_truth",
    "reader",
    "reader_names",
    "register_reader",
    "unregister_reader",
]


@dataclass(frozen=True)
class EventRef:
    """An event found on disk but not read yet.

    ``files``: the event's files by role (``spacepoint``, ``hits``, …, ``root``, ``npz``);
    ``location``: where in them, as its reader needs it (a ROOT file's layout and entry range).
    """

    event_id: int
    format: str
    files: Mapping[str, Path] = field(default_factory=dict)
    location: Hashable | None = None

    @property
    def source(self) -> str:
        """The main file of the event (for messages)."""
        if isinstance(self.location, HeldEvent):
            return self.location.event.source or f"event {self.event_id} (in memory)"
        for role in ("spacepoint", "measurements", "hits", "root", "npz"):
            if role in self.files:
                return str(self.files[role])
        return str(next(iter(self.files.values())))

    @classmethod
    def held(cls, event: Event) -> EventRef:
        """A reference to an event already in memory (``load`` gives it back, checked)."""
        return cls(event_id=event.event_id, format="memory", location=HeldEvent(event))

    def load(self) -> Event:
        """Read the event (raises :class:`InputFormatError` for bad input)."""
        if isinstance(self.location, HeldEvent):  # named in messages, the caller's unchanged
            event = self.location.event
            if not event.source:
                event = replace(event, source=self.source)
        else:
            event = reader(self.format).read(self)
        check_event(event, self.source)
        return event


@dataclass(frozen=True, eq=False)
class HeldEvent:
    """An event in memory where an :class:`EventRef` keeps where to read (compared by the
    event's identity: one event object is one event)."""

    event: Event

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HeldEvent) and other.event is self.event

    def __hash__(self) -> int:
        return id(self.event)


@runtime_checkable
class Reader(Protocol):
    """One input format.

    A reader may also have ``lacks_truth(ref) -> bool``: whether the event's files show, before
    it is read, that it has no truth (a CSV event without its truth files); without it, an
    event's truth is known once it is read. And ``check(ref) -> None``: what can be refused
    before the event is read (its tables' headers), raising InputFormatError.
    """

    name: str

    def read(self, ref: EventRef) -> Event:
        """The event ``ref`` points to (raises InputFormatError for bad input)."""
        ...


def known_without_truth(ref: EventRef) -> bool:
    """Whether ``ref``'s event has no truth, as told without reading it (False: it has, or it
    cannot be told so)."""
    if isinstance(ref.location, HeldEvent):
        return ref.location.event.truth is None
    lacks_truth = getattr(reader(ref.format), "lacks_truth", None)
    return bool(lacks_truth(ref)) if lacks_truth is not None else False


_READERS: dict[str, Reader] = {}
#: the modules of the built-in readers (each registers its own when imported)
_BUILTIN_MODULES = (
    "acts_gnn.io.acts_csv",
    "acts_gnn.io.trackml",
    "acts_gnn.io.root",
    "acts_gnn.io.npz",
)


def _builtins() -> dict[str, Reader]:
    """The registry, with the built-in readers in it whoever asks first."""
    import importlib

    for module in _BUILTIN_MODULES:
        importlib.import_module(module)
    return _READERS


def register_reader(new: Reader) -> Reader:
    """Add a reader under its name (a name taken already is a ConfigError)."""
    if new.name in _READERS:
        raise ConfigError(f"input format {new.name!r} has a reader already")
    _READERS[new.name] = new
    return new


def unregister_reader(name: str) -> None:
    """Remove the reader of format ``name`` (a plug-in replacing one; tests)."""
    del _READERS[name]


def reader_names() -> tuple[str, ...]:
    """The formats, in registration order (the built-in ones first)."""
    return tuple(_builtins())


def reader(name: str) -> Reader:
    """The reader of format ``name`` (ConfigError naming the formats when there is none)."""
    readers = _builtins()
    if name not in readers:
        raise ConfigError(f"unknown format {name!r}; choose one of {', '.join(readers)}")
    return readers[name]


def find_with_plugins(path: Path, format: str | None) -> list[EventRef] | None:
    """The events of ``path`` by a reader with a ``find`` method (``format``: only that one)."""
    for name, candidate in _builtins().items():
        find = getattr(candidate, "find", None)
        if find is not None and format in (None, name):
            refs = find(path)
            if refs is not None:
                return refs
    return None


def check_event(event: Event, source: str) -> None:
    """What every reader guarantees: space points exist, positions are finite and within
    :data:`~acts_gnn.event.MAX_POSITION_MM`, ids differ.

    The readers report these with line numbers where they can; this is the net under all
    formats.
    """
    if len(event) == 0:
        raise InputFormatError(source, f"event {event.event_id}", "no space points in this event")
    sp = event.spacepoints
    finite = np.isfinite(sp.x) & np.isfinite(sp.y) & np.isfinite(sp.z)
    if not finite.all():
        index = int(np.flatnonzero(~finite)[0])
        raise InputFormatError(
            source,
            f"event {event.event_id}, space point {index}",
            f"position is not finite: ({sp.x[index]}, {sp.y[index]}, {sp.z[index]})",
        )
    for values in (sp.x, sp.y, sp.z):
        check_positions(source, values, lambda row: f"event {event.event_id}, space point {row}")
    ids = np.sort(sp.measurement_id)
    repeated = np.flatnonzero(ids[1:] == ids[:-1])
    if repeated.size:
        raise InputFormatError(
            source,
            f"event {event.event_id}",
            f"measurement id {ids[repeated[0]]} appears more than once",
        )

"""Find events in files and directories and read them lazily, one at a time.

Layer: io.

``open_events(paths, format=None)`` accepts event files, file prefixes (``…/event000001000``),
directories of many events and ROOT files, detects the format (or takes ``format``), and returns an
:class:`EventSource`: a list of :class:`~acts_gnn.io.readers.EventRef` whose ``load()`` reads one
event, with its format's reader (:mod:`acts_gnn.io.readers`), when called. The built-in formats
are found by their file names here; a registered reader with a ``find`` method is asked first.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# the built-in formats register their readers when imported
import acts_gnn.io.acts_csv
import acts_gnn.io.npz
import acts_gnn.io.trackml  # noqa: F401
from acts_gnn.errors import ConfigError, InputFormatError
from acts_gnn.event import Event
from acts_gnn.io.readers import EventRef, find_with_plugins, reader, reader_names
from acts_gnn.io.root import ROOT_PRESETS, RootLayout, is_tracks_output, root_event_ids

__all__ = ["FORMATS", "EventRef", "EventSource", "check_root_layout_used", "open_events"]

#: the built-in input formats by name (:func:`acts_gnn.io.readers.reader_names` lists all)
FORMATS = ("acts-csv", "trackml", "root", "npz")

_CSV_NAME = re.compile(
    r"^event(?P<id>\d+)-(?P<role>spacepoint|measurements|measurement-simhit-map|hits|truth"
    r"|particles_simulated|particles|particles_initial|particles_final|cells)\.csv(?:\.gz)?$"
)
_PREFIX = re.compile(r"^event(?P<id>\d+)$")
_NPZ_NAME = re.compile(r"^event(?P<id>\d+)\.npz$")


@dataclass(frozen=True)
class EventSource:
    """The events of one or more inputs, in order; iterate to read them one by one."""

    refs: tuple[EventRef, ...]

    def __len__(self) -> int:
        return len(self.refs)

    def __iter__(self) -> Iterator[Event]:
        for ref in self.refs:
            yield ref.load()

    @property
    def format(self) -> str:
        """The format of the first event (all events of one source share it in practice)."""
        return self.refs[0].format if self.refs else ""

    @classmethod
    def of(cls, events: EventSource | Iterable[Event]) -> EventSource:
        """``events`` as a source: a source as it is; events in memory (your own
        :class:`~acts_gnn.event.Event` objects) each checked as a reader checks its own.

        Raises:
            ConfigError: something that is neither.
        """
        if isinstance(events, EventSource):
            return events
        held = list(events) if isinstance(events, Iterable) else [events]
        for item in held:
            if not isinstance(item, Event):
                raise ConfigError(
                    "expected events: an EventSource (acts_gnn.open_events) or Event objects, "
                    f"got {type(item).__name__}"
                )
        return cls(tuple(EventRef.held(event) for event in held))

    def files(self) -> list[Path]:
        """Every file the events are read from."""
        return [path for ref in self.refs for path in ref.files.values()]

    def check_tables(self) -> EventSource:
        """Check every event's files as far as can be without reading them (each reader's
        ``check``: the CSV tables' headers), so that a malformed file among many is refused
        before the work, not after the events before it; returns itself.

        Raises:
            InputFormatError: a file its reader refuses.
        """
        for ref in self.refs:
            check = getattr(reader(ref.format), "check", None) if ref.format != "memory" else None
            if check is not None:
                check(ref)
        return self

    def check_no_repeats(self) -> EventSource:
        """Itself, once no event is given twice: one event number read from one file through
        two inputs (``--train d --train d``, or a folder and one of its event files). Events of
        one number in other files are distinct events.

        Raises:
            InputFormatError: an event given twice.
        """
        first: dict[tuple[int, Path], EventRef] = {}
        for ref in self.refs:
            for path in ref.files.values():
                earlier = first.setdefault((ref.event_id, path.resolve()), ref)
                if earlier is not ref:
                    again = "" if earlier.source == ref.source else f" (as {earlier.source})"
                    raise InputFormatError(
                        ref.source, "", f"event {ref.event_id} is given twice{again}"
                    )
        return self

    def check_distinct_ids(self) -> EventSource:
        """Itself, once no two of its events share an event number — what tracks and reports
        are keyed by (``eventNNN-prototracks.csv``, the tracks file's ``event_id``, the truth an
        evaluation takes for them).

        Raises:
            InputFormatError: two events with one number (two ACTS or ``simulate`` runs both
                start at event 0).
        """
        first: dict[int, EventRef] = {}
        for ref in self.refs:
            earlier = first.setdefault(ref.event_id, ref)
            if earlier is ref:
                continue
            if earlier == ref:  # the same files named twice
                raise InputFormatError(ref.source, "", f"event {ref.event_id} is given twice")
            raise InputFormatError(
                ref.source,
                "",
                f"event {ref.event_id} is also {earlier.source}: tracks and reports are kept "
                "by event number, so one event's would replace the other's (give events of "
                "distinct numbers, in separate runs)",
            )
        return self


def _event_number(match: re.Match, path: Path) -> int:
    """The event number in a file's name (``event000000042-…`` → 42).

    Raises:
        InputFormatError: a number beyond 2⁶⁴ − 1 (the tracks files keep it as uint64).
    """
    number = int(match["id"])
    if number >= 2**64:
        raise InputFormatError(
            path, "", f"event number {number} in the name: expected at most 2^64 − 1"
        )
    return number


def _csv_groups(files: Sequence[Path]) -> dict[tuple[Path, int], dict[str, Path]]:
    groups: dict[tuple[Path, int], dict[str, Path]] = {}
    for path in files:
        match = _CSV_NAME.match(path.name)
        if match:
            roles = groups.setdefault((path.parent, _event_number(match, path)), {})
            twin = roles.setdefault(match["role"], path)
            if twin != path:  # eventNNN-hits.csv beside eventNNN-hits.csv.gz
                raise InputFormatError(
                    path, "", f"{twin.name} is the same table of the same event: keep one of them"
                )
    return groups


def _csv_format(path: Path, event_id: int, roles: Mapping[str, Path]) -> str:
    if "spacepoint" in roles or "measurements" in roles or "measurement-simhit-map" in roles:
        return "acts-csv"
    if "hits" in roles and "truth" in roles:  # ACTS writes no -truth.csv
        return "trackml"
    if "hits" in roles:
        from acts_gnn.io.csvtable import read_header

        header = read_header(roles["hits"])
        if "hit_id" in header:
            return "trackml"
        return "acts-csv"
    found = ", ".join(f"-{role}" for role in sorted(roles))
    raise InputFormatError(
        path,
        f"event {event_id}",
        f"no hits or space points (found {found}; expected -hits.csv or -spacepoint.csv)",
    )


def _refs_from_csv(
    anchor: Path, groups: dict[tuple[Path, int], dict[str, Path]], fmt: str | None
) -> list[EventRef]:
    refs = []
    for (_, event_id), roles in sorted(
        groups.items(), key=lambda item: (str(item[0][0]), item[0][1])
    ):
        detected = fmt or _csv_format(anchor, event_id, roles)
        if detected not in ("acts-csv", "trackml"):
            raise InputFormatError(anchor, "", f"CSV files given but --format {detected} requested")
        needed = ("hits",) if detected == "trackml" else ()
        for role in needed:
            if role not in roles:
                raise InputFormatError(anchor, "", f"event {event_id}: missing -{role}.csv")
        if detected == "acts-csv" and not {"spacepoint", "measurements"} & set(roles):
            raise InputFormatError(
                anchor, "", f"event {event_id}: expected -spacepoint.csv or -measurements.csv"
            )
        refs.append(EventRef(event_id=event_id, format=detected, files=dict(roles)))
    return refs


def _refs_from_root(path: Path, layout: RootLayout) -> list[EventRef]:
    return [
        EventRef(event_id=event_id, format="root", files={"root": path}, location=(layout, a, b))
        for event_id, a, b in root_event_ids(path, layout)
    ]


@dataclass
class _Finder:
    """What ``open_events`` needs on every path: the format asked for and the ROOT layout."""

    format: str | None
    root_preset: str
    root_tree: str | None
    root_branches: Mapping[str, str] | None
    layout: RootLayout | None = None

    def root_layout(self) -> RootLayout:
        """The ROOT layout (preset and overrides), made and checked once."""
        if self.layout is None:
            if self.root_preset not in ROOT_PRESETS:
                raise ConfigError(
                    f"unknown ROOT preset {self.root_preset!r}; choose one of "
                    f"{', '.join(ROOT_PRESETS)}"
                )
            overrides = dict(self.root_branches or {})
            if self.root_tree:
                overrides["tree"] = self.root_tree
            self.layout = ROOT_PRESETS[self.root_preset].with_overrides(overrides)
        return self.layout

    def root_file(self, path: Path) -> list[EventRef]:
        layout = self.root_layout()
        if not path.exists():
            raise InputFormatError(path, "", "no such file or directory")
        return _refs_from_root(path, layout)

    def directory(self, path: Path) -> list[EventRef]:
        listed = sorted(path.iterdir())
        for entry in listed:  # an event file whose link leads nowhere: its event would vanish
            named = entry.name.startswith("event") or entry.suffix == ".root"
            if named and entry.is_symlink() and not entry.exists():
                raise InputFormatError(
                    entry, "", f"a link to {os.readlink(entry)}, which does not exist"
                )
        entries = [p for p in listed if p.is_file()]
        roots = [p for p in entries if p.suffix == ".root"]
        groups = _csv_groups(entries)
        caches = [(_event_number(m, p), p) for p in entries if (m := _NPZ_NAME.match(p.name))]
        if caches and (groups or roots) and self.format is None:  # one kind would be ignored
            other = "CSV events" if groups else "ROOT files"
            raise InputFormatError(
                path,
                "",
                f"holds {other} and .npz caches ({caches[0][1].name}, …): give the format "
                "(--format) or the files themselves",
            )
        # ROOT files beside CSV events are not read (a tracks file written beside its inputs),
        # nor a tracks file beside ROOT events
        if caches and (self.format == "npz" or (self.format is None and not groups)):
            return [EventRef(event_id=i, format="npz", files={"npz": p}) for i, p in caches]
        if roots and (self.format == "root" or (self.format is None and not groups)):
            inputs = [p for p in roots if not is_tracks_output(p, self.root_layout())]
            if not inputs:
                raise InputFormatError(
                    path, "", "holds acts-gnn tracks files only, no ROOT event file"
                )
            return [ref for root in inputs for ref in self.path(root)]
        if not groups:
            raise InputFormatError(
                path, "", "no event files (expected eventNNN-*.csv[.gz] or *.root)"
            )
        return _refs_from_csv(path, groups, self.format)

    def file(self, path: Path) -> list[EventRef]:
        if cache := _NPZ_NAME.match(path.name):
            number = _event_number(cache, path)
            return [EventRef(event_id=number, format="npz", files={"npz": path})]
        match = _CSV_NAME.match(path.name)
        if not match:
            raise InputFormatError(
                path,
                "",
                "unrecognised file name (expected eventNNN-<kind>.csv[.gz], eventNNN.npz or .root)",
            )
        siblings = sorted(path.parent.glob(f"event{match['id']}-*"))
        groups = _csv_groups(siblings)
        if match["role"] == "measurements":  # named: its points, not the space-point file's
            for roles in groups.values():
                roles.pop("spacepoint", None)
        return _refs_from_csv(path, groups, self.format)

    def prefix(self, path: Path) -> list[EventRef]:
        groups = _csv_groups(sorted(path.parent.glob(f"{path.name}-*")))
        if not groups:
            raise InputFormatError(path, "", "no files with this event prefix")
        return _refs_from_csv(path, groups, self.format)

    def path(self, path: Path) -> list[EventRef]:
        """The events of one path, by what it is."""
        plugin = find_with_plugins(path, self.format)
        if plugin is not None:
            return plugin
        if path.suffix == ".root" or (self.format == "root" and path.is_file()):
            return self.root_file(path)
        if path.is_dir():
            return self.directory(path)
        if path.is_file():
            return self.file(path)
        if _PREFIX.match(path.name) and path.parent.is_dir():
            return self.prefix(path)
        raise InputFormatError(path, "", "no such file or directory")


def open_events(
    paths: Sequence[str | Path] | str | Path,
    format: str | None = None,
    *,
    root_preset: str = "spacepoints",
    root_tree: str | None = None,
    root_branches: Mapping[str, str] | None = None,
    check_layout: bool = True,
) -> EventSource:
    """Find the events in ``paths`` without reading them.

    Args:
        paths: files, event prefixes (``dir/event000001000``) or directories (or one of them).
        format: ``acts-csv``, ``trackml``, ``root`` or ``npz`` (an :mod:`acts_gnn.io.cache`
            directory), or a registered reader's; detected from the files when None.
        root_preset: ROOT branch layout preset (see :data:`acts_gnn.io.root.ROOT_PRESETS`).
        root_tree: tree name overriding the preset's.
        root_branches: branch-name overrides for ROOT files (key → branch).
        check_layout: refuse a ROOT layout when no input is a ROOT file
            (:func:`check_root_layout_used`; False where these inputs are part of a larger
            set whose caller checks the whole).

    Raises:
        InputFormatError: a path does not exist or holds no recognisable event.
        ConfigError: an unknown format, preset or branch key; a ROOT layout for inputs none of
            which is a ROOT file.
    """
    if format is not None and format not in reader_names():
        names = [*FORMATS, *(n for n in reader_names() if n not in FORMATS)]
        raise ConfigError(f"unknown format {format!r}; choose one of {', '.join(names)}")
    if isinstance(paths, str | Path):
        paths = [paths]
    given = paths
    paths = list(paths) if isinstance(paths, Iterable) else None
    if paths is None or not all(isinstance(p, str | os.PathLike) for p in paths):
        raise ConfigError(f"paths must be a path or a list of paths, got {given!r}")
    finder = _Finder(format, root_preset, root_tree, root_branches)
    finder.root_layout()  # a mistyped preset or branch key is refused whatever the inputs
    refs = tuple(ref for raw in paths for ref in finder.path(Path(raw)))
    if check_layout:
        check_root_layout_used(refs, root_preset, root_tree, root_branches)
    return EventSource(refs)


def check_root_layout_used(
    refs: Sequence[EventRef],
    root_preset: str = "spacepoints",
    root_tree: str | None = None,
    root_branches: Mapping[str, str] | None = None,
) -> None:
    """Refuse a ROOT layout other than the default for events none of which is in a ROOT file
    (it would be ignored).

    Raises:
        ConfigError: such a layout.
    """
    root_settings = root_tree or root_branches or root_preset != "spacepoints"
    if root_settings and refs and not any(ref.format == "root" for ref in refs):
        raise ConfigError(
            "a ROOT layout (--root-preset, --tree, --branch) was given, but no input is a "
            f"ROOT file (the events are {refs[0].format} files)"
        )

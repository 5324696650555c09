"""Find events in files and directories and read them lazily, one at a time.

Layer: io.

``open_events(paths, format=None)`` accepts event files, file prefixes (``…/event000001000``),
directories of many events and ROOT files, detects the format (or takes ``format``), and returns an
:class:`EventSource`: a list of :class:`EventRef` whose ``load()`` reads one event when called.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from acts_gnn.errors import ConfigError, InputFormatError
from acts_gnn.event import Event

__all__ = ["FORMATS", "EventRef", "EventSource", "open_events"]

#: input formats by name
FORMATS = ("acts-csv", "trackml", "root", "npz")

_CSV_NAME = re.compile(
    r"^event(?P<id>\d+)-(?P<role>spacepoint|measurements|measurement-simhit-map|hits|truth"
    r"|particles_simulated|particles|particles_initial|particles_final|cells)\.csv(?:\.gz)?$"
)
_PREFIX = re.compile(r"^event(?P<id>\d+)$")
_NPZ_NAME = re.compile(r"^event(?P<id>\d+)\.npz$")


@dataclass(frozen=True)
class EventRef:
    """An event found on disk but not read yet."""

    event_id: int
    format: str
    files: Mapping[str, Path] = field(default_factory=dict)
    root_layout: object | None = None
    root_range: tuple[int, int] | None = None

    @property
    def source(self) -> str:
        """The main file of the event (for messages)."""
        for role in ("spacepoint", "hits", "measurements", "root", "npz"):
            if role in self.files:
                return str(self.files[role])
        return str(next(iter(self.files.values())))

    def load(self) -> Event:
        """Read the event (raises :class:`InputFormatError` for bad input)."""
        event = self._read()
        _check_event(event, self.source)
        return event

    def _read(self) -> Event:
        if self.format == "acts-csv":
            from acts_gnn.io.acts_csv import read_acts_event

            return read_acts_event(self.event_id, dict(self.files))
        if self.format == "trackml":
            from acts_gnn.io.trackml import read_trackml_event

            return read_trackml_event(self.event_id, dict(self.files))
        if self.format == "npz":
            from acts_gnn.io.npz import load_event_npz

            return load_event_npz(self.files["npz"])
        from acts_gnn.io.root import RootLayout, read_root_block

        assert isinstance(self.root_layout, RootLayout) and self.root_range is not None
        start, stop = self.root_range
        return read_root_block(self.files["root"], self.root_layout, self.event_id, start, stop)


def _check_event(event: Event, source: str) -> None:
    """What every reader guarantees: space points exist, positions are finite, ids differ.

    The readers report these with line numbers where they can; this is the net under all
    formats.
    """
    import numpy as np

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
    ids = np.sort(sp.measurement_id)
    repeated = np.flatnonzero(ids[1:] == ids[:-1])
    if repeated.size:
        raise InputFormatError(
            source,
            f"event {event.event_id}",
            f"measurement id {ids[repeated[0]]} appears more than once",
        )


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


def _csv_groups(files: Sequence[Path]) -> dict[tuple[Path, int], dict[str, Path]]:
    groups: dict[tuple[Path, int], dict[str, Path]] = {}
    for path in files:
        match = _CSV_NAME.match(path.name)
        if match:
            key = (path.parent, int(match["id"]))
            groups.setdefault(key, {})[match["role"]] = path
    return groups


def _csv_format(path: Path, roles: Mapping[str, Path]) -> str:
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
    raise InputFormatError(
        path, "", "no hits or space points for this event (expected -hits.csv or -spacepoint.csv)"
    )


def _refs_from_csv(
    anchor: Path, groups: dict[tuple[Path, int], dict[str, Path]], fmt: str | None
) -> list[EventRef]:
    refs = []
    for (_, event_id), roles in sorted(
        groups.items(), key=lambda item: (str(item[0][0]), item[0][1])
    ):
        detected = fmt or _csv_format(anchor, roles)
        if detected == "root":
            raise InputFormatError(anchor, "", "CSV files given but --format root requested")
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


def _refs_from_root(path: Path, layout: object) -> list[EventRef]:
    from acts_gnn.io.root import root_event_ids

    return [
        EventRef(
            event_id=event_id,
            format="root",
            files={"root": path},
            root_layout=layout,
            root_range=(start, stop),
        )
        for event_id, start, stop in root_event_ids(path, layout)  # type: ignore[arg-type]
    ]


def open_events(
    paths: Sequence[str | Path],
    format: str | None = None,
    *,
    root_preset: str = "spacepoints",
    root_tree: str | None = None,
    root_branches: Mapping[str, str] | None = None,
) -> EventSource:
    """Find the events in ``paths`` without reading them.

    Args:
        paths: files, event prefixes (``dir/event000001000``) or directories.
        format: ``acts-csv``, ``trackml``, ``root`` or ``npz`` (an :mod:`acts_gnn.io.cache`
            directory); detected from the files when None.
        root_preset: ROOT branch layout preset (see :data:`acts_gnn.io.root.ROOT_PRESETS`).
        root_tree: tree name overriding the preset's.
        root_branches: branch-name overrides for ROOT files (key → branch).

    Raises:
        InputFormatError: a path does not exist or holds no recognisable event.
        ConfigError: an unknown format, preset or branch key.
    """
    if format is not None and format not in FORMATS:
        raise ConfigError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    layout = None
    refs: list[EventRef] = []
    for raw in paths:
        path = Path(raw)
        if path.suffix == ".root" or (format == "root" and path.is_file()):
            if layout is None:
                from acts_gnn.io.root import ROOT_PRESETS

                if root_preset not in ROOT_PRESETS:
                    raise ConfigError(
                        f"unknown ROOT preset {root_preset!r}; choose one of "
                        f"{', '.join(ROOT_PRESETS)}"
                    )
                overrides = dict(root_branches or {})
                if root_tree:
                    overrides["tree"] = root_tree
                layout = ROOT_PRESETS[root_preset].with_overrides(overrides)
            if not path.exists():
                raise InputFormatError(path, "", "file not found")
            refs.extend(_refs_from_root(path, layout))
        elif path.is_dir():
            entries = sorted(p for p in path.iterdir() if p.is_file())
            roots = [p for p in entries if p.suffix == ".root"]
            groups = _csv_groups(entries)
            caches = [(int(m["id"]), p) for p in entries if (m := _NPZ_NAME.match(p.name))]
            if caches and not groups and format in (None, "npz"):
                refs.extend(EventRef(event_id=i, format="npz", files={"npz": p}) for i, p in caches)
                continue
            if not groups and roots:
                refs.extend(
                    open_events(
                        roots,
                        format,
                        root_preset=root_preset,
                        root_tree=root_tree,
                        root_branches=root_branches,
                    ).refs
                )
                continue
            if not groups:
                raise InputFormatError(
                    path, "", "no event files (expected eventNNN-*.csv[.gz] or *.root)"
                )
            refs.extend(_refs_from_csv(path, groups, format))
        elif path.is_file() and (cache := _NPZ_NAME.match(path.name)):
            refs.append(EventRef(event_id=int(cache["id"]), format="npz", files={"npz": path}))
        elif path.is_file():
            match = _CSV_NAME.match(path.name)
            if not match:
                raise InputFormatError(
                    path,
                    "",
                    "unrecognised file name (expected eventNNN-<kind>.csv[.gz], eventNNN.npz or "
                    ".root)",
                )
            siblings = sorted(path.parent.glob(f"event{match['id']}-*"))
            refs.extend(_refs_from_csv(path, _csv_groups(siblings), format))
        elif _PREFIX.match(path.name) and path.parent.is_dir():
            siblings = sorted(path.parent.glob(f"{path.name}-*"))
            groups = _csv_groups(siblings)
            if not groups:
                raise InputFormatError(path, "", "no files with this event prefix")
            refs.extend(_refs_from_csv(path, groups, format))
        else:
            raise InputFormatError(path, "", "no such file or directory")
    return EventSource(tuple(refs))

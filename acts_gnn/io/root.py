"""Reader for space points in ROOT files, through uproot.

Layer: io.

ROOT files store many events in one flat tree, one entry per space point (or hit), with an event
number branch. The branch names are explicit in a :class:`RootLayout`; two presets follow the
trees ACTS's ROOT writers produce, and every name can be overridden (``--branch key=name``):

* ``spacepoints`` — ``RootSpacepointWriter``: tree ``spacepoints`` with ``event_id``,
  ``measurement_id``, ``measurement_id_2``, ``geometry_id``, ``x``, ``y``, ``z``. It carries no
  truth; map a ``particle_id`` branch if your file has one.
* ``hits`` — ``RootSimHitWriter``: tree ``hits`` with ``event_id``, ``geometry_id``, ``tx``, ``ty``,
  ``tz`` and the particle barcode in ``barcode_vertex_primary`` … ``barcode_sub_particle``; the
  measurement id is the hit's entry number within its event.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from acts_gnn.errors import ConfigError, InputFormatError
from acts_gnn.event import Event, Particles, SpacePoints, Truth
from acts_gnn.io.csvtable import check_positions
from acts_gnn.io.ids import geometry_volume_layer_module, pack_barcode
from acts_gnn.io.readers import EventRef, register_reader

__all__ = [
    "ROOT_PRESETS",
    "RootLayout",
    "RootReader",
    "damaged_root_is_input_error",
    "is_tracks_output",
    "iter_root_events",
    "read_root_block",
    "root_event_ids",
]

_BARCODE_KEYS = (
    "barcode_vertex_primary",
    "barcode_vertex_secondary",
    "barcode_particle",
    "barcode_generation",
    "barcode_sub_particle",
)


@dataclass(frozen=True)
class RootLayout:
    """Where the space-point columns live in a ROOT file (empty string = not present)."""

    tree: str = "spacepoints"
    event_id: str = "event_id"
    x: str = "x"
    y: str = "y"
    z: str = "z"
    measurement_id: str = "measurement_id"
    measurement_id_2: str = "measurement_id_2"
    geometry_id: str = "geometry_id"
    particle_id: str = ""
    barcode_vertex_primary: str = ""
    barcode_vertex_secondary: str = ""
    barcode_particle: str = ""
    barcode_generation: str = ""
    barcode_sub_particle: str = ""

    def with_overrides(self, overrides: Mapping[str, str]) -> RootLayout:
        """A copy with some names replaced; unknown keys raise :class:`ConfigError`."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(
                f"unknown ROOT branch key {unknown[0]!r}; known keys: {', '.join(sorted(known))}"
            )
        return replace(self, **dict(overrides))


#: presets for the trees the ACTS ROOT writers produce
ROOT_PRESETS: dict[str, RootLayout] = {
    "spacepoints": RootLayout(),
    "hits": RootLayout(
        tree="hits",
        x="tx",
        y="ty",
        z="tz",
        measurement_id="",
        measurement_id_2="",
        barcode_vertex_primary="barcode_vertex_primary",
        barcode_vertex_secondary="barcode_vertex_secondary",
        barcode_particle="barcode_particle",
        barcode_generation="barcode_generation",
        barcode_sub_particle="barcode_sub_particle",
    ),
}


@contextlib.contextmanager
def damaged_root_is_input_error(path: Path) -> Iterator[None]:
    """Turn whatever uproot raises for a file that is not ROOT, or damaged ROOT, into one line.

    uproot checks a damaged file with assertions and raises AssertionError, OSError, ValueError,
    NotImplementedError, its DeserializationError and more, depending on which byte is wrong: in
    this block every one of them is the file's fault, reported as :class:`InputFormatError`.
    """
    try:
        yield
    except InputFormatError:
        raise
    except FileNotFoundError as exc:
        raise InputFormatError(path, "", "no such file or directory") from exc
    except Exception as exc:
        raise InputFormatError(path, "", f"not a readable ROOT file ({_reason(exc)})") from exc


def _reason(exc: Exception) -> str:
    """uproot's error in the reader's words: its byte counts and file signature, not its I/O
    classes' names (``FSSpecSource``), and not the path again."""
    text = " ".join(str(exc).split())  # uproot breaks its lines
    short = re.search(r"expected Chunk of length (\d+), received (\d+) bytes", text)
    if short:
        return f"truncated: {short[2]} of the {short[1]} bytes that should come next are there"
    signature = re.search(r"first four bytes are (b'.*')", text)
    if signature:
        return f"it starts with {signature[1]}, where a ROOT file starts with b'root'"
    text = re.sub(r"\s+(for file path|in file) \S+$", "", text)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def is_tracks_output(path: Path, layout: RootLayout) -> bool:
    """Whether ``path`` is a tracks file acts-gnn wrote (its ``tracks`` and ``timing`` trees,
    and not the layout's tree): an output beside the inputs, not an event file. A file that
    cannot be read is not one (reading it as an input says what is wrong)."""
    import uproot

    try:
        with uproot.open(path) as handle:
            trees = {key.split(";")[0] for key in handle.keys()}
    except Exception:  # uproot raises anything for a damaged file (see above)
        return False
    return _holds_tracks(trees) and layout.tree not in trees


def _holds_tracks(trees: set[str]) -> bool:
    """Whether a ROOT file of these trees holds what acts-gnn writes: tracks and timing."""
    return {"tracks", "timing"} <= trees


def _open_tree(path: Path, layout: RootLayout):
    import uproot

    with damaged_root_is_input_error(path):
        handle = uproot.open(path)
        return _tree_of(path, handle, layout)


def _tree_of(path: Path, handle, layout: RootLayout):
    if layout.tree not in handle:
        names = {k.split(";")[0] for k in handle.keys()}
        if _holds_tracks(names):  # given where events go
            raise InputFormatError(
                path,
                "",
                "a tracks file acts-gnn wrote, not events (evaluate takes the tracks first and "
                "the events after -t)",
            )
        trees = ", ".join(sorted(names)) or "none"
        raise InputFormatError(
            path, f"tree {layout.tree!r}", f"missing; the file has: {trees} (choose with --tree)"
        )
    tree = handle[layout.tree]
    names = set(tree.keys())
    required = [layout.event_id, layout.x, layout.y, layout.z]
    for name in required:
        if name not in names:
            raise InputFormatError(
                path,
                f"tree {layout.tree!r}, branch {name!r}",
                f"missing; branches are {', '.join(sorted(names))} (map with --branch key=name)",
            )
    return tree


def root_event_ids(path: Path, layout: RootLayout) -> list[tuple[int, int, int]]:
    """``(event_id, first_entry, stop_entry)`` for each event in the file, in file order.

    Raises:
        InputFormatError: the tree is empty, or an event's entries are not contiguous.
    """
    tree = _open_tree(path, layout)
    with damaged_root_is_input_error(path):
        raw = np.asarray(tree[layout.event_id].array(library="np"))
    with np.errstate(invalid="ignore"):  # inf and NaN are no event numbers either
        fraction = np.mod(raw, 1) if raw.dtype.kind == "f" else None
    integral = raw.dtype.kind in "iu" or (fraction is not None and bool(np.all(fraction == 0)))
    if raw.ndim != 1 or not integral or (raw.size and (raw.min() < 0 or raw.max() >= 2**63)):
        raise InputFormatError(
            path,
            f"tree {layout.tree!r}, branch {layout.event_id!r}",
            f"expected one event number (an integer of 0 or more) per entry, found {raw.dtype}"
            + (
                f" values {raw.min()}…{raw.max()}"
                if raw.ndim == 1 and raw.size and raw.dtype.kind != "O"
                else ""
            ),
        )
    event_ids = raw.astype(np.int64)
    if event_ids.size == 0:
        raise InputFormatError(path, f"tree {layout.tree!r}", "no entries (no space points)")
    change = np.flatnonzero(np.diff(event_ids)) + 1
    starts = np.concatenate([[0], change])
    stops = np.concatenate([change, [event_ids.size]])
    ranges = [(int(event_ids[a]), int(a), int(b)) for a, b in zip(starts, stops, strict=True)]
    seen: set[int] = set()
    for event_id, first, _ in ranges:
        if event_id in seen:
            raise InputFormatError(
                path,
                f"tree {layout.tree!r}, entry {first}",
                f"entries of event {event_id} are not contiguous; expected one block per event",
            )
        seen.add(event_id)
    return ranges


def read_root_block(path: Path, layout: RootLayout, event_id: int, start: int, stop: int) -> Event:
    """The event in entries ``start:stop``; a branch that holds no numbers is the file's fault."""
    with damaged_root_is_input_error(path):
        return _event_of_block(path, layout, event_id, start, stop)


def _event_of_block(path: Path, layout: RootLayout, event_id: int, start: int, stop: int) -> Event:
    tree = _open_tree(path, layout)
    names = set(tree.keys())
    wanted = [
        getattr(layout, f.name)
        for f in fields(layout)
        if f.name != "tree" and getattr(layout, f.name) in names
    ]
    arrays = tree.arrays(wanted, entry_start=start, entry_stop=stop, library="np")

    def get(key: str) -> np.ndarray | None:
        name = getattr(layout, key)
        return np.asarray(arrays[name]) if name and name in arrays else None

    x, y, z = (get(k).astype(np.float32) for k in ("x", "y", "z"))
    for key, values in (("x", x), ("y", y), ("z", z)):
        bad = ~np.isfinite(values)
        if bad.any():
            entry = start + int(np.flatnonzero(bad)[0])
            raise InputFormatError(
                path,
                f"tree {layout.tree!r}, branch {getattr(layout, key)!r}, entry {entry}",
                "expected a finite number",
            )
        check_positions(
            path,
            values,
            lambda row, key=key: (
                f"tree {layout.tree!r}, branch {getattr(layout, key)!r}, entry {start + row}"
            ),
        )
    n = stop - start
    measurement_id = get("measurement_id")
    if measurement_id is None:
        measurement_id = np.arange(n, dtype=np.uint64)
    geometry = get("geometry_id")
    volume = layer = module = None
    if geometry is not None:
        volume, layer, module = geometry_volume_layer_module(geometry.astype(np.uint64))
    spacepoints = SpacePoints(
        x=x,
        y=y,
        z=z,
        measurement_id=measurement_id.astype(np.uint64),
        measurement_id_2=get("measurement_id_2"),
        volume_id=volume,
        layer_id=layer,
        module_id=module,
    )
    particle_id = get("particle_id")
    if particle_id is None and all(get(k) is not None for k in _BARCODE_KEYS):
        try:
            particle_id = pack_barcode(*(get(k) for k in _BARCODE_KEYS))
        except ValueError as exc:
            raise InputFormatError(path, f"tree {layout.tree!r}", str(exc)) from exc
    truth = None
    if particle_id is not None:
        particle_id = particle_id.astype(np.uint64)
        particles = Particles.unknown(particle_id)
        truth = Truth(particle_id=particle_id, particles=particles)
    return Event(event_id=event_id, spacepoints=spacepoints, truth=truth, source=str(path))


def iter_root_events(path: Path, layout: RootLayout) -> Iterator[Event]:
    """Yield the events of a ROOT file one at a time (only one event's arrays in memory)."""
    for event_id, start, stop in root_event_ids(path, layout):
        yield read_root_block(path, layout, event_id, start, stop)


class RootReader:
    """The ``root`` format: one event's block of entries in a flat ROOT tree."""

    name = "root"

    def read(self, ref: EventRef) -> Event:
        """The event at ``ref.location``: (layout, first entry, end entry) of its ROOT file."""
        layout, start, stop = ref.location  # type: ignore[misc]
        return read_root_block(ref.files["root"], layout, ref.event_id, start, stop)

    def lacks_truth(self, ref: EventRef) -> bool:
        """The layout maps neither a ``particle_id`` branch nor all the barcode branches (the
        ``spacepoints`` preset maps none: ``--branch particle_id=NAME`` maps one)."""
        layout = ref.location[0]  # type: ignore[index]
        return not layout.particle_id and not all(getattr(layout, k) for k in _BARCODE_KEYS)


register_reader(RootReader())

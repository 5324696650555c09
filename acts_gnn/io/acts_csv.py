"""Reader for the CSV layout written by current ACTS (``CsvSpacePointWriter`` and friends).

Layer: io.

One event is a set of files sharing a prefix ``eventNNNNNNNNN-``:

* ``-spacepoint.csv`` — ``measurement_id_1, measurement_id_2, geometry_id_1, geometry_id_2, x, y,
  z, …`` (``measurement_id_2`` is ``2**64 - 1`` for pixel points). When it is absent, space points
  are taken from ``-measurements.csv`` (one per measurement, at ``global_x/y/z``).
* truth, all optional together: ``-measurement-simhit-map.csv`` (``measurement_id, hit_id``; the
  hit id is the row of ``-hits.csv``), ``-hits.csv`` (the particle barcode columns
  ``particle_id_pv … particle_id_subpart``), ``-particles_simulated.csv`` or ``-particles.csv``.

A space point's particle is the particle of the first simulated hit of its first measurement.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from acts_gnn.errors import InputFormatError
from acts_gnn.event import Event, Particles, SpacePoints, Truth, count_spacepoints, find_sorted
from acts_gnn.io.csvtable import (
    check_header,
    check_positions,
    read_file_bytes,
    read_header,
    read_table,
)
from acts_gnn.io.ids import geometry_volume_layer_module, pack_barcode
from acts_gnn.io.readers import EventRef, register_reader
from acts_gnn.io.trackml import PARTICLE_KINEMATICS

__all__ = ["ActsCsvReader", "read_acts_event", "read_measurements_raw", "spacepoint_coverage"]

_U64 = np.uint64
_F32 = np.float32
_BARCODE_COLUMNS = (
    "particle_id_pv",
    "particle_id_sv",
    "particle_id_part",
    "particle_id_gen",
    "particle_id_subpart",
)


def _measurements_header(path: Path) -> list[str]:
    """The header of a ``-measurements.csv``, refused unless it starts as ACTS writes it."""
    header = read_header(path)
    for name in ("measurement_id", "geometry_id", "local_key"):
        if name not in header:
            raise InputFormatError(
                path, f"column {name!r}", "missing; expected the ACTS measurements layout"
            )
    if header[:3] != ["measurement_id", "geometry_id", "local_key"]:
        raise InputFormatError(
            path,
            "line 1",
            "expected the columns to start with measurement_id,geometry_id,local_key",
        )
    return header


def _spacepoint_columns(header: list[str]) -> tuple[str, str]:
    """The id and geometry columns of a ``-spacepoint.csv`` (``_1`` suffixed in ACTS's layout
    for strip pairs, bare in older files)."""
    id_column = "measurement_id_1" if "measurement_id_1" in header else "measurement_id"
    geo_column = "geometry_id_1" if "geometry_id_1" in header else "geometry_id"
    return id_column, geo_column


_NO_GLOBAL = "missing; need global positions to make space points"

#: the columns each truth table must have (their types as read)
_MAP = {"measurement_id": _U64, "hit_id": np.int64}
_HITS = {name: _U64 for name in _BARCODE_COLUMNS}
_PARTICLES = {
    **{name: _U64 for name in _BARCODE_COLUMNS},
    "particle_type": np.int64,
    **PARTICLE_KINEMATICS,
}


def read_measurements_raw(path: Path) -> dict[str, np.ndarray]:
    """Read ``-measurements.csv``, whose ``local_key`` column ACTS writes as one raw byte.

    That byte can be any value — a comma or a newline included — so the file is split by hand:
    the first two fields, then exactly one byte, then the remaining numeric fields.

    Returns:
        ``measurement_id`` (uint64), ``geometry_id`` (uint64), ``local_key`` (uint8) and
        ``global_x/y/z`` (float32) when the file has them.
    """
    header = _measurements_header(path)
    rest = header[3:]
    data = read_file_bytes(path)  # decompressed when named .gz
    if b"\n" not in data:
        raise InputFormatError(
            path, "line 1", "no line end after the header (rows end with \\n in this format)"
        )
    start = data.index(b"\n") + 1
    ids: list[int] = []
    geos: list[int] = []
    keys: list[int] = []
    rows: list[list[str]] = []
    pos, line, end = start, 2, len(data)
    while pos < end:
        first = data.find(b",", pos)
        second = data.find(b",", first + 1) if first >= 0 else -1
        if second < 0 or second + 2 > end:
            raise InputFormatError(path, f"line {line}", "truncated measurement row")
        key = data[second + 1]
        after = second + 2
        if after >= end or data[after : after + 1] != b",":
            raise InputFormatError(
                path, f"line {line}, column 'local_key'", "expected one raw byte then a comma"
            )
        newline = data.find(b"\n", after)
        newline = end if newline < 0 else newline
        fields = data[after + 1 : newline].decode("ascii", errors="replace").split(",")
        if len(fields) != len(rest):
            raise InputFormatError(
                path, f"line {line}", f"expected {len(header)} fields, found {len(fields) + 3}"
            )
        try:
            ids.append(int(data[pos:first]))
            geos.append(int(data[first + 1 : second]))
        except ValueError as exc:
            raise InputFormatError(path, f"line {line}", "expected integer ids") from exc
        if not (0 <= ids[-1] < 2**64 and 0 <= geos[-1] < 2**64):
            raise InputFormatError(path, f"line {line}", "expected ids from 0 to 2^64 − 1")
        keys.append(key)
        rows.append(fields)
        pos, line = newline + 1, line + 1
    out: dict[str, np.ndarray] = {
        "measurement_id": np.array(ids, dtype=_U64),
        "geometry_id": np.array(geos, dtype=_U64),
        "local_key": np.array(keys, dtype=np.uint8),
    }
    for name in ("global_x", "global_y", "global_z"):
        if name in rest:
            column = rest.index(name)
            try:
                values = np.array([float(r[column]) for r in rows], dtype=_F32)
            except ValueError as exc:
                raise InputFormatError(path, f"column {name!r}", "expected numbers") from exc
            bad = ~np.isfinite(values)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise InputFormatError(
                    path, f"line {row + 2}, column {name!r}", "expected a finite number"
                )
            check_positions(path, values, lambda row, name=name: f"line {row + 2}, column {name!r}")
            out[name] = values
    return out


def _read_spacepoints(files: dict[str, Path]) -> SpacePoints:
    if "spacepoint" in files:
        path = files["spacepoint"]
        id_column, geo_column = _spacepoint_columns(read_header(path))
        columns = read_table(
            path,
            {id_column: _U64, "x": _F32, "y": _F32, "z": _F32},
            optional={"measurement_id_2": _U64, geo_column: _U64},
            positions=("x", "y", "z"),
            unique=(id_column,),
        )
        geometry = columns.get(geo_column)
        second = columns.get("measurement_id_2")
        ids = columns[id_column]
        x, y, z = columns["x"], columns["y"], columns["z"]
    elif "measurements" in files:
        path = files["measurements"]
        columns = read_measurements_raw(path)
        for name in ("global_x", "global_y", "global_z"):
            if name not in columns:
                raise InputFormatError(path, f"column {name!r}", _NO_GLOBAL)
        geometry, second = columns["geometry_id"], None
        ids = columns["measurement_id"]
        x, y, z = columns["global_x"], columns["global_y"], columns["global_z"]
    else:
        raise InputFormatError(
            next(iter(files.values())), "", "no -spacepoint.csv or -measurements.csv for this event"
        )
    volume = layer = module = None
    if geometry is not None:
        volume, layer, module = geometry_volume_layer_module(geometry)
    return SpacePoints(
        x=x,
        y=y,
        z=z,
        measurement_id=ids,
        measurement_id_2=second,
        volume_id=volume,
        layer_id=layer,
        module_id=module,
    )


def _read_truth(files: dict[str, Path], measurement_id: np.ndarray) -> Truth | None:
    if "measurement-simhit-map" not in files or "hits" not in files:
        return None
    map_path, hits_path = files["measurement-simhit-map"], files["hits"]
    mapping = read_table(map_path, _MAP)
    hits = read_table(hits_path, _HITS)
    try:
        hit_particle = pack_barcode(*(hits[name] for name in _BARCODE_COLUMNS))
    except ValueError as exc:
        raise InputFormatError(hits_path, "particle_id columns", str(exc)) from exc

    hit_id = mapping["hit_id"]
    bad = (hit_id < 0) | (hit_id >= len(hit_particle))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputFormatError(
            map_path,
            f"line {row + 2}, column 'hit_id'",
            f"expected a row of {hits_path.name} (0…{len(hit_particle) - 1}), found {hit_id[row]}",
        )
    last = _last_measurement_id(files.get("measurements"))
    if last is not None and not (mapping["measurement_id"] >= last).any():
        raise InputFormatError(
            map_path,
            "",
            f"no row for measurement {last}, the last of {files['measurements'].name}; expected "
            "rows for every measurement (is the file cut short?)",
        )
    # first simulated hit of each measurement
    uniq, first = np.unique(mapping["measurement_id"], return_index=True)
    measurement_particle = hit_particle[hit_id[first]]
    pos, found = find_sorted(uniq, measurement_id)
    particle_id = np.zeros(len(measurement_id), dtype=_U64)
    particle_id[found] = measurement_particle[pos[found]]

    particles = _read_particles(files, particle_id)
    return Truth(particle_id=particle_id, particles=particles)


def _last_measurement_id(path: Path | None) -> int | None:
    """The ``measurement_id`` of the last row of a plain ``-measurements.csv`` (ACTS writes them
    in order, 0 … M − 1, each from at least one simulated hit), read from the file's end; None
    when there is no such file or its end does not read as a row."""
    if path is None or path.suffix != ".csv":
        return None
    try:
        column = read_header(path).index("measurement_id")
        with path.open("rb") as handle:
            handle.seek(max(0, handle.seek(0, 2) - 4096))
            rows = handle.read().splitlines()
        return int(rows[-1].split(b",")[column]) if len(rows) > 1 else None
    except (InputFormatError, OSError, ValueError, IndexError):
        return None


def spacepoint_coverage(files: Mapping[str, Path]) -> tuple[int, int] | None:
    """(space points, measurements) of an event whose ``-spacepoint.csv`` and
    ``-measurements.csv`` lie side by side, counted without reading them (rows of the one, the
    last measurement id + 1 of the other); None when either is missing or gzipped or cannot be
    told. ACTS's own space-point files often hold the pixel points only."""
    spacepoints, measurements = files.get("spacepoint"), files.get("measurements")
    if spacepoints is None or spacepoints.suffix != ".csv":
        return None
    last = _last_measurement_id(measurements)
    if last is None:
        return None
    try:
        with spacepoints.open("rb") as handle:
            rows = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
    except OSError:
        return None
    return max(0, rows - 1), last + 1


def _particles_role(files: Mapping[str, Path]) -> str:
    """The particle table an event's truth is read from: Fatras's output (every particle it
    simulated, secondaries too) where it is there, else the generator's."""
    return "particles_simulated" if "particles_simulated" in files else "particles"


def _read_particles(files: dict[str, Path], spacepoint_particle: np.ndarray) -> Particles:
    role = _particles_role(files)
    if role not in files:
        return Particles.unknown(spacepoint_particle)
    path = files[role]
    columns = read_table(
        path,
        _PARTICLES,
        finite=("vx", "vy", "vz", "px", "py", "pz"),
    )
    try:
        particle_id = pack_barcode(*(columns[name] for name in _BARCODE_COLUMNS))
    except ValueError as exc:
        raise InputFormatError(path, "particle_id columns", str(exc)) from exc
    primary = (columns["particle_id_sv"] == 0) & (columns["particle_id_gen"] == 0)
    return Particles.from_momentum(
        particle_id,
        columns["px"],
        columns["py"],
        columns["pz"],
        charge=columns["q"],
        pdg_id=columns["particle_type"],
        vx=columns["vx"],
        vy=columns["vy"],
        vz=columns["vz"],
        primary=primary,
        n_spacepoints=count_spacepoints(particle_id, spacepoint_particle),
    )


def read_acts_event(event_id: int, files: dict[str, Path]) -> Event:
    """Read one event of the ACTS CSV layout.

    Args:
        event_id: the event number.
        files: role → path, roles being the file suffixes (``spacepoint``, ``measurements``,
            ``measurement-simhit-map``, ``hits``, ``particles``, ``particles_simulated``).

    Raises:
        InputFormatError: a file is malformed (the message names it and the place).
    """
    spacepoints = _read_spacepoints(files)
    truth = _read_truth(files, spacepoints.measurement_id)
    source = str(files.get("spacepoint") or files.get("measurements"))
    return Event(event_id=event_id, spacepoints=spacepoints, truth=truth, source=source)


class ActsCsvReader:
    """The ``acts-csv`` format: ACTS's CSV writers' files of one event (see module)."""

    name = "acts-csv"

    def read(self, ref: EventRef) -> Event:
        """The event of ``ref.files`` (role → path)."""
        return read_acts_event(ref.event_id, dict(ref.files))

    def lacks_truth(self, ref: EventRef) -> bool:
        """No measurement-simhit map or no hits beside the space points: no truth."""
        return not {"measurement-simhit-map", "hits"} <= set(ref.files)

    def check(self, ref: EventRef) -> None:
        """Each table's header holds the columns it needs (its first line alone is read)."""
        files = ref.files
        if "spacepoint" in files:
            path = files["spacepoint"]
            id_column, _ = _spacepoint_columns(read_header(path))
            check_header(path, [id_column, "x", "y", "z"])
        elif "measurements" in files:  # its global positions make the space points
            path = files["measurements"]
            header = _measurements_header(path)
            for name in ("global_x", "global_y", "global_z"):
                if name not in header:
                    raise InputFormatError(path, f"column {name!r}", _NO_GLOBAL)
        if "measurement-simhit-map" in files and "hits" in files:
            check_header(files["measurement-simhit-map"], _MAP)
            check_header(files["hits"], _HITS)
            role = _particles_role(files)
            if role in files:
                check_header(files[role], _PARTICLES)


register_reader(ActsCsvReader())

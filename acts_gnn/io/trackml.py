"""Reader for the TrackML challenge CSV layout (plain or gzip).

Layer: io.

One event is ``eventNNNNNNNNN-hits.csv`` (``hit_id, x, y, z, volume_id, layer_id, module_id``) with
optional ``-truth.csv`` (``hit_id, particle_id, …, weight``) and ``-particles.csv`` (``particle_id,
vx, vy, vz, px, py, pz, q, nhits``). The measurement id of a space point is its ``hit_id``.

TrackML particle tables carry no generator flag: a particle counts as primary when its production
vertex lies within 1 mm of the beam line.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from acts_gnn.errors import InputFormatError
from acts_gnn.event import Event, Particles, SpacePoints, Truth, count_spacepoints, find_sorted
from acts_gnn.io.csvtable import check_header, read_table
from acts_gnn.io.readers import EventRef, register_reader

__all__ = [
    "PARTICLE_KINEMATICS",
    "PRIMARY_VERTEX_R_MM",
    "TrackmlReader",
    "read_trackml_detectors",
    "read_trackml_event",
    "read_trackml_particles",
]

#: production radius below which a TrackML particle is taken as primary
PRIMARY_VERTEX_R_MM = 1.0

_F32 = np.float32


#: the columns each table must have (their types as read)
_HITS = {"hit_id": np.uint64, "x": _F32, "y": _F32, "z": _F32}
_TRUTH = {"hit_id": np.uint64, "particle_id": np.uint64}
#: a particle's production vertex (mm), momentum (GeV) and charge: the columns TrackML's
#: particle tables and ACTS's (which took their layout) share
PARTICLE_KINEMATICS = {
    "vx": _F32,
    "vy": _F32,
    "vz": _F32,
    "px": _F32,
    "py": _F32,
    "pz": _F32,
    "q": _F32,
}
_PARTICLES = {"particle_id": np.uint64, **PARTICLE_KINEMATICS, "nhits": np.int32}


def read_trackml_event(event_id: int, files: dict[str, Path]) -> Event:
    """Read one TrackML event.

    Args:
        event_id: the event number.
        files: role → path with roles ``hits`` (required), ``truth`` and ``particles``.

    Raises:
        InputFormatError: a file is malformed, or truth names hits the hits file lacks.
    """
    hits_path = files["hits"]
    hits = read_table(
        hits_path,
        _HITS,
        optional={"volume_id": np.int32, "layer_id": np.int32, "module_id": np.int32},
        positions=("x", "y", "z"),
        unique=("hit_id",),
    )
    spacepoints = SpacePoints(
        x=hits["x"],
        y=hits["y"],
        z=hits["z"],
        measurement_id=hits["hit_id"],
        volume_id=hits.get("volume_id"),
        layer_id=hits.get("layer_id"),
        module_id=hits.get("module_id"),
    )
    truth = None
    if "truth" in files:
        truth = _read_truth(files, hits["hit_id"])
    return Event(event_id=event_id, spacepoints=spacepoints, truth=truth, source=str(hits_path))


def _read_truth(files: dict[str, Path], hit_id: np.ndarray) -> Truth:
    path = files["truth"]
    table = read_table(
        path,
        _TRUTH,
        optional={"weight": np.float64},
        finite=("weight",),
    )
    if "weight" in table and (table["weight"] < 0).any():  # the TrackML score sums them
        row = int(np.flatnonzero(table["weight"] < 0)[0])
        raise InputFormatError(
            path,
            f"line {row + 2}, column 'weight'",
            f"expected a weight of 0 or more, found {table['weight'][row]:g}",
        )
    order = np.argsort(table["hit_id"], kind="stable")
    sorted_ids = table["hit_id"][order]
    pos, found = find_sorted(sorted_ids, hit_id)
    if not found.all():
        missing = int(hit_id[np.flatnonzero(~found)[0]])
        raise InputFormatError(
            path, "column 'hit_id'", f"expected a row for every hit; hit {missing} has none"
        )
    rows = order[pos]
    particle_id = table["particle_id"][rows]
    weight = table["weight"][rows] if "weight" in table else None
    return Truth(
        particle_id=particle_id,
        particles=_read_particles(files.get("particles"), particle_id),
        weight=weight,
    )


def _read_particles(path: Path | None, spacepoint_particle: np.ndarray) -> Particles:
    if path is None:
        return Particles.unknown(spacepoint_particle)
    particles = read_trackml_particles(path)
    return replace(
        particles, n_spacepoints=count_spacepoints(particles.particle_id, spacepoint_particle)
    )


def read_trackml_particles(path: str | Path) -> Particles:
    """Read a TrackML particle table alone (``eventNNN-particles.csv[.gz]``).

    ``n_spacepoints`` is the table's ``nhits`` column (the hits of the full event); the event
    reader replaces it by the count among the event's space points.
    """
    path = Path(path)
    columns = read_table(
        path,
        _PARTICLES,
        optional={"particle_type": np.int64},
        finite=("vx", "vy", "vz", "px", "py", "pz"),
    )
    ids = columns["particle_id"]
    return Particles.from_momentum(
        ids,
        columns["px"],
        columns["py"],
        columns["pz"],
        charge=columns["q"],
        pdg_id=columns.get("particle_type", np.zeros(len(ids), np.int64)),
        vx=columns["vx"],
        vy=columns["vy"],
        vz=columns["vz"],
        primary=np.hypot(columns["vx"], columns["vy"]) < PRIMARY_VERTEX_R_MM,
        n_spacepoints=columns["nhits"],
    )


def read_trackml_detectors(path: str | Path) -> dict[str, np.ndarray]:
    """Read the TrackML module geometry (``detectors.csv[.gz]``): ids and module centres (mm)."""
    return read_table(
        Path(path),
        {
            "volume_id": np.int32,
            "layer_id": np.int32,
            "module_id": np.int32,
            "cx": np.float64,
            "cy": np.float64,
            "cz": np.float64,
        },
        finite=("cx", "cy", "cz"),
    )


class TrackmlReader:
    """The ``trackml`` format: a TrackML event's hits (and truth, particles) CSV files."""

    name = "trackml"

    def read(self, ref: EventRef) -> Event:
        """The event of ``ref.files`` (role → path)."""
        return read_trackml_event(ref.event_id, dict(ref.files))

    def lacks_truth(self, ref: EventRef) -> bool:
        """No truth file beside the hits: no truth."""
        return "truth" not in ref.files

    def check(self, ref: EventRef) -> None:
        """Each table's header holds the columns it needs (its first line alone is read)."""
        check_header(ref.files["hits"], _HITS)
        if "truth" in ref.files:  # the particles are read only with it
            check_header(ref.files["truth"], _TRUTH)
            if "particles" in ref.files:
                check_header(ref.files["particles"], _PARTICLES)


register_reader(TrackmlReader())

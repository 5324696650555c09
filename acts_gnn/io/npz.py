"""One event as a compact ``.npz`` archive: what :class:`Event` holds, nothing else.

Layer: io.

Parsing a μ = 200 event from CSV takes about a second and 50 MB of text; its ``.npz`` holds the
same arrays in a few MB and loads in milliseconds, and a cached event equals the event read from
CSV. :mod:`acts_gnn.io.cache` caches whole sources into such files; :mod:`acts_gnn.io.source`
reads them as the ``npz`` format.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from acts_gnn.errors import InputFormatError
from acts_gnn.event import Event, Particles, SpacePoints, Truth
from acts_gnn.io.atomic import atomic_path
from acts_gnn.io.readers import EventRef, register_reader

__all__ = ["NpzReader", "load_event_npz", "save_event_npz"]

_SP_FIELDS = (
    "x",
    "y",
    "z",
    "measurement_id",
    "measurement_id_2",
    "volume_id",
    "layer_id",
    "module_id",
)
_PARTICLE_FIELDS = (
    "particle_id",
    "pt",
    "eta",
    "phi",
    "charge",
    "pdg_id",
    "vx",
    "vy",
    "vz",
    "primary",
    "n_spacepoints",
)
_FORMAT_VERSION = 1


def save_event_npz(event: Event, path: str | Path) -> Path:
    """Write one event to ``path`` (atomically)."""
    arrays: dict[str, np.ndarray] = {
        "format_version": np.array(_FORMAT_VERSION),
        "event_id": np.array(event.event_id, dtype=np.int64),
    }
    for name in _SP_FIELDS:
        value = getattr(event.spacepoints, name)
        if value is not None:
            arrays[f"sp_{name}"] = value
    if event.truth is not None:
        arrays["truth_particle_id"] = event.truth.particle_id
        if event.truth.weight is not None:
            arrays["truth_weight"] = event.truth.weight
        for name in _PARTICLE_FIELDS:
            arrays[f"particle_{name}"] = getattr(event.truth.particles, name)
    path = Path(path)
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    return path


def load_event_npz(path: str | Path) -> Event:
    """Read an event written by :func:`save_event_npz`.

    Raises:
        InputFormatError: not a cache file of this version.
    """
    path = Path(path)
    try:
        # numpy leaves a file it opened itself unclosed when its parsing fails: open it here
        with open(path, "rb") as handle:
            loaded = np.load(handle, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise InputFormatError(
                    path, "", "not an acts-gnn event cache (one array, expected an .npz archive)"
                )
            with loaded as data:
                arrays = {key: data[key] for key in data.files}
    except InputFormatError:
        raise
    except FileNotFoundError as exc:
        raise InputFormatError(path, "", "no such file or directory") from exc
    except Exception as exc:  # zipfile, zlib, numpy's header parser: each its own error types
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise InputFormatError(path, "", f"not an acts-gnn event cache ({reason})") from exc
    version = arrays.get("format_version")
    if version is None or version.shape != () or version.dtype.kind not in "iu":
        raise InputFormatError(path, "", "not an acts-gnn event cache (no format_version)")
    if int(version) != _FORMAT_VERSION:
        raise InputFormatError(path, "", f"expected cache format version {_FORMAT_VERSION}")
    for name in ("event_id", "sp_x", "sp_y", "sp_z", "sp_measurement_id"):
        if name not in arrays:
            raise InputFormatError(path, "", f"missing array {name!r}")
    event_id = arrays["event_id"]
    if event_id.shape != () or event_id.dtype.kind not in "iu" or int(event_id) < 0:
        raise InputFormatError(
            path,
            "array 'event_id'",
            f"expected one integer of 0 or more, found {event_id.dtype} of shape {event_id.shape}"
            + (
                f" ({int(event_id)})"
                if event_id.shape == () and event_id.dtype.kind in "iu"
                else ""
            ),
        )
    for name, array in arrays.items():
        if name.startswith(("sp_", "truth_", "particle_")) and array.ndim != 1:
            raise InputFormatError(
                path, f"array {name!r}", f"expected one value per row, found shape {array.shape}"
            )
    try:
        spacepoints = SpacePoints(
            **{name: arrays[f"sp_{name}"] for name in _SP_FIELDS if f"sp_{name}" in arrays}
        )
        truth = None
        if "truth_particle_id" in arrays:
            particles = Particles(**{name: arrays[f"particle_{name}"] for name in _PARTICLE_FIELDS})
            truth = Truth(
                particle_id=arrays["truth_particle_id"],
                particles=particles,
                weight=arrays.get("truth_weight"),
            )
        event = Event(
            event_id=int(event_id), spacepoints=spacepoints, truth=truth, source=str(path)
        )
    except KeyError as exc:
        raise InputFormatError(path, "", f"missing array {exc.args[0]!r}") from exc
    except TypeError as exc:  # a required field of SpacePoints / Particles absent
        missing = str(exc).rsplit(":", 1)[-1].strip()
        raise InputFormatError(path, "", f"missing array for {missing}") from exc
    except ValueError as exc:  # arrays of inconsistent lengths or types
        raise InputFormatError(path, "", f"inconsistent arrays ({exc})") from exc
    return event


class NpzReader:
    """The ``npz`` format: one event per ``eventNNNNNNNNN.npz`` (:func:`save_event_npz`)."""

    name = "npz"

    def read(self, ref: EventRef) -> Event:
        """The event in ``ref.files["npz"]``, which holds the event its name says.

        Raises:
            InputFormatError: as :func:`load_event_npz`, or another event than the file's name.
        """
        event = load_event_npz(ref.files["npz"])
        if event.event_id != ref.event_id:  # two files of one event: one's outputs lost
            raise InputFormatError(
                ref.files["npz"],
                "array 'event_id'",
                f"holds event {event.event_id}, expected {ref.event_id} as its name says",
            )
        return event


register_reader(NpzReader())

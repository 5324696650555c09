"""Track-candidate outputs: the tracks ROOT file and ACTS proto-track CSV files; reading them back.

Layer: io.

* ROOT (DESIGN.md): TTree ``tracks``, one entry per candidate — ``event_id`` (uint64), ``track_id``
  (int32), ``n_measurements`` (int32, the counter of the jagged branch) and ``measurement_id``
  (var × uint64, the first measurement id of each space point, as in the input file); TTree
  ``timing``, one entry per event (see :meth:`acts_gnn.result.EventTiming.row`).
* CSV: one ``eventNNNNNNNNN-prototracks.csv`` per event in the layout of ACTS's
  ``CsvProtoTrackWriter`` (``trackId,measurementId,x,y,z``, one row per measurement; a strip space
  point contributes both of its measurements).

Both are written atomically: the ROOT file appears only when every event is in it, each CSV file
only when complete.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

import numpy as np

from acts_gnn.errors import InputFormatError, OutputError
from acts_gnn.event import NO_MEASUREMENT, Event
from acts_gnn.io.atomic import atomic_path
from acts_gnn.io.jsontext import json_text
from acts_gnn.io.root import damaged_root_is_input_error
from acts_gnn.result import RunRecord, TrackingResult

__all__ = [
    "PROTOTRACKS_GLOB",
    "PROTOTRACK_COLUMNS",
    "TrackWriter",
    "candidates",
    "prototrack_csv_path",
    "prototrack_event_id",
    "prototrack_files",
    "read_prototracks_csv",
    "read_prototracks_with_positions",
    "read_run_record",
    "read_tracks",
    "recorded_spacepoints",
]

PROTOTRACK_COLUMNS = ("trackId", "measurementId", "x", "y", "z")


def candidates(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group space points by candidate label.

    Returns:
        ``(track_id, offsets, members)``: int32 [T] labels in increasing order, int64 [T+1]
        offsets into ``members``, int64 [M] space-point indices (ascending within a candidate).
    """
    labels = np.asarray(labels, dtype=np.int64)
    assigned = np.flatnonzero(labels >= 0)
    order = assigned[np.argsort(labels[assigned], kind="stable")]
    track_id, counts = np.unique(labels[order], return_counts=True)
    offsets = np.zeros(track_id.size + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return track_id.astype(np.int32), offsets, order


class TrackWriter:
    """Writes track candidates event by event to a ROOT file and/or a CSV directory.

    Use as a context manager; the ROOT file is completed (renamed into place) on a clean exit
    only. ``csv_dir`` must exist or be creatable.
    """

    def __init__(
        self,
        root_path: str | Path | None = None,
        csv_dir: str | Path | None = None,
        *,
        keep_csv_on_abort: bool = False,
        replace: bool = True,
        run: RunRecord | None = None,
    ):
        self.root_path = Path(root_path) if root_path is not None else None
        self.csv_dir = Path(csv_dir) if csv_dir is not None else None
        self._timing_rows: list[dict[str, float | int | str]] = []
        self._root_ctx = None
        self._root_file = None
        self._n_events = 0
        # a run that is not resumable stages its CSV files and puts them all in place at its
        # end: one that fails leaves a folder as it found it (an earlier run's files too)
        self._csv_staged = contextlib.ExitStack()
        self._csv_dirs_made: list[Path] = []
        self.keep_csv_on_abort = keep_csv_on_abort
        #: False: an output file that appeared while this run wrote it is refused, not replaced
        self.replace = replace
        #: what made the tracks, kept in the ROOT file as the JSON string ``run``
        #: (:func:`read_run_record`)
        self.run = run

    def __enter__(self) -> TrackWriter:
        if self.csv_dir is not None:
            missing = [self.csv_dir, *self.csv_dir.parents]
            self._csv_dirs_made = [d for d in missing if not d.exists()]
            try:
                self.csv_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise OutputError(f"{self.csv_dir}: cannot create directory ({exc})") from exc
        if self.root_path is not None:
            try:  # from here a failure or Ctrl-C removes what was made (the CSV folder too)
                import uproot

                ctx = atomic_path(self.root_path, replace=self.replace)
                temporary = ctx.__enter__()
                self._root_ctx = ctx
                self._root_file = uproot.recreate(temporary)
                self._root_file.mktree(
                    "tracks",
                    {
                        "event_id": np.uint64,
                        "track_id": np.int32,
                        "measurement_id": "var * uint64",
                    },
                    counter_name=lambda _name: "n_measurements",
                    title="acts-gnn track candidates",
                )
            except BaseException:
                self._abort()
                raise
        return self

    def add(self, event: Event, result: TrackingResult, *, csv: bool = True) -> None:
        """Write the candidates of one event (and remember its timing row).

        ``csv=False``: the event's CSV file exists already (a resumed run) and is left as is.
        """
        track_id, offsets, members = candidates(result.labels)
        if self._root_file is not None and track_id.size:
            import awkward as ak

            measurement = event.spacepoints.measurement_id[members]
            self._root_file["tracks"].extend(
                {
                    "event_id": np.full(track_id.size, event.event_id, dtype=np.uint64),
                    "track_id": track_id,
                    "measurement_id": ak.unflatten(measurement, np.diff(offsets)),
                }
            )
        if self.csv_dir is not None and csv:
            self._write_csv(event, track_id, offsets, members)
        self._timing_rows.append(result.timing.row())
        self._n_events += 1

    def _write_csv(
        self, event: Event, track_id: np.ndarray, offsets: np.ndarray, members: np.ndarray
    ) -> None:
        sp = event.spacepoints
        per_track = np.repeat(track_id, np.diff(offsets))
        rows_track = [per_track]
        rows_member = [members]
        rows_second = [np.zeros(members.size, bool)]
        if sp.measurement_id_2 is not None:
            has_second = sp.measurement_id_2[members] != NO_MEASUREMENT
            rows_track.append(per_track[has_second])
            rows_member.append(members[has_second])
            rows_second.append(np.ones(int(has_second.sum()), bool))
        track = np.concatenate(rows_track)
        member = np.concatenate(rows_member)
        second = np.concatenate(rows_second)
        order = np.lexsort((second, member, track))
        track, member, second = track[order], member[order], second[order]
        measurement = sp.measurement_id[member].copy()
        if sp.measurement_id_2 is not None and second.any():
            measurement[second] = sp.measurement_id_2[member[second]]
        lines = [",".join(PROTOTRACK_COLUMNS)]
        lines.extend(
            f"{t},{m},{x:.9g},{y:.9g},{z:.9g}"
            for t, m, x, y, z in zip(
                track.tolist(),
                measurement.tolist(),
                sp.x[member].tolist(),
                sp.y[member].tolist(),
                sp.z[member].tolist(),
                strict=True,
            )
        )
        path = prototrack_csv_path(self.csv_dir, event.event_id)
        text = "\n".join(lines) + "\n"
        if not self.keep_csv_on_abort:
            staged = self._csv_staged.enter_context(atomic_path(path, replace=self.replace))
            staged.write_text(text, encoding="ascii")
            return
        # a resumable run keeps each event once written
        with atomic_path(path, replace=self.replace) as temporary:
            temporary.write_text(text, encoding="ascii")

    def _abort(self) -> None:
        """Remove everything this writer produced: an aborted run leaves no output behind.

        With ``keep_csv_on_abort`` (a resumable run) the finished events' CSV files stay. The
        ROOT file's temporary goes first: it may lie in a directory made for the CSV files
        (``-o out/t.root --csv-dir out/csv``), which can then go too.
        """
        try:
            if self._root_file is not None:
                file, self._root_file = self._root_file, None
                file.close()
        finally:
            if self._root_ctx is not None:
                ctx, self._root_ctx = self._root_ctx, None
                with contextlib.suppress(OutputError):
                    ctx.__exit__(OutputError, OutputError("aborted"), None)
            with contextlib.suppress(OutputError):  # the staged CSV files go
                self._csv_staged.__exit__(OutputError, OutputError("aborted"), None)
        for directory in (
            [] if self.keep_csv_on_abort else self._csv_dirs_made
        ):  # innermost first; only if still empty
            try:
                directory.rmdir()
            except OSError:
                break
        self._csv_dirs_made.clear()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self._abort()
            return
        try:
            self._complete_root()
        except BaseException:
            self._abort()
            raise
        self._csv_staged.close()  # every staged CSV file into place

    def _complete_root(self) -> None:
        """Write the timing tree and put the ROOT file in place."""
        if self._root_file is not None:
            columns: dict[str, np.ndarray] = {}
            for key in self._timing_rows[0] if self._timing_rows else ():
                values = [row[key] for row in self._timing_rows]
                if key == "backend":
                    columns[key] = np.array(values, dtype=str)
                elif key == "event_id":
                    columns[key] = np.array(values, dtype=np.uint64)
                elif key.startswith("n_"):
                    columns[key] = np.array(values, dtype=np.int64)
                else:
                    columns[key] = np.array(values, dtype=np.float64)
            if columns:
                # mktree makes a TTree (assigning a dict would make an RNTuple)
                types = {k: ("string" if k == "backend" else v.dtype) for k, v in columns.items()}
                self._root_file.mktree("timing", types, title="acts-gnn timing per event")
                self._root_file["timing"].extend(columns)
            if self.run is not None:  # a TObjString, as ROOT itself reads it
                self._root_file["run"] = json_text(self.run.to_json())
            self._root_file.close()
            self._root_file = None
            ctx, self._root_ctx = self._root_ctx, None
            ctx.__exit__(None, None, None)


def _read_tracks_root(path: Path) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    import awkward as ak
    import uproot

    # a damaged or truncated file fails anywhere in uproot's reading, with any exception
    with damaged_root_is_input_error(path):
        handle = uproot.open(path)
        if "tracks" not in handle:
            raise InputFormatError(
                path, "tree 'tracks'", "missing; expected an acts-gnn tracks file"
            )
        tree = handle["tracks"]
        for branch in ("event_id", "track_id", "measurement_id"):
            if branch not in tree.keys():
                raise InputFormatError(path, f"tree 'tracks', branch {branch!r}", "missing")
        arrays = tree.arrays(["event_id", "track_id", "measurement_id"], library="ak")
        timing_ids = handle["timing"]["event_id"].array(library="np") if "timing" in handle else []
    for branch, depth in (("event_id", 1), ("track_id", 1), ("measurement_id", 2)):
        if arrays[branch].ndim != depth:
            expected = "one number per track" if depth == 1 else "a list of numbers per track"
            raise InputFormatError(
                path,
                f"tree 'tracks', branch {branch!r}",
                f"expected {expected} ({arrays[branch].type})",
            )
    event_id = ak.to_numpy(arrays["event_id"]).astype(np.int64)
    track_id = ak.to_numpy(arrays["track_id"]).astype(np.int64)
    _check_track_ids(
        path, track_id, lambda entry: f"tree 'tracks', branch 'track_id', entry {entry}"
    )
    counts = ak.to_numpy(ak.num(arrays["measurement_id"]))
    flat = ak.to_numpy(ak.flatten(arrays["measurement_id"])).astype(np.uint64)
    per_hit_track = np.repeat(track_id, counts)
    per_hit_event = np.repeat(event_id, counts)
    events = sorted({int(e) for e in np.unique(event_id)} | {int(e) for e in timing_ids})
    for e in events:
        mask = per_hit_event == e
        yield e, per_hit_track[mask], flat[mask]


def _check_track_ids(path: Path, track_id: np.ndarray, where: Callable[[int], str]) -> None:
    """Refuse a negative track id (-1 is the label of no candidate: its track would vanish
    from the counts); ``where(i)`` names the i-th id's place in the file."""
    if (track_id < 0).any():
        first = int(np.flatnonzero(track_id < 0)[0])
        raise InputFormatError(
            path, where(first), f"expected an integer of 0 or more, found {track_id[first]}"
        )


#: what the names of a folder's proto-track CSV files look like (as a glob)
PROTOTRACKS_GLOB = "event*-prototracks.csv"
#: the name of an event's proto-track CSV file
_PROTOTRACKS_NAME = re.compile(r"^event(?P<id>\d+)-prototracks\.csv$")


def prototrack_event_id(path: str | Path) -> int | None:
    """The event number in a proto-track CSV file's name; None for another name."""
    name = _PROTOTRACKS_NAME.match(Path(path).name)
    return int(name["id"]) if name else None


def prototrack_csv_path(directory: str | Path, event_id: int) -> Path:
    """Where :class:`TrackWriter` puts the proto-track CSV of ``event_id``."""
    return Path(directory) / f"event{event_id:09d}-prototracks.csv"


def read_prototracks_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(track_id, measurement_id)`` of one proto-track CSV file.

    Raises:
        InputFormatError: the file is missing or malformed.
    """
    track_id, measurement_id, _positions = _read_prototracks(Path(path), {})
    return track_id, measurement_id


def read_prototracks_with_positions(
    path: str | Path,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """:func:`read_prototracks_csv` and, in the same read, the ``x, y, z`` columns, float64
    [M, 3] (mm), one row per ``(track_id, measurement_id)`` row; None when the file has no
    positions.

    Raises:
        InputFormatError: the file is missing or malformed.
    """
    return _read_prototracks(Path(path), {"x": np.float64, "y": np.float64, "z": np.float64})


def _read_prototracks(
    path: Path, positions: dict[str, type]
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    from acts_gnn.io.csvtable import read_table

    table = read_table(path, {"trackId": np.int64, "measurementId": np.uint64}, optional=positions)
    track_id = table["trackId"]
    _check_track_ids(path, track_id, lambda row: f"line {row + 2}, column 'trackId'")
    found = positions and all(name in table for name in positions)
    xyz = np.stack([table[name] for name in positions], axis=1) if found else None
    return track_id, table["measurementId"], xyz


def prototrack_files(directory: str | Path) -> dict[int, Path]:
    """Event id → its proto-track CSV file in ``directory``, in file-name order.

    Raises:
        InputFormatError: no such file there, or one whose name is no event's.
    """
    directory = Path(directory)
    files = sorted(directory.glob(PROTOTRACKS_GLOB))
    if not files:
        raise InputFormatError(directory, "", "no eventNNN-prototracks.csv files")
    found = {}
    for path in files:
        event_id = prototrack_event_id(path)
        if event_id is None:  # "event000000001 (copy)-prototracks.csv"
            raise InputFormatError(
                path, "", "unrecognised file name (expected eventNNN-prototracks.csv)"
            )
        found[event_id] = path
    return found


def _read_tracks_csv(directory: Path) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    for event_id, path in prototrack_files(directory).items():
        yield event_id, *read_prototracks_csv(path)


def read_tracks(path: str | Path) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Read a tracks ROOT file or a directory of proto-track CSV files.

    Returns:
        event id → ``(track_id, measurement_id)``, one entry per (candidate, measurement) pair.
        Events present with no candidate map to empty arrays.

    Raises:
        InputFormatError: the file is missing or not a tracks file.
    """
    path = Path(path)
    if not path.exists():
        raise InputFormatError(path, "", "no such file or directory")
    if path.is_file() and path.name.endswith(PROTOTRACKS_GLOB.removeprefix("event*")):
        raise InputFormatError(  # it was read as a ROOT file, and refused as a damaged one
            path,
            "",
            f"one event's proto-tracks: give the directory that holds them ({path.parent})",
        )
    reader = _read_tracks_csv(path) if path.is_dir() else _read_tracks_root(path)
    return {event_id: (track, measurement) for event_id, track, measurement in reader}


def read_run_record(path: str | Path) -> RunRecord | None:
    """What made the tracks of a tracks ROOT file (its ``run`` string: a
    :class:`~acts_gnn.result.RunRecord` in JSON); None for a CSV directory, or a file written
    without one (by acts-gnn before it kept one) or whose string reads as no such record."""
    import json

    import uproot

    path = Path(path)
    if path.is_dir():
        return None
    with damaged_root_is_input_error(path), uproot.open(path) as handle:
        if "run" not in handle:
            return None
        text = str(handle["run"])
    try:
        return RunRecord.from_json(json.loads(text))
    except ValueError:
        return None


def recorded_spacepoints(path: str | Path) -> dict[int, int]:
    """Event id → the number of space points the event had when its tracks were made, as the
    timing tree of a tracks ROOT file records it; empty for a CSV directory or a file without
    that tree (read after :func:`read_tracks`, which checks the file)."""
    import uproot

    path = Path(path)
    if path.is_dir():
        return {}
    with damaged_root_is_input_error(path), uproot.open(path) as handle:
        if "timing" not in handle or "n_spacepoints" not in handle["timing"].keys():
            return {}
        rows = handle["timing"].arrays(["event_id", "n_spacepoints"], library="np")
    return dict(zip(rows["event_id"].tolist(), rows["n_spacepoints"].tolist(), strict=True))

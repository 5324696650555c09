"""Every reader refuses any bytes cleanly: valid files of each format, mutated, and pure garbage.

What is read must be a real event; what is refused must be one :class:`InputFormatError` line that
names the file. ``make test`` runs these under the derandomised ``ci`` profile (the same examples
on every run); ``make fuzz`` explores with the ``fuzz`` profile (thousands of examples per reader).
"""

from __future__ import annotations

import gzip
import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from acts_gnn.errors import InputFormatError
from acts_gnn.io.source import open_events

E = "event000000001"
SP = (
    "measurement_id_1,measurement_id_2,geometry_id_1,geometry_id_2,x,y,z,t,var_r,var_z\n"
    + "".join(
        f"{i},18446744073709551615,504403295704449280,0,{30.0 + 10 * i},{1.0 * i},{-5.0 * i},"
        "nan,0.1,0\n"
        for i in range(6)
    )
)
HITS = "hit_id,x,y,z,volume_id,layer_id,module_id\n" + "".join(
    f"{i + 1},{30.0 + 10 * i},{1.0 * i},{-5.0 * i},8,2,{i + 1}\n" for i in range(6)
)
TRUTH = "hit_id,particle_id,tx,ty,tz,tpx,tpy,tpz,weight\n" + "".join(
    f"{i + 1},{4503599644147712 if i < 3 else 0},{30.0 + 10 * i},{1.0 * i},{-5.0 * i},1,0,0,0.1\n"
    for i in range(6)
)
PARTICLES = "particle_id,vx,vy,vz,px,py,pz,q,nhits\n4503599644147712,0,0,0,1.5,0.2,0.1,1,3\n"


def _measurements_file() -> bytes:
    """Six rows of the example event's -measurements.csv (its local_key column is a raw byte)."""
    from acts_gnn.io.example import example_dir

    lines = (example_dir() / "event000000000-measurements.csv").read_bytes().split(b"\n")
    return b"\n".join(lines[:7]) + b"\n"


def _root_file() -> bytes:
    import uproot

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "sp.root"
        with uproot.recreate(path) as f:
            f["spacepoints"] = {
                "event_id": np.repeat(np.array([1, 2], np.uint32), 3),
                "measurement_id": np.arange(6, dtype=np.uint64),
                "x": np.arange(6, dtype=np.float32) + 30,
                "y": np.zeros(6, np.float32),
                "z": np.arange(6, dtype=np.float32),
            }
        return path.read_bytes()


def _npz_file() -> bytes:
    buffer = io.BytesIO()
    np.savez(
        buffer,
        format_version=np.array(1),
        event_id=np.array(1),
        sp_x=np.arange(6, dtype=np.float32) + 30,
        sp_y=np.zeros(6, np.float32),
        sp_z=np.zeros(6, np.float32),
        sp_measurement_id=np.arange(6, dtype=np.uint64),
    )
    return buffer.getvalue()


#: reader → (files of one valid event, the file to give); the fuzzed file is one of them
VALID: dict[str, tuple[dict[str, bytes], str]] = {
    "acts-csv": ({f"{E}-spacepoint.csv": SP.encode()}, f"{E}-spacepoint.csv"),
    "acts-csv-gz": (
        {f"{E}-spacepoint.csv.gz": gzip.compress(SP.encode(), mtime=0)},
        f"{E}-spacepoint.csv.gz",
    ),
    "acts-measurements": (
        {f"{E}-measurements.csv": _measurements_file()},
        f"{E}-measurements.csv",
    ),
    "acts-measurements-gz": (
        {f"{E}-measurements.csv.gz": gzip.compress(_measurements_file(), mtime=0)},
        f"{E}-measurements.csv.gz",
    ),
    "trackml": (
        {
            f"{E}-hits.csv": HITS.encode(),
            f"{E}-truth.csv": TRUTH.encode(),
            f"{E}-particles.csv": PARTICLES.encode(),
        },
        f"{E}-hits.csv",
    ),
    "root": ({"sp.root": _root_file()}, "sp.root"),
    "npz": ({f"{E}.npz": _npz_file()}, f"{E}.npz"),
}
READERS = sorted(VALID)

#: what a mutation inserts: line endings of every kind, NUL, non-UTF-8, quotes, huge runs
PIECES = [b"\r", b"\n", b"\r\n", b"\x00", b"\xff", b"\xfe\xff", "é".encode(), b'"', b",", b"\t"]
mutation = st.tuples(
    st.sampled_from(["replace", "insert", "delete", "truncate", "repeat"]),
    st.floats(0, 1),
    st.one_of(st.sampled_from(PIECES), st.binary(min_size=1, max_size=6)),
)


def _mutate(data: bytes, mutations: list[tuple[str, float, bytes]]) -> bytes:
    for op, where, piece in mutations:
        at = int(where * len(data))
        if op == "replace":
            data = data[:at] + piece + data[at + len(piece) :]
        elif op == "insert":
            data = data[:at] + piece + data[at:]
        elif op == "delete":
            data = data[:at] + data[at + len(piece) :]
        elif op == "truncate":
            data = data[:at]
        else:  # an absurdly long run of one piece
            data = data[:at] + piece * 40_000 + data[at:]
    return data


#: one directory for every generated example, removed when the interpreter exits
_ROOT = tempfile.TemporaryDirectory(prefix="acts-gnn-fuzz-")


def _write(files: dict[str, bytes]) -> Path:
    directory = Path(tempfile.mkdtemp(dir=_ROOT.name))
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return directory


def _read_or_refuse(path: Path) -> None:
    """Read every event of ``path``, or see it refused with one line naming the file."""
    try:
        events = list(open_events([path]))
    except InputFormatError as exc:
        message = str(exc)
        assert message.startswith(str(path.parent)), message
        assert "\n" not in message and "\r" not in message, message
        return
    assert events and all(len(event) >= 1 for event in events)


@pytest.mark.parametrize("reader", READERS)
def test_the_valid_files_are_read(reader):
    files, given_name = VALID[reader]
    events = list(open_events([_write(files) / given_name]))
    assert [len(event) for event in events] == ([3, 3] if reader == "root" else [6])


@pytest.mark.parametrize("reader", READERS)
@given(which=st.integers(0, 2), mutations=st.lists(mutation, min_size=1, max_size=4))
def test_mutated_files_are_read_or_refused_cleanly(reader, which, mutations):
    files, given_name = VALID[reader]
    name = sorted(files)[which % len(files)]
    directory = _write({**files, name: _mutate(files[name], mutations)})
    _read_or_refuse(directory / given_name)


@pytest.mark.parametrize("reader", READERS)
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_are_refused_cleanly(reader, data):
    given_name = VALID[reader][1]
    directory = _write({given_name: data})
    with pytest.raises(InputFormatError) as info:
        list(open_events([directory / given_name]))
    message = str(info.value)
    assert message.startswith(str(directory / given_name)) and "\n" not in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\r\x00", "line 1: empty line, expected a CSV header line"),
        (SP.replace("\n", "\r").encode()[:-1] + b"\x00", "binary data (a NUL byte)"),
        (SP.encode("utf-16"), "line 1: UTF-16 text (byte-order mark), expected UTF-8"),
        (b"x" * 70_000 + b"\n" + SP.encode(), "line 1: longer than 65536 bytes"),
        (SP.encode() + b"1,2,3," + b"9" * 3_000_000 + b"\n", "not a valid CSV file"),
        (SP.encode()[:120] + "é".encode("latin-1") + SP.encode()[120:], "line 2: byte 0xe9"),
    ],
    ids=["cr-nul", "cr-lines-nul", "utf16", "long-header", "long-row", "latin1"],
)
def test_bad_bytes_are_named_exactly(content, expected):
    path = _write({f"{E}-spacepoint.csv": content}) / f"{E}-spacepoint.csv"
    with pytest.raises(InputFormatError) as info:
        list(open_events([path]))
    assert str(info.value).startswith(str(path)) and expected in str(info.value)


def test_cr_only_line_endings_are_read():
    path = _write({f"{E}-spacepoint.csv": SP.replace("\n", "\r").encode()})
    (event,) = list(open_events([path / f"{E}-spacepoint.csv"]))
    assert event.spacepoints.measurement_id.tolist() == list(range(6))


@pytest.mark.parametrize(
    ("weight", "expected"),
    [
        ("nan", "line 4, column 'weight': expected a finite number, found nan"),
        ("-7", "line 4, column 'weight': expected a weight of 0 or more, found -7"),
    ],
)
def test_trackml_weights_are_checked(weight, expected):
    """A NaN weight hid the TrackML score and a negative one gave a perfect finder 0."""
    lines = TRUTH.splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0] + f",{weight}"
    files = {**VALID["trackml"][0], f"{E}-truth.csv": ("\n".join(lines) + "\n").encode()}
    directory = _write(files)
    with pytest.raises(InputFormatError) as info:
        list(open_events([directory / f"{E}-hits.csv"]))
    assert str(info.value) == f"{directory / f'{E}-truth.csv'}: {expected}"


def _npz_with(**changes) -> bytes:
    """The valid cache of :func:`_npz_file` with arrays replaced or added."""
    with np.load(io.BytesIO(_npz_file())) as data:
        arrays = {key: data[key] for key in data.files}
    buffer = io.BytesIO()
    np.savez(buffer, **{**arrays, **changes})
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"sp_x": np.array(1.0)}, "array 'sp_x': expected one value per row, found shape ()"),
        (
            {"event_id": np.array([1, 2])},
            "array 'event_id': expected one integer of 0 or more, found int64 of shape (2,)",
        ),
        (
            {"event_id": np.array(-5)},
            "array 'event_id': expected one integer of 0 or more, found int64 of shape () (-5)",
        ),
        ({"event_id": np.array(0)}, "array 'event_id': holds event 0, expected 1 as its name says"),
        (
            {"truth_particle_id": np.zeros(10, np.uint64)},
            "inconsistent arrays (truth has 10 entries for 6 space points)",
        ),
        (  # numpy cut it to 0 with a warning
            {"sp_measurement_id": np.full(6, 0.7)},
            "inconsistent arrays (measurement_id must be whole numbers, got float64 with "
            "fractions)",
        ),
        (
            {"sp_x": np.ones(6, np.complex64)},
            "inconsistent arrays (x must be real numbers, got complex64)",
        ),
    ],
    ids=[
        "scalar-column",
        "two-ids",
        "negative-id",
        "other-event",
        "truth-length",
        "cut-id",
        "complex",
    ],
)
def test_bad_npz_arrays_are_named(changes, expected):
    """Each was an internal error, or read under another event's number."""
    if "truth_particle_id" in changes:  # a whole truth: its particle table too
        import dataclasses

        from acts_gnn.event import Particles

        changes |= {f"particle_{f.name}": np.zeros(1) for f in dataclasses.fields(Particles)}
    directory = _write({f"{E}.npz": _npz_with(**changes)})
    with pytest.raises(InputFormatError) as info:
        list(open_events([directory / f"{E}.npz"]))
    assert str(info.value) == f"{directory / f'{E}.npz'}: {expected}"


def test_a_measurement_id_beyond_64_bits_is_named():
    """It was an internal error (OverflowError) when the ids became an array."""
    lines = _measurements_file().split(b"\n")
    lines[1] = b"99999999999999999999" + lines[1][lines[1].index(b",") :]
    directory = _write({f"{E}-measurements.csv": b"\n".join(lines)})
    with pytest.raises(InputFormatError) as info:
        list(open_events([directory / f"{E}-measurements.csv"]))
    message = f"{directory / f'{E}-measurements.csv'}: line 2: expected ids from 0 to 2^64 − 1"
    assert str(info.value) == message

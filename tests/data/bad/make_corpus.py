"""Write the bad-input corpus of ``tests/data/bad/``: one directory per case.

    python tests/data/bad/make_corpus.py

Every case is an input that ``acts-gnn reconstruct`` must refuse with one ``InputFormatError``
line (exit code 2, no traceback, no output file); ``cases.json`` holds, per case, the input path
to give and a fragment the message must contain. The cases start from tiny valid events and break
one thing each.
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
E = "event000000001"

SP_HEADER = "measurement_id_1,measurement_id_2,geometry_id_1,geometry_id_2,x,y,z,t,var_r,var_z"
SP_ROWS = [
    f"{i},18446744073709551615,504403295704449280,0,{30.0 + 10 * i},{1.0 * i},{-5.0 * i},nan,0.1,0"
    for i in range(6)
]
HITS_HEADER = "hit_id,x,y,z,volume_id,layer_id,module_id"
HITS_ROWS = [f"{i + 1},{30.0 + 10 * i},{1.0 * i},{-5.0 * i},8,2,{i + 1}" for i in range(6)]
TRUTH_HEADER = "hit_id,particle_id,tx,ty,tz,tpx,tpy,tpz,weight"
TRUTH_ROWS = [
    f"{i + 1},{4503599644147712 if i < 3 else 0},{30.0 + 10 * i},{1.0 * i},{-5.0 * i},1,0,0,0.1"
    for i in range(6)
]
PARTICLES_HEADER = "particle_id,vx,vy,vz,px,py,pz,q,nhits"
PARTICLES_ROWS = ["4503599644147712,0,0,0,1.5,0.2,0.1,1,3"]


def _csv(header: str, rows: list[str]) -> str:
    return "\n".join([header, *rows]) + "\n"


CASES: dict[str, dict] = {}


def case(name: str, expected: str, path: str = "") -> Path:
    """A fresh directory for ``name``; ``path`` (relative to it) is what the test passes."""
    directory = HERE / name
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir()
    CASES[name] = {"input": f"{name}/{path}" if path else name, "expected": expected}
    return directory


def acts(name: str, expected: str, text: str, suffix: str = "-spacepoint.csv") -> None:
    (case(name, expected) / f"{E}{suffix}").write_text(text)


def trackml(name: str, expected: str, **files: str) -> None:
    directory = case(name, expected)
    contents = {
        "hits": _csv(HITS_HEADER, HITS_ROWS),
        "truth": _csv(TRUTH_HEADER, TRUTH_ROWS),
        "particles": _csv(PARTICLES_HEADER, PARTICLES_ROWS),
    }
    contents.update(files)
    for kind, text in contents.items():
        if text is not None:
            (directory / f"{E}-{kind}.csv").write_text(text)


def npz(name: str, expected: str, arrays: dict[str, np.ndarray] | None, raw: bytes | None = None):
    directory = case(name, expected, f"{E}.npz")
    path = directory / f"{E}.npz"
    if raw is not None:
        path.write_bytes(raw)
    else:
        np.savez(path, **arrays)


def valid_npz_arrays() -> dict[str, np.ndarray]:
    return {
        "format_version": np.array(1),
        "event_id": np.array(1),
        "sp_x": np.arange(6, dtype=np.float32) + 30,
        "sp_y": np.zeros(6, np.float32),
        "sp_z": np.zeros(6, np.float32),
        "sp_measurement_id": np.arange(6, dtype=np.uint64),
    }


def main() -> None:
    for old in HERE.iterdir():
        if old.is_dir():
            shutil.rmtree(old)
    good = _csv(SP_HEADER, SP_ROWS)

    # -- ACTS CSV space points ----------------------------------------------------------------
    acts("acts_truncated_row", "line 7", good[: good.rindex(",")])
    acts("acts_semicolons", "missing; expected columns", good.replace(",", ";"))
    acts("acts_tabs", "missing; expected columns", good.replace(",", "\t"))
    acts(
        "acts_missing_column_x",
        "column 'x': missing",
        _csv(
            SP_HEADER.replace(",x,", ","),
            [
                r.split(",", 5)[0] + "," + ",".join(r.split(",")[1:4] + r.split(",")[5:])
                for r in SP_ROWS
            ],
        ),
    )
    acts("acts_renamed_column", "column 'x': missing", good.replace(",x,", ",X,", 1))
    acts(
        "acts_text_in_float",
        "line 4, column 'x': expected a number, found 'fifty'",
        good.replace(",50.0,", ",fifty,", 1),
    )
    acts(
        "acts_nan_coordinate",
        "line 3, column 'x': expected a finite number",
        good.replace(",40.0,", ",nan,", 1),
    )
    acts(
        "acts_inf_coordinate",
        "line 5, column 'z': expected a finite number",
        good.replace(",-15.0,", ",inf,", 1),
    )
    acts(
        "acts_far_coordinate",  # beyond a kilometre: the models' float32 arithmetic overflowed
        "line 4, column 'x': expected a position within 1e+06 mm (a kilometre) of the origin, "
        "found 3e+38",
        good.replace(",50.0,", ",3e38,", 1),
    )
    acts(
        "acts_duplicate_ids",
        "line 5, column 'measurement_id_1': duplicate value 2 (first on line 4)",
        good.replace("\n3,", "\n2,", 1),
    )
    acts("acts_empty_file", "empty", "")
    acts("acts_header_only", "no space points in this event", SP_HEADER + "\n")
    acts("acts_extra_field", "line 2", good.replace("0.1,0\n", "0.1,0,7\n", 2))
    acts("acts_missing_field", "line 5", good.replace(",nan,0.1,0\n4,", ",nan,0.1\n4,", 1))
    acts("acts_negative_id", "line 2", good.replace("\n0,", "\n-1,", 1))
    acts(
        "acts_id_overflow",
        "line 2, column 'measurement_id_1'",
        good.replace("\n0,", "\n18446744073709551616,", 1),
    )
    acts("acts_quoted_number", "line 2", good.replace(",30.0,", ',"30,0",', 1))
    (case("acts_binary_garbage", "expected CSV text") / f"{E}-spacepoint.csv").write_bytes(
        bytes(np.random.default_rng(9).integers(0, 256, 4096, dtype=np.uint8))
    )
    (
        case("acts_utf16", "UTF-16 text (byte-order mark), expected UTF-8") / f"{E}-spacepoint.csv"
    ).write_bytes(good.encode("utf-16"))
    (case("acts_gzip_not_gzip", "not a valid gzip file") / f"{E}-spacepoint.csv.gz").write_text(
        good
    )
    compressed = gzip.compress(good.encode())
    (
        case("acts_gzip_truncated", "gzip stream is truncated") / f"{E}-spacepoint.csv.gz"
    ).write_bytes(compressed[: len(compressed) // 2])
    (case("acts_no_event_files", "no event files") / "notes.txt").write_text("no events here\n")
    acts("acts_unknown_kind_name", "unrecognised", good, "-spacepoints-v2.csv")
    CASES["acts_unknown_kind_name"]["input"] = f"acts_unknown_kind_name/{E}-spacepoints-v2.csv"

    # -- TrackML CSV ----------------------------------------------------------------------------
    trackml(
        "trackml_missing_hit_id",
        "column 'hit_id': missing",
        hits=_csv(HITS_HEADER.replace("hit_id,", ""), [r.split(",", 1)[1] for r in HITS_ROWS]),
    )
    trackml(
        "trackml_duplicate_hit_id",
        "line 7, column 'hit_id': duplicate value 1",
        hits=_csv(HITS_HEADER, [*HITS_ROWS[:-1], HITS_ROWS[0]]),
    )
    trackml(
        "trackml_far_hit",
        "line 3, column 'z': expected a position within 1e+06 mm (a kilometre) of the origin",
        hits=_csv(HITS_HEADER, [HITS_ROWS[0], "2,40.0,1.0,-1e30,8,2,2", *HITS_ROWS[2:]]),
    )
    trackml("trackml_truth_rows_mismatch", "truth", truth=_csv(TRUTH_HEADER, TRUTH_ROWS[:-2]))
    trackml(
        "trackml_particles_wrong_type",
        "line 2",
        particles=_csv(PARTICLES_HEADER, ["4503599644147712,0,0,0,fast,0.2,0.1,1,3"]),
    )
    trackml(
        "trackml_nan_in_hits",
        "line 4",
        hits=_csv(
            HITS_HEADER, [*HITS_ROWS[:2], HITS_ROWS[2].replace(",50.0,", ",nan,"), *HITS_ROWS[3:]]
        ),
    )
    trackml(
        "trackml_truth_bad_weight",
        "line 3, column 'weight'",
        truth=_csv(
            TRUTH_HEADER, [TRUTH_ROWS[0], TRUTH_ROWS[1].replace(",0.1", ",heavy"), *TRUTH_ROWS[2:]]
        ),
    )
    directory = case("trackml_hits_gz_not_gzip", "not a valid gzip file")
    (directory / f"{E}-hits.csv.gz").write_text(_csv(HITS_HEADER, HITS_ROWS))

    # -- ROOT -------------------------------------------------------------------------------------
    import uproot

    columns = {
        "event_id": np.full(6, 1, np.uint32),
        "measurement_id": np.arange(6, dtype=np.uint64),
        "x": np.arange(6, dtype=np.float32) + 30,
        "y": np.zeros(6, np.float32),
        "z": np.zeros(6, np.float32),
    }
    with uproot.recreate(
        case("root_wrong_tree", "tree 'spacepoints': missing", "tracks.root") / "tracks.root"
    ) as f:
        f["particles"] = columns
    with uproot.recreate(
        case("root_missing_branch", "branch 'x': missing", "sp.root") / "sp.root"
    ) as f:
        f["spacepoints"] = {k: v for k, v in columns.items() if k != "x"}
    (case("root_not_root", "not a readable ROOT file", "sp.root") / "sp.root").write_text(
        "x,y,z\n1,2,3\n"
    )
    buffer = io.BytesIO()
    with uproot.recreate(HERE / "_full.root") as f:
        f["spacepoints"] = columns
    data = (HERE / "_full.root").read_bytes()
    (HERE / "_full.root").unlink()
    del buffer
    (
        case("root_truncated", "not a readable ROOT file (truncated: ", "sp.root") / "sp.root"
    ).write_bytes(data[: len(data) // 3])
    with uproot.recreate(
        case("root_nan_branch", "entry 2: expected a finite number", "sp.root") / "sp.root"
    ) as f:
        f["spacepoints"] = {**columns, "x": np.array([30, 31, np.nan, 33, 34, 35], np.float32)}
    with uproot.recreate(
        case("root_far_branch", "entry 1: expected a position within 1e+06 mm", "sp.root")
        / "sp.root"
    ) as f:
        f["spacepoints"] = {**columns, "y": np.array([0, 2e6, 0, 0, 0, 0], np.float32)}
    with uproot.recreate(
        case("root_empty_tree", "no entries (no space points)", "sp.root") / "sp.root"
    ) as f:
        f["spacepoints"] = {k: v[:0] for k, v in columns.items()}

    # -- npz event caches -----------------------------------------------------------------------
    npz("npz_not_a_zip", "not an acts-gnn event cache", None, raw=b"this is not a zip file\n")
    npz(
        "npz_wrong_version",
        "expected cache format version 1",
        {**valid_npz_arrays(), "format_version": np.array(99)},
    )
    missing = valid_npz_arrays()
    del missing["sp_x"]
    npz("npz_missing_array", "missing array 'sp_x'", missing)
    npz(
        "npz_nan",
        "space point 2: position is not finite",
        {**valid_npz_arrays(), "sp_z": np.array([0, 0, np.inf, 0, 0, 0], np.float32)},
    )
    npz(
        "npz_far",
        "space point 4: expected a position within 1e+06 mm (a kilometre) of the origin",
        {**valid_npz_arrays(), "sp_x": np.array([30, 40, 50, 60, -1e7, 80], np.float32)},
    )
    # a member whose .npy header claims a billion rows; the data holds six
    arrays = valid_npz_arrays()
    directory = case("npz_billion_row_header", "not an acts-gnn event cache", f"{E}.npz")
    with zipfile.ZipFile(directory / f"{E}.npz", "w") as archive:
        for key, value in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, value)
            raw = member.getvalue()
            if key == "sp_x":
                raw = raw.replace(b"'shape': (6,)", b"'shape': (1000000000,)")
            archive.writestr(f"{key}.npy", raw)

    (HERE / "cases.json").write_text(json.dumps(CASES, indent=1, sort_keys=True) + "\n")
    print(f"{len(CASES)} cases")


if __name__ == "__main__":
    main()

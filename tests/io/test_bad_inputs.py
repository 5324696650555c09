"""The bad-input corpus (``tests/data/bad/``) and generated malformed files.

Every malformed input must end ``acts-gnn reconstruct`` with exactly one ``acts-gnn: error:``
line naming the file and what was wrong, exit code 2, no traceback, and no output file.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acts_gnn.errors import InputFormatError
from acts_gnn.io.source import open_events

CORRUPTING = list(',;\t\n"-.e0159xnaif ')
BAD = Path(__file__).resolve().parent.parent / "data" / "bad"
CASES = json.loads((BAD / "cases.json").read_text())


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 30
    assert {name.split("_", 1)[0] for name in CASES} == {"acts", "trackml", "root", "npz"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_bad_input_is_one_line_exit_2_and_no_output(name, run_cli, tmp_path):
    case = CASES[name]
    given_path = BAD / case["input"]
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli(
        "reconstruct",
        given_path,
        "--backend",
        "unrolling",
        "-o",
        out / "tracks.root",
        "--csv-dir",
        out / "csv",
        "--timing",
        out / "timing.json",
    )
    assert result.exit_code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"acts-gnn: error: {given_path}"), lines[0]
    assert case["expected"] in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert sorted(out.rglob("*")) == []


def _fresh_dir() -> Path:
    """An empty directory per generated example (removed at interpreter exit)."""
    directory = tempfile.TemporaryDirectory(prefix="acts-gnn-bad-")
    _KEEP.append(directory)
    return Path(directory.name)


_KEEP: list = []

VALID = (
    "measurement_id_1,measurement_id_2,geometry_id_1,geometry_id_2,x,y,z,t,var_r,var_z\n"
    + "".join(
        f"{i},18446744073709551615,504403295704449280,0,{30.0 + 10 * i},{1.0 * i},{-5.0 * i},"
        "nan,0.1,0\n"
        for i in range(5)
    )
)


@given(
    position=st.integers(0, len(VALID)),
    cut=st.integers(0, 12),
    insert=st.text(alphabet=st.sampled_from([*CORRUPTING, "\x00", "é"]), max_size=8),
)
def test_generated_corruptions_are_read_or_refused_cleanly(position, cut, insert):
    text = VALID[:position] + insert + VALID[position + cut :]
    path = _fresh_dir() / "event000000001-spacepoint.csv"
    path.write_text(text, encoding="utf-8")
    try:
        (event,) = list(open_events([path]))
    except InputFormatError as exc:
        message = str(exc)
        assert message.startswith(str(path)) and "\n" not in message
        return
    assert len(event) >= 1  # whatever was accepted is a real event


@given(data=st.binary(max_size=300), gz=st.booleans())
def test_generated_binary_files_are_refused_cleanly(data, gz):
    path = _fresh_dir() / ("event000000001-hits.csv.gz" if gz else "event000000001-spacepoint.csv")
    path.write_bytes(data)
    with pytest.raises(InputFormatError) as info:
        list(open_events([path]))
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_a_tab_separated_file_shows_its_tabs(tmp_path):
    from acts_gnn.io.source import open_events

    (tmp_path / "event000000001-spacepoint.csv").write_text("measurement_id\tx\ty\tz\n1\t2\t3\t4\n")
    with pytest.raises(InputFormatError) as error:
        list(open_events(tmp_path))
    assert str(error.value).endswith("(found measurement_id\\tx\\ty\\tz)")

"""ACTS CSV reader on the real ACTS 48.1 reference event and on hand-broken copies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from acts_gnn.errors import InputFormatError
from acts_gnn.io.acts_csv import read_measurements_raw
from acts_gnn.io.example import example_dir
from acts_gnn.io.source import open_events


def _rows(path: Path) -> int:
    return len(path.read_bytes().splitlines()) - 1


def test_reference_event_reads_with_truth_on_every_spacepoint(shared_data):
    directory = shared_data / "acts_reference"
    (event,) = list(open_events([directory]))
    assert event.event_id == 0
    assert len(event) == _rows(directory / "event000000000-spacepoint.csv") == 135
    assert event.truth is not None
    # the 25 muons of the reference event, no noise: every space point has a particle
    assert np.all(event.truth.particle_id != 0)
    assert len(event.truth.particles) == 25
    assert set(np.unique(event.truth.particle_id)) <= set(event.truth.particles.particle_id)
    assert int(event.truth.particles.n_spacepoints.sum()) == 135
    # first space point: measurement 0 on a pixel endcap module (volume 7)
    assert event.spacepoints.measurement_id[0] == 0
    assert event.spacepoints.volume_id[0] == 7
    np.testing.assert_allclose(event.spacepoints.z[0], -702.0)
    assert np.all(event.spacepoints.measurement_id_2 == np.uint64(2**64 - 1))
    assert set(np.abs(event.truth.particles.pdg_id)) == {13}


def test_example_event_reads(tmp_path):
    (event,) = list(open_events([example_dir()]))
    assert len(event) == 8497
    assert event.truth is not None and np.all(event.truth.particle_id != 0)
    assert len(event.truth.particles) == 705
    assert set(np.unique(event.spacepoints.volume_id)) == {7, 8, 9, 12, 13, 14, 16, 17, 18}


def test_measurements_raw_local_key_byte_may_be_comma_or_newline(tmp_path):
    path = tmp_path / "event000000000-measurements.csv"
    header = b"measurement_id,geometry_id,local_key,local0,local1,global_x,global_y,global_z\n"
    rows = [
        b"0,504403982899228416,\x06,1.5,2.5,10,20,30\n",
        b"1,504403982899228416,,,1.5,2.5,11,21,31\n",  # key byte is a comma
        b"2,504403982899228416,\n,1.5,2.5,12,22,32\n",  # key byte is a newline
    ]
    path.write_bytes(header + b"".join(rows))
    table = read_measurements_raw(path)
    np.testing.assert_array_equal(table["measurement_id"], [0, 1, 2])
    np.testing.assert_array_equal(table["local_key"], [6, ord(","), ord("\n")])
    np.testing.assert_allclose(table["global_z"], [30, 31, 32])


def test_spacepoints_from_measurements_when_no_spacepoint_file(acts_reference_copy):
    (acts_reference_copy / "event000000000-spacepoint.csv").unlink()
    (event,) = list(open_events([acts_reference_copy]))
    # one space point per measurement, truth through the simhit map
    assert len(event) == _rows(acts_reference_copy / "event000000000-measurements.csv") == 303
    assert np.all(event.truth.particle_id != 0)


def test_bad_hit_index_in_simhit_map_names_file_and_line(acts_reference_copy):
    path = acts_reference_copy / "event000000000-measurement-simhit-map.csv"
    lines = path.read_text().splitlines()
    lines[3] = "2,99999"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputFormatError) as info:
        list(open_events([acts_reference_copy]))
    message = str(info.value)
    assert "measurement-simhit-map.csv: line 4, column 'hit_id'" in message
    assert "found 99999" in message


def test_a_simhit_map_cut_short_is_refused(tmp_path):
    import shutil

    event = tmp_path / "event"
    shutil.copytree(example_dir(), event)
    path = event / "event000000000-measurement-simhit-map.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:400]))  # cut on a line boundary: every row still reads
    with pytest.raises(InputFormatError) as info:
        list(open_events([event]))
    assert str(info.value) == (
        f"{path}: no row for measurement 8496, the last of event000000000-measurements.csv; "
        "expected rows for every measurement (is the file cut short?)"
    )
    path.write_text("".join(lines[:-1]))  # the last measurement's rows are what it checks
    with pytest.raises(InputFormatError, match="no row for measurement 8496"):
        list(open_events([event]))
    path.write_text("".join(lines))
    assert len(next(iter(open_events([event])))) == 8497

"""TrackML reader: every real file under ../shared/data/trackml reads, truth attached."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from acts_gnn.io.source import open_events
from acts_gnn.io.trackml import read_trackml_detectors, read_trackml_particles


def _rows(path: Path) -> int:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        return sum(1 for _ in handle) - 1


@pytest.mark.parametrize(
    ("folder", "with_truth"),
    [("full_events", False), ("subset_barrel", True), ("subset_sparse", True)],
)
def test_events_read_with_counts_equal_to_rows(shared_data, folder, with_truth):
    directory = shared_data / "trackml" / folder
    source = open_events([directory])
    assert source.format == "trackml"
    hits_files = sorted(directory.glob("event*-hits.csv*"))
    assert len(source) == len(hits_files)
    for event, hits in zip(source, hits_files, strict=True):
        assert len(event) == _rows(hits)
        assert (event.truth is not None) == with_truth
        if with_truth:
            assert event.truth.particle_id.shape == (len(event),)
            assert event.truth.weight is not None


def test_subset_sparse_truth_matches_the_readme(shared_data):
    (event,) = list(open_events([shared_data / "trackml" / "subset_sparse"]))
    assert len(event) == 5527
    assert int((event.truth.particle_id == 0).sum()) == 829
    assert len(event.truth.particles) == 548
    assert event.truth.weight.sum() == pytest.approx(0.0513, abs=1e-3)


def test_event_prefix_and_single_file_find_the_same_event(shared_data):
    directory = shared_data / "trackml" / "subset_barrel"
    by_prefix = open_events([directory / "event000001000"])
    by_file = open_events([directory / "event000001000-hits.csv"])
    assert [r.event_id for r in by_prefix.refs] == [r.event_id for r in by_file.refs] == [1000]
    assert set(by_prefix.refs[0].files) == {"hits", "truth", "particles"}


def test_particle_tables_and_detectors_read(shared_data):
    tables = sorted((shared_data / "trackml" / "particles").glob("*-particles.csv"))
    assert len(tables) == 21
    for path in tables:
        particles = read_trackml_particles(path)
        assert len(particles) == _rows(path)
        assert 0.05 < float(np.mean(particles.pt > 1.0)) < 0.2
    for path in (
        shared_data / "trackml" / "detectors.csv",
        shared_data / "trackml" / "subset_sparse" / "detectors.csv.gz",
    ):
        assert len(read_trackml_detectors(path)["cx"]) == 18728


@pytest.mark.parametrize(
    ("role", "header", "column"),
    [
        ("hits", "hit_id,x,y", "z"),
        ("truth", "hit_id", "particle_id"),
        ("particles", "particle_id,vx", "vy"),
    ],
)
def test_a_table_without_its_columns_is_refused_before_reading(tmp_path, role, header, column):
    from acts_gnn.errors import InputFormatError

    rows = {
        "hits": "hit_id,x,y,z\n1,30,0,1\n",
        "truth": "hit_id,particle_id\n1,5\n",
        "particles": "particle_id,vx,vy,vz,px,py,pz,q,nhits\n5,0,0,0,1,0,0,1,1\n",
    }
    for name, text in rows.items():
        (tmp_path / f"event000000003-{name}.csv").write_text(
            header + "\n" if name == role else text
        )
    source = open_events([tmp_path], format="trackml")
    with pytest.raises(InputFormatError) as refused:
        source.check_tables()
    assert str(refused.value).startswith(
        f"{tmp_path / f'event000000003-{role}.csv'}: column {column!r}"
    )


def test_a_particle_table_without_truth_is_not_checked(tmp_path):
    # it is never read without -truth.csv: the check refused what the reader reads
    (tmp_path / "event000000003-hits.csv").write_text("hit_id,x,y,z\n1,30,0,1\n")
    (tmp_path / "event000000003-particles.csv").write_text("particle_id,px\n5,1\n")
    (event,) = list(open_events([tmp_path], format="trackml").check_tables())
    assert event.truth is None and len(event) == 1

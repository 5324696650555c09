"""Input formats as readers in one registry: a plug-in format in one class and one call."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from acts_gnn.errors import ConfigError, InputFormatError
from acts_gnn.event import Event, SpacePoints
from acts_gnn.io import readers
from acts_gnn.io.readers import EventRef
from acts_gnn.io.source import FORMATS, open_events


class XyzReader:
    """A format of one's own: ``*.xyz`` files, one space point ``x y z`` per line."""

    name = "xyz"

    def find(self, path: Path) -> list[EventRef] | None:
        if path.suffix != ".xyz":
            return None
        return [EventRef(event_id=int(path.stem), format=self.name, files={"xyz": path})]

    def read(self, ref: EventRef) -> Event:
        xyz = np.loadtxt(ref.files["xyz"], ndmin=2)
        ids = np.arange(1, len(xyz) + 1, dtype=np.uint64)
        return Event(
            ref.event_id,
            SpacePoints(xyz[:, 0], xyz[:, 1], xyz[:, 2], ids),
            source=str(ref.files["xyz"]),
        )


@pytest.fixture
def xyz():
    reader = readers.register_reader(XyzReader())
    yield reader
    readers.unregister_reader("xyz")


def test_the_built_in_formats_are_readers():
    assert set(readers.reader_names()) == set(FORMATS)
    assert [readers.reader(name).name for name in FORMATS] == list(FORMATS)
    with pytest.raises(ConfigError, match="input format 'npz' has a reader already"):
        readers.register_reader(readers.reader("npz"))


def test_a_plugin_format_is_found_read_and_checked(xyz, tmp_path):
    (tmp_path / "7.xyz").write_text("30 0 10\n0 60 -20\n")
    (event,) = open_events([tmp_path / "7.xyz"])
    assert event.event_id == 7 and len(event) == 2
    np.testing.assert_array_equal(event.spacepoints.y, [0.0, 60.0])
    (again,) = open_events([tmp_path / "7.xyz"], "xyz")
    assert len(again) == 2
    # every reader's events go through the same net: a non-finite position is refused
    (tmp_path / "8.xyz").write_text("30 0 nan\n")
    with pytest.raises(InputFormatError, match=r"8\.xyz: event 8, space point 0: position is not"):
        list(open_events([tmp_path / "8.xyz"]))
    with pytest.raises(ConfigError, match="choose one of acts-csv, trackml, root, npz, xyz"):
        open_events([tmp_path / "7.xyz"], "abc")

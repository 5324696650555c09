"""The tracks file opens in ROOT itself (PyPI package ``root``), jagged branch intact.

ROOT is large and not installed by default: set ``ROOT_PYTHON`` to an interpreter that can
``import ROOT`` (``make test-root`` makes one), or install ``root`` in this environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from acts_gnn.finders import TruthTrackFinder
from acts_gnn.io.source import open_events
from acts_gnn.io.tracks import TrackWriter
from acts_gnn.result import RunRecord

pytestmark = pytest.mark.root

_READ = """
import json, sys, ROOT
f = ROOT.TFile.Open(sys.argv[1])
t = f.Get("tracks")
rows = []
for entry in t:
    rows.append((int(entry.event_id), int(entry.track_id), int(entry.n_measurements),
                 [int(m) for m in entry.measurement_id]))
timing = f.Get("timing")
backends = []
for i in range(timing.GetEntries()):
    timing.GetEntry(i)
    backends.append(str(timing.GetLeaf("backend").GetValueString()))
print(len(rows), timing.GetEntries(), backends)
for row in rows[:3]:
    print(row)
print("RUN", json.dumps(json.loads(f.Get("run").GetString().Data())))
"""


def test_tracks_file_opens_in_root(shared_data, tmp_path):
    python = os.environ.get("ROOT_PYTHON", sys.executable)
    probe = subprocess.run([python, "-c", "import ROOT"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"{python} cannot import ROOT (set ROOT_PYTHON or run make test-root)")
    (event,) = list(open_events([shared_data / "acts_reference"]))
    result = TruthTrackFinder().reconstruct(event)
    path = tmp_path / "tracks.root"
    run = RunRecord(finder={"finder": "truth"}, machine="m", started="now")
    with TrackWriter(path, run=run) as writer:
        writer.add(event, result)
    out = subprocess.run(
        [python, "-c", _READ, str(path)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == "25 1 ['truth']"
    first = eval(out[1])  # (event_id, track_id, n_measurements, measurement ids)
    members = np.flatnonzero(result.labels == 0)
    assert first == (0, 0, members.size, event.spacepoints.measurement_id[members].tolist())
    # what made the tracks: a TObjString of JSON, as ROOT reads it
    assert json.loads(out[-1].removeprefix("RUN ")) == run.to_json()

"""Two real servers, killed (``kill -9``) and restarted in the middle of a 200-event run.

Every event's tracks must be written exactly once, a restarted server must be used again.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.triton
pytest.importorskip("pytriton", reason="nvidia-pytriton is not installed (acts-gnn[server])")
pytest.importorskip("tritonclient.grpc")

from acts_gnn.event import Event, SpacePoints, Truth  # noqa: E402
from acts_gnn.finders import make_finder  # noqa: E402
from acts_gnn.io.cache import save_event_npz  # noqa: E402
from acts_gnn.io.example import example_dir  # noqa: E402
from acts_gnn.io.source import open_events  # noqa: E402
from acts_gnn.io.tracks import read_tracks  # noqa: E402
from acts_gnn.reco.job import ReconstructionOutputs, run_reconstruction  # noqa: E402
from acts_gnn.triton.client import RemotePipeline  # noqa: E402
from tests.triton.serving import ServeProcess  # noqa: E402

N_EVENTS = 200
KILL_FIRST_AFTER = 40
RESTART_FIRST_AFTER = 80
KILL_SECOND_AFTER = 130


def _slices(directory):
    """``N_EVENTS`` small events: the example's particles in eight groups, in turn."""
    (example,) = list(open_events([example_dir()]))
    _, group = np.unique(example.truth.particle_id, return_inverse=True)
    directory.mkdir()
    for i in range(N_EVENTS):
        keep = np.flatnonzero(group % 8 == i % 8)
        sp = example.spacepoints
        spacepoints = SpacePoints(
            x=sp.x[keep], y=sp.y[keep], z=sp.z[keep], measurement_id=sp.measurement_id[keep]
        )
        truth = Truth(
            particle_id=example.truth.particle_id[keep], particles=example.truth.particles
        )
        event = Event(event_id=i, spacepoints=spacepoints, truth=truth, source="slice")
        save_event_npz(event, directory / f"event{i:09d}.npz")
    return open_events([directory])


@pytest.fixture
def two_servers(tmp_path):
    servers = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        servers.append(ServeProcess(tmp_path / name, "--model", "unrolling_tracking"))
    try:
        for s in servers:
            s.wait_ready()
        yield servers  # the test may replace one by a restarted server: cleaned up here too
    finally:
        for s in servers:
            if s.process.poll() is None:
                assert s.terminate() == 0
            s.kill()


def test_kill_and_restart_mid_run_loses_no_event(two_servers, tmp_path):
    first, second = two_servers
    source = _slices(tmp_path / "events")
    remote = RemotePipeline(
        [first.grpc_url, second.grpc_url], "unrolling_tracking", timeout_s=30, retries=3
    )
    done = []
    answered_by = {}

    def after_event(timing):
        done.append(timing.event_id)
        answered_by[timing.event_id] = remote.urls[remote._preferred]
        if len(done) == KILL_FIRST_AFTER:
            first.kill()  # requests in flight to it fail over to the second server
        elif len(done) == RESTART_FIRST_AFTER:
            ports = (first.grpc_port, first.http_port, first.metrics_port)
            (tmp_path / "a2").mkdir()
            two_servers[0] = ServeProcess(
                tmp_path / "a2", "--model", "unrolling_tracking", ports=ports
            ).wait_ready()
        elif len(done) == KILL_SECOND_AFTER:
            second.kill()  # now only the restarted first server is left

    outputs = ReconstructionOutputs(tracks_csv_dir=tmp_path / "tracks")
    run_reconstruction(source, remote, outputs, on_event=after_event, concurrency=3)

    assert done == list(range(N_EVENTS))
    assert first.process.poll() is not None and second.process.poll() is not None
    assert two_servers[0].process.poll() is None
    assert answered_by[KILL_FIRST_AFTER + 10] == second.grpc_url
    assert answered_by[N_EVENTS - 1] == first.grpc_url  # the restarted server, same address
    files = sorted((tmp_path / "tracks").glob("event*-prototracks.csv"))
    assert len(files) == N_EVENTS
    written = read_tracks(tmp_path / "tracks")
    assert sorted(written) == list(range(N_EVENTS))
    local = make_finder("unrolling")
    for event in source:
        labels = local.reconstruct(event).labels
        kept = labels >= 0
        track, measurement = written[event.event_id]
        assert len(measurement) == kept.sum()  # each space point's track exactly once
        expected = zip(labels[kept], event.spacepoints.measurement_id[kept], strict=True)
        assert set(zip(track, measurement, strict=True)) == set(expected)

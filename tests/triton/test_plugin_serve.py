"""A track finder registered by a plug-in module is served like a built-in (real serve)."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

pytestmark = pytest.mark.triton
pytest.importorskip("pytriton", reason="nvidia-pytriton is not installed (acts-gnn[server])")
pytest.importorskip("tritonclient.grpc")

from acts_gnn.finders import PLUGINS_VARIABLE  # noqa: E402
from acts_gnn.io.example import example_dir  # noqa: E402
from acts_gnn.io.source import open_events  # noqa: E402
from acts_gnn.triton.client import RemotePipeline  # noqa: E402
from tests.triton.serving import ServeProcess  # noqa: E402

PLUGIN = """
    import numpy as np

    from acts_gnn.finders import register_finder
    from acts_gnn.result import EventTiming, TrackingResult


    class ToyFinder:
        name = "toy"

        def run(self, features):
            return (features[:, 2] < 0).astype(np.int64), {"track_building": 0.0}, (0, 0)

        def reconstruct(self, event):
            labels = self.run(event.features())[0]
            return TrackingResult(labels, EventTiming(event.event_id, self.name, len(event), 0.0))


    register_finder("toy", ToyFinder, summary="sign of z")
"""


def test_a_plugin_finder_is_served_under_its_name(tmp_path):
    (tmp_path / "toy_plugin.py").write_text(textwrap.dedent(PLUGIN))
    env = {PLUGINS_VARIABLE: "toy_plugin", "PYTHONPATH": str(tmp_path)}
    served = ServeProcess(tmp_path, "--model", "toy", env=env).wait_ready()
    try:
        (event,) = open_events([example_dir()])
        remote = RemotePipeline([served.grpc_url], "toy", retries=0, timeout_s=60)
        labels = remote.reconstruct(event).labels
        np.testing.assert_array_equal(labels, (event.features()[:, 2] < 0).astype(np.int64))
    finally:
        assert served.terminate() == 0

"""The soak test, short form (``make soak`` runs the full one): nothing lost, memory flat."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.triton
pytest.importorskip("pytriton", reason="nvidia-pytriton is not installed (acts-gnn[server])")
pytest.importorskip("tritonclient.grpc")

from acts_gnn.bench.soak import run_soak  # noqa: E402
from acts_gnn.io.example import example_dir  # noqa: E402
from acts_gnn.io.source import open_events  # noqa: E402
from tests.triton.serving import ServeProcess  # noqa: E402

REQUESTS = 1_500
CAP = 2_000


def test_short_soak(tmp_path):
    (example,) = list(open_events([example_dir()]))
    features = example.features()
    pool = [features[i::40] for i in range(8)]  # ~200 space points each
    served = ServeProcess(
        tmp_path, "--model", "unrolling_tracking", "--max-spacepoints", str(CAP)
    ).wait_ready()
    try:
        result = run_soak(
            served.grpc_url,
            "unrolling_tracking",
            pool,
            requests=REQUESTS,
            bad_fraction=0.1,
            max_spacepoints=CAP,
            pgid=served.process.pid,
            checkpoints=(300, REQUESTS),
        )
    finally:
        code = served.terminate()
    assert code == 0
    assert (result.valid_sent, result.malformed_sent) == (REQUESTS * 9 // 10, REQUESTS // 10)
    assert result.lost == 0 and result.accepted_malformed == 0
    growth = result.rss_growth(300, REQUESTS)
    assert growth < 0.05, f"server memory grew {growth:.1%} from request 300 to {REQUESTS}"
    assert np.all([v > 100 * 2**20 for v in result.rss_bytes.values()])  # the whole group

"""The whole pipeline on a real GPU against the CPU's (``make gpu-check``; skipped without one)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from acts_gnn.gnn.pipeline import PRECISIONS, Pipeline  # noqa: E402
from acts_gnn.io.example import example_dir  # noqa: E402
from acts_gnn.io.source import open_events  # noqa: E402
from acts_gnn.metrics.matching import match_event  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def _scores(event, labels) -> tuple[int, int]:
    m = match_event(event.event_id, event.spacepoints, event.truth, labels)
    return m.n_matched_targets, m.n_tracks - m.n_matched_tracks


@pytest.mark.parametrize("precision", PRECISIONS)
def test_the_example_event_on_the_gpu_finds_what_the_cpu_finds(precision):
    (event,) = list(open_events([example_dir()]))
    cpu = Pipeline(device="cpu").reconstruct(event)
    gpu = Pipeline(device="cuda", precision=precision)
    assert gpu.edges_per_chunk(gpu.bundle.gnn) > 65_536  # chunks sized by the device's memory
    result = gpu.reconstruct(event)
    found, fakes = _scores(event, result.labels)
    cpu_found, cpu_fakes = _scores(event, cpu.labels)
    # a few hundred targets: within 0.1 point is the same count
    assert (found, fakes) == (cpu_found, cpu_fakes)
    assert set(result.timing.stages_s) == set(cpu.timing.stages_s)

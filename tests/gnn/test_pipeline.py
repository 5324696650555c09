"""The shipped default model on the committed example event."""

from __future__ import annotations

import json

import numpy as np
import pytest

from acts_gnn.gnn.bundle import ModelBundle, default_bundle_dir
from acts_gnn.gnn.pipeline import Pipeline
from acts_gnn.io.example import example_dir
from acts_gnn.io.source import open_events
from acts_gnn.result import STAGES
from tests.conftest import REPO

LABELS = REPO / "tests" / "data" / "example_labels_gnn.npy"


@pytest.fixture(scope="module")
def example():
    (event,) = list(open_events([example_dir()]))
    return event


@pytest.fixture(scope="module")
def pipeline():
    return Pipeline(device="cpu")


def test_default_bundle_is_small_and_documents_itself():
    size = sum(p.stat().st_size for p in default_bundle_dir().iterdir())
    assert size < 20 * 1024 * 1024
    meta = json.loads((default_bundle_dir() / "bundle.json").read_text())
    assert meta["training"]["data"].startswith("acts-gnn simulate")
    assert meta["training"]["config"]["seed"] == 0
    assert "test_components" in meta["metrics"]
    assert isinstance(ModelBundle.load(), ModelBundle)


def test_example_event_reproduces_committed_labels(example, pipeline):
    result = pipeline.reconstruct(example)
    expected = np.load(LABELS)
    np.testing.assert_array_equal(result.labels, expected)
    assert set(result.timing.stages_s) == set(STAGES)
    assert result.timing.n_edges_graph >= result.timing.n_edges_filtered > 0


def test_filter_chunking_does_not_change_the_answer(example, pipeline):
    small_chunks = Pipeline(pipeline.bundle, device="cpu", filter_chunk_edges=1000)
    np.testing.assert_array_equal(small_chunks.reconstruct(example).labels, np.load(LABELS))


def test_walkthrough_backend_and_cli(example, tmp_path, run_cli):
    walk = Pipeline(device="cpu", track_builder="walkthrough").reconstruct(example)
    assert walk.timing.backend == "gnn_walk"
    assert walk.labels.shape == (len(example),) and walk.labels.max() >= 0
    result = run_cli(
        "reconstruct",
        "--example",
        "-o",
        tmp_path / "t.root",
        "--timing",
        tmp_path / "t.json",
        "--performance",
        tmp_path / "p.json",
        "-q",
    )
    assert result.exit_code == 0, result.stderr
    timing = json.loads((tmp_path / "t.json").read_text())
    assert timing["events"][0]["backend"] == "gnn"
    assert timing["events"][0]["n_edges_graph"] > 0
    perf = json.loads((tmp_path / "p.json").read_text())
    assert 0.0 < perf["selections"][0]["efficiency"] <= 1.0


def test_reduced_precision_is_refused_on_the_cpu_and_unknown_ones_anywhere():
    from acts_gnn.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^precision 'bf16' needs a GPU \(the CPU runs fp32"):
        Pipeline(device="cpu", precision="bf16")
    with pytest.raises(ConfigError, match=r"^precision must be one of 'fp32', 'tf32', 'bf16', "):
        Pipeline(device="cpu", precision="fp16")


def test_the_torch_engine_on_the_cpu_keeps_its_cache_sized_chunks(pipeline):
    torch_engine = Pipeline(pipeline.bundle, device="cpu", engine="torch")
    assert torch_engine.edges_per_chunk(torch_engine.bundle.filter) == 65_536

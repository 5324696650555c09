"""The shipped default model on the committed example event."""

from __future__ import annotations

import json

import numpy as np
import pytest

from acts_gnn.gnn.bundle import ModelBundle, default_bundle_dir
from acts_gnn.gnn.pipeline import Pipeline, locality_order
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


def test_locality_order_sorts_by_eta_bin_then_phi_bin_then_r():
    # contract features (r/1000, φ/π, z/1000); η bins 0.5 wide, φ bins 2π/512
    features = np.array(
        [
            [0.30, 0.5, 0.0],  # η 0, φ bin 128
            [0.10, 0.5, 0.0],  # η 0, φ bin 128, smaller r
            [0.20, -0.5, 0.0],  # η 0, φ bin -128
            [0.10, 0.0, 0.2],  # η 1.44: bin 2
            [0.10, 0.0, -0.2],  # η -1.44: bin -3
            [0.10, 0.5001, 0.0],  # φ a hair above the others' 0.5: the same bin
        ],
        dtype=np.float32,
    )
    np.testing.assert_array_equal(locality_order(features), [4, 2, 1, 5, 0, 3])


def test_labels_follow_the_points_whatever_their_order_in_the_file(example, pipeline):
    # the stages work in locality order, so a shuffled event is the same work: the same
    # candidates (labels are numbered by first point, so compared as partitions) and edges
    features = example.features()
    shuffle = np.random.default_rng(7).permutation(len(features))
    scored = pipeline.run_scores(features, keep_graph=True)
    shuffled = pipeline.run_scores(features[shuffle], keep_graph=True)

    def pairs(edges, scores):
        return sorted(zip(*edges.tolist(), scores.tolist(), strict=True))

    assert pairs(shuffle[shuffled.edges], shuffled.scores) == pairs(scored.edges, scored.scores)
    assert {tuple(p) for p in shuffle[shuffled.graph_edges].T} == {
        tuple(p) for p in scored.graph_edges.T
    }
    labels = np.full(len(features), -2)
    labels[shuffle] = shuffled.labels_at()
    assert _partition(labels) == _partition(scored.labels_at())
    np.testing.assert_array_equal(scored.labels_at(), np.load(LABELS))


def _partition(labels: np.ndarray) -> set[frozenset[int]]:
    return {frozenset(np.flatnonzero(labels == k).tolist()) for k in np.unique(labels[labels >= 0])}


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


def test_a_gpu_precision_is_refused_on_the_cpu_and_unknown_ones_anywhere():
    from acts_gnn.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^precision 'tf32' needs a GPU \(on the CPU: fp32, or"):
        Pipeline(device="cpu", precision="tf32")
    with pytest.raises(ConfigError, match=r"^--precision must be one of 'fp32', 'tf32', 'bf16', "):
        Pipeline(device="cpu", precision="fp16")


def test_the_torch_engine_on_the_cpu_keeps_its_cache_sized_chunks(pipeline):
    torch_engine = Pipeline(pipeline.bundle, device="cpu", engine="torch")
    assert torch_engine.edges_per_chunk(torch_engine.bundle.filter) == 65_536


def test_features_that_are_not_finite_are_one_input_error():
    from acts_gnn.errors import InputFormatError

    features = np.zeros((5, 3), np.float32)
    features[3, 2] = np.inf
    with pytest.raises(InputFormatError) as error:
        Pipeline(device="cpu").run(features)
    assert str(error.value) == "features: row 3: expected finite numbers, got [0.0, 0.0, inf]"


def test_the_callers_settings_are_config_errors_not_the_bundles():
    from acts_gnn.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^gnn_cut must be a number in \[0, 1\], got 2\.0$"):
        Pipeline(device="cpu", gnn_cut=2.0)  # was a BundleError: the bundle is fine
    with pytest.raises(ConfigError, match=r"^unknown pipeline setting\(s\) gnn_kut; a bundle's "):
        Pipeline(device="cpu", gnn_kut=0.5)  # was PipelineConfig's TypeError


def test_features_beyond_a_kilometre_are_one_input_error():
    # 10³⁰ mm overflowed the models' float32 arithmetic: K1's grid failed with a LinAlgError
    from acts_gnn.errors import InputFormatError

    features = np.full((5, 3), 0.1, np.float32)
    features[2, 0] = 1e27
    with pytest.raises(InputFormatError) as error:
        Pipeline(device="cpu").run(features)
    assert str(error.value) == (
        "features: row 2: expected magnitudes of at most 1000 (positions within a kilometre), "
        "got [9.999999884841548e+26, 0.10000000149011612, 0.10000000149011612]"
    )
    features[2, 0] = 1000.0  # a kilometre itself is taken
    assert Pipeline(device="cpu").run(features).labels.shape == (5,)


def test_features_of_another_shape_are_one_input_error():
    from acts_gnn.errors import InputFormatError

    pipeline = Pipeline(device="cpu")
    for shape in ((5, 2), (5,), (5, 4), (2, 3, 1)):
        with pytest.raises(InputFormatError) as error:
            pipeline.run(np.zeros(shape, np.float32))
        assert str(error.value) == (
            f"features: expected shape [N, 3] (r/1000, φ/π, z/1000), got {list(shape)}"
        )

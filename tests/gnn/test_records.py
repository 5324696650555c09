"""The bundle's typed training and metrics records: same JSON as before, nothing lost."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil

import pytest

from acts_gnn.errors import BundleError
from acts_gnn.gnn.bundle import ModelBundle, default_bundle_dir
from acts_gnn.gnn.records import (
    BundleMetrics,
    CutScanRow,
    EpochReport,
    QualityRecord,
    RunInputs,
    TrainingRecord,
)

RUN = RunInputs(("t",), ("v",), (0, 1), (0,), (), "made by hand", "cpu")
QUALITY = QualityRecord(config={"hidden": 4}, seed=0, train_candidates=10, train_fakes=3)


def test_the_shipped_bundle_is_written_back_byte_for_byte(tmp_path):
    bundle = ModelBundle.load()
    # make train-quality-displaced: the quality selection of make train-open-ends's bundle trained
    # again with displaced tracks among its candidates, then its cut, the filter cut, builder and
    # rescue cuts on the tuning events (the 15 before and 3 with displaced tracks)
    assert bundle.training.run.device == "cpu"
    assert bundle.training.how.startswith("make train-quality-displaced")
    assert "The previous default: make train-open-ends" in bundle.training.how
    assert "The previous default: make train-jets" in bundle.training.how
    assert bundle.training.quality.train_fakes == 18152
    assert bundle.training.quality.config == {"hidden": 32, "layers": 2, "open_ends": True}
    data = bundle.training.quality.run.data
    assert "6 events seed 8300 --regions 1.0" in data
    assert "16 events seed 1950 --displaced 0.3" in data and "seed 8400 --displaced 0.07" in data
    assert bundle.training.quality_only_from == "data/model-a59985a"
    assert bundle.training.config["true_edge_pt_power"] == 0.3
    assert bundle.training.train_events == 64
    reused = bundle.training.reused_stages
    assert reused.stages == ("embedding", "filter")
    assert reused.training.how.startswith("make train-gnn32")
    assert reused.training.config["true_edge_pt_power"] == 0.3
    assert reused.training.reused_stages is None
    # the builder scan of the model before, with the rescue walk in it; this one chose again
    assert "rescue walk cut 0.3" in bundle.training.how
    pipeline = bundle.pipeline
    assert (pipeline.track_builder, pipeline.rescue_cut, pipeline.rescue_walk_cut) == (
        "walkthrough",
        0.5,
        0.3,
    )
    assert pipeline.quality_cut == 0.8
    assert len(bundle.metrics.filter_scan) == 4
    assert len(bundle.metrics.builder_scan) == 2 * (1 + 3 * 3)
    assert isinstance(bundle.metrics.history[0], EpochReport)
    assert bundle.metrics.history[0].stage == "embedding"
    assert math.isnan(bundle.metrics.history[0].val_purity)
    assert isinstance(bundle.metrics.cut_scan[0], CutScanRow)
    assert set(bundle.metrics.tests) == {"components", "walkthrough"}
    assert bundle.training.extra == {} and bundle.metrics.extra == {}
    bundle.save(tmp_path)
    shipped = (default_bundle_dir() / "bundle.json").read_text()
    assert (tmp_path / "bundle.json").read_text() == shipped


def test_the_records_are_frozen():
    record = TrainingRecord(config={"seed": 1})
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.train_events = 3  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        BundleMetrics().history = ()  # type: ignore[misc]


def test_the_quality_record_sits_where_its_run_wrote_it():
    full = TrainingRecord(config={}, train_events=2, run=RUN, quality=QUALITY)
    assert list(full.to_json())[:3] == ["config", "train_events", "quality"]
    only = dataclasses.replace(full, quality_only_from="earlier")
    assert list(only.to_json())[-2:] == ["quality_only_from", "quality"]
    for record in (full, only):
        assert TrainingRecord.from_json(json.loads(json.dumps(record.to_json()))) == record
    assert TrainingRecord().to_json() == {} and BundleMetrics().to_json() == {}


def test_keys_this_version_does_not_know_are_kept(tmp_path):
    directory = tmp_path / "b"
    shutil.copytree(default_bundle_dir(), directory)
    meta = json.loads((directory / "bundle.json").read_text())
    meta["training"]["operator"] = {"name": "a physicist"}
    meta["training"]["quality"]["note"] = "kept too"
    meta["metrics"]["extra_scan"] = [1, 2]
    del meta["metrics"]["cut_scan"]  # an older bundle without one
    (directory / "bundle.json").write_text(json.dumps(meta, indent=2) + "\n")
    bundle = ModelBundle.load(directory)
    assert bundle.training.extra == {"operator": {"name": "a physicist"}}
    assert bundle.training.quality.extra == {"note": "kept too"}
    assert bundle.metrics.extra == {"extra_scan": [1, 2]}
    assert bundle.metrics.cut_scan is None
    bundle.save(tmp_path / "again")
    assert json.loads((tmp_path / "again" / "bundle.json").read_text()) == meta


def test_a_row_with_unknown_fields_is_a_bundle_error(tmp_path):
    directory = tmp_path / "b"
    shutil.copytree(default_bundle_dir(), directory)
    meta = json.loads((directory / "bundle.json").read_text())
    meta["metrics"]["cut_scan"][0]["speed"] = 3
    (directory / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=r"bundle\.json: metrics\.cut_scan: a row with unknown"):
        ModelBundle.load(directory)
    meta["metrics"]["cut_scan"] = {"gnn_cut": 0.5}
    (directory / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=r"metrics\.cut_scan: expected a list, got dict"):
        ModelBundle.load(directory)


def test_held_out_scores_are_added_by_builder():
    metrics = BundleMetrics(validation_events=2).with_test("components", {"n_events": 1})
    metrics = metrics.with_test("walkthrough", {"n_events": 2})
    assert metrics.to_json() == {
        "validation_events": 2,
        "test_components": {"n_events": 1},
        "test_walkthrough": {"n_events": 2},
    }


def test_bundle_json_is_strict_json_and_its_missing_figures_read_back_as_nan(tmp_path):
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    bundle = ModelBundle.load()
    saved = bundle.save(tmp_path) / "bundle.json"
    for path in (default_bundle_dir() / "bundle.json", saved):
        json.loads(path.read_text(), parse_constant=refuse)
    history = json.loads(saved.read_text())["metrics"]["history"]
    assert history[0]["stage"] == "embedding" and history[0]["val_purity"] is None
    assert math.isnan(ModelBundle.load(tmp_path).metrics.history[0].val_purity)


def test_a_bundle_saved_over_one_with_a_quality_network_leaves_no_stale_network(tmp_path):
    bundle = ModelBundle.load()
    assert bundle.quality is not None
    bundle.save(tmp_path)
    assert (tmp_path / "quality.pt").exists()
    without = dataclasses.replace(bundle.pipeline, quality_cut=None)
    dataclasses.replace(bundle, quality=None, pipeline=without).save(tmp_path)
    assert not (tmp_path / "quality.pt").exists()
    assert ModelBundle.load(tmp_path).quality is None


def test_a_reuse_record_names_its_source_and_fingerprints(tmp_path):
    from acts_gnn.gnn.records import ReuseRecord

    record = ReuseRecord(
        ("embedding",), 0.5, None, TrainingRecord(), source="/b", fingerprints={"embedding": "ab"}
    )
    text = record.to_json()
    assert list(text) == ["stages", "radius", "source", "fingerprints", "training"]
    assert ReuseRecord.from_json(json.loads(json.dumps(text))) == record
    older = ReuseRecord.from_json({"stages": ["embedding"], "radius": 0.5, "training": {}})
    assert (older.source, older.fingerprints) == (None, None)  # records before them


def test_fingerprints_follow_the_weights_not_the_files(tmp_path):
    import torch

    bundle = ModelBundle.load()
    prints = bundle.fingerprints()
    assert set(prints) == {"embedding", "filter", "gnn", "quality"}
    assert all(len(p) == 16 for p in prints.values())
    bundle.save(tmp_path)
    assert ModelBundle.load(tmp_path).fingerprints() == prints
    with torch.no_grad():
        next(bundle.gnn.parameters()).view(-1)[0] += 1e-6
    changed = bundle.fingerprints()
    assert changed["gnn"] != prints["gnn"]
    assert {k: v for k, v in changed.items() if k != "gnn"} == {
        k: v for k, v in prints.items() if k != "gnn"
    }

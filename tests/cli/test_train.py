"""``acts-gnn train --reuse``: the GNN alone trained on another bundle's graphs, end to end."""

from __future__ import annotations

import json
import re

import pytest
import torch

from acts_gnn.gnn.bundle import ModelBundle, default_bundle_dir
from acts_gnn.io.example import example_dir


def test_train_reuse_keeps_the_shipped_embedding_and_filter(tmp_path, run_cli):
    out = tmp_path / "bundle"
    result = run_cli(
        "train", "--train", example_dir(), "--val", example_dir(), "-o", out,
        "--reuse", default_bundle_dir(), "--gnn-epochs", "1", "--gnn-hidden", "8",
        "--gnn-iterations", "1", "--gnn-sectors", "2", "--max-neighbours", "16",
        "--data-description", "acts-gnn simulate (the example event)",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "gnn       epoch  1/1  loss " in result.stderr  # its number of the most epochs
    assert "embedding epoch" not in result.stderr and "filter    epoch" not in result.stderr
    # stderr is not a terminal here, as in a batch job's log: each stage is announced as a line
    lines = result.stderr.splitlines()
    stages = [lines.index(s) for s in ("preparing events", "training the GNN")]
    assert stages == sorted(stages) and stages[1] < lines.index(next(
        line for line in lines if line.startswith("gnn       epoch  1")
    ))  # fmt: skip
    assert any(line.startswith("building graphs (radius ") for line in lines)
    # the example is both the training and the validation event: said, before the training
    warning = "acts-gnn: warning: 1 of the 1 --val events is a training event too ("
    assert lines.index(next(line for line in lines if line.startswith(warning))) < stages[1]
    assert "what is judged on them was trained on them" in result.stderr
    meta = json.loads((out / "bundle.json").read_text())
    shipped = json.loads((default_bundle_dir() / "bundle.json").read_text())
    assert meta["models"]["gnn"] == {"hidden": 8, "iterations": 1, "mlp_layers": 2}
    assert meta["models"]["filter"] == shipped["models"]["filter"]
    assert meta["pipeline"]["radius"] == shipped["pipeline"]["radius"]
    assert meta["pipeline"]["filter_cut"] == shipped["pipeline"]["filter_cut"]
    assert meta["pipeline"]["max_neighbours"] == 16
    p = meta["pipeline"]
    assert lines[-1] == (
        f"wrote {out}: radius {p['radius']:.3g}, k 16, filter cut {p['filter_cut']:.3g}, "
        f"{p['track_builder']} at GNN cut {p['gnn_cut']:.3g}, stitch cut {p['stitch_cut']:.3g}, "
        f"quality cut {p['quality_cut']:.3g}"
    )
    reused = meta["training"]["reused_stages"]
    assert reused["stages"] == ["embedding", "filter"]
    # the reused bundle is named and its stages' weights fingerprinted (neither was recorded)
    assert reused["source"] == str(default_bundle_dir().resolve())
    shipped_bundle = ModelBundle.load()
    assert reused["fingerprints"] == shipped_bundle.fingerprints(["embedding", "filter"])
    assert reused["training"]["data"] == shipped["training"]["data"]
    for name in ("embedding", "filter"):
        ours = torch.load(out / f"{name}.pt", weights_only=True)
        theirs = torch.load(default_bundle_dir() / f"{name}.pt", weights_only=True)
        assert ours.keys() == theirs.keys()
        assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    # -q as in every other command: its warnings alone (it had none)
    result = run_cli(
        "train", "--train", example_dir(), "--val", example_dir(), "-o", out, "--force", "-q",
        "--reuse", default_bundle_dir(), "--gnn-epochs", "1", "--gnn-hidden", "8",
        "--gnn-iterations", "1", "--gnn-sectors", "2", "--max-neighbours", "16",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    said = result.stderr.splitlines()
    assert said and all(line.startswith("acts-gnn: warning: ") for line in said), said


def test_train_reuse_of_a_missing_bundle_is_one_line(tmp_path, run_cli):
    result = run_cli(
        "train", "--train", example_dir(), "--val", example_dir(), "-o", tmp_path / "b",
        "--reuse", tmp_path / "nowhere",
    )  # fmt: skip
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("acts-gnn: error:")
    assert "nowhere" in lines[0]
    assert not (tmp_path / "b").exists()


def test_train_with_a_bad_soft_edge_mode_or_device_is_one_line(tmp_path, run_cli):
    for option, value, expected in (
        ("--soft-edges", "maybe", "--soft-edges 'maybe': expected one of ignore, true, false"),
        ("--gnn-epochs", "0", "--gnn-epochs must be at least 1, got 0"),
        ("--filter-epochs", "0", "--filter-epochs must be at least 1, got 0"),
        ("--max-neighbours", "0", "--max-neighbours must be at least 1, got 0"),
        ("--gnn-sectors", "-5", "--gnn-sectors must be at least 1, got -5"),
        ("--target-pt", "-1", "--target-pt must be a number ≥ 0, got -1"),
        ("--patience", "0", "--patience must be at least 1, got 0"),
        ("--device", "tpu", "unknown device 'tpu'; use cpu, cuda, cuda:N or auto"),
    ):
        result = run_cli(
            "train", "--train", example_dir(), "--val", example_dir(), "-o", tmp_path / "b",
            option, value,
        )  # fmt: skip
        assert result.exit_code == 2
        assert result.stderr.strip() == f"acts-gnn: error: {expected}"
        assert not (tmp_path / "b").exists()


def test_quality_only_keeps_every_model_and_records_its_run(tmp_path, run_cli, monkeypatch):
    from acts_gnn.gnn import recipe

    # the example event has 1 fake among its candidates: let that be enough to train on here
    monkeypatch.setattr(recipe, "MIN_QUALITY_FAKES", 1)
    out = tmp_path / "bundle"
    result = run_cli(
        "train", "--train", example_dir(), "--val", example_dir(), "-o", out,
        "--reuse", default_bundle_dir(), "--quality-only", "--tune", example_dir(),
        "--data-description", "acts-gnn simulate (the example event)",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert " epoch " not in result.stderr  # no embedding, filter or GNN epochs
    assert "no candidate-quality selection" not in result.stderr
    assert "choosing the filter cut on the tracks of 1 tuning event\n" in result.stderr
    meta = json.loads((out / "bundle.json").read_text())
    shipped = json.loads((default_bundle_dir() / "bundle.json").read_text())
    quality = meta["training"]["quality"]
    assert "skipped" not in quality and quality["train_fakes"] >= 1
    assert quality["data"] == "acts-gnn simulate (the example event)"
    assert (out / "quality.pt").exists() == (meta["pipeline"]["quality_cut"] is not None)
    assert len(meta["metrics"]["quality_scan"]) == len(recipe.QUALITY_CUTS)
    # the models and the cuts chosen before the quality selection are the reused bundle's; the
    # filter cut is scanned again over the same cuts (the one chosen on edges × the scales)
    assert meta["training"]["data"] == shipped["training"]["data"]
    for key in ("radius", "gnn_cut", "stitch_cut", "max_neighbours"):
        assert meta["pipeline"][key] == shipped["pipeline"][key]
    scanned = [row["filter_cut"] for row in meta["metrics"]["filter_scan"]]
    assert scanned == [row["filter_cut"] for row in shipped["metrics"]["filter_scan"]]
    assert meta["pipeline"]["filter_cut"] in scanned
    for name in ("embedding", "filter", "gnn"):
        ours = torch.load(out / f"{name}.pt", weights_only=True)
        theirs = torch.load(default_bundle_dir() / f"{name}.pt", weights_only=True)
        assert all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_quality_only_with_too_few_fakes_to_train_on_writes_nothing(tmp_path, run_cli):
    # it wrote the reused bundle without its quality selection, with exit 0 and no word
    result = run_cli(
        "train", "--train", example_dir(), "--val", example_dir(), "-o", tmp_path / "b",
        "--reuse", default_bundle_dir(), "--quality-only",
    )  # fmt: skip
    assert result.exit_code == 1
    assert re.fullmatch(
        r"acts-gnn: error: --quality-only: no candidate-quality selection could be trained "
        r"\(\d+ fakes among the \d+ training candidates, fewer than the 20 it needs: give more "
        r"or denser training events\); nothing was written",
        result.stderr.splitlines()[-1],
    ), result.stderr
    assert not (tmp_path / "b").exists()


def test_a_bundle_written_without_a_quality_selection_says_so(tmp_path, run_cli):
    # the shipped GNN, hardly trained further, makes too few fakes on the example to learn from
    result = run_cli(
        "train", "--train", example_dir(), "--val", example_dir(), "-o", tmp_path / "b",
        "--reuse", default_bundle_dir(), "--warm-start", "--gnn-epochs", "1",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert re.search(
        r"\nacts-gnn: warning: the bundle has no candidate-quality selection: \d+ fakes among "
        r"the \d+ training candidates, fewer than the 20 it needs\n",
        result.stderr,
    ), result.stderr
    meta = json.loads((tmp_path / "b" / "bundle.json").read_text())
    assert meta["pipeline"]["quality_cut"] is None and "quality_scan" not in meta["metrics"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--quality-only", "--gnn-epochs", "3", "--gnn-hidden", "32"), "--gnn-epochs, "
         "--gnn-hidden: --quality-only trains only the candidate-quality selection; these "
         "settings would be ignored"),
        (("--embedding-epochs", "3", "--filter-epochs", "4"), "--embedding-epochs, "
         "--filter-epochs: with --reuse the run trains only the stages it does not reuse; these "
         "settings would be ignored"),
        (("--reuse-stages", "embedding", "--latent-negatives", "8"), "--latent-negatives: with "
         "--reuse the run trains only the stages it does not reuse; these settings would be "
         "ignored"),
    ],
)  # fmt: skip
def test_settings_of_stages_a_reuse_keeps_are_refused(tmp_path, run_cli, extra, message):
    # they were ignored: the run went straight to the GNN (or the quality selection)
    result = run_cli(
        "train", "--train", example_dir(), "--val", example_dir(), "-o", tmp_path / "b",
        "--reuse", default_bundle_dir(), *extra,
    )  # fmt: skip
    assert (result.exit_code, result.stderr) == (2, f"acts-gnn: error: {message}\n")
    assert not (tmp_path / "b").exists()


def test_bad_quality_and_pre_selection_options(tmp_path, run_cli):
    result = run_cli(
        "train", "--train", example_dir(), "--val", example_dir(), "-o", tmp_path / "b",
        "--quality-only",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--quality-only needs --reuse BUNDLE" in result.stderr
    result = run_cli(
        "train", "--train", example_dir(), "--val", example_dir(), "-o", tmp_path / "b",
        "--filter-max-inverse-pt", "-1",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--filter-max-inverse-pt must be positive (or 0: off), got -1" in result.stderr
    assert not (tmp_path / "b").exists()


def test_train_refuses_before_reading_an_event(tmp_path, run_cli):
    example = example_dir()
    other = tmp_path / "events"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    for extra, expected in (
        (
            ["-o", other],
            f"{other}: holds files that are not a model bundle; give a new or empty directory",
        ),
        (
            ["-o", tmp_path / "b", "--warm-start"],
            "a warm start needs a bundle to start from (--reuse BUNDLE)",
        ),
        (
            ["-o", tmp_path / "b", "--recut-filter"],
            "choosing a filter's cut again needs a "
            "reused filter (--reuse BUNDLE --reuse-stages embedding,filter): a trained filter's "
            "cut is chosen at --filter-efficiency anyway",
        ),
        (
            ["-o", tmp_path / "b", "--test", tmp_path / "nope"],
            f"{tmp_path / 'nope'}: no such file or directory",
        ),
        (
            ["-o", tmp_path / "b", "--reuse", tmp_path / "nope"],
            f"{tmp_path / 'nope'}: no such directory (expected a model bundle)",
        ),
    ):
        result = run_cli("train", "--train", example, "--val", example, *extra)
        assert (result.exit_code, result.stderr) == (2, f"acts-gnn: error: {expected}\n")
    assert (other / "notes.txt").read_text() == "mine" and sorted(other.iterdir()) == [
        other / "notes.txt"
    ]
    assert not (tmp_path / "b").exists()


def test_train_refuses_events_without_a_particle_table(tmp_path, run_cli):
    import shutil

    events = tmp_path / "events"
    shutil.copytree(example_dir(), events)
    for table in events.glob("*-particles*.csv*"):
        table.unlink()
    result = run_cli("train", "--train", events, "--val", example_dir(), "-o", tmp_path / "b")
    assert result.exit_code == 2
    assert result.stderr.endswith(
        "training events need a particle table (the particles' pT; eventNNN-particles.csv)\n"
    )
    assert not (tmp_path / "b").exists()


def test_an_event_with_nothing_to_learn_is_refused(run_cli, tmp_path):
    """No particle above --target-pt: it was an internal error in the embedding's sampling."""
    from acts_gnn.io.example import example_dir

    example = example_dir()
    result = run_cli(
        "train", "--train", example, "--val", example, "--target-pt", "1000", "-o", tmp_path / "b"
    )
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        f"acts-gnn: error: {example / 'event000000000-spacepoint.csv'}: no particle above "
        "--target-pt 1000 GeV with two points: nothing to train on in this event"
    )
    assert not (tmp_path / "b").exists()


def test_an_event_given_twice_to_one_option_is_refused(tmp_path, run_cli):
    example = example_dir()
    named = example / "event000000000-measurements.csv"
    for twice, again in (((example, example), ""), ((example, named), f" (as {example}/")):
        args = [a for path in twice for a in ("--train", path)]
        result = run_cli("train", *args, "--val", example, "-o", tmp_path / "b")
        assert result.exit_code == 2
        stderr = result.stderr.strip()
        assert stderr.startswith(f"acts-gnn: error: {example}/event000000000-")
        assert f": event 0 is given twice{again}" in stderr
        assert not (tmp_path / "b").exists()


def test_inputs_are_read_with_the_format_and_root_layout_given(tmp_path, run_cli):
    from acts_gnn.api.train import TrainRequest

    example = example_dir()
    request = TrainRequest((example,), (example,), tmp_path / "b", layout={"format": "acts-csv"})
    train, val, test, tune = request.sources()
    assert (len(train), len(val), test, tune) == (1, 1, None, None)
    result = run_cli(
        "train", "--train", example, "--val", example, "-o", tmp_path / "b", "--tree", "hits"
    )
    assert result.exit_code == 2
    assert result.stderr == (
        "acts-gnn: error: a ROOT layout (--root-preset, --tree, --branch) was given, but no "
        "input is a ROOT file (the events are acts-csv files)\n"
    )
    result = run_cli(
        "train", "--train", example, "--val", example, "-o", tmp_path / "b", "--format", "trackml"
    )
    assert result.exit_code == 2 and "-hits.csv: column 'hit_id': missing" in result.stderr
    assert not (tmp_path / "b").exists()

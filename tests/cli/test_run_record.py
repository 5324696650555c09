"""The reports say what made their tracks: ``run`` in the timing and performance JSON."""

from __future__ import annotations

import json
from importlib.metadata import version

from acts_gnn.cpus import machine
from acts_gnn.gnn.bundle import ModelBundle, default_bundle_dir
from acts_gnn.io.example import example_dir


def _reports(run_cli, tmp_path, *options):
    result = run_cli(
        "reconstruct", "--example", "-o", tmp_path / "t.root", "--timing", tmp_path / "t.json",
        "--performance", tmp_path / "p.json", "-q", *options,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return [json.loads((tmp_path / name).read_text()) for name in ("t.json", "p.json")]


def test_the_reports_name_the_bundle_its_weights_and_the_settings_run(run_cli, tmp_path):
    timing, performance = _reports(
        run_cli, tmp_path, "--max-neighbours", "64", "--threads", "1", "--backend", "gnn_walk"
    )
    run = timing["run"]
    assert run == performance["run"] and list(timing)[-1] == "run"
    assert (run["acts_gnn"], run["machine"], run["threads"]) == (
        version("acts-gnn"), machine(), 1,
    )  # fmt: skip
    finder = run["finder"]
    shipped = ModelBundle.load()
    assert finder["finder"] == "gnn_walk"
    assert finder["bundle"] == str(default_bundle_dir().resolve())
    assert finder["fingerprints"] == shipped.fingerprints()
    assert (finder["device"], finder["engine"], finder["precision"]) == ("cpu", "compiled", "fp32")
    # the bundle's settings with the command line's over them
    assert finder["pipeline"]["max_neighbours"] == 64
    assert finder["pipeline"]["track_builder"] == "walkthrough"
    assert finder["pipeline"]["gnn_cut"] == shipped.pipeline.gnn_cut


def test_a_finder_without_a_description_is_named(run_cli, tmp_path):
    timing, _ = _reports(run_cli, tmp_path, "--backend", "truth")
    assert timing["run"]["finder"] == {"finder": "truth"}


def test_evaluate_says_what_it_scored_and_what_made_it(run_cli, tmp_path):
    # its JSON named neither the tracks nor the truth, and the tracks file kept no record
    timing, _ = _reports(run_cli, tmp_path, "--csv-dir", tmp_path / "csv")
    result = run_cli("evaluate", tmp_path / "t.root", "--example", "--json", tmp_path / "e.json")
    assert result.exit_code == 0, result.stderr
    report = json.loads((tmp_path / "e.json").read_text())
    assert report["tracks"] == str((tmp_path / "t.root").resolve())
    assert report["truth"] == [str((example_dir() / "event000000000-spacepoint.csv").resolve())]
    assert report["run"] == timing["run"]  # kept in the tracks file
    result = run_cli("evaluate", tmp_path / "csv", "--example", "--json", tmp_path / "c.json")
    assert result.exit_code == 0, result.stderr
    assert "run" not in json.loads((tmp_path / "c.json").read_text())  # CSV files keep none

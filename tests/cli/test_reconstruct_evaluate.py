"""The two main commands end to end on real ACTS output, and their errors on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import uproot


def test_truth_backend_then_evaluate_gives_perfect_scores(shared_data, tmp_path, run_cli):
    tracks = tmp_path / "tracks.root"
    result = run_cli(
        "reconstruct",
        shared_data / "acts_reference",
        "--backend",
        "truth",
        "-o",
        tracks,
        "--csv-dir",
        tmp_path / "csv",
        "--timing",
        tmp_path / "t.json",
    )
    assert result.exit_code == 0, result.stderr
    assert "wrote" in result.stderr
    with uproot.open(tracks) as handle:
        data = handle["tracks"].arrays(library="np")
        assert len(data["track_id"]) == 25  # 25 muons
        assert int(sum(len(m) for m in data["measurement_id"])) == 135
    timing = json.loads((tmp_path / "t.json").read_text())
    assert timing["summary"]["n_events"] == 1
    assert timing["events"][0]["n_spacepoints"] == 135
    assert (tmp_path / "csv" / "event000000000-prototracks.csv").exists()

    result = run_cli(
        "evaluate",
        tracks,
        "--truth",
        shared_data / "acts_reference",
        "--json",
        tmp_path / "perf.json",
        "--plots",
        tmp_path / "plots",
    )
    assert result.exit_code == 0, result.stderr
    # the table on stdout, what was written on stderr (as reconstruct)
    assert "efficiency" in result.stdout and "wrote" not in result.stdout
    assert f"wrote {tmp_path / 'perf.json'}" in result.stderr
    report = json.loads((tmp_path / "perf.json").read_text())
    at3 = report["selections"][0]
    assert at3["min_track_spacepoints"] == 3
    assert at3["efficiency"] == 1.0 and at3["fake_rate"] == 0.0 and at3["duplicate_rate"] == 0.0
    assert report["trackml_score"] == pytest.approx(1.0)
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "efficiency_vs_eta.png",
        "efficiency_vs_pt.png",
        "fake_rate_vs_eta.png",
    ]
    # the proto-track CSV directory evaluates the same
    result = run_cli("evaluate", tmp_path / "csv", "--truth", shared_data / "acts_reference")
    assert result.exit_code == 0 and "100.00%" in result.stdout


def test_example_demo_path(tmp_path, run_cli):
    result = run_cli(
        "reconstruct", "--example", "--backend", "truth", "-o", tmp_path / "t.root", "-q"
    )
    assert result.exit_code == 0, result.stderr
    result = run_cli("evaluate", tmp_path / "t.root", "--example")
    assert result.exit_code == 0
    assert "104/104" in result.stdout


def test_existing_output_needs_force(shared_data, tmp_path, run_cli):
    out = tmp_path / "t.root"
    out.write_text("keep me")
    result = run_cli("reconstruct", shared_data / "acts_reference", "--backend", "truth", "-o", out)
    assert result.exit_code == 2  # refused before any work: a usage error
    assert result.stderr == f"acts-gnn: error: {out}: already exists (use --force to replace it)\n"
    assert out.read_text() == "keep me"


def test_force_never_replaces_an_input(acts_reference_copy, tmp_path, run_cli):
    # the events file became a tracks file, the tracks a JSON report: exit 0, data gone
    spacepoints = acts_reference_copy / "event000000000-spacepoint.csv"
    kept = spacepoints.read_bytes()
    link = tmp_path / "link.csv"
    link.symlink_to(spacepoints)
    for output in (spacepoints, link):  # by its name or another
        result = run_cli(
            "reconstruct", acts_reference_copy, "--backend", "truth", "-o", output, "--force"
        )
        assert (result.exit_code, result.stderr) == (
            2,
            f"acts-gnn: error: --output {output}: is an input of this run; give another path "
            "(--force never replaces an input)\n",
        )
    tracks = tmp_path / "t.root"
    assert (
        run_cli("reconstruct", acts_reference_copy, "--backend", "truth", "-o", tracks).exit_code
        == 0
    )
    hits = acts_reference_copy / "event000000000-hits.csv"
    for report in (tracks, hits):  # the tracks scored, or a truth file
        result = run_cli("evaluate", tracks, "-t", acts_reference_copy, "--json", report, "--force")
        assert result.exit_code == 2
        assert f"--json {report}: is an input of this run" in result.stderr
    assert spacepoints.read_bytes() == kept and tracks.read_bytes()[:4] == b"root"


def _break(directory, kind):
    sp = directory / "event000000000-spacepoint.csv"
    lines = sp.read_text().splitlines()
    if kind == "truncated":
        sp.write_text("\n".join(lines[:40]) + "\n" + lines[40][:12])
        return sp, "line 41: expected 10 fields, found 2 (truncated or wrong delimiter?)"
    if kind == "missing-column":
        rows = [",".join(line.split(",")[:6]) for line in lines]  # drops z and after
        sp.write_text("\n".join(rows) + "\n")
        return sp, "column 'z': missing; expected columns measurement_id_1, x, y, z"
    if kind == "non-numeric":
        fields = lines[5].split(",")
        fields[4] = "abc"
        lines[5] = ",".join(fields)
        sp.write_text("\n".join(lines) + "\n")
        return sp, "line 6, column 'x': expected a number, found 'abc'"
    if kind == "nan":
        fields = lines[7].split(",")
        fields[5] = "nan"
        lines[7] = ",".join(fields)
        sp.write_text("\n".join(lines) + "\n")
        return sp, "line 8, column 'y': expected a finite number, found nan"
    if kind == "empty":
        sp.write_text("")
        return sp, "line 1: empty file, expected a CSV header line"
    if kind == "semicolon":
        sp.write_text("\n".join(line.replace(",", ";") for line in lines) + "\n")
        return sp, "column 'measurement_id': missing"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind", ["truncated", "missing-column", "non-numeric", "nan", "empty", "semicolon"]
)
def test_bad_csv_gives_one_line_exit_2_and_no_output(acts_reference_copy, tmp_path, run_cli, kind):
    path, expected = _break(acts_reference_copy, kind)
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli(
        "reconstruct",
        acts_reference_copy,
        "--backend",
        "truth",
        "-o",
        out / "t.root",
        "--csv-dir",
        out / "csv",
        "--timing",
        out / "t.json",
    )
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"acts-gnn: error: {path}: ")
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in out.rglob("*")) in ([], ["csv"])


@pytest.mark.parametrize("cached", [False, True])
def test_a_cold_kernel_cache_is_announced(cached, tmp_path, run_cli, monkeypatch):
    from acts_gnn.gnn import compiled

    monkeypatch.setattr(compiled, "kernels_cached", lambda: cached)
    result = run_cli("reconstruct", "--example", "-o", tmp_path / "t.root")
    assert result.exit_code == 0, result.stderr
    notice = "first use after installing: the first event compiles the CPU kernels once"
    assert (notice in result.stderr) is not cached
    quiet = run_cli("reconstruct", "--example", "-o", tmp_path / "t.root", "--force", "-q")
    assert (quiet.exit_code, quiet.stderr) == (0, "")


def test_root_file_without_the_tree(tmp_path, run_cli):
    path = tmp_path / "other.root"
    with uproot.recreate(path) as handle:
        handle.mktree("hits", {"x": np.float64})
        handle["hits"].extend({"x": np.zeros(3)})
    result = run_cli("reconstruct", path, "--backend", "truth", "-o", tmp_path / "t.root")
    assert result.exit_code == 2
    assert result.stderr == (
        f"acts-gnn: error: {path}: tree 'spacepoints': missing; the file has: hits "
        "(choose with --tree)\n"
    )
    assert not (tmp_path / "t.root").exists()
    # evaluate reads truth from ROOT files as reconstruct does: the advice holds there too
    result = run_cli("reconstruct", "--example", "--backend", "truth", "--csv-dir", tmp_path / "c")
    assert result.exit_code == 0, result.stderr
    result = run_cli("evaluate", tmp_path / "c", "-t", path)
    assert (result.exit_code, result.stderr) == (
        2,
        f"acts-gnn: error: {path}: tree 'spacepoints': missing; the file has: hits "
        "(choose with --tree)\n",
    )
    result = run_cli("evaluate", tmp_path / "c", "-t", path, "--tree", "hits")
    assert (result.exit_code, result.stderr) == (
        2,
        f"acts-gnn: error: {path}: tree 'hits', branch 'event_id': missing; branches are x (map "
        "with --branch key=name)\n",
    )


def test_second_event_bad_leaves_no_output(shared_data, tmp_path, run_cli):
    import shutil

    events = tmp_path / "events"
    shutil.copytree(shared_data / "acts_reference", events)
    for path in list(events.iterdir()):
        shutil.copy(path, events / path.name.replace("event000000000", "event000000001"))
    (events / "event000000001-spacepoint.csv").write_text("measurement_id_1,x,y,z\n1,2,3\n")
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli(
        "reconstruct", events, "--backend", "truth", "-o", out / "t.root", "--csv-dir", out / "csv"
    )
    assert result.exit_code == 2
    assert "event000000001-spacepoint.csv: line 2: expected 4 fields, found 3" in result.stderr
    assert list(out.iterdir()) == []  # neither the tracks file nor the CSV directory


@pytest.mark.parametrize(
    ("role", "header", "column"),
    [
        ("spacepoint", "measurement_id_1,x,y", "z"),
        ("hits", "particle_id_pv,tx", "particle_id_sv"),
        ("measurement-simhit-map", "measurement_id", "hit_id"),
        ("particles_simulated", "particle_id_pv", "particle_id_sv"),
    ],
)
def test_a_table_without_its_columns_is_refused_before_any_event(
    shared_data, tmp_path, run_cli, monkeypatch, role, header, column
):
    # found only when its event came: after the model loaded and the events before it ran
    import shutil

    from acts_gnn.finders import TruthTrackFinder

    events = tmp_path / "events"
    shutil.copytree(shared_data / "acts_reference", events)
    for path in list(events.iterdir()):
        shutil.copy(path, events / path.name.replace("event000000000", "event000000007"))
    bad = events / f"event000000007-{role}.csv"
    bad.write_text(f"{header}\n")
    read = []
    monkeypatch.setattr(TruthTrackFinder, "reconstruct", lambda self, event: read.append(event))
    result = run_cli("reconstruct", events, "--backend", "truth", "-o", tmp_path / "t.root")
    assert result.exit_code == 2 and read == []
    assert result.stderr.startswith(f"acts-gnn: error: {bad}: column {column!r}: missing;")
    result = run_cli("evaluate", tmp_path / "none.root", "-t", events)  # its truth, too
    assert result.stderr.startswith(f"acts-gnn: error: {bad}: column {column!r}: missing;")


def test_missing_input_and_bad_options(tmp_path, run_cli):
    result = run_cli(
        "reconstruct", tmp_path / "nope", "--backend", "truth", "-o", tmp_path / "t.root"
    )
    assert (result.exit_code, result.stderr) == (
        2,
        f"acts-gnn: error: {tmp_path / 'nope'}: no such file or directory\n",
    )
    result = run_cli("reconstruct", "--example", "--backend", "magic", "-o", tmp_path / "t.root")
    assert result.exit_code == 2
    choices = "choose one of gnn, gnn_components, gnn_walk, truth"
    assert f"unknown backend 'magic'; {choices}" in result.stderr
    result = run_cli("reconstruct", "--example", "--backend", "truth")
    assert result.exit_code == 2 and "nothing to write" in result.stderr


def test_evaluate_event_missing_from_tracks(shared_data, tmp_path, run_cli):
    tracks = tmp_path / "t.root"
    assert (
        run_cli("reconstruct", "--example", "--backend", "truth", "-o", tracks, "-q").exit_code == 0
    )
    result = run_cli("evaluate", tracks, "--truth", shared_data / "trackml" / "subset_sparse")
    assert result.exit_code == 2
    assert f"{tracks}: event 1: missing" in result.stderr


@pytest.fixture
def example_tracks(tmp_path, run_cli):
    """The example event's truth tracks: ``tracks/t.root`` and the CSV folder ``tracks/csv``."""
    out = tmp_path / "tracks"
    result = run_cli(
        "reconstruct", "--example", "--backend", "truth", "-o", out / "t.root",
        "--csv-dir", out / "csv", "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return out


@pytest.mark.parametrize("fail_at", [0, 1, 2])
def test_evaluate_interrupted_leaves_no_output(
    example_tracks, tmp_path, run_cli, monkeypatch, fail_at
):
    from matplotlib.figure import Figure

    saved = []

    def savefig(self, path, **kwargs):
        if len(saved) == fail_at:
            raise KeyboardInterrupt
        saved.append(path)
        path.write_bytes(b"png")

    monkeypatch.setattr(Figure, "savefig", savefig)
    out = tmp_path / "ev"
    result = run_cli(
        "evaluate", example_tracks / "t.root", "--example",
        "--json", out / "a" / "p.json", "--plots", out / "plots", "-q",
    )  # fmt: skip
    assert (result.exit_code, result.stderr) == (130, "acts-gnn: interrupted\n")
    assert not out.exists()  # neither the JSON, nor a plot, nor a directory made for them


def test_evaluate_csv_tracks_of_another_event_are_refused(
    example_tracks, shared_data, tmp_path, run_cli
):
    truth = shared_data / "acts_reference"
    result = run_cli(
        "evaluate", example_tracks / "csv", "-t", truth, "--json", tmp_path / "ev" / "p.json"
    )
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"acts-gnn: error: {example_tracks / 'csv' / 'event000000000-prototracks.csv'}: event "
        "0: 614 of its 705 candidates hold no "
        f"space point of {truth / 'event000000000-spacepoint.csv'}; the files do not belong "
        "together\n"
    )
    assert not (tmp_path / "ev").exists()


def test_evaluate_without_a_particle_table_has_no_trackml_score(
    acts_reference_copy, tmp_path, run_cli
):
    for path in acts_reference_copy.glob("*particles*"):
        path.unlink()
    tracks = tmp_path / "t.root"
    result = run_cli("reconstruct", acts_reference_copy, "--backend", "truth", "-o", tracks, "-q")
    assert result.exit_code == 0, result.stderr
    result = run_cli("evaluate", tracks, "-t", acts_reference_copy, "--json", tmp_path / "p.json")
    assert result.exit_code == 0, result.stderr
    assert "TrackML score — (no weights: the truth has no particle table)\n" in result.stdout
    report = json.loads((tmp_path / "p.json").read_text())
    assert (report["trackml_score"], report["per_event_trackml_score"]) == (None, [None])


def test_evaluate_needs_the_truth(tmp_path, run_cli):
    result = run_cli("evaluate", tmp_path / "t.root", "--json", tmp_path / "p.json")
    assert (result.exit_code, result.stderr) == (
        2,
        "acts-gnn: error: no truth: give the events the tracks were made from with --truth/-t "
        "(one -t per input), or --example\n",
    )
    assert list(tmp_path.iterdir()) == []


def test_help_is_fast_and_imports_nothing_heavy():
    code = (
        "import sys\n"
        "from acts_gnn.cli.main import main\n"
        "rc = main(['--help'])\n"
        "heavy = [m for m in ('torch', 'numba', 'tritonclient', 'pytriton', 'acts', 'uproot',"
        " 'pyarrow', 'matplotlib') if m in sys.modules]\n"
        "print('HEAVY', heavy, rc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY [] 0" in out.stdout
    assert "reconstruct" in out.stdout and "evaluate" in out.stdout


def test_max_neighbours_changes_the_graph(tmp_path, run_cli):
    import json

    edges = {}
    for k in (None, 8):
        options = [] if k is None else ["--max-neighbours", str(k)]
        out = tmp_path / f"timing-{k}.json"
        result = run_cli("reconstruct", "--example", "--timing", out, "-q", *options)
        assert result.exit_code == 0, result.stderr
        (row,) = json.loads(out.read_text())["events"]
        edges[k] = row["n_edges_graph"]
    assert 0 < edges[8] < edges[None]
    assert edges[8] <= 8 * 8_497  # at most k neighbours per space point
    bad = run_cli(
        "reconstruct", "--example", "--timing", tmp_path / "t.json", "--max-neighbours", "0"
    )
    assert bad.exit_code == 2
    assert bad.stderr == "acts-gnn: error: --max-neighbours must be at least 1, got 0\n"


def test_precision_reaches_the_pipeline_and_reduced_ones_need_a_gpu(tmp_path, run_cli):
    from acts_gnn.api.reconstruct import FinderRequest

    assert FinderRequest(device="cpu", precision="fp32").make().precision == "fp32"
    for precision, message in (
        ("tf32", "precision 'tf32' needs a GPU (on the CPU: fp32, or bf16)"),
        ("fp16", "--precision must be one of 'fp32', 'tf32', 'bf16', got 'fp16'"),
    ):
        bad = run_cli(
            "reconstruct", "--example", "--device", "cpu", "--precision", precision,
            "--timing", tmp_path / "t.json",
        )  # fmt: skip
        assert bad.exit_code == 2
        assert bad.stderr == f"acts-gnn: error: {message}\n"
        assert not (tmp_path / "t.json").exists()


def test_performance_of_inputs_that_show_no_truth_is_refused_before_the_run(tmp_path, run_cli):
    # it ran, then warned that it wrote no report, with exit code 0
    import shutil

    from acts_gnn.io.example import example_dir

    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(example_dir() / "event000000000-spacepoint.csv", bare)  # no truth beside it
    out = tmp_path / "out"
    result = run_cli("reconstruct", bare, "-o", out / "t.root", "--performance", out / "p.json")
    assert (result.exit_code, result.stderr) == (
        2,
        "acts-gnn: error: --performance needs truth, and no input has it: beside ACTS CSV "
        "space points -measurement-simhit-map.csv and -hits.csv, beside TrackML hits "
        "-truth.csv, in a ROOT tree a particle branch (--branch particle_id=NAME) or the "
        "barcodes (--root-preset hits)\n",
    )
    assert not out.exists()


def test_evaluate_says_what_a_tracks_input_given_in_the_wrong_place_is(tmp_path, run_cli):
    from acts_gnn.io.example import example_dir

    made = run_cli(
        "reconstruct", "--example", "--backend", "truth", "-o", tmp_path / "t.root",
        "--csv-dir", tmp_path / "csv",
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    one = tmp_path / "csv" / "event000000000-prototracks.csv"
    for args, message in (
        # it was read as a ROOT file: "not a readable ROOT file (it starts with b'trac'…)"
        ((one, "--example"), f"{one}: one event's proto-tracks: give the directory that holds "
         f"them ({one.parent})"),
        # tracks and events swapped: "tree 'spacepoints': missing; … (choose with --tree)"
        ((example_dir(), "-t", tmp_path / "t.root"), f"{tmp_path / 't.root'}: a tracks file "
         "acts-gnn wrote, not events (evaluate takes the tracks first and the events after -t)"),
        ((tmp_path / "t.root", "--example", "--json", "-"), "-: not the standard output here; "
         "give a file path"),
    ):  # fmt: skip
        result = run_cli("evaluate", *args)
        assert (result.exit_code, result.stderr) == (2, f"acts-gnn: error: {message}\n")
    assert not Path("-").exists()  # where a file named "-" was written (the current directory)


def test_truth_without_a_particle_table_is_said_even_quietly(tmp_path, run_cli):
    # 0/0 targets were a table's caption, gone with -q, and exit 0 without a word
    import shutil

    from acts_gnn.io.example import example_dir

    events = tmp_path / "events"
    events.mkdir()
    for kind in ("spacepoint", "hits", "measurement-simhit-map", "measurements"):  # no particles
        shutil.copy(example_dir() / f"event000000000-{kind}.csv", events)
    warning = (
        "acts-gnn: warning: no event's truth has a particle table (-particles.csv beside ACTS "
        "CSV or TrackML events): their particles' pT is unknown, so none is a target and the "
        "efficiency is undefined\n"
    )
    made = run_cli(
        "reconstruct", events, "--backend", "truth", "-o", tmp_path / "t.root", "-q",
        "--performance", tmp_path / "p.json",
    )  # fmt: skip
    assert (made.exit_code, made.stderr) == (0, warning)
    scored = run_cli("evaluate", tmp_path / "t.root", "-t", events, "-q")
    assert (scored.exit_code, scored.stderr) == (0, warning)


def test_force_says_how_many_earlier_event_files_it_removed(tmp_path, run_cli):
    csv = tmp_path / "csv"
    csv.mkdir()
    (csv / "event000000099-prototracks.csv").write_text("an earlier run's event\n")
    (csv / "event7-prototracks.csv").write_text("an earlier run's event, named by hand\n")
    for name in ("eventabc-prototracks.csv", "event000000099 (copy)-prototracks.csv"):
        (csv / name).write_text("no event's file: the user's, kept\n")
    result = run_cli(
        "reconstruct", "--example", "--backend", "truth", "--csv-dir", csv, "--force", "-q"
    )  # even with --quiet: files were deleted
    assert result.exit_code == 0, result.stderr
    assert result.stderr == f"removed 2 earlier run's event file(s) from {csv}\n"
    assert sorted(p.name for p in csv.iterdir()) == [
        "event000000000-prototracks.csv",
        "event000000099 (copy)-prototracks.csv",
        "eventabc-prototracks.csv",
    ]


def test_evaluate_refuses_tracks_it_cannot_take_for_tracks(tmp_path, run_cli):
    """A stray copy in the CSV folder, or a ROOT tracks tree of other shapes: internal errors."""
    csv = tmp_path / "csv"
    assert (
        run_cli("reconstruct", "--example", "--backend", "truth", "--csv-dir", csv).exit_code == 0
    )
    copy = csv / "event000000000 (copy)-prototracks.csv"
    copy.write_bytes((csv / "event000000000-prototracks.csv").read_bytes())
    result = run_cli("evaluate", csv, "--example")
    assert (result.exit_code, result.stderr) == (
        2,
        f"acts-gnn: error: {copy}: unrecognised file name (expected eventNNN-prototracks.csv)\n",
    )
    flat = tmp_path / "flat.root"
    with uproot.recreate(flat) as handle:
        handle["tracks"] = {
            "event_id": np.zeros(2, np.int64),
            "track_id": np.arange(2, dtype=np.int64),
            "measurement_id": np.arange(2, dtype=np.uint64),
        }
    result = run_cli("evaluate", flat, "--example")
    assert (result.exit_code, result.stderr) == (
        2,
        f"acts-gnn: error: {flat}: tree 'tracks', branch 'measurement_id': expected a list of "
        "numbers per track (2 * uint64)\n",
    )


def test_evaluate_reads_a_csv_folder_by_the_names_it_lists(tmp_path, run_cli):
    """``event0-prototracks.csv`` (not zero-padded) is listed as event 0: its positions came
    from a second read under the padded name, which was not there."""
    csv = tmp_path / "csv"
    result = run_cli("reconstruct", "--example", "--backend", "truth", "--csv-dir", csv)
    assert result.exit_code == 0, result.stderr
    (csv / "event000000000-prototracks.csv").rename(csv / "event0-prototracks.csv")
    result = run_cli("evaluate", csv, "--example")
    assert result.exit_code == 0, result.stderr
    assert "100.00%" in result.stdout


def test_space_points_far_fewer_than_measurements_are_said(shared_data, tmp_path, run_cli):
    # ACTS's space-point file holds the pixel points only: 36% efficiency, and nothing said
    reference = shared_data / "acts_reference"
    result = run_cli("reconstruct", reference, "-o", tmp_path / "a.root", "-q")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == (
        f"acts-gnn: warning: {reference / 'event000000000-spacepoint.csv'}: 135 space points for "
        "303 measurements; the models were trained on one space point per measurement (pixel "
        "and strip alike) and find few tracks in fewer: give the -measurements.csv files as "
        "inputs (DIR/event*-measurements.csv) to use them all\n"
    )
    measurements = reference / "event000000000-measurements.csv"
    for args in ([measurements], [reference, "--backend", "truth"]):  # all points; no model
        result = run_cli("reconstruct", *args, "-o", tmp_path / "b.root", "-q", "--force")
        assert (result.exit_code, result.stderr) == (0, "")


def test_evaluate_says_which_events_of_the_tracks_it_did_not_score(tmp_path, run_cli):
    # truth for one of two events: one was scored, exit 0, nothing said of the other
    from acts_gnn.io.cache import save_event_npz
    from tests.conftest import make_event

    for number in (100, 101):
        event = make_event([1, 1, 1, 2, 2, 2], {1: 2.0, 2: 3.0}, event_id=number)
        save_event_npz(event, tmp_path / f"event{number:09d}.npz")
    tracks = tmp_path / "t.root"
    events = [tmp_path / f"event{n:09d}.npz" for n in (100, 101)]
    assert run_cli("reconstruct", *events, "--backend", "truth", "-o", tracks, "-q").exit_code == 0
    result = run_cli("evaluate", tracks, "-t", events[0], "--json", tmp_path / "p.json", "-q")
    assert (result.exit_code, result.stderr) == (
        0,
        "acts-gnn: warning: no truth was given (-t) for 1 event of the tracks file (event 101): "
        "not scored\n",
    )
    report = json.loads((tmp_path / "p.json").read_text())
    assert (report["n_events"], report["unscored_events"]) == (1, [101])


def test_a_proto_track_file_s_fault_names_the_file(example_tracks, run_cli):
    csv = example_tracks / "csv" / "event000000000-prototracks.csv"
    lines = csv.read_text().splitlines()
    _, measurement, *position = lines[1].split(",")
    csv.write_text("\n".join([*lines, ",".join(["9999", measurement, *position])]) + "\n")
    result = run_cli("evaluate", example_tracks / "csv", "--example")
    assert (result.exit_code, result.stderr) == (
        2,
        f"acts-gnn: error: {csv}: event 0: measurement {measurement} (a space point) is in "
        "candidates 0 and 9999; expected each space point in one candidate at most\n",
    )


def test_a_served_model_this_client_does_not_know_goes_to_the_server(tmp_path, run_cli):
    # a server may host any model (a plug-in, another backend): it was refused here as unknown
    result = run_cli(
        "reconstruct", "--example", "--url", "127.0.0.1:1", "--model", "exatrkx_custom",
        "--retries", "0", "-o", tmp_path / "t.root",
    )  # fmt: skip
    assert result.exit_code == 3, result.stderr  # the server, unreachable, said so
    assert "127.0.0.1:1" in result.stderr and "unknown model" not in result.stderr

"""One table of exit codes for every command, outputs treated alike, and errors before heavy work.

0 done · 1 failed while running · 2 the command cannot run as given (nothing done) · 3 a server
could not be reached · 130 interrupted.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import time
from pathlib import Path

import pytest

from acts_gnn import errors
from acts_gnn.triton.spawn import free_ports

README = Path(__file__).resolve().parent.parent.parent / "README.md"


def test_every_error_has_a_code_of_the_table():
    codes = {
        name: cls.exit_code
        for name, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.ActsGnnError)
    }
    assert codes == {
        "ActsGnnError": 1,
        "OutputError": 1,
        "KernelError": 1,
        "ServerStartError": 1,
        "ConfigError": 2,
        "EventDataError": 2,
        "InputFormatError": 2,
        "BundleError": 2,
        "MissingExtraError": 2,
        "OutputRefusedError": 2,
        "RemoteInferenceError": 3,
        "RemoteTimeoutError": 3,
        "ModelUnavailableError": 3,
        "UnknownModelError": 2,
        "WrongProtocolError": 2,
        "RequestRefusedError": 2,
    }
    table = README.read_text()
    for code in (0, 1, 2, 3, 130, "143, 129"):
        assert f"\n| {code} |" in table, f"exit code {code} missing from the README's table"


def test_a_missing_input_fails_before_torch_loads(tmp_path):
    code = (
        "import sys, time\n"
        "start = time.perf_counter()\n"
        "from acts_gnn.cli.main import main\n"
        f"rc = main(['reconstruct', {str(tmp_path / 'nope')!r}, "
        f"'-o', {str(tmp_path / 't.root')!r}])\n"
        "heavy = [m for m in ('torch', 'numba', 'tritonclient', 'pytriton', 'acts') "
        "if m in sys.modules]\n"
        "print('RESULT', rc, heavy, time.perf_counter() - start)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    _, rc, heavy, _seconds = out.stdout.split("RESULT")[1].split(" ", 3)
    assert (rc, heavy) == ("2", "[]"), out.stdout + out.stderr
    assert f"{tmp_path / 'nope'}: no such file or directory" in out.stderr
    assert list(tmp_path.iterdir()) == []


def test_train_refuses_ranges_combinations_and_missing_inputs_before_torch_loads(tmp_path):
    from acts_gnn.io.example import example_dir

    example, bundle = str(example_dir()), str(tmp_path / "b")
    refused = [
        ["--gnn-epochs", "0"],
        ["--true-edge-pt-power", "3"],
        ["--warm-start"],
        ["--reuse-stages", "embedding"],
        ["--test", str(tmp_path / "nope")],
        ["--reuse", str(tmp_path / "nope")],
    ]
    code = (
        "import sys\n"
        "from acts_gnn.cli.main import main\n"
        f"codes = [main(['train', '--train', {example!r}, '--val', {example!r}, '-o', {bundle!r}]"
        f" + extra) for extra in {refused!r}]\n"
        "print('RESULT', codes, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("RESULT ")[1].strip() == "[2, 2, 2, 2, 2, 2] False", out.stderr
    assert out.stderr.splitlines() == [
        "acts-gnn: error: --gnn-epochs must be at least 1, got 0",
        "acts-gnn: error: --true-edge-pt-power must be in [0, 2], got 3",
        "acts-gnn: error: a warm start needs a bundle to start from (--reuse BUNDLE)",
        "acts-gnn: error: --reuse-stages needs --reuse BUNDLE (the bundle to take them from)",
        f"acts-gnn: error: {tmp_path / 'nope'}: no such file or directory",
        f"acts-gnn: error: {tmp_path / 'nope'}: no such directory (expected a model bundle)",
    ]
    assert list(tmp_path.iterdir()) == []


def test_an_existing_output_is_refused_before_the_model_loads(tmp_path):
    taken = tmp_path / "timing.json"
    taken.write_text("keep")
    code = (
        "import sys\n"
        "from acts_gnn.cli.main import main\n"
        f"rc = main(['reconstruct', '--example', '--timing', {str(taken)!r}])\n"
        "print('RESULT', rc, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("RESULT")[1].split() == ["2", "False"], out.stderr
    assert taken.read_text() == "keep"


@pytest.mark.parametrize("option", ["-o", "--csv-dir", "--timing", "--performance"])
def test_every_output_may_go_into_directories_not_made_yet(run_cli, tmp_path, option):
    name = "csv" if option == "--csv-dir" else "out.file"
    target = tmp_path / "new" / "deeper" / name
    result = run_cli("reconstruct", "--example", "--backend", "truth", option, target, "-q")
    assert result.exit_code == 0, result.stderr
    assert target.exists()


@pytest.mark.parametrize("option", ["-o", "--csv-dir", "--timing", "--performance"])
def test_an_output_under_a_file_is_refused_alike(run_cli, tmp_path, option):
    blocker = tmp_path / "file"
    blocker.write_text("")
    target = blocker / "out"
    result = run_cli("reconstruct", "--example", "--backend", "truth", option, target)
    assert (result.exit_code, result.stderr) == (
        2,
        f"acts-gnn: error: {target}: {blocker} is not a directory\n",
    )


def test_a_failed_run_leaves_no_directories_it_made(run_cli, tmp_path):
    bad = tmp_path / "in"
    bad.mkdir()
    (bad / "event000000001-spacepoint.csv").write_text("x,y\n1,2\n")
    out = tmp_path / "new" / "t.root"
    result = run_cli("reconstruct", bad, "--backend", "truth", "-o", out)
    assert result.exit_code == 2
    assert not (tmp_path / "new").exists()


def test_evaluate_refuses_an_existing_report_with_2(run_cli, tmp_path):
    tracks = tmp_path / "t.root"
    assert (
        run_cli("reconstruct", "--example", "--backend", "truth", "-o", tracks, "-q").exit_code == 0
    )
    report = tmp_path / "e.json"
    report.write_text("keep")
    result = run_cli("evaluate", tracks, "--example", "--json", report)
    assert result.exit_code == 2 and "already exists (use --force" in result.stderr


def test_an_unreachable_server_is_3(run_cli, tmp_path):
    (port,) = free_ports(1)
    start = time.monotonic()
    result = run_cli(
        "reconstruct",
        "--example",
        "--url",
        f"127.0.0.1:{port}",
        "--timeout-s",
        "5",
        "-o",
        tmp_path / "t.root",
    )
    assert result.exit_code == 3, result.stderr
    assert result.stderr.startswith(f"acts-gnn: error: 127.0.0.1:{port} (model 'gnn_tracking')")
    assert time.monotonic() - start < 60
    assert list(tmp_path.iterdir()) == []


def test_events_the_fallback_ran_are_said_even_with_quiet(run_cli, tmp_path):
    (port,) = free_ports(1)
    result = run_cli(
        "reconstruct", "--example", "--url", f"127.0.0.1:{port}", "--fallback-local",
        "--retries", "0", "--timeout-s", "5", "-o", tmp_path / "t.root", "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "acts-gnn: warning: 1 event(s) ran here, not on a server (--fallback-local): "
        f"127.0.0.1:{port} (model 'gnn_tracking'): "
    )


def test_the_fallback_finds_tracks_as_the_served_model_does(run_cli, tmp_path):
    # it ran --backend's default, the GNN, for an unrolling_tracking server: one output, two
    # finders
    import json

    (port,) = free_ports(1)
    remote = ("--url", f"127.0.0.1:{port}", "--fallback-local", "--retries", "0", "-q")
    result = run_cli(
        "reconstruct", "--example", *remote, "--model", "unrolling_tracking",
        "--timing", tmp_path / "t.json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    timing = json.loads((tmp_path / "t.json").read_text())
    assert timing["run"]["finder"]["fallback"] == {"finder": "unrolling"}
    assert timing["summary"]["backends"] == ["unrolling"]
    for model, said in (
        ("null_tracking", "--fallback-local: the served model null_tracking has no twin here; "
         "choose the finder run in its place with --backend"),
        ("unrolling_tracking", "--bundle sets a GNN finder, and the fallback, unrolling, takes "
         "no settings"),
    ):  # fmt: skip
        extra = ("--bundle", tmp_path) if model == "unrolling_tracking" else ()
        result = run_cli("reconstruct", "--example", *remote, "--model", model, *extra,
                         "-o", tmp_path / "x.root")  # fmt: skip
        assert (result.exit_code, result.stderr) == (2, f"acts-gnn: error: {said}\n")


def test_ctrl_c_is_one_line_and_130(run_cli, tmp_path, monkeypatch):
    import acts_gnn.io.source

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(acts_gnn.io.source, "open_events", interrupted)
    result = run_cli("reconstruct", "--example", "--backend", "truth", "-o", tmp_path / "t.root")
    assert (result.exit_code, result.stderr) == (130, "acts-gnn: interrupted\n")


def test_ctrl_c_that_compiled_code_turned_into_its_own_error_is_130(run_cli, tmp_path, monkeypatch):
    import acts_gnn.io.source

    def unpickling(*_args, **_kwargs):  # as Numba's cache loader does when Ctrl-C comes
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:  # its context, not its cause, as the C code leaves it
            message = "<function _numba_unpickle> returned a result with an exception set"
            raise SystemError(message)  # noqa: B904

    monkeypatch.setattr(acts_gnn.io.source, "open_events", unpickling)
    result = run_cli("reconstruct", "--example", "--backend", "truth", "-o", tmp_path / "t.root")
    assert (result.exit_code, result.stderr) == (130, "acts-gnn: interrupted\n")

    def failing(*_args, **_kwargs):  # any other error is not taken for a Ctrl-C
        raise SystemError("a real failure")

    monkeypatch.setattr(acts_gnn.io.source, "open_events", failing)
    with pytest.raises(SystemError, match="a real failure"):  # ACTS_GNN_TRACEBACK (conftest)
        run_cli("reconstruct", "--example", "--backend", "truth", "-o", tmp_path / "t.root")
    monkeypatch.delenv("ACTS_GNN_TRACEBACK")
    result = run_cli("reconstruct", "--example", "--backend", "truth", "-o", tmp_path / "t.root")
    assert (result.exit_code, result.stderr) == (1, INTERNAL.format("SystemError: a real failure"))


#: what a bug in acts-gnn says, with ``{}`` the exception's type and first line
INTERNAL = (
    "acts-gnn: internal error: {} (a bug in acts-gnn, not in the input: please report it with "
    "the output of the same command under ACTS_GNN_TRACEBACK=1)\n"
)


def test_an_internal_error_is_one_line_and_1_unless_asked_for_its_traceback(
    run_cli, tmp_path, monkeypatch
):
    import acts_gnn.io.source

    def buggy(*_args, **_kwargs):
        return {}["missing"]

    monkeypatch.setattr(acts_gnn.io.source, "open_events", buggy)
    monkeypatch.delenv("ACTS_GNN_TRACEBACK")
    result = run_cli("reconstruct", "--example", "--backend", "truth", "-o", tmp_path / "t.root")
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        INTERNAL.format("KeyError: 'missing'"),
    )
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv("ACTS_GNN_TRACEBACK", "1")
    with pytest.raises(KeyError, match="missing"):
        run_cli("reconstruct", "--example", "--backend", "truth", "-o", tmp_path / "t.root")


def test_evaluate_and_train_refuse_an_output_under_a_file(run_cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    tracks = tmp_path / "t.root"
    assert (
        run_cli("reconstruct", "--example", "--backend", "truth", "-o", tracks, "-q").exit_code == 0
    )
    result = run_cli("evaluate", tracks, "--example", "-q", "--plots", blocker)
    assert (result.exit_code, result.stderr) == (
        2,
        f"acts-gnn: error: {blocker / 'efficiency_vs_pt.png'}: {blocker} is not a directory\n",
    )
    result = run_cli("train", "--train", tmp_path, "--val", tmp_path, "-o", blocker / "bundle")
    assert (result.exit_code, result.stderr) == (
        2,
        f"acts-gnn: error: {blocker / 'bundle'}: {blocker} is not a directory\n",
    )


def test_a_request_limit_without_a_balancer_is_2(run_cli):
    result = run_cli("serve", "--max-in-flight", "4")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "acts-gnn: error: --max-in-flight needs --balancer: the balancer refuses the excess"
    ]
    negative = run_cli("serve", "--balancer", "2", "--max-in-flight", "-1")
    assert negative.exit_code == 2
    assert "--max-in-flight must be 0 (no limit) or more, got -1" in negative.stderr


def test_an_output_nothing_can_be_created_in_is_refused_before_the_model_loads(tmp_path):
    # the permission bits let root write in /proc; creating a file there still fails
    tracks = tmp_path / "t.root"
    code = (
        "import sys\n"
        "from acts_gnn.cli.main import main\n"
        f"rc = main(['reconstruct', '--example', '-o', {str(tracks)!r}, "
        "'--timing', '/proc/acts-gnn-timing.json'])\n"
        "print('RESULT', rc, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("RESULT")[1].split() == ["2", "False"], out.stderr
    assert out.stderr == (
        "acts-gnn: error: /proc/acts-gnn-timing.json: is in /proc, the system's (a device or a "
        "process's file): give a file path\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_report_that_cannot_be_written_leaves_no_tracks(run_cli, tmp_path, monkeypatch):
    import contextlib

    from acts_gnn.io import atomic
    from acts_gnn.io.atomic import atomic_path

    @contextlib.contextmanager
    def disk_full_for_the_timing(path, replace=True):
        with atomic_path(path, replace=replace) as temporary:
            if path.name == "t.json":
                raise OSError(28, "No space left on device")
            yield temporary

    monkeypatch.setattr(atomic, "atomic_path", disk_full_for_the_timing)  # the reports' staging
    kept = tmp_path / "old-performance.json"
    kept.write_text("keep")
    result = run_cli(
        "reconstruct", "--example", "--backend", "truth", "-o", tmp_path / "new" / "t.root",
        "--csv-dir", tmp_path / "csv", "--performance", kept, "--timing",
        tmp_path / "new" / "t.json", "--force", "-q",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "No space left on device" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old-performance.json"]
    assert kept.read_text() == "keep"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("reconstruct", "--example", "-o", "x.root", "--threads", "abc"), "Invalid value for "
         "'--threads': expected a whole number, got 'abc'"),
        (("benchmark", "--example", "--local", "--warmup=soon"), "Invalid value for "
         "'--warmup': expected a whole number, got 'soon'"),
        (("reconstruct", "--example", "--bogus"), "No such option: --bogus"),
        (("evaluate", "--example"), "Missing argument 'TRACKS'."),
        (("nope",), "No such command 'nope'."),
    ],
)  # fmt: skip
def test_a_usage_error_is_one_line_with_2(run_cli, args, message):
    result = run_cli(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"acts-gnn: error: {message}"), result.stderr
    command = " ".join(["acts-gnn", *args[:1]]) if args[0] != "nope" else "acts-gnn"
    assert result.stderr.endswith(f" (see {command} --help)\n"), result.stderr
    assert result.stderr.count("\n") == 1


def test_a_command_without_arguments_still_shows_its_help(run_cli):
    result = run_cli("evaluate")
    assert result.exit_code == 2
    assert "Usage: acts-gnn evaluate [OPTIONS] " in result.stdout + result.stderr


def test_evaluate_replaces_existing_plots_only_with_force(run_cli, tmp_path):
    tracks = tmp_path / "t.root"
    assert run_cli("reconstruct", "--example", "--backend", "truth", "-o", tracks).exit_code == 0
    plots = tmp_path / "plots"
    assert run_cli("evaluate", tracks, "--example", "--plots", plots, "-q").exit_code == 0
    drawn = sorted(p.name for p in plots.iterdir())
    assert drawn == ["efficiency_vs_eta.png", "efficiency_vs_pt.png", "fake_rate_vs_eta.png"]
    (plots / "efficiency_vs_eta.png").write_bytes(b"mine")
    again = run_cli("evaluate", tracks, "--example", "--plots", plots, "-q")
    assert (again.exit_code, again.stderr) == (
        2,
        f"acts-gnn: error: {plots / 'efficiency_vs_pt.png'}: already exists "
        "(use --force to replace it)\n",
    )
    assert (plots / "efficiency_vs_eta.png").read_bytes() == b"mine"
    forced = run_cli("evaluate", tracks, "--example", "--plots", plots, "--force", "-q")
    assert forced.exit_code == 0
    assert (plots / "efficiency_vs_eta.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_refuses_truth_of_another_event_with_the_same_number(run_cli, tmp_path):
    import shutil

    from acts_gnn.io.example import example_dir

    tracks = tmp_path / "t.root"
    assert run_cli("reconstruct", "--example", "--backend", "truth", "-o", tracks).exit_code == 0
    other = tmp_path / "other"
    shutil.copytree(example_dir(), other)
    points = other / "event000000000-spacepoint.csv"
    points.write_text("".join(points.read_text().splitlines(keepends=True)[:-10]))
    result = run_cli("evaluate", tracks, "--truth", other)
    assert (result.exit_code, result.stderr) == (
        2,
        f"acts-gnn: error: {tracks}: event 0: its tracks were made from 8497 space points, "
        f"{points} has 8487; the files do not belong together\n",
    )


def test_evaluate_says_when_the_truth_has_no_particle_table(run_cli, tmp_path):
    import json
    import shutil

    from acts_gnn.io.example import example_dir

    tracks = tmp_path / "t.root"
    assert run_cli("reconstruct", "--example", "--backend", "truth", "-o", tracks).exit_code == 0
    other = tmp_path / "other"
    shutil.copytree(example_dir(), other)
    for table in other.glob("*-particles*.csv*"):
        table.unlink()
    result = run_cli("evaluate", tracks, "--truth", other, "--json", tmp_path / "p.json")
    assert result.exit_code == 0, result.stderr
    assert "1 event(s) without a particle table: their particles' pT is unknown, so none of" in (
        " ".join(result.stdout.split())
    )
    report = json.loads((tmp_path / "p.json").read_text())
    assert report["events_without_particle_table"] == 1
    assert report["selections"][0]["n_targets"] == 0
    result = run_cli("evaluate", tracks, "--example", "--json", tmp_path / "q.json")
    assert "without a particle table" not in result.stdout
    assert "events_without_particle_table" not in json.loads((tmp_path / "q.json").read_text())


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--min-pt", "-1", "--min-pt must be a number ≥ 0, got -1.0"),
        ("--min-pt", "nan", "--min-pt must be a number ≥ 0, got nan"),
        ("--max-eta", "0", "--max-eta must be a number > 0, got 0.0"),
        ("--min-particle-sp", "0", "--min-particle-sp must be at least 1, got 0"),
    ],
)
def test_evaluate_refuses_cuts_nothing_passes(run_cli, tmp_path, option, value, message):
    result = run_cli("evaluate", tmp_path / "t.root", "--example", option, value)
    assert (result.exit_code, result.stderr) == (2, f"acts-gnn: error: {message}\n")


def test_sigterm_stops_as_ctrl_c_does_143_and_leaves_nothing(run_cli, tmp_path, monkeypatch):
    import os
    import signal

    from acts_gnn.io.tracks import TrackWriter

    add = TrackWriter.add

    def add_then_stopped(self, *args, **kwargs):  # a batch system's scancel, mid-run
        add(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(TrackWriter, "add", add_then_stopped)
    before = signal.getsignal(signal.SIGTERM)
    result = run_cli(
        "reconstruct", "--example", "--backend", "truth", "-o", tmp_path / "out" / "t.root",
        "--csv-dir", tmp_path / "out" / "csv", "--timing", tmp_path / "out" / "t.json",
    )  # fmt: skip
    assert (result.exit_code, result.stderr) == (143, "acts-gnn: stopped by SIGTERM\n")
    assert list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is before  # main() leaves the process as it was


def test_an_ignored_sighup_stays_ignored(run_cli, tmp_path, monkeypatch):
    import signal

    import acts_gnn.io.source

    seen = {}

    def record(*_args, **_kwargs):
        seen.update({s: signal.getsignal(s) for s in (signal.SIGHUP, signal.SIGTERM)})
        raise KeyboardInterrupt

    monkeypatch.setattr(acts_gnn.io.source, "open_events", record)
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as nohup starts a command
    try:
        result = run_cli("reconstruct", "--example", "--backend", "truth", "-o", tmp_path / "t")
    finally:
        signal.signal(signal.SIGHUP, previous)
    assert result.exit_code == 130
    assert seen[signal.SIGHUP] is signal.SIG_IGN
    assert callable(seen[signal.SIGTERM])


def test_an_os_error_no_layer_expected_is_one_line_and_1(run_cli, tmp_path, monkeypatch):
    import acts_gnn.io.source

    def disk_full(*_args, **_kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "t.root"))

    monkeypatch.setattr(acts_gnn.io.source, "open_events", disk_full)
    result = run_cli("reconstruct", "--example", "--backend", "truth", "-o", tmp_path / "t.root")
    assert (result.exit_code, result.stderr) == (
        1,
        f"acts-gnn: error: {tmp_path / 't.root'}: No space left on device\n",
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--fallback-local"], "--fallback-local needs --url (without one every event runs here)"),
        (
            ["--concurrency", "2"],
            "--concurrency needs --url (local backends run one event at a time)",
        ),
        (["--tls-root-cert", "ca.pem"], "--tls-root-cert needs --url"),
        (["--model", "gnn_tracking_walk"], "--model needs --url"),
        (
            ["--protocol", "http", "--timeout-s", "5", "--backoff", "1"],
            "--protocol, --timeout-s and --retries/--backoff need --url",
        ),
    ],
)
def test_client_options_without_a_url_are_refused(run_cli, tmp_path, options, message):
    result = run_cli("reconstruct", "--example", "-o", tmp_path / "t.root", *options)
    assert (result.exit_code, result.stderr) == (2, f"acts-gnn: error: {message}\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--backend", "unrolling"], "--backend chooses"),
        (["--bundle", "b", "--max-neighbours", "64"], "--bundle and --max-neighbours choose"),
    ],
)
def test_local_finder_options_with_a_url_are_refused(run_cli, tmp_path, options, message):
    """With --url the served model finds the tracks: a local finder's options would be ignored."""
    result = run_cli(
        "reconstruct", "--example", "-o", tmp_path / "t.root", "--url", "localhost:1", *options
    )
    assert (result.exit_code, result.stderr) == (
        2,
        f"acts-gnn: error: {message} the finder run here, but with --url the served model finds "
        "the tracks (add --fallback-local to run it when no server answers)\n",
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--backend", "truth", "--bundle", "b", "--device", "cpu"],
            "--bundle and --device set a GNN finder, and --backend truth takes no settings",
        ),
        (
            ["--backend", ""],
            "unknown backend ''; choose one of gnn, gnn_components, gnn_walk, truth, unrolling",
        ),
        (
            ["--url", "localhost:1", "--threads", "2"],
            "--threads sets the finder run here, but with --url the served model finds the "
            "tracks (add --fallback-local to run it when no server answers)",
        ),
    ],
)
def test_options_the_finder_would_ignore_are_refused(run_cli, tmp_path, options, message):
    result = run_cli("reconstruct", "--example", "-o", tmp_path / "t.root", *options)
    assert (result.exit_code, result.stderr) == (2, f"acts-gnn: error: {message}\n")
    assert list(tmp_path.iterdir()) == []


def test_evaluate_refuses_a_report_that_is_its_plots(run_cli, tmp_path):
    tracks = tmp_path / "t.root"
    assert run_cli("reconstruct", "--example", "--backend", "truth", "-o", tracks).exit_code == 0
    plots = tmp_path / "plots"
    for report in (plots, plots / "efficiency_vs_pt.png"):
        result = run_cli("evaluate", tracks, "--example", "--plots", plots, "--json", report)
        assert (result.exit_code, result.stderr) == (
            2,
            f"acts-gnn: error: --json {report} is --plots {plots} or one of its plots\n",
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.root"]


def test_an_output_inside_the_csv_folder_is_refused(run_cli, tmp_path):
    """Named like an event's file, it was taken for another run's (exit 1, after the work)."""
    csv = tmp_path / "csv"
    timing = csv / "event000000000-prototracks.csv"
    result = run_cli("reconstruct", "--example", "--csv-dir", csv, "--timing", timing)
    assert (result.exit_code, result.stderr) == (
        2,
        f"acts-gnn: error: --timing {timing} is named as --csv-dir's per-event files: give "
        "another name\n",
    )
    assert list(tmp_path.iterdir()) == []


def test_a_reader_that_leaves_stdout_stops_the_printing_not_the_command(tmp_path):
    # `acts-gnn reconstruct … | head -1` ended with exit 1 and no line on stderr
    command = [sys.executable, "-m", "acts_gnn.cli.main", "reconstruct", "--example",
               "--backend", "truth", "-o", str(tmp_path / "t.root"), "--timing",
               str(tmp_path / "t.json")]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as reader_left:
        reader_left.stdout.close()  # the reader leaves before the tables are printed
        stderr = reader_left.stderr.read().decode()
        assert reader_left.wait() == 0, stderr
    assert f"wrote {tmp_path / 't.root'}" in stderr and "error" not in stderr
    assert (tmp_path / "t.root").is_file() and (tmp_path / "t.json").is_file()
    if not Path("/dev/full").exists():
        return
    with open("/dev/full", "w") as full:  # a standard output that cannot be written
        failed = subprocess.run(
            [*command[:-4], "-o", str(tmp_path / "u.root")], stdout=full, stderr=subprocess.PIPE
        )
    assert failed.returncode == 1
    assert failed.stderr.decode().endswith(
        "acts-gnn: error: the standard output: No space left on device\n"
    )

"""The public library API is pinned: adding or removing a name is a deliberate change."""

from __future__ import annotations

import acts_gnn


def test_public_names():
    assert acts_gnn.__all__ == [
        "__version__",
        "ActsGnnError",
        "Event",
        "EventTiming",
        "InputFormatError",
        "MatchingConfig",
        "Particles",
        "Pipeline",
        "ReconstructionOutputs",
        "RemotePipeline",
        "SpacePoints",
        "TrackWriter",
        "TrackingResult",
        "Truth",
        "TruthTrackFinder",
        "evaluate_tracks",
        "open_events",
        "read_tracks",
        "run_reconstruction",
    ]
    for name in acts_gnn.__all__:
        assert getattr(acts_gnn, name) is not None


def test_error_hierarchy():
    from acts_gnn import errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.ActsGnnError)
    assert issubclass(errors.RemoteTimeoutError, errors.RemoteInferenceError)
    assert errors.InputFormatError("f.csv", "line 3", "expected x").args == (
        "f.csv: line 3: expected x",
    )


def test_the_readme_python_example_runs_as_written(tmp_path, monkeypatch, capsys):
    import re

    from tests.conftest import REPO

    text = (REPO / "README.md").read_text()
    section = text.split("### From Python", 1)[1].split("\n### ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md (From Python)", "exec"), {})
    assert capsys.readouterr().out == "efficiency 100.0%, fakes 0.6%\n"
    assert (tmp_path / "out" / "tracks.root").is_file()

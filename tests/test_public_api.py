"""The public library API is pinned: adding or removing a name is a deliberate change."""

from __future__ import annotations

import acts_gnn


def test_public_names():
    assert acts_gnn.__all__ == [
        "__version__",
        "ActsGnnError",
        "Event",
        "InputFormatError",
        "MatchingConfig",
        "Particles",
        "Pipeline",
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

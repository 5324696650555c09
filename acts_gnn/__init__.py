"""acts-gnn: GNN-based charged-particle track finding for ACTS, locally or as a Triton service.

The public library API is listed in ``__all__``; names are imported lazily so that importing the
package (and ``acts-gnn --help``) never pulls in torch, numba or tritonclient.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "ActsGnnError": "acts_gnn.errors",
    "InputFormatError": "acts_gnn.errors",
    "Event": "acts_gnn.event",
    "SpacePoints": "acts_gnn.event",
    "Truth": "acts_gnn.event",
    "Particles": "acts_gnn.event",
    "TrackingResult": "acts_gnn.result",
    "EventTiming": "acts_gnn.result",
    "Pipeline": "acts_gnn.gnn.pipeline",
    "RemotePipeline": "acts_gnn.triton.client",
    "open_events": "acts_gnn.io.source",
    "TrackWriter": "acts_gnn.io.tracks",
    "read_tracks": "acts_gnn.io.tracks",
    "TruthTrackFinder": "acts_gnn.finders",
    "MatchingConfig": "acts_gnn.metrics.matching",
    "evaluate_tracks": "acts_gnn.metrics.evaluate",
    "ReconstructionOutputs": "acts_gnn.reco.job",
    "run_reconstruction": "acts_gnn.reco.job",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'acts_gnn' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)

"""What a server runs: a servable track finder from the registry, per model instance.

Layer: triton.

Any :class:`~acts_gnn.finders.ServableFinder` registered in :mod:`acts_gnn.finders` can be
served under its name or an alias. :func:`make_backend` makes one per model instance (instances
share no state); ``settings`` override the model bundle's pipeline settings (e.g.
``max_neighbours``) and are ignored by finders without a bundle. :func:`answer` turns one
request's ``FEATURES`` into the response tensors, as every server flavour sends them.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import numpy as np

from acts_gnn.errors import ConfigError
from acts_gnn.finders import ServableFinder, finder_entry

__all__ = ["Backend", "answer", "make_backend"]

#: one model instance of a served track finder: ``run(features)`` unpacks as (labels, stage
#: seconds, (graph edges, kept edges))
Backend = ServableFinder


def make_backend(name: str, bundle: Path | None, device: str, **settings: object) -> Backend:
    """A new instance of the servable finder ``name`` (``settings``: pipeline overrides).

    Raises:
        ConfigError: no servable finder of that name (the message lists the served names).
    """
    finder = finder_entry(name, served=True).make(bundle, device, **settings)
    if not isinstance(finder, ServableFinder):
        raise ConfigError(f"track finder {name!r} has no run(features): it cannot be served")
    return finder


def answer(
    backend: Backend, features: object, wanted: Collection[str], max_spacepoints: int
) -> dict[str, np.ndarray]:
    """The response tensors of one request, by name, as every server flavour sends them.

    ``LABELS`` always; ``STAGE_SECONDS`` and ``EDGE_COUNTS`` only when in ``wanted`` (the
    request's requested outputs).

    Raises:
        ContractError: ``features`` is not a valid ``FEATURES`` tensor (the message says why).
    """
    from acts_gnn.result import STAGES
    from acts_gnn.triton.contract import EDGE_COUNTS, LABELS, STAGE_SECONDS, check_features

    check_features(features, max_spacepoints)
    labels, stages, edges = backend.run(features)
    response = {LABELS: np.asarray(labels, dtype=np.int64)}
    if STAGE_SECONDS in wanted:
        response[STAGE_SECONDS] = np.array([stages.get(s, np.nan) for s in STAGES])
    if EDGE_COUNTS in wanted:
        response[EDGE_COUNTS] = np.array(edges, dtype=np.int64)
    return response

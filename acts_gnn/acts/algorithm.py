"""``GnnTrackFinding``: acts-gnn as one algorithm of an ACTS ``Sequencer`` (pyacts).

Layer: acts.

The algorithm reads an ``acts.SpacePointContainer`` from the event store, builds ``FEATURES``
exactly as the Triton contract says (r/1000, φ/π, z/1000; :func:`acts_gnn.event.model_features`),
finds track candidates locally or on Triton servers, and writes an
``acts.examples.ProtoTrackContainer``: per candidate, the measurement indices of its space
points' source links, ordered by radius; candidates with fewer than ``min_size`` space points are
dropped. Per event it logs the space points, candidates and seconds to the ACTS log.

In an existing ACTS script::

    from acts_gnn.acts import GnnTrackFinding
    s.addAlgorithm(GnnTrackFinding(input_spacepoints="spacepoints",
                                   output_prototracks="gnn_prototracks",
                                   url=["gpu-node:8001"]))   # or no url: the local pipeline
    # then e.g. ProtoTracksToParameters + addKalmanTracks on "gnn_prototracks"

pyacts offers the source links only per space point, so reading them is a Python loop (about
15 µs per space point, ≈ 1.5 s for a μ = 200 event).
"""

from __future__ import annotations

import itertools
import numbers
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from acts_gnn._extras import require
from acts_gnn.errors import ConfigError
from acts_gnn.event import model_features

__all__ = ["GnnTrackFinding", "candidate_members", "make_label_function"]  # noqa: F822 - lazy

#: ``labels(features[N, 3] float32) -> labels[N] int64`` (-1 = no candidate)
LabelFunction = Callable[[np.ndarray], np.ndarray]


def make_label_function(
    model: str = "gnn_tracking",
    *,
    url: str | Sequence[str] | None = None,
    bundle: Path | None = None,
    device: str | None = None,
    timeout_s: float | None = None,
    max_neighbours: int | None = None,
) -> LabelFunction:
    """``features → labels`` with the served backend ``model``: on ``url`` or in this process.

    ``bundle``, ``device`` (default cpu) and ``max_neighbours`` (K1's cap) set the local
    pipeline, ``timeout_s`` (default 60 s) the requests to ``url``: each is refused where it
    would be ignored (a server uses its own settings).

    Raises:
        ConfigError: an unknown model, or a setting the chosen path ignores.
    """
    from acts_gnn.triton.contract import LABELS

    local = {"bundle": bundle, "device": device, "max_neighbours": max_neighbours}
    given = [name for name, value in local.items() if value is not None]
    if url and given:
        raise ConfigError(
            f"{', '.join(given)}: settings of the local pipeline; with url the server's apply"
        )
    if not url and timeout_s is not None:
        raise ConfigError("timeout_s: a setting of the requests to url; none is given")
    if url:
        from acts_gnn.triton.client import RemotePipeline

        timeout_s = 60.0 if timeout_s is None else timeout_s
        remote = RemotePipeline(url, model, timeout_s=timeout_s, server_timing=False)
        return lambda features: np.asarray(remote.infer(features)[LABELS], dtype=np.int64)
    from acts_gnn.triton.backends import make_backend

    settings = {} if max_neighbours is None else {"max_neighbours": max_neighbours}
    backend = make_backend(model, bundle, device or "cpu", **settings)

    def labels(features: np.ndarray) -> np.ndarray:
        found, _stages, _edges = backend.run(features)  # a servable finder's run unpacks so
        return np.asarray(found, dtype=np.int64)

    return labels


def candidate_members(labels: np.ndarray, radius: np.ndarray, min_size: int) -> list[np.ndarray]:
    """Space-point positions of each candidate with ≥ ``min_size`` members, sorted by radius.

    Candidates come in the order of their labels (:func:`acts_gnn.io.tracks.candidates`).
    """
    from acts_gnn.io.tracks import candidates

    _track_id, offsets, members = candidates(labels)
    groups = [members[a:b] for a, b in itertools.pairwise(offsets.tolist()) if b - a >= min_size]
    return [group[np.argsort(radius[group], kind="stable")] for group in groups]


def _define() -> type:
    """The algorithm class; defined on first use so that importing this module needs no pyacts."""
    acts = require("acts", "acts")
    examples = require("acts.examples", "acts")

    class GnnTrackFinding(examples.IAlgorithm):
        """Space points → acts-gnn → proto-tracks (see the module docstring).

        Args:
            input_spacepoints: event-store name of the ``acts.SpacePointContainer``.
            output_prototracks: event-store name of the ``ProtoTrackContainer`` written.
            model: a served backend's name (``gnn_tracking``, ``gnn_tracking_walk``,
                ``gnn_tracking_components``, ``unrolling_tracking``, ``null_tracking``, or one
                an ``$ACTS_GNN_FINDERS`` plug-in registers).
            url: a Triton server ``host:port``, or a list of them (failover); None runs
                locally.
            bundle, device, max_neighbours: the local pipeline's model bundle, device (cpu)
                and K1 neighbour cap (default: the bundle's); refused with ``url``.
            timeout_s: per-request timeout with ``url`` (60 s); refused without.
            min_size: smallest candidate kept (space points).
            labels: a ``features → labels`` function replacing model/url (tests, custom finders).
            keep_labels: keep every event's labels in :attr:`labels_by_event` (to score them
                after the run; its memory grows with the events, ~2 MB per μ = 200 event).
            level: ACTS log level of the algorithm.
        """

        def __init__(
            self,
            *,
            input_spacepoints: str = "spacepoints",
            output_prototracks: str = "gnn_prototracks",
            model: str = "gnn_tracking",
            url: str | Sequence[str] | None = None,
            bundle: Path | None = None,
            device: str | None = None,
            timeout_s: float | None = None,
            max_neighbours: int | None = None,
            min_size: int = 3,
            labels: LabelFunction | None = None,
            keep_labels: bool = False,
            level=None,
            name: str = "GnnTrackFinding",
        ) -> None:
            if isinstance(min_size, bool) or not isinstance(min_size, numbers.Integral):
                raise ConfigError(f"min_size must be a whole number, got {min_size!r}")
            if min_size < 1:
                raise ConfigError(f"min_size must be at least 1, got {min_size}")
            examples.IAlgorithm.__init__(self, name, level or acts.logging.INFO)
            self.input_spacepoints = input_spacepoints
            self.output_prototracks = output_prototracks
            self.min_size = min_size
            self._labels = labels or make_label_function(
                model,
                url=url,
                bundle=bundle,
                device=device,
                timeout_s=timeout_s,
                max_neighbours=max_neighbours,
            )
            self._spacepoints = examples.ReadDataHandle(
                self, acts.SpacePointContainer, "InputSpacePoints"
            )
            self._spacepoints.initialize(input_spacepoints)
            self._prototracks = examples.WriteDataHandle(
                self, examples.ProtoTrackContainer, "OutputProtoTracks"
            )
            self._prototracks.initialize(output_prototracks)
            self._lock = threading.Lock()
            #: with ``keep_labels``, per event number: (first measurement index of each space
            #: point, its label)
            self.labels_by_event: dict[int, tuple[np.ndarray, np.ndarray]] = {}
            self.keep_labels = keep_labels
            self.n_spacepoints = 0
            self.n_prototracks = 0
            self.seconds = 0.0

        def execute(self, context):
            start = time.perf_counter()
            spacepoints = self._spacepoints(context.eventStore)
            x = np.asarray(spacepoints.x, dtype=np.float32)
            y = np.asarray(spacepoints.y, dtype=np.float32)
            z = np.asarray(spacepoints.z, dtype=np.float32)
            from_link = examples.IndexSourceLink.fromSourceLink
            measurements = [
                [from_link(link).index() for link in sp.sourceLinks] for sp in spacepoints
            ]
            features = model_features(x, y, z)
            labels = self._labels(features) if len(x) else np.zeros(0, dtype=np.int64)
            if labels.shape != (len(x),):
                raise RuntimeError(
                    f"{self.name()}: {labels.shape} labels for {len(x)} space points"
                )
            prototracks = examples.ProtoTrackContainer()
            for members in candidate_members(labels, np.hypot(x, y), self.min_size):
                prototracks.append(
                    examples.ProtoTrack([i for m in members for i in measurements[m]])
                )
            n_prototracks = len(prototracks)
            self._prototracks(context, prototracks)  # moves the container into the store
            elapsed = time.perf_counter() - start
            with self._lock:
                if self.keep_labels:
                    first = np.array([m[0] if m else -1 for m in measurements], dtype=np.int64)
                    self.labels_by_event[int(context.eventNumber)] = (first, labels)
                self.n_spacepoints += len(x)
                self.n_prototracks += n_prototracks
                self.seconds += elapsed
            self.logger.info(
                f"event {context.eventNumber}: {len(x)} space points → {n_prototracks} "
                f"proto-tracks (≥ {self.min_size}) in {elapsed:.3f} s"
            )
            return examples.ProcessCode.SUCCESS

    GnnTrackFinding.__module__ = __name__
    GnnTrackFinding.__qualname__ = "GnnTrackFinding"
    return GnnTrackFinding


def __getattr__(name: str):
    if name == "GnnTrackFinding":
        cls = _define()
        globals()[name] = cls
        return cls
    raise AttributeError(name)

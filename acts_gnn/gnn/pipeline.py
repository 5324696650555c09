"""The local pipeline: features → embedding → K1 graph → filter → GNN → track building.

Layer: gnn.

:class:`Pipeline` runs in inference mode on the device from the one resolver and reports each
stage's wall time and the graph sizes. On the CPU the embedding and the per-edge networks of the
filter and the GNN run as the compiled kernels of :mod:`acts_gnn.gnn.compiled` (tiles of edges
that stay in cache); with the ``torch`` engine (and on a GPU) they run as the modules,
``filter_chunk_edges`` edges at a time (memory stays bounded at any event size).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from acts_gnn.errors import BundleError, ConfigError, InputFormatError
from acts_gnn.event import MAX_FEATURE, Event
from acts_gnn.gnn.bundle import ModelBundle, PipelineConfig
from acts_gnn.result import EventTiming, TrackingResult

if TYPE_CHECKING:
    import torch

    from acts_gnn.gnn.quality import QualityMLP

__all__ = ["ENGINES", "PRECISIONS", "Pipeline", "ScoredGraph", "StageOutput", "locality_order"]

#: how the filter and the GNN can run (see :class:`Pipeline`)
ENGINES = ("compiled", "torch")
#: the arithmetic of the filter and the GNN (see :class:`Pipeline`)
PRECISIONS = ("fp32", "tf32", "bf16")
#: on a GPU the per-edge networks take as many edges at once as this share of the device's free
#: memory holds (at :func:`_edge_bytes` each), not the CPU's cache-sized ``filter_chunk_edges``
_GPU_MEMORY_SHARE = 0.25
#: the CPU's work order of the points (:func:`locality_order`): bins this wide in η, …
_ORDER_ETA_BIN = 0.5
#: … and this many bins in φ over 2π
_ORDER_PHI_BINS = 512


def locality_order(features: np.ndarray) -> np.ndarray:
    """A permutation of the points [N] that puts neighbours in space near each other in memory:
    by bins of η (:data:`_ORDER_ETA_BIN`), then of φ (:data:`_ORDER_PHI_BINS`), then by r.

    Files list points by detector module, so the two ends of an edge are tens of thousands of
    rows apart and every gather of a node row per edge (the filter's, the GNN's, K1's) misses
    the cache. In this order an edge's ends are a few hundred rows apart. A deterministic
    function of the features (ties keep the file's order).
    """
    r = np.maximum(features[:, 0].astype(np.float64), 1e-4)
    eta = np.arcsinh(features[:, 2] / r)
    eta_bin = np.floor(eta / _ORDER_ETA_BIN)
    phi_bin = np.floor(features[:, 1].astype(np.float64) * (_ORDER_PHI_BINS / 2))
    return np.lexsort((features[:, 0], phi_bin, eta_bin))


def _torch_device(name: str) -> torch.device:
    import torch

    device = torch.device(name)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def _device_of(bundle: ModelBundle) -> torch.device:
    """The device of the bundle's first embedding weight."""
    return next(bundle.embedding.parameters()).device


def _edge_bytes(net: torch.nn.Module) -> int:
    """Bytes a per-edge network needs per edge in one piece: its inputs and every layer's
    output, three times over for the temporaries of LayerNorm and SiLU (float32)."""
    widths = [m.in_features for m in net.modules() if hasattr(m, "in_features")]
    widths += [m.out_features for m in net.modules() if hasattr(m, "out_features")]
    return 4 * 3 * sum(widths)


def _precision(name: str):
    """The context the filter and the GNN run in: float32 as they were trained (``fp32``),
    TF32 matrix products (``tf32``) or bf16 autocast (``bf16``) on a GPU."""
    import contextlib

    import torch

    if name == "bf16":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    stack = contextlib.ExitStack()
    if name == "tf32":
        before = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = True
        stack.callback(setattr, torch.backends.cuda.matmul, "allow_tf32", before)
    return stack


def _check_cpu_precision(precision: str, engine: str) -> None:
    """Refuse a reduced precision the CPU cannot run: on the CPU only the compiled engine's bf16
    (:mod:`acts_gnn.gnn.compiled`, AVX-512 BF16), no TF32 (a GPU's format)."""
    from acts_gnn.simd import BF16_MISSING, HAS_BF16

    if precision != "bf16":
        raise ConfigError(f"precision {precision!r} needs a GPU (on the CPU: fp32, or bf16)")
    if engine != "compiled":
        raise ConfigError("precision 'bf16' on the CPU runs in the compiled engine only")
    if not HAS_BF16:
        raise ConfigError(f"precision 'bf16' does not run on this CPU: {BF16_MISSING}")


def _synchronise(device: str) -> None:
    """Wait for queued GPU work, so stage times measure the stage (no-op on the CPU)."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize(device)


@dataclass(frozen=True)
class ScoredGraph:
    """The pipeline up to the GNN: filtered edges and their GNN scores, before track building."""

    n: int
    r: np.ndarray
    edges: np.ndarray
    scores: np.ndarray
    stages_s: dict[str, float]
    n_edges_graph: int
    config: PipelineConfig
    #: the K1 graph [2, E] before the filter, when :meth:`Pipeline.run_scores` was asked to keep it
    graph_edges: np.ndarray | None = None
    #: contract features [N, 3] and the bundle's quality network (None: every candidate kept)
    features: np.ndarray | None = None
    quality: QualityMLP | None = None

    def pieces_at(self, cut: float | None = None, min_size: int = 1) -> np.ndarray:
        """The configured builder's labels at ``cut`` (default: the configured one), unstitched."""
        from acts_gnn.gnn.stages import TRACK_BUILDERS

        cfg = self.config
        cut = cfg.gnn_cut if cut is None else cut
        builder = TRACK_BUILDERS[cfg.track_builder]
        return builder.pieces(self.n, self.edges, self.scores, self.r, cut, cfg.walk_cut, min_size)

    def labels_at(self, cut: float | None = None) -> np.ndarray:
        """Candidate labels at ``cut`` (default: the configured cut) by the configured builder.

        With ``stitch_cut`` set, the builder's pieces (of any size) are stitched afterwards; with
        ``rescue_cut`` set, the points left out are grouped into further candidates
        (:func:`~acts_gnn.gnn.track_building.rescue_leftovers`; with ``rescue_walk_cut``,
        branching groups walked); with ``quality_cut`` set (and
        a quality network), the candidates it finds likely fakes are dropped at the end.
        """
        from acts_gnn.gnn.track_building import rescue_leftovers, stitch_pieces

        cfg = self.config
        stitching = cfg.stitch_cut is not None
        labels = self.pieces_at(cut, 1 if stitching else cfg.min_track_spacepoints)
        if stitching:
            labels = stitch_pieces(
                labels, self.edges, self.scores, self.r, cfg.stitch_cut, cfg.min_track_spacepoints
            )
        if cfg.rescue_cut is not None:
            labels = rescue_leftovers(
                labels,
                self.edges,
                self.scores,
                self.r,
                cfg.rescue_cut,
                cfg.stitch_cut,
                cfg.min_track_spacepoints,
                cfg.rescue_walk_cut,
            )
        if cfg.quality_cut is None or self.quality is None or self.features is None:
            return labels
        from acts_gnn.gnn.quality import candidate_inputs, drop_candidates

        ids, inputs = candidate_inputs(
            labels,
            self.features,
            self.edges,
            self.scores,
            cfg.gnn_cut if cut is None else cut,
            cfg.min_track_spacepoints,
            self.quality.config.open_ends,
        )
        return drop_candidates(labels, ids, self.quality.fake_probability(inputs) > cfg.quality_cut)


@dataclass(frozen=True)
class StageOutput:
    """Labels of one event plus what the stages did (seconds per stage, graph sizes).

    It unpacks as ``(labels, stages_s, (n_edges_graph, n_edges_filtered))``: what a servable
    finder's ``run`` returns (:class:`~acts_gnn.finders.ServableFinder`).
    """

    labels: np.ndarray
    stages_s: dict[str, float]
    n_edges_graph: int
    n_edges_filtered: int

    def __iter__(self) -> Iterator[Any]:
        return iter((self.labels, self.stages_s, (self.n_edges_graph, self.n_edges_filtered)))


class Pipeline:
    """The GNN track finder.

    Args:
        bundle: a loaded :class:`ModelBundle`, a bundle directory, or None for the shipped one.
        device: torch device (resolved by :func:`acts_gnn.cuda.device.resolve_device`).
        engine: how the models run — ``"compiled"`` (the default on the CPU: the
            Numba kernels of :mod:`acts_gnn.gnn.compiled`) or ``"torch"`` (the modules
            themselves; the only engine on a GPU, where the per-edge networks take as many edges
            at once as a quarter of the free device memory holds).
        precision: the filter's and the GNN's arithmetic — ``"fp32"`` (the default, as
            trained), ``"tf32"`` (TF32 matrix products, a GPU only) or ``"bf16"`` (on a GPU bf16
            autocast; on a CPU with AVX-512 BF16 the compiled engine's products of hidden
            states with inputs and weights rounded to bf16, summed in float32).
        **overrides: replace pipeline settings of the bundle (``radius``, ``gnn_cut``,
            ``track_builder``, …).

    Its :attr:`name` is ``"gnn"`` with the bundle's track builder, ``"gnn_components"`` or
    ``"gnn_walk"`` when ``track_builder`` chooses one.
    """

    name = "gnn"

    def __init__(
        self,
        bundle: ModelBundle | str | Path | None = None,
        device: str | None = None,
        engine: str | None = None,
        precision: str = "fp32",
        **overrides: object,
    ) -> None:
        from acts_gnn.cuda.device import resolve_device

        settings = [f.name for f in fields(PipelineConfig)]
        unknown = sorted(set(overrides) - set(settings))
        if unknown:  # before anything loads (it was PipelineConfig's TypeError, after)
            raise ConfigError(
                f"unknown pipeline setting(s) {', '.join(unknown)}; a bundle's settings are "
                f"{', '.join(settings)}"
            )
        self.device = resolve_device(device)
        on_cpu = _torch_device(self.device).type == "cpu"
        if precision not in PRECISIONS:
            names = ", ".join(repr(name) for name in PRECISIONS)
            raise ConfigError(f"--precision must be one of {names}, got {precision!r}")
        self.precision = precision
        self.engine = engine or ("compiled" if on_cpu else "torch")
        if self.engine not in ENGINES:
            names = " or ".join(repr(name) for name in ENGINES)
            raise ConfigError(f"engine must be {names}, got {self.engine!r}")
        if self.engine == "compiled" and not on_cpu:
            raise ConfigError(f"the compiled engine runs on the CPU only, not on {self.device}")
        if on_cpu and precision != "fp32":
            _check_cpu_precision(precision, self.engine)
        if on_cpu:
            # the compiled kernels (the engine's and K1's) need Numba, imported here and not at
            # the first event: its import imports PyYAML, which overflows a float on purpose,
            # and inside an ACTS sequencer (floating-point exceptions trapped in its threads)
            # that is an unmasked FPE that ends the job
            import numba  # noqa: F401
        if not isinstance(bundle, ModelBundle):
            bundle = ModelBundle.load(bundle, device=self.device)
        elif _device_of(bundle) != _torch_device(self.device):
            # a bundle in memory elsewhere (trained on the GPU, run on the CPU, or the other way
            # round): the pipeline runs copies on its device, the caller's bundle stays as it is
            bundle = replace(
                bundle,
                embedding=copy.deepcopy(bundle.embedding).to(self.device),
                filter=copy.deepcopy(bundle.filter).to(self.device),
                gnn=copy.deepcopy(bundle.gnn).to(self.device),
                quality=None if bundle.quality is None else copy.deepcopy(bundle.quality).cpu(),
            )
        self.bundle = bundle
        try:  # the bundle's own settings were checked when it was loaded: these are the caller's
            self.config: PipelineConfig = replace(bundle.pipeline, **overrides)  # type: ignore[arg-type]
        except BundleError as exc:
            raise ConfigError(str(exc)) from exc
        # the finder's name: "gnn" runs the bundle's track builder, the others choose one
        builder = overrides.get("track_builder")
        self.name = {"components": "gnn_components", "walkthrough": "gnn_walk"}.get(
            str(builder), "gnn"
        )

    @property
    def compiles_first(self) -> bool:
        """Whether the first event will first compile the CPU kernels (the compiled engine, with
        Numba's cache still empty: :func:`~acts_gnn.gnn.compiled.kernels_cached`)."""
        from acts_gnn.gnn.compiled import kernels_cached

        return self.engine == "compiled" and not kernels_cached()

    def describe(self) -> dict[str, object]:
        """What made this finder's tracks, for a run's record: its name, the bundle (directory
        and the fingerprints of its models' weights), device, engine, precision and the pipeline
        settings it runs with (the bundle's, with the caller's overrides)."""
        path = self.bundle.path
        return {
            "finder": self.name,
            "bundle": None if path is None else str(Path(path).resolve()),
            "fingerprints": self.bundle.fingerprints(),
            "device": self.device,
            "engine": self.engine,
            "precision": self.precision,
            "pipeline": asdict(self.config),
        }

    def __repr__(self) -> str:
        return (
            f"Pipeline(device={self.device!r}, engine={self.engine!r}, "
            f"precision={self.precision!r}, config={self.config!r})"
        )

    def edges_per_chunk(self, net: torch.nn.Module) -> int:
        """Edges the torch engine gives the per-edge network ``net`` (the filter or the GNN) at
        once: the bundle's ``filter_chunk_edges`` on the CPU (cache-sized); on a GPU as many as
        a quarter of its free memory holds, at least that (one piece on a large GPU)."""
        chunk = self.config.filter_chunk_edges
        if not self.device.startswith("cuda"):
            return chunk
        import torch

        free, _total = torch.cuda.mem_get_info(_torch_device(self.device))
        return max(chunk, int(free * _GPU_MEMORY_SHARE) // _edge_bytes(net))

    def run_scores(self, features: np.ndarray, keep_graph: bool = False) -> ScoredGraph:
        """Embedding, graph, filter and GNN on contract features ``[N, 3]`` (no track building).

        ``keep_graph``: also return the K1 graph before the filter (diagnostics).

        Raises:
            InputFormatError: not an [N, 3] array, or a row that is not finite (NaN or
                infinite) or beyond :data:`~acts_gnn.event.MAX_FEATURE`.
        """
        import torch

        from acts_gnn.cuda.dispatch import radius_graph
        from acts_gnn.gnn.compiled import embed, filter_scores, gnn_logits
        from acts_gnn.gnn.stages import EMBEDDING, FILTER, GNN, GRAPH_BUILDING

        cfg = self.config
        bf16 = self.precision == "bf16"  # on the CPU: the compiled engine's bf16 products
        features = np.ascontiguousarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[1] != 3:  # what a server refuses too
            shape = list(features.shape)
            raise InputFormatError(
                "features", "", f"expected shape [N, 3] (r/1000, φ/π, z/1000), got {shape}"
            )
        finite = np.isfinite(features).all(axis=1)
        if not finite.all():  # the readers refuse these; a caller's own array may hold them
            row = int(np.flatnonzero(~finite)[0])
            raise InputFormatError(
                "features", f"row {row}", f"expected finite numbers, got {features[row].tolist()}"
            )
        far = (np.abs(features) > MAX_FEATURE).any(axis=1)
        if far.any():  # beyond a kilometre: the models' float32 arithmetic would overflow
            row = int(np.flatnonzero(far)[0])
            raise InputFormatError(
                "features",
                f"row {row}",
                f"expected magnitudes of at most {MAX_FEATURE:g} (positions within a kilometre), "
                f"got {features[row].tolist()}",
            )
        # on the CPU the stages work on the points in locality order (their edges come back in
        # the caller's numbering); on a GPU in the caller's order (no host sort between stages).
        # The ordering's time is counted with the first stage, the embedding.
        t0 = time.perf_counter()
        order = locality_order(features) if self.device == "cpu" else None
        work = features if order is None else np.ascontiguousarray(features[order])
        ordering_s = time.perf_counter() - t0
        stages: dict[str, float] = {}
        # each stage is a named range for torch's profiler (benchmarks/profile_cpu.py); without a
        # profiler running, a range costs about a microsecond
        stage = torch.profiler.record_function
        with torch.inference_mode():
            x = torch.from_numpy(work).to(self.device)
            t0 = time.perf_counter()
            with stage(EMBEDDING):
                if self.engine == "compiled":
                    latent = embed(self.bundle.embedding, x)
                else:
                    latent = self.bundle.embedding(x)
                _synchronise(self.device)
            stages[EMBEDDING] = time.perf_counter() - t0 + ordering_s

            t0 = time.perf_counter()
            with stage(GRAPH_BUILDING):
                # K1 where the latent lives: numba.cuda on a GPU (zero-copy), SciPy on the CPU
                edges = radius_graph(latent, x[:, 0], cfg.radius, cfg.max_neighbours)
                _synchronise(self.device)
            stages[GRAPH_BUILDING] = time.perf_counter() - t0
            n_graph = edges.shape[1]

            t0 = time.perf_counter()
            with stage(FILTER):
                if self.engine == "compiled":
                    scores = filter_scores(
                        self.bundle.filter, x, edges, latent, cfg.filter_max_inverse_pt, bf16
                    )
                else:
                    chunk = self.edges_per_chunk(self.bundle.filter)
                    with _precision(self.precision):
                        scores = self.bundle.filter.scores_in_chunks(
                            x, edges, latent, chunk, cfg.filter_max_inverse_pt
                        ).float()
                keep = scores > cfg.filter_cut
                filtered = edges[:, keep.to(edges.device)]
                _synchronise(self.device)
            stages[FILTER] = time.perf_counter() - t0

            t0 = time.perf_counter()
            with stage(GNN):
                if filtered.shape[1] and self.engine == "compiled":
                    logits = gnn_logits(self.bundle.gnn, x, filtered, bf16)
                    gnn_scores = torch.sigmoid(logits).numpy()
                elif filtered.shape[1]:
                    chunk = self.edges_per_chunk(self.bundle.gnn)
                    with _precision(self.precision):
                        logits = self.bundle.gnn(x, filtered, chunk_edges=chunk)
                    gnn_scores = torch.sigmoid(logits.float()).cpu().numpy()
                else:
                    gnn_scores = np.zeros(0, dtype=np.float32)
            stages[GNN] = time.perf_counter() - t0

        def numbered(pairs: torch.Tensor) -> np.ndarray:  # in the caller's numbering
            pairs = pairs.cpu().numpy()
            return pairs if order is None else order[pairs]

        return ScoredGraph(
            n=features.shape[0],
            r=features[:, 0],
            edges=numbered(filtered),
            scores=gnn_scores,
            stages_s=stages,
            n_edges_graph=int(n_graph),
            config=cfg,
            graph_edges=numbered(edges) if keep_graph else None,
            features=features,
            quality=self.bundle.quality,
        )

    def run(self, features: np.ndarray) -> StageOutput:
        """Every stage on contract features ``[N, 3]``; labels at the configured cut."""
        from acts_gnn.gnn.stages import TRACK_BUILDING

        scored = self.run_scores(features)
        t0 = time.perf_counter()
        labels = scored.labels_at()
        stages = {**scored.stages_s, TRACK_BUILDING: time.perf_counter() - t0}
        return StageOutput(labels, stages, scored.n_edges_graph, int(scored.edges.shape[1]))

    def reconstruct(self, event: Event) -> TrackingResult:
        """Labels for ``event`` (the :class:`~acts_gnn.finders.TrackFinder` protocol)."""
        start = time.perf_counter()
        out = self.run(event.features())
        timing = EventTiming(
            event_id=event.event_id,
            backend=self.name,
            n_spacepoints=len(event),
            total_s=time.perf_counter() - start,
            n_edges_graph=out.n_edges_graph,
            n_edges_filtered=out.n_edges_filtered,
            stages_s=out.stages_s,
        )
        return TrackingResult(labels=out.labels, timing=timing)

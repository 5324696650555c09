"""``train``: which events, which recipe, where the bundle goes.

Layer: api.

A :class:`TrainRequest` holds one training run; :func:`train` checks it (before any event is
read), reads the events (every one with truth), runs the recipe of :mod:`acts_gnn.gnn.recipe`
and writes the bundle with the record of what it was trained on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from acts_gnn.errors import ActsGnnError, ConfigError
from acts_gnn.event import Event
from acts_gnn.gnn.bundle import ModelBundle, bundle_description, check_bundle_output
from acts_gnn.gnn.configs import REUSABLE_STAGES, GNNConfig, TrainingConfig, check_reuse
from acts_gnn.gnn.records import EpochReport, RunInputs
from acts_gnn.io.source import EventSource, check_root_layout_used, open_events

# the configuration a request carries, for its callers
__all__ = [
    "GNNConfig",
    "TrainRequest",
    "TrainingConfig",
    "pre_selection",
    "reuse_stages",
    "train",
]


def pre_selection(max_inverse_pt: float) -> float | None:
    """The filter pre-selection's threshold as the option gives it: 0 is off (None)."""
    if max_inverse_pt < 0:
        raise ConfigError(
            f"--filter-max-inverse-pt must be positive (or 0: off), got {max_inverse_pt:g}"
        )
    return max_inverse_pt if max_inverse_pt > 0 else None


def reuse_stages(text: str) -> tuple[str, ...]:
    """``"embedding,filter"`` → the stages, one of :data:`~acts_gnn.gnn.configs.REUSABLE_STAGES`."""
    stages = tuple(s.strip() for s in text.split(","))
    if stages not in REUSABLE_STAGES:
        raise ConfigError(
            f"--reuse-stages {text!r}: expected "
            + " or ".join(repr(",".join(s)) for s in REUSABLE_STAGES)
        )
    return stages


@dataclass(frozen=True)
class TrainRequest:
    """One training run.

    ``reuse``: a bundle whose ``reuse_stages`` are kept (``quality_only``: all of it, and only the
    candidate-quality selection is trained). ``device``: as ``--device`` (None: the default).
    """

    train: tuple[Path, ...]
    val: tuple[Path, ...]
    output: Path
    config: TrainingConfig = field(default_factory=TrainingConfig)
    test: tuple[Path, ...] = ()
    reuse: Path | None = None
    reuse_stages: tuple[str, ...] = ("embedding", "filter")
    quality_only: bool = False
    device: str | None = None
    data_description: str = ""
    force: bool = False
    #: events where the filter cut, track builder and rescue cuts are chosen (none: ``val``)
    tune: tuple[Path, ...] = ()
    #: how every input is read: :func:`~acts_gnn.io.source.open_events`'s ``format``,
    #: ``root_preset``, ``root_tree`` and ``root_branches``
    layout: Mapping[str, Any] = field(default_factory=dict)

    def sources(self) -> tuple[EventSource, EventSource, EventSource | None, EventSource | None]:
        """The training, validation, test and tuning events (found, not read), read with
        :attr:`layout`.

        Raises:
            InputFormatError: an input missing, or an event given twice to one option.
            ConfigError: no training or validation input, an unknown format, or a ROOT
                layout and no ROOT input.
        """
        found = [
            open_events(paths, **self.layout, check_layout=False).check_no_repeats()
            if paths
            else None
            for paths in (self.train, self.val, self.test, self.tune)
        ]
        refs = [ref for source in found if source is not None for ref in source.refs]
        layout = {k: v for k, v in self.layout.items() if k != "format"}
        check_root_layout_used(refs, **layout)
        train, val, test, tune = found
        if train is None or val is None:
            raise ConfigError("give training (--train) and validation (--val) events")
        return train, val, test, tune

    def check(self) -> tuple[EventSource, EventSource, EventSource | None, EventSource | None]:
        """Refuse, before any work (and without torch), what cannot run: an output it may not
        write, a combination of options, an input or a bundle to reuse that is not there.
        Returns :meth:`sources`, found once.

        Raises:
            OutputRefusedError, ConfigError, InputFormatError, BundleError.
        """
        check_bundle_output(self.output, self.force)
        check_reuse(self.config, self.reuse is not None, self.reuse_stages)
        if self.quality_only and self.reuse is None:
            raise ConfigError("--quality-only needs --reuse BUNDLE (the bundle to add it to)")
        if self.reuse_stages not in REUSABLE_STAGES:
            raise ConfigError(f"reused stages {','.join(self.reuse_stages)!r} cannot be kept")
        if self.reuse is None and self.reuse_stages != ("embedding", "filter"):
            raise ConfigError("--reuse-stages needs --reuse BUNDLE (the bundle to take them from)")
        sources = self.sources()  # every input is found before any is read, and none twice
        if self.reuse is not None:
            bundle_description(self.reuse)
        return sources


def _read(name: str, source: EventSource, status: Callable[[str], None]) -> list[Event]:
    status(f"reading {len(source)} {name} event{'' if len(source) == 1 else 's'}")
    events = []
    for event in source:
        if event.truth is None:
            raise ConfigError(f"{event.source}: {name} events need truth")
        if event.truth.particles.kinematics_unknown:
            raise ConfigError(
                f"{event.source}: {name} events need a particle table (the particles' pT; "
                "eventNNN-particles.csv)"
            )
        events.append(event)
    return events


def _warn_of_training_events(
    train_events: list[Event],
    val_events: list[Event],
    test_events: list[Event],
    tune_events: list[Event],
    warn: Callable[[str], None],
) -> None:
    """Warn when events to judge the run by are training events too (the same file)."""

    def where(event: Event) -> tuple[Path, int]:
        return Path(event.source).resolve(), event.event_id

    trained = {where(event) for event in train_events}
    for option, events in (("--val", val_events), ("--test", test_events), ("--tune", tune_events)):
        shared = [event.source for event in events if where(event) in trained]
        if shared:
            are = "is a training event" if len(shared) == 1 else "are training events"
            warn(
                f"{len(shared)} of the {len(events)} {option} events {are} too ({shared[0]}"
                f"{', …' if len(shared) > 1 else ''}): what is judged on them was trained on them"
            )


def train(
    request: TrainRequest,
    report: Callable[[EpochReport], None] = lambda _r: None,
    status: Callable[[str], None] = lambda _s: None,
    warn: Callable[[str], None] = lambda _w: None,
) -> ModelBundle:
    """Check, read, train and write the bundle; returns it (``path``: where it was written).

    ``report`` gets every epoch's line, ``status`` what is being done, ``warn`` what the run
    may not do as meant (events to judge it by that it also trains on; a bundle without the
    candidate-quality selection, too few fakes to train it on).

    Raises:
        ActsGnnError: ``quality_only`` and too few fakes to train the selection on (nothing
            written).
    """
    sources = request.check()  # before torch loads: a refusal comes in a second
    from acts_gnn.cpus import resolve_threads, use_threads
    from acts_gnn.cuda.device import resolve_device
    from acts_gnn.gnn.recipe import train_recipe

    device = resolve_device(request.device)
    use_threads(resolve_threads())  # the CPUs this process may use ($ACTS_GNN_THREADS overrides)
    reused = ModelBundle.load(request.reuse) if request.reuse is not None else None
    train_source, val_source, test_source, tune_source = sources
    train_events = _read("training", train_source, status)
    val_events = _read("validation", val_source, status)
    test_events = _read("test", test_source, status) if test_source is not None else []
    tune_events = _read("tuning", tune_source, status) if tune_source is not None else []
    _warn_of_training_events(train_events, val_events, test_events, tune_events, warn)
    status("training")
    bundle = train_recipe(
        train_events,
        val_events,
        test_events,
        request.config,
        report=report,
        status=status,
        reuse=reused,
        device=device,
        quality_only=request.quality_only,
        reuse_stages=request.reuse_stages,
        tune_events=tune_events,
    )
    skipped = bundle.training.quality.skipped if bundle.training.quality is not None else None
    if skipped is not None and request.quality_only:  # what was asked cannot be made
        raise ActsGnnError(
            f"--quality-only: no candidate-quality selection could be trained ({skipped}: give "
            "more or denser training events); nothing was written"
        )
    if skipped is not None:
        warn(f"the bundle has no candidate-quality selection: {skipped}")
    # --quality-only: the run's own record goes with the quality selection it trained; the rest
    # of the bundle keeps the record of how it was made
    run = RunInputs(
        train_inputs=tuple(str(p) for p in request.train),
        validation_inputs=tuple(str(p) for p in request.val),
        train_event_ids=tuple(e.event_id for e in train_events),
        validation_event_ids=tuple(e.event_id for e in val_events),
        test_inputs=tuple(str(p) for p in request.test),
        data=request.data_description,
        device=device,
    )
    training = bundle.training
    if request.quality_only:
        assert training.quality is not None  # add_quality always records its run
        training = replace(training, quality=replace(training.quality, run=run))
    else:
        training = replace(training, run=run)
    bundle = replace(bundle, training=training)
    return replace(bundle, path=bundle.save(request.output))
